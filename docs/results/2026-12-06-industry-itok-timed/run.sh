#!/usr/bin/env bash
# Issue 12's item tokens of the whole Industry catalogue (4,385 products) in the recipe of itok.yaml, timed: the
# pipeline's item_tokens rule at THREADS (default 2) torch threads, nothing else running. Repository root, `make setup`
# done, the full Industry data present in results/cpu-le-full (docs/results/2026-12-05-industry-le-cpu/run.sh).
#   run.sh setup     copy the preprocessed data into results/itok-timed and mark it up to date
#   run.sh run       the item_tokens rule (Snakemake's benchmark file times it)
#   run.sh fit       the claims table's LE recipe (ext0.1top6smw, config/industry_le_ext_cpu.yaml, seed 0) on these item
#                    tokens: le_quality.json and its learning curve, beside replicate 0's (the same fit on the lr-0.2
#                    tokens, ../2026-12-05-industry-le-cpu); THREADS torch threads
#   run.sh collect   item_tokens.json, its loss plot and the benchmark into files/ here (and the fit's diagnostics)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-industry-itok-timed
R=results/itok-timed/industry
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml $D/itok.yaml)
smk() { snakemake --nolock --cores "${THREADS:-2}" --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data \
  --set-threads item_tokens="${THREADS:-2}" fit_le="${THREADS:-2}" "$@"; }
case ${1:?stage} in
  setup)
    mkdir -p $R/data
    for f in interactions items splits; do cp results/cpu-le-full/industry/data/$f.parquet $R/data/; done
    cp results/cpu-le-full/industry/data/stats.json $R/data/
    smk --touch -- $R/data/stats.json
    ;;
  run) smk --allowed-rules item_tokens -- $R/le/smollm2/item_tokens.json ;;
  fit) smk --allowed-rules fit_le -- $R/le/smollm2/ext0.1top6smw/le_quality.json ;;
  collect)
    mkdir -p $D/files
    cp $R/le/smollm2/item_tokens.json $R/le/smollm2/item_tokens_loss.png $D/files/
    cp results/itok-timed/benchmarks/item_tokens/industry/smollm2.tsv $D/files/item_tokens_benchmark.tsv
    cp results/itok-timed/logs/item_tokens/industry/smollm2.log $D/files/item_tokens.log
    S=$R/le/smollm2/ext0.1top6smw
    if [[ -e $S/le_quality.json ]]; then
      mkdir -p $D/files/le
      cp $S/le_quality.json $S/learning_curve.csv $S/train_log.csv $D/files/le/
      cp results/itok-timed/benchmarks/fit_le/industry/smollm2/ext0.1top6smw.tsv $D/files/le/fit_le_benchmark.tsv
    fi
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
