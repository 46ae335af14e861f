"""Fit one oracle variant with le.control overrides, outside the workflow (the 30-epoch learning curves of the probe):

    python docs/results/2026-12-01-oracle-probe/fit_variant.py NAME 'JSON overrides of le.control'

writes results/oracle-probe/industry/le/oracle/NAME/{model.safetensors,le_quality.json,train_log.csv}; the settings
are those of the `oracle` setting of config.yaml + industry_le_slice_cpu.yaml + industry_control_cpu.yaml."""

import json
import sys

import torch

from lea import config as C
from lea.control.cli import fit

name, over = sys.argv[1], json.loads(sys.argv[2])
torch.set_num_threads(1)
cfg = C.load_config(["config/config.yaml", "config/industry_le_slice_cpu.yaml", "config/industry_control_cpu.yaml"])
s = {
    "le": C.le_setting(cfg, "oracle"),
    "finetune": C.finetune_settings(cfg, "oracle"),
    "control": {**cfg["le"]["control"], **over},
    "history": cfg["le"]["history"],
    "precompute": cfg["precompute"],
}
s["le"]["name"] = name
q = fit(s, "results/oracle-probe/industry/data", f"results/oracle-probe/industry/le/oracle/{name}", 0, progress=False)
print(json.dumps({k: q[k] for k in ("reward", "state", "choice")}))
