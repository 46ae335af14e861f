#!/usr/bin/env bash
# results/ is not in git: carry the chain's state between sessions through this folder.
#   resume.sh save     copy the finished item tokens and each LE's training checkpoint (or finished outputs) here
#   resume.sh restore  rebuild the data from the raw files, put the saved state back, and mark it up to date, so
#                      `run.sh fit` resumes the LE fits from their checkpoints instead of starting again
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-02-industry-le-full/state
LE=results/cpu-le-full/industry/le/smollm2
ITOK=(item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png)
FIT=(checkpoint.pt adapter score_head.safetensors le_quality.json train_log.csv learning_curve.csv)

case ${1:-} in
  save)
    mkdir -p $D
    for f in "${ITOK[@]}"; do cp -a $LE/$f $D/; done
    for le in frac0.1 ext0.1; do
      mkdir -p $D/$le
      for f in "${FIT[@]}"; do [[ -e $LE/$le/$f ]] && cp -a $LE/$le/$f $D/$le/; done
    done
    ls -la $D $D/*/
    ;;
  restore)
    snakemake --cores 2 --configfile config/config.yaml config/industry_le_cpu.yaml --config data_dir=../shared/data \
      -- results/cpu-le-full/industry/data/items.parquet resources/llm/smollm2/hf/config.json
    mkdir -p $LE
    for f in "${ITOK[@]}"; do cp -a $D/$f $LE/; touch $LE/$f; done
    for le in frac0.1 ext0.1; do
      mkdir -p $LE/$le
      for f in "${FIT[@]}"; do [[ -e $D/$le/$f ]] && cp -a $D/$le/$f $LE/$le/ && touch $LE/$le/$f; done
    done
    # the restored item tokens are newer than their inputs: with --rerun-triggers mtime Snakemake keeps them
    ;;
  *) echo "usage: $0 save|restore" >&2; exit 2 ;;
esac
