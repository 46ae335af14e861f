#!/usr/bin/env bash
# The LFM LLM LE (ext0.1top6smw) with item tokens of 30 iterations instead of 12 (itok30.yaml), stage by stage in
# results/lfm-itok30; each stage resumes (the item tokens and the fit from their checkpoints). Repository root,
# `make setup` done, the LFM data present in results/cpu-lfm-control (docs/results/2026-12-04-lfm-le/run.sh).
# THREADS (default 1) torch threads a job.
#   run.sh setup     copy the preprocessed LFM data (5,047 tracks) and mark it up to date
#   run.sh itok      the item tokens, 30 iterations (about 80 min at one thread)
#   run.sh fit       the LE fit with le_quality.json and its learning curve (about 1 h at one thread)
#   run.sh collect   the diagnostics into files/ here (the weights stay out of git)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-lfm-le-itok30
L=docs/results/2026-12-04-lfm-le
R=results/lfm-itok30/lfm
LE=$R/le/smollm2
S=$LE/ext0.1top6smw
CF=(--configfile config/config.yaml config/lfm_control_cpu.yaml $L/llm.yaml $L/amx.yaml $D/itok30.yaml)
smk() { snakemake --nolock --cores "${THREADS:-1}" --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data \
  --set-threads item_tokens="${THREADS:-1}" fit_le="${THREADS:-1}" "$@"; }
case ${1:?stage} in
  setup)
    mkdir -p $R/data
    for f in interactions items splits; do cp results/cpu-lfm-control/lfm/data/$f.parquet $R/data/; done
    cp results/cpu-lfm-control/lfm/data/stats.json $R/data/
    smk --touch -- $R/data/stats.json
    ;;
  itok) smk --allowed-rules item_tokens -- $LE/item_tokens.json ;;
  fit) smk --allowed-rules fit_le -- $S/le_quality.json ;;
  collect)
    mkdir -p $D/files/adapter
    for f in item_tokens.json item_tokens_loss.png; do [[ ! -e $LE/$f ]] || cp $LE/$f $D/files/; done
    for f in le_quality.json learning_curve.csv train_log.csv adapter/adapter_config.json; do
      [[ ! -e $S/$f ]] || cp $S/$f $D/files/$f
    done
    B=results/lfm-itok30/benchmarks
    [[ ! -e $B/item_tokens/lfm/smollm2.tsv ]] || cp $B/item_tokens/lfm/smollm2.tsv $D/files/item_tokens_benchmark.tsv
    [[ ! -e $B/fit_le/lfm/smollm2/ext0.1top6smw.tsv ]] || cp $B/fit_le/lfm/smollm2/ext0.1top6smw.tsv $D/files/fit_le_benchmark.tsv
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
