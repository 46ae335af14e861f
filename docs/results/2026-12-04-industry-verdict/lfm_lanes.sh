#!/usr/bin/env bash
# The LFM half's remaining work as two one-core lanes on the 2-core CPU (since 2026-12-07; no GPU lent). Each step
# skips what exists and resumes what was cut off, so the same command goes on in the next session.
#   lane a (LLM work): on a new checkout first the LFM item tokens (30 iterations, one thread) and itlr's replicate 0
#          fit (../2026-12-06-lfm-le-itok30/run.sh setup, itok; ../2026-12-06-lfm-le-fit/run.sh fit itlr) as that
#          replicate was made: one thread up to its checkpoint at step 480, then two (a torch thread count changes
#          the bf16 sums, so the same LE needs the same threads; fit_rep0 below), then
#          the precompute of LE replicates 0, 1, 2 (lfm.sh precompute r: replicate r's fit first for
#          r > 0), then GRU's augmentation of each replicate (GRU's warm-up of seed r, 8 le_augment shards, gather),
#          then Figure 5's LEs of lfm_fig5.yaml, cheapest first (lfm.sh fig5 S: -SM, -IT, 5%, 20%, 50%, 100%).
#   lane b (recommender runs, and Industry's remaining work): on a new checkout first the committed runs of both
#          stand-ins back into results/ (lfm.sh restore, run.sh restore) and the LFM control environments (lfm.sh
#          controls); then, again and again, the first of these that has work, BATCH (2) runs at a time:
#          1. LFM runs that read an LLM LE file that exists (a new checkout loses the LE files, not the committed
#             runs, so these go first): a seed's LE rows, control columns and Figure 4's sweeps (LEASR_wah*,
#             LEASR_waq*) in cpu_order.sh's order once that seed's replicate's precompute is complete, then its GRU
#             LE rows once that replicate's GRU augmentation exists, then Figure 5's runs (SASRec SA2C LEASR / LES
#             with each LE of lfm_fig5.yaml, seeds 0-2, all reading its one replicate) once that LE exists;
#          2. one unit of Industry's remaining work (industry_lane.sh next: its control environments, the rebuild of
#             each LE replicate with its precompute, GRU's LE rows and the control runs of each seed); a unit that
#             fails is logged in results/cpu-verdict/industry_lane_failed.txt and Industry waits for a person;
#          3. LFM runs that read no LLM LE file (bases, control columns), seed by seed.
#          With nothing ready and LFM work still to come from lane a it waits (10 min naps).
#   lfm_lanes.sh start     both lanes in the background (nohup), each unless it runs already; logs appended to
#                          results/cpu-verdict/lfm_lane_{a,b}.log
#   lfm_lanes.sh a | b     one lane in the foreground
#   lfm_lanes.sh list      what each lane has left: replicates, and per seed and pass the runs still missing
# A seed's runs come from a dry run of lfm.sh narrowed to that seed and to LFM (results/cpu-verdict/tmp/), as
# cpu_order.sh takes them from the whole table's; the narrowing changes no run's settings.
set -euo pipefail
shopt -s inherit_errexit  # a failed dry run inside $(...) stops the lane
cd "$(dirname "$0")/../../.."
D=docs/results/2026-12-04-industry-verdict
V=results/cpu-verdict/lfm
. $D/lanes_lib.sh
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
IT=results/lfm-itok30/lfm/le/smollm2
FIT=docs/results/2026-12-06-lfm-le-fit/run.sh
fit_rep0() {  # replicate 0 as it was made (../2026-12-06-lfm-le-fit/README.md, section 4): one thread up to the
  # checkpoint at step 480 (checkpoints every 20 steps), then two from it. The one-thread part is stopped as soon as
  # that checkpoint is written (polled every 5 s; the next comes about 80 s later). The two-thread part runs with
  # OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep instead of spinning beside lane b's job; no change in numbers).
  local ck=$IT/itlr/checkpoint.pt pid m last=""
  step() { .venv/bin/python $D/ckpt_step.py $ck; }
  if [[ $(step) -lt 480 ]]; then
    THREADS=1 bash $FIT fit itlr &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      sleep 5
      m=$(stat -c %Y $ck 2>/dev/null || true)
      [[ -n $m && $m != "$last" ]] || continue
      last=$m
      if [[ $(step) -ge 480 ]]; then
        echo "lfm_lanes.sh: $(date -u +%H:%M) replicate 0's fit reached its checkpoint at step $(step): on at two threads"
        pkill -TERM -f "lea fit-le .*--out-dir $IT/itlr" || true
        break
      fi
    done
    wait $pid || true
  fi
  [[ -e $IT/itlr/le_quality.json ]] || OMP_WAIT_POLICY=PASSIVE THREADS=2 bash $FIT fit itlr
}
lane_a() {
  local r s
  if [[ ! -e $IT/itlr/le_quality.json ]]; then  # a new checkout: the item tokens and replicate 0's fit
    [[ -e results/lfm-itok30/lfm/data/stats.json ]] || bash docs/results/2026-12-06-lfm-le-itok30/run.sh setup
    [[ -e $IT/item_tokens.json ]] || THREADS=1 bash docs/results/2026-12-06-lfm-le-itok30/run.sh itok
    fit_rep0
  fi
  for r in 0 1 2; do ready $r || bash $D/lfm.sh precompute $r; done
  for r in 0 1 2; do [[ -e $(rep_dir $r)/augment_gru.parquet ]] || bash $D/lfm.sh "$(rep_dir $r)/augment_gru.parquet"; done
  for s in $FIG5; do fig5_ready $s || bash $D/lfm.sh fig5 $s; done
}
runs_of() {  # the metrics.json that seed $1's LFM table still needs; $2: a grep -E filter (lanes_lib.sh's
  # missing_runs, with its GRU_AUG, NO_LLM and LLM)
  missing_runs $D/lfm.sh lfm "$1" "$2"
}
BATCH=2  # runs per Snakemake call in lane b: the priorities below are looked at again after each call
INDUSTRY_FAILED=results/cpu-verdict/industry_lane_failed.txt
llm_runs() {  # lane b's first priority: up to BATCH LFM runs that read an LLM LE file that exists now (they go first:
  # a new checkout loses the LE files, not the committed runs), in cpu_order.sh's order
  local pass s t
  for pass in '^[^_]*$' '_(idrec0\.1|oracle)/' '_wa[hq][0-9.]+/'; do
    for s in 0 1 2; do
      ready $s || continue
      t=$(LLM=1 runs_of $s "$pass")
      [[ -z $t ]] || { head -$BATCH <<<"$t"; return 0; }
    done
  done
  for s in 0 1 2; do
    ready $s && [[ -e $(rep_dir $s)/augment_gru.parquet ]] || continue
    t=$(GRU_AUG=1 runs_of $s '.')
    [[ -z $t ]] || { head -$BATCH <<<"$t"; return 0; }
  done
}
no_llm_runs() {  # the last priority: up to BATCH LFM runs that read no LLM LE file (bases, control columns)
  local pass s t
  for pass in '^[^_]*$' '_(idrec0\.1|oracle)/' '_wa[hq][0-9.]+/'; do
    for s in 0 1 2; do
      t=$(NO_LLM=1 runs_of $s "$pass")
      [[ -z $t ]] || { head -$BATCH <<<"$t"; return 0; }
    done
  done
}
lfm_left() {  # 0 while some LFM work is still to come from lane a (a replicate's precompute or GRU augmentation, a
  # Figure 5 LE)
  local s
  for s in 0 1 2; do ready $s && [[ -e $(rep_dir $s)/augment_gru.parquet ]] || return 0; done
  for s in $FIG5; do fig5_ready $s || return 0; done
  return 1
}
lane_b() {
  local t rc
  bash $D/lfm.sh restore  # a new checkout: the committed runs (a restored run is read, not retrained)
  bash $D/run.sh restore
  [[ -e $V/le/oracle/oracle/augment_sasrec.parquet && -e $V/le/idrec/idrec0.1/augment_sasrec.parquet ]] ||
    bash $D/lfm.sh controls
  while true; do
    t=$(llm_runs)
    [[ -z $t ]] || { bash $D/lfm.sh $t; continue; }
    t=$(fig5_runs | head -$BATCH)
    [[ -z $t ]] || { VERDICT_OVERLAY="$PWD/$D/lfm_fig5.yaml" bash $D/lfm.sh $t; continue; }
    if [[ ! -s $INDUSTRY_FAILED ]]; then  # then one unit of Industry's remaining work (industry_lane.sh)
      rc=0
      bash $D/industry_lane.sh next || rc=$?
      [[ $rc == 0 ]] && continue
      if [[ $rc != 3 ]]; then
        echo "$(date -u +%FT%H:%M) industry_lane.sh next failed (exit $rc); Industry's units wait for a person" |
          tee -a $INDUSTRY_FAILED
      fi
    fi
    t=$(no_llm_runs)
    [[ -z $t ]] || { bash $D/lfm.sh $t; continue; }
    lfm_left || { echo "lfm_lanes.sh: every LFM run of the table exists"; return 0; }
    echo "lfm_lanes.sh: $(date -u +%H:%M) nothing ready; waiting for lane a"
    sleep 600
  done
}
list() {
  local r s pass
  for r in 0 1 2; do
    echo "replicate $r: precompute $(ready $r && echo complete || echo missing)," \
      "GRU augmentation $([[ -e $(rep_dir $r)/augment_gru.parquet ]] && echo complete || echo missing)"
  done
  for s in 0 1 2; do
    for pass in '^[^_]*$' '_(idrec0\.1|oracle)/' '_wa[hq][0-9.]+/'; do
      echo "seed $s, runs matching $pass: $(runs_of $s "$pass" | wc -l) missing, $(NO_LLM=1 runs_of $s "$pass" | wc -l) of them reading no LLM LE"
    done
    ready $s || { echo "seed $s: its LLM LE runs wait for replicate $s's precompute"; continue; }
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
