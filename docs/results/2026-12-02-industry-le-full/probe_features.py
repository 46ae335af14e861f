"""Where the reward signal is lost: linear probes on the untrained LE's hidden states (issue 12, 2026-12-03).

The LE's reward model reads r^e = theta . h at the last position of p_t p_at (Eq. 1). Before any fine-tuning (LoRA's
B = 0: the pretrained SmolLM2 with the item tokens), does h already carry what a count of the LE subset knows (which
items are popular)? Each probe fits Eq. 1's linear head alone, Bradley-Terry on (h(a+) - h(a-)) of the LE subset's
training transitions (one uniform negative each, seeded), and is measured on the validation examples of
le_quality.json (lea.env.quality.examples: the same negatives). Probed positions:
- ``last``: the end of p_t p_at, where the score head reads (Eq. 1);
- ``action_slot``: the action's item slot x^e_a itself (the last item slot of the prompt);
- ``item_token``: the frozen item token x^e_a (the input at that slot; no LLM at all).
Also written: the ``reference`` block (lea.env.reference) of these validation examples, for the LEs fitted before it
existed (frac0.1, ext0.1: the same subset, seed and validation sample).

    python docs/results/2026-12-02-industry-le-full/probe_features.py --settings SETTINGS.json \
      --data-dir results/cpu-le-full/industry/data \
      --item-tokens results/cpu-le-full/industry/le/smollm2/item_tokens.safetensors \
      --out docs/results/2026-12-02-industry-le-full/files/probe_features.json

SETTINGS.json: the ``--settings`` JSON of the fit_le rule (its log's command line); only llm, le, finetune, history
and domain are read.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lea.env.cli import build
from lea.env.quality import diagnostics, examples
from lea.env.reference import reference
from lea.env.train import load_data, sample_negatives


@torch.no_grad()
def features(le, prompter, pairs: list[tuple[list[int], int]], bs: int) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """h at the last position and at the action's slot of each reward prompt (history, action): [N, d] each."""
    prompts = [prompter.reward(h, a) for h, a in pairs]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].ids))
    last, slot = torch.empty(len(prompts), le.item_tokens.shape[1]), torch.empty(len(prompts), le.item_tokens.shape[1])
    for i in tqdm(range(0, len(order), bs), desc="hidden states", mininterval=10):
        idx = order[i : i + bs]
        b = prompter.collate([prompts[k] for k in idx])
        h = le.hidden(b)
        at = torch.tensor([max(j for j, x in enumerate(prompts[k].item_at) if x >= 0) for k in idx])
        last[idx] = le.at(h, b.last)
        slot[idx] = le.at(h, at)
    return {"last": last, "action_slot": slot}


def probe(  # type: ignore[no-untyped-def]
    x_pos, x_neg, v_pos, v_neg, wd: float, steps: int = 300, lr: float = 1e-2
) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Eq. 1's linear head on standardised features: (train loss, train pairwise accuracy, valid r+, valid r-)."""
    both = torch.cat([x_pos, x_neg])
    mu, sd = both.mean(0), both.std(0) + 1e-6
    z = lambda x: (x - mu) / sd  # noqa: E731
    d = z(x_pos) - z(x_neg)
    w = torch.zeros(d.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        loss = F.softplus(-(d @ w)).mean() + wd * (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(F.softplus(-(d @ w)).mean()), float((d @ w > 0).float().mean()), z(v_pos) @ w, z(v_neg) @ w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--item-tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="the first N transitions of each (a smoke run)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.settings) as f:
        s = json.load(f)
    data = load_data(s, a.data_dir, a.seed)
    n = data.n_items
    if a.limit:
        data.train, data.valid = data.train[: a.limit], data.valid[: a.limit]
    ex = examples(data.valid, n, a.seed)
    t0 = time.perf_counter()
    le, prompter, _ = build(s, a.data_dir, a.item_tokens)
    le.eval()  # no LoRA dropout; LoRA's B is zero: the pretrained LLM
    rng = random.Random(a.seed + 17)
    tr_neg = [sample_negatives(t, n, 1, rng)[0] for t in data.train]
    tr = features(
        le,
        prompter,
        [(t.history, t.target) for t in data.train] + [(t.history, x) for t, x in zip(data.train, tr_neg, strict=True)],
        a.batch,
    )
    va = features(
        le,
        prompter,
        [(t.history, t.target) for t in data.valid]
        + [(t.history, int(x)) for t, x in zip(data.valid, ex.negative, strict=True)],
        a.batch,
    )
    tr["item_token"] = torch.cat([le.item_tokens[[t.target for t in data.train]], le.item_tokens[tr_neg]]).cpu()
    va["item_token"] = torch.cat([le.item_tokens[ex.target], le.item_tokens[ex.negative]]).cpu()
    m, v = len(data.train), len(data.valid)
    out: dict = {
        "train_transitions": m,
        "valid_transitions": v,
        "seconds": None,
        "probes": {},
        "reference": reference(data.train, ex, n, le.item_tokens, seed=a.seed),
    }
    rank = torch.ones(v, dtype=torch.long)  # the probes score rewards only: the state/choice blocks are not used
    for name, x in tr.items():
        for wd in (0.0, 1e-3, 1e-2):
            loss, acc, r_pos, r_neg = probe(x[:m], x[m:], va[name][:v], va[name][v:], wd)
            q = diagnostics(r_pos, r_neg, rank, torch.zeros(v, dtype=torch.long), ex.truth, n)["reward"]
            out["probes"][f"{name}/wd{wd:g}"] = {"train_loss": loss, "train_pairwise_accuracy": acc, **q}
            print(name, wd, f"train {acc:.3f} valid {q['pairwise_accuracy']:.3f} (p {q['p_value_vs_chance']:.2g})")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
