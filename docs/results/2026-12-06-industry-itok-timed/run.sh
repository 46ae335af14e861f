#!/usr/bin/env bash
# Issue 12's item tokens of the whole Industry catalogue (4,385 products) in the recipe of itok.yaml, timed: the
# pipeline's item_tokens rule at THREADS (default 2) torch threads, nothing else running. Repository root, `make setup`
# done, the full Industry data present in results/cpu-le-full (docs/results/2026-12-05-industry-le-cpu/run.sh).
#   run.sh setup     copy the preprocessed data into results/itok-timed and mark it up to date
#   run.sh run       the item_tokens rule (Snakemake's benchmark file times it)
#   run.sh collect   item_tokens.json, its loss plot and the benchmark into files/ here
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-industry-itok-timed
R=results/itok-timed/industry
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml $D/itok.yaml)
smk() { snakemake --nolock --cores "${THREADS:-2}" --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data \
  --set-threads item_tokens="${THREADS:-2}" "$@"; }
case ${1:?stage} in
  setup)
    mkdir -p $R/data
    for f in interactions items splits; do cp results/cpu-le-full/industry/data/$f.parquet $R/data/; done
    cp results/cpu-le-full/industry/data/stats.json $R/data/
    smk --touch -- $R/data/stats.json
    ;;
  run) smk --allowed-rules item_tokens -- $R/le/smollm2/item_tokens.json ;;
  collect)
    mkdir -p $D/files
    cp $R/le/smollm2/item_tokens.json $R/le/smollm2/item_tokens_loss.png $D/files/
    cp results/itok-timed/benchmarks/item_tokens/industry/smollm2.tsv $D/files/item_tokens_benchmark.tsv
    cp results/itok-timed/logs/item_tokens/industry/smollm2.log $D/files/item_tokens.log
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
