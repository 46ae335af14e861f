"""Per-seed test HR@10 deltas (variant minus the same seed's base) of every column, from runs/ here:
python perseed.py > <folder>/perseed_hr10.txt (the table pools the seeds; this shows each one). The LLM column (itlr:
the run folder is the variant's own name) and any run not yet made read "n/a"."""

import json
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
ROWS = [(fw, v) for fw in ("sasrec/sa2c", "sasrec/snqn") for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("gru/sa2c", "LESprime"), ("gru/sa2c", "LES")]


def hr10(run: Path) -> float | None:
    m = run / "metrics.json"
    return json.loads(m.read_text())["test"]["hr@10"] if m.exists() else None


print("row env seed0 seed1 seed2")
for fw, v in ROWS:
    for env in ("itlr", "idrec0.1", "oracle", "random"):
        name = v if env == "itlr" else f"{v}_{env}"
        cells = []
        for s in range(3):
            x, b = hr10(RUNS / fw / name / f"seed{s}"), hr10(RUNS / fw / "base" / f"seed{s}")
            cells.append("n/a" if x is None or b is None else f"{x - b:+.4f}")
        print(f"{fw}/{v} {env} " + " ".join(cells))
