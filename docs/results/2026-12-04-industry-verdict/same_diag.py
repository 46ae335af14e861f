"""Is a rebuilt environment the one the committed runs read? Compares the diagnostics (reward, state, choice) of a
committed le_quality.json with a rebuilt one's, not their wall times. Exits 1 naming the first that differs: the
rebuild is then another environment (another thread count or machine), and the runs made with the committed one
cannot be paired with runs on the rebuild. Usage: same_diag.py COMMITTED REBUILT"""

import json
import sys
from pathlib import Path


def diagnostics(path: str) -> dict:
    q = json.loads(Path(path).read_text())
    return {k: q[k] for k in ("reward", "state", "choice")}


old, new = (diagnostics(p) for p in sys.argv[1:3])
for k in old:
    if old[k] != new[k]:
        sys.exit(f"same_diag.py: {sys.argv[2]} differs from the committed {sys.argv[1]} in {k}: {new[k]} / {old[k]}")
print(f"same_diag.py: {sys.argv[2]} has the diagnostics of the committed {sys.argv[1]}")
