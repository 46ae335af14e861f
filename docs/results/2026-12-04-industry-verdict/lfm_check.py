"""lfm.sh's check before it hard-links the LFM LE made elsewhere: were the item tokens and the itlr fit of
results/lfm-itok30 made with the settings the verdict's config (verdict.yaml + lfm.yaml) gives them? Compares the
two chains' resolved configs (item tokens, fit, LLM, data, seed) and what the files themselves record
(item_tokens.json, le_quality.json). Exits 1 naming the first difference."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lea.config import finetune_settings, item_tokens_settings, le_replicate_seed, le_setting, load_config

ROOT = Path(__file__).resolve().parents[3]
V = "docs/results/2026-12-04-industry-verdict/"
L = "docs/results/2026-12-04-lfm-le/"
VERDICT = ["config/config.yaml", "config/industry_le_cpu.yaml", "config/industry_le_ext_cpu.yaml",
           "config/industry_full_envs_cpu.yaml", V + "verdict.yaml", V + "lfm.yaml"]  # fmt: skip
CHAIN = ["config/config.yaml", "config/lfm_control_cpu.yaml", L + "llm.yaml", L + "amx.yaml",
         "docs/results/2026-12-06-lfm-le-itok30/itok30.yaml",
         "docs/results/2026-12-06-lfm-le-fit/fit.yaml"]  # fmt: skip
LE_DIR = ROOT / "results/lfm-itok30/lfm/le/smollm2"
SETTING = "itlr"
OWN_KEYS = ("rec", "le_default", "item_tokens")  # the dataset keys that are the verdict's own


def differences() -> list[str]:
    over = {"data_dir": "../shared/data"}
    ver = load_config([ROOT / f for f in VERDICT], over)
    chain = load_config([ROOT / f for f in CHAIN], over)
    out = []

    def same(what: str, a: object, b: object) -> None:
        if a != b:
            out.append(f"{what}: verdict {a!r}, results/lfm-itok30's chain {b!r}")

    it = item_tokens_settings(ver, "lfm")
    same("item tokens", it, item_tokens_settings(chain, "lfm"))
    same("fit", finetune_settings(ver, SETTING), finetune_settings(chain, SETTING))
    same("LE setting", {k: v for k, v in le_setting(ver, SETTING).items() if k != "finetune"},
         {k: v for k, v in le_setting(chain, SETTING).items() if k != "finetune"})  # fmt: skip
    llm = ver["le"]["llm"]
    same("LLM", ver["llms"][llm], chain["llms"][llm])
    same("LE history", ver["le"]["history"], chain["le"]["history"])
    same("data", {k: v for k, v in ver["datasets"]["lfm"].items() if k not in OWN_KEYS},
         {k: v for k, v in chain["datasets"]["lfm"].items() if k not in OWN_KEYS})  # fmt: skip
    same("replicate 0's seed", le_replicate_seed(ver, 0), le_replicate_seed(chain, 0))
    rec = json.loads((LE_DIR / "item_tokens.json").read_text())
    for k in ("init", "iterations", "lr", "batch_items", "method", "max_tokens"):
        same(f"item_tokens.json {k}", it[k], rec[k])
    q = json.loads((LE_DIR / SETTING / "le_quality.json").read_text())
    ft = finetune_settings(ver, SETTING)
    same("le_quality.json setting", SETTING, q["setting"])
    for k, v in {**q["switches"], **q["other_switches"]}.items():
        same(f"le_quality.json {k}", ft.get(k), v)
    return out


if __name__ == "__main__":
    diff = differences()
    for d in diff:
        print(f"lfm_check.py: {d}", file=sys.stderr)
    sys.exit(1 if diff else 0)
