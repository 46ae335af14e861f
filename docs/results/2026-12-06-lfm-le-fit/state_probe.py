"""How much of the LE state s^e_t (Eq. 2: the last hidden state at the end of p_t, which ends with the last history
item's token) is the last item's token itself? For a seeded sample of validation transitions: the cosine between
s^e_t and that item token, the share of states whose top-scored catalogue item (s . i^e, Eq. 2's score) is that
last item, and the item tokens' mean norm against the LLM's input embeddings.

    python state_probe.py --settings SETTINGS.json --data-dir D --item-tokens T [--le-dir LE] [--n 200] --out J

SETTINGS.json: the settings `lea fit-le` ran with; --le-dir: a fitted LE (adapter/), else the pretrained LLM."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lea.env.cli import build
from lea.env.train import load_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--item-tokens", required=True)
    ap.add_argument("--le-dir", default=None)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--no-norm", action="store_true", help="drop finetune.item_token_norm from the settings")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    s = json.loads(Path(a.settings).read_text())
    if a.no_norm:
        s["finetune"].pop("item_token_norm", None)
    data = load_data(s, a.data_dir, 0)
    valid = [t for t in data.valid if t.history][: a.n]
    adapter = Path(a.le_dir) / "adapter" if a.le_dir else None
    le, prompter, _ = build(s, a.data_dir, a.item_tokens, adapter_dir=adapter)
    le.eval()
    tok = le.item_tokens.detach().float()
    cos, top_is_last, rank = [], 0, []
    with torch.no_grad():
        for i in range(0, len(valid), 20):
            chunk = valid[i : i + 20]
            b = prompter.collate([prompter.user(t.history) for t in chunk])
            h = le.hidden(b)
            st = h[torch.arange(len(chunk)), b.state_at]
            last = torch.tensor([t.history[-1] for t in chunk])
            cos += torch.nn.functional.cosine_similarity(st, tok[last], dim=1).tolist()
            scores = st @ tok.T
            top_is_last += int((scores.argmax(1) == last).sum())
            rank += ((scores > scores[torch.arange(len(chunk)), last][:, None]).sum(1) + 1).tolist()
    vocab = le.llm.get_input_embeddings().weight.detach().float().norm(dim=1)
    out = {
        "le_dir": a.le_dir,
        "item_token_norm": s["finetune"].get("item_token_norm"),
        "transitions": len(valid),
        "mean_cos_state_last_item": sum(cos) / len(cos),
        "share_top_item_is_last_item": top_is_last / len(valid),
        "median_rank_of_last_item": sorted(rank)[len(rank) // 2],
        "item_token_norm_mean": float(tok.norm(dim=1).mean()),
        "vocab_embedding_norm_mean": float(vocab.mean()),
        "vocab_embedding_norm_max": float(vocab.max()),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
