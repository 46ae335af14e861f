#!/usr/bin/env bash
# Issue 12, speed item 2: the peak RSS of fit_le on the demo (config/demo.yaml, as `make demo` runs it: its LE settings
# frac0.1 and frac0.1-IT, the setting that peaked at 10.9 GB when the issue was filed), one job at a time, one torch
# thread, in results/demo-rss. Repository root, `make setup` done; ml-100k from the shared data folder (the same bytes
# as the recbole wheel's, see its PROVENANCE.md) instead of the download rule.
#   run.sh run       the data, item tokens and both fits (train_log.csv's peak_rss_mb, Snakemake's max_rss)
#   run.sh collect   each fit's le_quality.json, train_log.csv and benchmark TSV into files/ here
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-demo-fit-rss
R=results/demo-rss
SMK=(snakemake --nolock --cores 1 --workflow-profile workflow/profiles/default --configfile config/demo.yaml
     --config results_dir=$R --set-threads fit_le=1 item_tokens=1)
case ${1:?stage} in
  run)
    if [[ ! -e resources/data/ml-100k/ml-100k.item ]]; then
      mkdir -p resources/data/ml-100k
      for f in inter item; do zcat ../shared/data/ml-100k-recbole/ml-100k.$f.gz > resources/data/ml-100k/ml-100k.$f; done
    fi
    "${SMK[@]}" --touch -- resources/data/ml-100k/ml-100k.inter resources/data/ml-100k/ml-100k.item
    "${SMK[@]}" -- $R/demo/le/smollm2/frac0.1/le_quality.json $R/demo/le/smollm2/frac0.1-IT/le_quality.json
    ;;
  collect)
    for s in frac0.1 frac0.1-IT; do
      mkdir -p $D/files/$s
      cp $R/demo/le/smollm2/$s/le_quality.json $R/demo/le/smollm2/$s/train_log.csv $D/files/$s/
      cp $R/benchmarks/fit_le/demo/smollm2/$s.tsv $D/files/$s/fit_le_benchmark.tsv
    done
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
