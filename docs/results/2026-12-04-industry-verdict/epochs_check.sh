#!/usr/bin/env bash
# Were 15 epochs enough? Seed 0 of the runs still rising at epoch 15 in the claims table's first runs, rerun at the
# authors' 50 epochs with the same selection (best validation NDCG@10), epochs50.yaml; their validation curves and
# best epochs: epochs_check.md (`epochs_check.sh report`). The data, negative pool, warm-ups and LE files are hard
# links of results/cpu-verdict's (run.sh makes them). Resumes.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-verdict
V=results/cpu-verdict/industry E=results/cpu-verdict-e50/industry
V15=results/cpu-verdict-e15/industry  # the 15-epoch runs (moved there when the budget became 50 epochs)
RUNS=(gru/sa2c/base gru/snqn/base sasrec/sa2c/LEAS sasrec/sa2c/LEASR sasrec/snqn/LEAS sasrec/snqn/LEASR)
if [[ ${1:-} == report ]]; then
  python $D/epochs_check.py $V15/runs $E/runs "${RUNS[@]}" > $D/epochs_check.md
  for r in "${RUNS[@]}"; do
    [[ -e $E/runs/$r/seed0/metrics.json ]] || continue
    mkdir -p $D/e50/$r/seed0; cp $E/runs/$r/seed0/{metrics.json,ranks.parquet,train_log.csv} $D/e50/$r/seed0/
  done
  exit 0
fi
mkdir -p $E/le/smollm2 $E/warmup
[[ -d $E/data ]] || cp -al $V/data $E/
[[ -d $E/warmup/sasrec ]] || cp -al $V/warmup/sasrec $E/warmup/
[[ -d $E/le/smollm2/ext0.1top6smw ]] || cp -al $V/le/smollm2/ext0.1top6smw $E/le/smollm2/
for f in $V/le/smollm2/item_tokens*; do ln -f "$f" $E/le/smollm2/; done
snakemake --cores 2 --rerun-incomplete --rerun-triggers mtime --allowed-rules train \
  --configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml \
  config/industry_full_envs_cpu.yaml $D/epochs50.yaml --config data_dir=../shared/data \
  -- $(for r in "${RUNS[@]}"; do echo $E/runs/$r/seed0/metrics.json; done)
