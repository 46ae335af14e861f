#!/usr/bin/env bash
# The Industry CPU LE chain (config/industry_le_slice_cpu.yaml) with the control environments beside it, on a 2-core
# machine: the single-process LLM stages first with both cores, then the LE's states and rewards (8 shards of 1 thread, each
# well inside a working session), then every recommender run and table (1 thread per job).
# Run from the repository root with the shared data at ../shared/data. Every stage resumes (Snakemake + checkpoints):
# rerunning the script recomputes only what is missing.
set -euo pipefail
CONF=(--configfile config/config.yaml config/industry_le_slice_cpu.yaml config/industry_control_cpu.yaml
      --config data_dir=../shared/data)
SM=(snakemake --cores 2 --rerun-triggers mtime --set-threads item_tokens=2 fit_le=2 "${CONF[@]}")
R=results/cpu-le/industry/le/smollm2
"${SM[@]}" -- "$R/item_tokens.json"
"${SM[@]}" -- "$R/frac0.1/le_quality.json"
"${SM[@]}" -- "$R/frac0.1/states.parquet" "$R/frac0.1/rewards.parquet"
RUNS=results/cpu-le/industry/runs/sasrec/sa2c
"${SM[@]}" -- $RUNS/{base,LER,LES}/seed{0,1,2}/metrics.json  # the variants without augmentation first
"${SM[@]}" -- "$R/frac0.1/augment_sasrec.parquet"
"${SM[@]}" -- all environments_table
