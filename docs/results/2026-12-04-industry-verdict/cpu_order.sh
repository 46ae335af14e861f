#!/usr/bin/env bash
# The order the claims table's runs took on the 2-core CPU (2026-12-04, no GPU lent): first every run that needs no
# LLM pass (the 57 runs without GRU's augmentation), seed by seed, so that each finished seed is a complete table;
# then the control environments' runs (oracle / idrec columns), seed by seed; last run.sh's default target, which
# adds GRU's augmentation (8 LLM shards a replicate) and GRU's LE runs. A run whose metrics.json exists (restored from
# runs/ by run.sh restore, without its model.safetensors) is left out of every step.
# DATASET=lfm: the same order for the LFM half (lfm.sh, lfm.yaml); its Figure 4 sweeps (LEASR_wah*, LEASR_waq*)
# come with the last step. Each step resumes (run.sh: --rerun-incomplete); killed runs start again.
set -euo pipefail
cd "$(dirname "$0")"
DS=${DATASET:-industry}
if [[ $DS == industry ]]; then R=$PWD/run.sh; else R=$PWD/$DS.sh; fi
targets() {  # the metrics.json of $DS that the default target still needs, from a dry run; $1: a grep -E filter;
  # GRU_AUG=1: also the runs that read GRU's augmentation. A failed dry run (a missing LE file, say) stops the script.
  local dry
  dry=$(SMK_FLAGS=-n bash "$R" 2>&1) || { echo "cpu_order.sh: the dry run failed:" >&2; tail -20 <<<"$dry" >&2; exit 1; }
  awk -v gru="${GRU_AUG:-0}" '/^ +input:/{inp=$0} /^ +output:.*\/runs\//{
      if (gru || inp !~ /augment_gru/) for (i = 1; i <= NF; i++) if ($i ~ /metrics.json/) { gsub(",", "", $i); print $i } }' \
      <<<"$dry" | grep "^results/cpu-verdict/$DS/" | grep -E "$1" | sort -u |
    while read -r m; do [[ -e ../../../$m ]] || echo "$m"; done || true
}
for pass in '^[^_]*$' '_(idrec0\.1|oracle)/'; do
  for s in 0 1 2; do
    t=$(targets "$pass")
    t=$(grep "/seed$s/" <<<"$t" || true)
    [[ -z $t ]] || bash "$R" $t
  done
done
t=$(GRU_AUG=1 targets '.')
[[ -z $t ]] || bash "$R" $t
bash "$R" table
