#!/usr/bin/env bash
# The claims table's LFM half (issue 15; lfm.yaml on top of verdict.yaml), in the same results folder as Industry so
# that one table holds both stand-ins. Repository root, the shared data beside it, `make setup` done, and
# results/cpu-lfm-control/lfm holding the LFM LLM LE ext0.1top6smw (docs/results/2026-12-04-lfm-le/run.sh itok, fit,
# precompute) and the control environments idrec0.1 and oracle (its `run.sh table`). lfm.sh hard-links those files,
# the data, the negative pool and the SASRec warm-up into results/cpu-verdict/lfm, then runs run.sh with lfm.yaml on
# top: only the recommender runs, GRU's warm-up and GRU's augmentation (8 LLM shards) run here. Resumes.
#   lfm.sh [targets...]            default: claims_table over both stand-ins (Industry's runs too)
#   lfm.sh collect | restore       the LFM runs' files into lfm_runs/ here, and back
#   CORES=1 lfm.sh ...             one job at a time, beside another chain
set -euo pipefail
cd "$(dirname "$0")/../../.."
D=docs/results/2026-12-04-industry-verdict
S=results/cpu-lfm-control/lfm
V=results/cpu-verdict/lfm
L=le/smollm2/ext0.1top6smw
if [[ ${1:-} == collect || ${1:-} == restore ]]; then
  DATASET=lfm exec bash $D/run.sh "$1"
fi
for f in $S/$L/{le_quality.json,states.parquet,rewards.parquet,augment_sasrec.parquet} \
         $S/le/idrec/idrec0.1/le_quality.json $S/le/oracle/oracle/le_quality.json $S/warmup/sasrec/seed0/top5.parquet; do
  if [[ ! -e $f ]]; then
    echo "lfm.sh: $f is missing: make the LFM LE and its control environments first" \
         "(docs/results/2026-12-04-lfm-le/run.sh data, itok, fit, precompute, table)" >&2
    exit 1
  fi
done
bash $D/run.sh link $S $V
VERDICT_OVERLAY="$PWD/$D/lfm.yaml ${VERDICT_OVERLAY:-}" exec bash $D/run.sh "$@"
