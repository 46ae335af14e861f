#!/usr/bin/env bash
# Control environments on the LFM stand-in at 5,047 tracks (issue 13). Repository root, the shared data beside it,
# `make setup` done. Usage: run.sh [seed0.yaml | seeds012.yaml ...] (overlays in this folder; default seed0.yaml).
# The "input" rerun trigger: adding seeds or row groups changes the table's input set, which mtime alone does not see.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-02-lfm-control
overlays=("${@:-seed0.yaml}")
snakemake --cores 2 --rerun-triggers mtime input --configfile config/config.yaml config/lfm_control_cpu.yaml \
  $D/controls.yaml "${overlays[@]/#/$D/}" --config data_dir=../shared/data -- environments_table
