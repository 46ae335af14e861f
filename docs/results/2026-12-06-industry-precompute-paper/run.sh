#!/usr/bin/env bash
# Issue 12's precompute, timed: states, rewards and SASRec augmentation of every training transition of the full
# Industry stand-in (8,442 sequences, 47,713 training transitions) in the paper's recipe (one reward for the observed
# item and one for LEA's single negative; the augmentation item by the label reading alone, and its reward), with
# precompute.merge_lora. The LE is the claims table's replicate 0 (docs/results/2026-12-05-industry-le-cpu), copied.
# Repository root, `make setup` done, that replicate's fit present in results/cpu-le-full.
#   run.sh setup     copy the data, item tokens and the fitted LE into results/precompute-paper; mark them up to date
#   run.sh run       the SASRec warm-up, the negative pool, 8 shards of states, rewards and augmentation, and the
#                    gathers: Snakemake, CORES (default 2) one-thread jobs at a time; prints the wall time
#   run.sh collect   the rule benchmarks and the summary (timing.md) into this folder
#   run.sh augment   the augmentation's hit rate (augment.md, augment.csv)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-industry-precompute-paper
SRC=results/cpu-le-full/industry
R=results/precompute-paper/industry
LE=$R/le/smollm2/pp_ext0.1top6smw
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml $D/precompute.yaml)
smk() { snakemake --nolock --cores "${CORES:-2}" --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data \
  "$@"; }
TARGETS=($R/data/negatives.parquet $R/warmup/sasrec/seed0/top5.parquet $LE/states.parquet $LE/rewards.parquet
         $LE/augment_sasrec.parquet)
case ${1:?stage} in
  setup)
    mkdir -p $R/data $LE/adapter
    for f in interactions items splits; do cp $SRC/data/$f.parquet $R/data/; done
    cp $SRC/data/stats.json $R/data/
    cp $SRC/le/smollm2/item_tokens.{json,parquet,safetensors} $R/le/smollm2/
    cp $SRC/le/smollm2/ext0.1top6smw/adapter/adapter_{config.json,model.safetensors} $LE/adapter/
    cp $SRC/le/smollm2/ext0.1top6smw/{score_head.safetensors,le_quality.json,train_log.csv,learning_curve.csv} $LE/
    # the copies stand for finished upstream jobs: mark them up to date (Snakemake's --touch, in the DAG's order)
    smk --touch -- $R/data/stats.json $R/le/smollm2/item_tokens.json $LE/le_quality.json
    ;;
  run)
    t0=$(date +%s)
    mkdir -p results/precompute-paper
    echo "start $(date -u +%FT%TZ)" | tee results/precompute-paper/run.log
    smk --allowed-rules warmup negatives le_states le_rewards le_augment le_gather_states le_gather_rewards \
      le_gather_augment -- "${TARGETS[@]}" 2>&1 | tee -a results/precompute-paper/run.log | grep -E "^(rule|localrule|Finished|Error)" || true
    [[ -e $LE/augment_sasrec.parquet ]] || { echo "run.sh: the precompute did not finish (results/precompute-paper/run.log)" >&2; exit 1; }
    echo "end $(date -u +%FT%TZ): $(( $(date +%s) - t0 )) s of wall time" | tee -a results/precompute-paper/run.log
    ;;
  collect)
    mkdir -p $D/benchmarks
    (cd results/precompute-paper/benchmarks && find warmup negatives le_states le_rewards le_augment -name '*.tsv') |
      while read -r b; do mkdir -p "$D/benchmarks/$(dirname "$b")"; cp "results/precompute-paper/benchmarks/$b" "$D/benchmarks/$b"; done
    python $D/timing.py $D/benchmarks $R $LE > $D/timing.md
    cat $D/timing.md
    ;;
  augment)
    lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"pp_ext0.1top6smw\", \"backbone\": \"sasrec\",
      \"augment\": \"$LE/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed0/top5.parquet\",
      \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $D/augment.md --out-csv $D/augment.csv
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
