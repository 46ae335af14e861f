#!/usr/bin/env bash
# The LFM half's remaining work as two one-core lanes on the 2-core CPU (since 2026-12-07; no GPU lent). Each step
# skips what exists and resumes what was cut off, so the same command goes on in the next session.
#   lane a (LLM work): the precompute of LE replicates 0, 1, 2 (lfm.sh precompute r: replicate r's fit first for
#          r > 0), then GRU's augmentation of each replicate (GRU's warm-up of seed r, 8 le_augment shards, gather),
#          then Figure 5's LEs of lfm_fig5.yaml, cheapest first (lfm.sh fig5 S: -SM, -IT, 5%, 20%, 50%, 100%).
#   lane b (recommender runs), in cpu_order.sh's order: the runs of the LLM LE's rows (bases included), then the
#          control columns (oracle / idrec), then Figure 4's sweeps (LEASR_wah*, LEASR_waq*), each pass seed by seed
#          over the seeds whose replicate's precompute is complete; last, each seed's GRU LE rows once that
#          replicate's GRU augmentation exists; then Figure 5's runs (SASRec SA2C LEASR / LES with each LE of
#          lfm_fig5.yaml, seeds 0-2, all reading its one replicate) once that LE exists. With nothing ready and work
#          left it waits for lane a (10 min naps).
#   lfm_lanes.sh start     both lanes in the background (nohup), each unless it runs already; logs appended to
#                          results/cpu-verdict/lfm_lane_{a,b}.log
#   lfm_lanes.sh a | b     one lane in the foreground
#   lfm_lanes.sh list      what each lane has left: replicates, and per seed and pass the runs still missing
# A seed's runs come from a dry run of lfm.sh narrowed to that seed and to LFM (results/cpu-verdict/tmp/), as
# cpu_order.sh takes them from the whole table's; the narrowing changes no run's settings.
set -euo pipefail
cd "$(dirname "$0")/../../.."
D=docs/results/2026-12-04-industry-verdict
V=results/cpu-verdict/lfm
export SMK_FLAGS="--nolock ${SMK_FLAGS:-}" CORES=1  # two Snakemake processes share results/cpu-verdict
rep_dir() { if [[ $1 == 0 ]]; then echo $V/le/smollm2/itlr; else echo $V/le/smollm2/rep$1/itlr; fi; }
ready() {  # replicate $1's SASRec precompute complete (its three gathered files)
  local d
  d=$(rep_dir "$1")
  [[ -e $d/states.parquet && -e $d/rewards.parquet && -e $d/augment_sasrec.parquet ]]
}
FIG5="itlr-SM itlr-IT itlr0.05 itlr0.2 itlr0.5 itlr1.0"  # lfm_fig5.yaml's LEs, cheapest first
fig5_ready() {  # Figure 5's LE $1 has what its runs read (-SM: LES's states; the others: LEASR's three files)
  local d=$V/le/smollm2/$1
  [[ -e $d/states.parquet ]] && { [[ $1 == *-SM ]] || [[ -e $d/rewards.parquet && -e $d/augment_sasrec.parquet ]]; }
}
fig5_runs() {  # the metrics.json of Figure 5's runs whose LE exists and that are still missing (lfm_fig5.yaml's
  # generated variants: LEASR_<subset or -IT LE>, LES_<-SM LE>)
  local s v seed
  for s in $FIG5; do
    fig5_ready $s || continue
    v=LEASR_$s
    [[ $s != *-SM ]] || v=LES_$s
    for seed in 0 1 2; do [[ -e $V/runs/sasrec/sa2c/$v/seed$seed/metrics.json ]] || echo "$V/runs/sasrec/sa2c/$v/seed$seed/metrics.json"; done
  done
}
lane_a() {
  local r s
  for r in 0 1 2; do ready $r || bash $D/lfm.sh precompute $r; done
  for r in 0 1 2; do [[ -e $(rep_dir $r)/augment_gru.parquet ]] || bash $D/lfm.sh "$(rep_dir $r)/augment_gru.parquet"; done
  for s in $FIG5; do fig5_ready $s || bash $D/lfm.sh fig5 $s; done
}
runs_of() {  # the metrics.json that seed $1's table still needs; $2: a grep -E filter; GRU_AUG=1: only the runs that
  # read GRU's augmentation (else none of them). A failed dry run stops the lane.
  local ov=results/cpu-verdict/tmp/lfm_seed$1.yaml dry
  mkdir -p results/cpu-verdict/tmp
  printf 'datasets_enabled: [lfm]\nseeds: [%s]\n' "$1" > $ov
  dry=$(VERDICT_OVERLAY="$PWD/$ov" SMK_FLAGS="-n --nolock" bash $D/lfm.sh 2>&1) ||
    { echo "lfm_lanes.sh: the dry run of seed $1 failed:" >&2; tail -20 <<<"$dry" >&2; exit 1; }
  awk -v gru="${GRU_AUG:-0}" '/^ +input:/{inp=$0} /^ +output:.*\/runs\//{
      if ((inp ~ /augment_gru/) == (gru == 1)) for (i = 1; i <= NF; i++) if ($i ~ /metrics.json/) {
        gsub(",", "", $i); print $i } }' <<<"$dry" | grep "^$V/runs/" | grep "/seed$1/" | grep -E "$2" | sort -u |
    while read -r m; do [[ -e $m ]] || echo "$m"; done || true
}
lane_b() {
  local pass s t ran left
  while true; do
    ran=0 left=0
    for pass in '^[^_]*$' '_(idrec0\.1|oracle)/' '_wa[hq][0-9.]+/'; do
      for s in 0 1 2; do
        if ! ready $s; then left=1; continue; fi
        t=$(runs_of $s "$pass")
        [[ -z $t ]] || { bash $D/lfm.sh $t; ran=1; }
      done
    done
    for s in 0 1 2; do
      if ! ready $s || [[ ! -e $(rep_dir $s)/augment_gru.parquet ]]; then left=1; continue; fi
      t=$(GRU_AUG=1 runs_of $s '.')
      [[ -z $t ]] || { bash $D/lfm.sh $t; ran=1; }
    done
    for s in $FIG5; do fig5_ready $s || left=1; done
    t=$(fig5_runs)
    [[ -z $t ]] || { VERDICT_OVERLAY="$PWD/$D/lfm_fig5.yaml" bash $D/lfm.sh $t; ran=1; }
    if [[ $ran == 0 ]]; then
      [[ $left == 1 ]] || { echo "lfm_lanes.sh: every LFM run of the table exists"; return 0; }
      echo "lfm_lanes.sh: $(date -u +%H:%M) nothing ready; waiting for lane a"
      sleep 600
    fi
  done
}
list() {
  local r s pass
  for r in 0 1 2; do
    echo "replicate $r: precompute $(ready $r && echo complete || echo missing)," \
      "GRU augmentation $([[ -e $(rep_dir $r)/augment_gru.parquet ]] && echo complete || echo missing)"
  done
  for s in 0 1 2; do
    ready $s || { echo "seed $s: waits for replicate $s's precompute"; continue; }
    for pass in '^[^_]*$' '_(idrec0\.1|oracle)/' '_wa[hq][0-9.]+/'; do
      echo "seed $s, runs matching $pass: $(runs_of $s "$pass" | wc -l) missing"
    done
    echo "seed $s, GRU rows: $(GRU_AUG=1 runs_of $s '.' | wc -l) missing"
  done
  for s in $FIG5; do echo "Figure 5's LE $s: $(fig5_ready $s && echo complete || echo missing)"; done
  echo "Figure 5's runs of the LEs that exist: $(fig5_runs | wc -l) missing"
}
start() {
  local l
  for l in a b; do
    if pgrep -f "lfm_lanes.sh $l\$" > /dev/null; then echo "lane $l runs already"; continue; fi
    nohup bash $D/lfm_lanes.sh $l >> results/cpu-verdict/lfm_lane_$l.log 2>&1 &
    echo "lane $l started (pid $!, log results/cpu-verdict/lfm_lane_$l.log)"
  done
}
case ${1:-} in
  a) lane_a ;;
  b) lane_b ;;
  list) list ;;
  start) start ;;
  *) echo "usage: lfm_lanes.sh start | a | b | list" >&2; exit 2 ;;
esac
