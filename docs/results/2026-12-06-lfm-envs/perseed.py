"""Per-seed test HR@10 deltas (variant minus the same seed's base) of the control columns, from runs/ here:
python perseed.py > so_far_seeds012_controls/perseed_hr10.txt (the table pools the seeds; this shows each one)."""

import json
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
ROWS = [(fw, v) for fw in ("sasrec/sa2c", "sasrec/snqn") for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("gru/sa2c", "LESprime"), ("gru/sa2c", "LES")]


def hr10(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["test"]["hr@10"]


print("row env seed0 seed1 seed2")
for fw, v in ROWS:
    for env in ("idrec0.1", "oracle", "random"):
        d = [hr10(RUNS / fw / f"{v}_{env}" / f"seed{s}") - hr10(RUNS / fw / "base" / f"seed{s}") for s in range(3)]
        print(f"{fw}/{v} {env} " + " ".join(f"{x:+.4f}" for x in d))
