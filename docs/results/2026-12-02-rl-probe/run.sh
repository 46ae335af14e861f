#!/usr/bin/env bash
# The RL probe's recommender runs (issue 13), one core, from the repository root; the data, warm-up and LE
# precomputes are copies (cp -p) of results/oracle-probe (oracle-rec) and results/cpu-le (random), so only `train`
# jobs are allowed (the shared raw data were re-staged after those copies were made: their mtimes would re-trigger
# preprocessing and everything downstream).
set -euo pipefail
DATA=${DATA:-/work/shared/data}
CF="config/config.yaml config/industry_le_slice_cpu.yaml config/industry_control_cpu.yaml
    docs/results/2026-12-01-oracle-probe/probe.yaml docs/results/2026-12-01-oracle-probe/seeds012.yaml"
targets() {  # results dir, envs, variants
  for e in $2; do for v in $3; do for s in 0 1 2; do
    echo "results/$1/industry/runs/sasrec/sa2c/${v}$( [ "$v" = base ] || echo "_$e")/seed$s/metrics.json"
  done; done; done | sort -u
}
sm() {  # overlay, targets...
  local overlay=$1; shift
  nice -n 10 snakemake --allowed-rules train --cores 1 --configfile $CF "docs/results/2026-12-02-rl-probe/$overlay" \
    --config data_dir="$DATA" -- "$@"
}
for ENVS in oracle-rec random; do
  sm qdetach.yaml $(targets rl-probe-qdetach "$ENVS" "base LER LEASR")
  sm negfixed.yaml $(targets rl-probe-negfixed "$ENVS" "LER LEASR")
done
