#!/usr/bin/env bash
# The base frameworks (SASRec: Normal, SNQN, SA2C) at 50 epochs on the full Industry stand-in with validation every
# epoch (epochs50.yaml), then their validation curves (curves.py). Repository root, the shared data beside it, `make
# setup` done, and results/cpu-le-full/industry/data with negatives.parquet already built (e.g. by
# ../2026-12-04-industry-full-controls/run.sh). Resumes: Snakemake keeps finished runs, a killed run its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
E=docs/results/2026-12-04-industry-epochs
R=results/cpu-industry-epochs/industry
stage=${1:-all}
if [[ $stage == all || $stage == runs ]]; then
  mkdir -p $R
  [[ -d $R/data ]] || cp -al results/cpu-le-full/industry/data $R/
  snakemake --cores 2 --rerun-triggers mtime --allowed-rules train --configfile config/config.yaml \
    config/industry_le_cpu.yaml $E/epochs50.yaml --config data_dir=../shared/data -- \
    $R/runs/sasrec/{normal,snqn,sa2c}/base/seed0/metrics.json
fi
if [[ $stage == all || $stage == curves ]]; then
  mkdir -p $E/runs
  for fw in normal snqn sa2c; do
    for f in train_log.csv metrics.json; do cp $R/runs/sasrec/$fw/base/seed0/$f $E/runs/sasrec_${fw}_base_seed0_$f; done
  done
  python $E/curves.py $E/runs --png $E/curves.png > $E/curves.md
fi
