"""Why the LE's state (Eq. 2) stays at chance: readouts of s^e_t fitted on frozen states (issue 12, 2026-12-03).

The LE's state s^e_t is the last hidden state at the end of the user prompt p_t; le_quality.json ranks the whole
catalogue by s^e_t . a (a: the frozen item tokens) and reports HR@10 of the next item. Every LLM LE so far has
HR@10 at chance (0.000-0.004 against 0.0023), while a popularity count of the LE subset gives 0.036. This script
asks where that is lost, with s^e_t computed once (no gradient) by an LE (untrained: LoRA's B = 0; or a trained
adapter), then readouts fitted on the LE subset's training transitions and measured on le_quality.json's 1,000
validation transitions (the same sample and targets):
- ``raw``: s . a as the LE ranks (no fit);
- ``bias``: (s + b) . a with b one learned vector, the catalogue softmax: what a context-free state can reach;
- ``linear/softmax``: (W s + b) . a, the softmax over the whole catalogue (every item a negative);
- ``linear/eq2``: (W s + b) . a, learned with Eq. 2 itself (in-batch actions of batches of 20, the j = t pair kept);
- ``*_scaled``: the same, the dot products divided by sqrt(d) (the extended recipe's state_scale).
W starts at the identity (the LE's own reading); Adam, full data per epoch, seeded.

    python docs/results/2026-12-02-industry-le-full/probe_state.py --settings SETTINGS.json \
      --data-dir results/cpu-le-full/industry/data \
      --item-tokens results/cpu-le-full/industry/le/smollm2/item_tokens.safetensors \
      [--adapter-dir results/cpu-le-full/industry/le/smollm2/clip0.1/adapter] \
      --out docs/results/2026-12-02-industry-le-full/files/probe_state.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from lea.env.cli import build
from lea.env.inference import LEInference
from lea.env.quality import above_chance, examples
from lea.env.train import load_data


def hr(scores: torch.Tensor, target: torch.Tensor, k: int = 10) -> dict[str, float]:
    rank = (scores > scores.gather(1, target[:, None])).sum(1) + 1
    chance = k / scores.shape[1]
    return {
        f"hr@{k}": float((rank <= k).float().mean()),
        "mrr": float((1.0 / rank.float()).mean()),
        **above_chance(rank <= k, chance),
    }


def fit(  # type: ignore[no-untyped-def]
    s, tgt, a, kind: str, epochs: int, lr: float, seed: int, batch: int = 20
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """W [d, d] (identity start) and b [d] (zero) of a readout (W s + b) . a; ``kind`` picks the loss."""
    g = torch.Generator().manual_seed(seed)
    d = s.shape[1]
    bias_only = kind.startswith("bias")
    w = torch.eye(d).requires_grad_(not bias_only)
    b = torch.zeros(d, requires_grad=True)
    opt = torch.optim.Adam([b] if bias_only else [w, b], lr=lr)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(s), generator=g)
        tot = 0.0
        for i in range(0, len(s), batch):
            idx = order[i : i + batch]
            x = s[idx] @ w.T + b
            scale = 1 / math.sqrt(d) if kind.endswith("_scaled") else 1.0
            if kind.startswith(("bias", "softmax")):
                loss = F.cross_entropy(x @ a.T * scale, tgt[idx])
            else:  # Eq. 2: -1/B sum_j log sigma(s . a+ - s . a_j), a_j the batch's next items
                logits = x @ a[tgt[idx]].T * scale
                loss = -F.logsigmoid(logits.diagonal()[:, None] - logits).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        losses.append(tot / len(s))
    return w.detach(), b.detach(), losses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--item-tokens", required=True)
    ap.add_argument("--adapter-dir", default=None, help="a trained LE's adapter/ (its score_head beside it)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.settings) as f:
        s = json.load(f)
    data = load_data(s, a.data_dir, a.seed)
    ex = examples(data.valid, data.n_items, a.seed)
    t0 = time.perf_counter()
    le, prompter, _ = build(s, a.data_dir, a.item_tokens, adapter_dir=a.adapter_dir)
    le.eval()
    inf = LEInference(le, prompter, batch_size=32)
    s_tr = inf.states([t.history for t in data.train])
    s_va = inf.states([t.history for t in data.valid])
    feat_s = round(time.perf_counter() - t0, 1)
    items = le.item_tokens.float().cpu()
    tgt_tr = torch.tensor([t.target for t in data.train])
    out: dict = {
        "adapter": a.adapter_dir,
        "train_transitions": len(s_tr),
        "valid_transitions": len(s_va),
        "state_seconds": feat_s,
        "state_norm_median": float(s_va.norm(dim=1).median()),
        "item_token_norm_median": float(items.norm(dim=1).median()),
        "raw_dot_std": float((s_va @ items.T).std()),
        "probes": {"raw": {"valid": hr(s_va @ items.T, ex.target), "train": hr(s_tr @ items.T, tgt_tr)}},
    }
    print("raw", out["probes"]["raw"]["valid"])
    kinds = (("bias", 1e-2), ("bias_scaled", 1e-2), ("softmax", 1e-3), ("softmax_scaled", 1e-3), ("eq2", 1e-3))
    for kind, lr in (*kinds, ("eq2_scaled", 1e-3)):
        w, b, losses = fit(s_tr, tgt_tr, items, kind, a.epochs, lr, a.seed)
        name = kind if kind.startswith("bias") else f"linear/{kind}"
        out["probes"][name] = {
            "lr": lr,
            "epochs": a.epochs,
            "train_loss": losses,
            "valid": hr((s_va @ w.T + b) @ items.T, ex.target),
            "train": hr((s_tr @ w.T + b) @ items.T, tgt_tr),
        }
        print(name, out["probes"][name]["valid"], "train", out["probes"][name]["train"]["hr@10"])
    out["seconds"] = round(time.perf_counter() - t0, 1)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
