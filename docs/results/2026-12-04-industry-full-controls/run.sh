#!/usr/bin/env bash
# "What the environment adds" (issue 13) on the full Industry stand-in (8,442 sequences, 4,385 products) with the
# three control environments (idrec0.1 on the 10% LE subset, oracle on every training sequence, random), SASRec x
# SA2C / SNQN x LER, LES, LEA, LEASR, on a 2-core CPU. Repository root, the shared data beside it, `make setup` done.
# Usage: run.sh [overlay.yaml ...] (overlays in this folder; default controls.yaml = seed 0). Resumes: Snakemake
# keeps the finished runs. Then `run.sh collect` copies the tables and every run's files here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-full-controls
R=results/cpu-le-full/industry
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
    config/industry_full_envs_cpu.yaml)
if [[ ${1:-} == collect ]]; then
  cp $R/tables/environments.{md,csv} $R/tables/environments_diagnostics.csv $D/
  for env in idrec/idrec0.1 oracle/oracle random/random; do
    mkdir -p $D/le/${env#*/}; cp $R/le/$env/le_quality.json $D/le/${env#*/}/
  done
  for m in $R/runs/sasrec/*/*/seed*/metrics.json; do
    d=$(dirname "$m"); seed=$(basename "$d"); v=$(basename "$(dirname "$d")"); fw=$(basename "$(dirname "$(dirname "$d")")")
    mkdir -p $D/runs; cp "$m" $D/runs/sasrec_${fw}_${v}_${seed}_metrics.json; cp "$d/ranks.parquet" $D/runs/sasrec_${fw}_${v}_${seed}_ranks.parquet
  done
  cp $R/data/stats.json $D/industry_stats.json
  exit 0
fi
overlays=("${@:-controls.yaml}")
snakemake --cores 2 --rerun-triggers mtime "${CF[@]}" "${overlays[@]/#/$D/}" --config data_dir=../shared/data \
  -- environments_table
