"""The environments' diagnostics side by side (le_quality.json files measured on the same 1,000 validation
transitions of the full Industry stand-in), each against the LLM LE by a two-sided two-proportion z-test (unpaired,
so conservative: the files hold rates, not per-example outcomes), plus the popularity floor of the LE subset.

Usage: python diagnostics.py LLM_LE_QUALITY NAME=LE_QUALITY ... > diagnostics.md
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

KEYS = (("reward", "pairwise_accuracy"), ("state", "hr@10"), ("choice", "accuracy"))


def z_test(p1: float, p2: float, n: int) -> float:
    """Two-sided p of H0: equal proportions, pooled variance, n examples each."""
    p = (p1 + p2) / 2
    se = math.sqrt(2 * p * (1 - p) / n) if 0 < p < 1 else 0.0
    if se == 0:
        return 1.0
    return math.erfc(abs(p1 - p2) / se / math.sqrt(2))


def row(name: str, q: dict, llm: dict, n: int) -> str:
    cells = []
    for block, key in KEYS:
        v = q[block][key]
        cell = f"{v:.3f} (p {q[block]['p_value_vs_chance']:.1g})"
        if q is not llm:
            cell += f", vs LLM p {z_test(v, llm[block][key], n):.2g}"
        cells.append(cell)
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    llm_path, *others = sys.argv[1:]
    llm = json.loads(Path(llm_path).read_text())
    n = int(llm["transitions"])
    print(f"Validation transitions: {n}; chance: reward 0.5, state HR@10 {llm['state']['chance']:.4f}, choice 0.2.\n")
    print("| environment | reward pairwise acc. | state HR@10 | choice acc. |")
    print("|---|---|---|---|")
    print(row(f"LLM LE `{llm.get('setting', 'llm')}`", llm, llm, n))
    for spec in others:
        name, _, path = spec.partition("=")
        q = json.loads(Path(path).read_text())
        if int(q["transitions"]) != n:
            raise SystemExit(f"{path}: {q['transitions']} transitions, the LLM LE's file has {n}")
        print(row(f"`{name}`", q, llm, n))
    pop = llm.get("reference", {}).get("popularity")
    if pop:
        print(row("popularity of the LE subset (the floor)", pop, llm, n))


if __name__ == "__main__":
    main()
