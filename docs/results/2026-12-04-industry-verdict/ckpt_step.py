"""The step a resumable stage's checkpoint.pt holds (lea.checkpoint), or -1 when there is none: lfm_lanes.sh stops a
fit at a given checkpoint to remake an LE whose fit changed thread count at that step."""

import sys
from pathlib import Path

import torch

path = Path(sys.argv[1])
step = -1
if path.exists():
    try:
        step = int(torch.load(path, weights_only=True, map_location="cpu")["step"])
    except Exception:  # being replaced right now: the next poll reads it
        step = -1
print(step)
