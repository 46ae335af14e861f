"""run.sh's check before it hard-links the claims table's LFM files (results/cpu-verdict/lfm) into results/lfm-envs:
the LE setting, its item tokens, the LLM, the data, the negative pool, the warm-up and the control environments
resolve to the same settings in both configs. Exits 1 naming the first difference."""

from __future__ import annotations

import sys
from pathlib import Path

from lea.config import (
    control_settings,
    dataset_settings,
    finetune_settings,
    item_tokens_settings,
    le_replicate_seed,
    le_setting,
    load_config,
)

ROOT = Path(__file__).resolve().parents[3]
V = "docs/results/2026-12-04-industry-verdict/"
L = "docs/results/2026-12-04-lfm-le/"
VERDICT = ["config/config.yaml", "config/industry_le_cpu.yaml", "config/industry_le_ext_cpu.yaml",
           "config/industry_full_envs_cpu.yaml", V + "verdict.yaml", V + "lfm.yaml"]  # fmt: skip
HERE = ["config/config.yaml", "config/lfm_control_cpu.yaml", L + "llm.yaml", L + "amx.yaml",
        "docs/results/2026-12-06-lfm-envs/envs.yaml"]  # fmt: skip
# the recommender budget is this table's own; the warm-up reads the rest of rec (model, lr, batch)
REC_OWN = ("epochs", "patience", "eval_every", "sa2c_warmup_steps", "selection", "q_pass", "threads")


def differences() -> list[str]:
    over = {"data_dir": "../shared/data"}
    ver = load_config([ROOT / f for f in VERDICT], over)
    here = load_config([ROOT / f for f in HERE], over)
    out = []

    def same(what: str, a: object, b: object) -> None:
        if a != b:
            out.append(f"{what}: claims table {a!r}, here {b!r}")

    def data(cfg: dict) -> dict:
        ds = dataset_settings(cfg, "lfm")
        ds["rec"] = {k: v for k, v in ds["rec"].items() if k not in REC_OWN}
        return {k: v for k, v in ds.items() if k not in ("le_default", "item_tokens")}

    same("data and warm-up model", data(ver), data(here))
    same("item tokens", item_tokens_settings(ver, "lfm"), item_tokens_settings(here, "lfm"))
    for s in ("itlr", "idrec0.1", "oracle"):
        same(f"LE setting {s}", le_setting(ver, s), le_setting(here, s))
    same("fit", finetune_settings(ver, "itlr"), finetune_settings(here, "itlr"))
    for s in ("idrec0.1", "oracle"):
        same(f"control {s}", control_settings(ver, s), control_settings(here, s))
    same("LLM", ver["llms"][ver["le"]["llm"]], here["llms"][here["le"]["llm"]])
    same("LE history", ver["le"]["history"], here["le"]["history"])
    same("precompute", ver["precompute"], here["precompute"])
    same("replicate 0's seed", le_replicate_seed(ver, 0), le_replicate_seed(here, 0))  # the one LE read here
    return out


if __name__ == "__main__":
    diff = differences()
    for d in diff:
        print(f"check.py: {d}", file=sys.stderr)
    sys.exit(1 if diff else 0)
