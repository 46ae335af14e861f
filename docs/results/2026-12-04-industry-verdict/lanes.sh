#!/usr/bin/env bash
# The claims table's remaining Industry work on the 2-core CPU as two one-core lanes (since 2026-12-05; no GPU lent).
# Each step skips what exists and resumes what was cut off, so the same command goes on in the next session.
#   lane A (LLM work): the LFM LE's replicate 0 on this CPU (../2026-12-04-lfm-le/run.sh itok, fit), issue 12's
#           item tokens of the Industry catalogue with curve2's recipe (bench_item_tokens.py), the precompute of the
#           Industry LE replicates 0, 1, 2 (../2026-12-05-industry-le-cpu/run.sh precompute r, one thread), the LFM
#           LE with 30 item-token iterations (../2026-12-06-lfm-le-itok30: item tokens, fit), GRU's augmentation of
#           replicate 0 here (run.sh: GRU warm-up of seed r, 8 le_augment shards, gather), the precompute of the LFM
#           LE with its item tokens trained (../2026-12-06-lfm-le-fit: itlr), GRU's augmentation of replicates 1, 2.
#   lane B (recommender runs): whenever replicate s's precompute is complete, the SASRec LE rows of seed s (shortest
#           first, by the wall times of the runs with the GPU LE); otherwise, once, issue 12's item-token curves on
#           200-item samples (curve, curve2, curve3: one thread each, resumable from their checkpoints in
#           results/itok-curve-ck), issue 13's LFM table (../2026-12-06-lfm-envs/run.sh runs S [llm], once its
#           inputs exist), the claims table's LFM bases (lfm.sh), then the control columns (oracle / idrec, seed 0
#           first). A run
#           that fails is logged and left for a person (results/cpu-verdict/lanes_failed.txt).
#   lanes.sh [a|b|both]   (default both; logs in results/cpu-verdict/lanes_{a,b}.log); lanes.sh next: lane B's next run;
#   CURVE_FIRST=1 lanes.sh b: lane B runs the item-token curves (curve, curve2, curve3) before any LE row
#   touch results/cpu-verdict/HOLD: both lanes start nothing new until it is removed (for a timed benchmark)
# GRU's LE rows and the table come last: cpu_order.sh, once every replicate's precompute exists.
set -euo pipefail
cd "$(dirname "$0")/../../.."
D=docs/results/2026-12-04-industry-verdict
LE_RUN=docs/results/2026-12-05-industry-le-cpu/run.sh
S=results/cpu-le-full/industry/le/smollm2
V=results/cpu-verdict/industry
mkdir -p results/cpu-verdict
FAILED=results/cpu-verdict/lanes_failed.txt
touch $FAILED
rep_dir() { if [[ $1 == 0 ]]; then echo ext0.1top6smw; else echo rep$1/ext0.1top6smw; fi; }
ready() {  # replicate $1's precompute complete (its three gathered files)
  local d=$S/$(rep_dir "$1")
  [[ -e $d/states.parquet && -e $d/rewards.parquet && -e $d/augment_sasrec.parquet ]]
}
# SASRec LE rows, shortest first (seed 0 with the GPU LE: 1-4 min up to 35-37 min on one core)
LE_ROWS=(normal/sv sa2c/LEAR sa2c/LER snqn/LEAR sa2c/q sa2c/sv sa2c/LEA sa2c/LEASprimeR sa2c/LEAS snqn/LEAS
         snqn/LEASR sa2c/LEASR)
CONTROL=(sa2c/LER sa2c/LEAR snqn/LEAR sa2c/LEA sa2c/LEASprimeR sa2c/LEAS snqn/LEAS sa2c/LEASR snqn/LEASR)
ITOK_CURVE_LOG=results/cpu-verdict/itok_curve.log
itok_bench() {  # bench_item_tokens.py as every curve here runs it: SmolLM2 in bf16, eager attention, one thread,
  # quality only, resumable from results/itok-curve-ck; the rest of the arguments are the curve's own
  .venv/bin/python benchmarks/bench_item_tokens.py --llm resources/llm/smollm2/hf --dtype bf16 --attn eager \
    --skip-speed --threads 1 --checkpoint-dir results/itok-curve-ck "$@"
}
CURVE=docs/results/2026-12-05-item-token-recipes/itok_curve_200items_paper
curve() {  # the paper's item-token recipe on the 200-product sample (issue 12); resumes midway
  itok_bench \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 200 --batch-items 64 --pairs 400 \
    --eval-at 0,4,8,12,16,30,100,300 --recipe paper:random:0.005:300:all --curve-csv $CURVE.csv \
    --out $CURVE.json >> $ITOK_CURVE_LOG 2>&1
}
CURVE2=docs/results/2026-12-05-item-token-recipes/itok_curve_200items_lr
curve2() {  # issue 12: learning rates between the CPU recipe's 0.2 (flat at 0.87) and the paper's 5e-3 (0.9175 at 30
  # iterations, 1.0 at 300), 24 tokens (what fits the catalogue's 60 minutes at up to about 30 iterations)
  itok_bench \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 200 --batch-items 64 --pairs 400 \
    --eval-at 0,4,8,12,16,20,24,30 --recipe tm_lr0.05_mt24:text_mean:0.05:30:24 \
    --recipe tm_lr0.02_mt24:text_mean:0.02:30:24 --recipe rnd_lr0.05_mt24:random:0.05:30:24 \
    --recipe rnd_lr0.02_mt24:random:0.02:30:24 --curve-csv $CURVE2.csv --out $CURVE2.json >> $ITOK_CURVE_LOG 2>&1
}
CURVE3=docs/results/2026-12-04-lfm-le/itok_curve_200tracks
curve3() {  # issues 12 and 13: the LFM tracks' item tokens (0.689 with the CPU recipe, its loss still falling at 12
  # iterations) on a 200-track sample: the CPU recipe out to 30 iterations and the paper's to 100
  itok_bench \
    --items results/cpu-lfm-control/lfm/data/items.parquet --n-items 200 --batch-items 128 --pairs 400 \
    --eval-at 0,4,8,12,16,30,100 --recipe cpu_tm_lr0.2_mt24:text_mean:0.2:30:24 \
    --recipe paper:random:0.005:100:all --curve-csv $CURVE3.csv --out $CURVE3.json >> $ITOK_CURVE_LOG 2>&1
}
declare -A CURVE_CSV=([curve]=$CURVE.csv [curve2]=$CURVE2.csv [curve3]=$CURVE3.csv)
declare -A CURVE_RECIPES=([curve]=1 [curve2]=4 [curve3]=2)
curve_done() {  # every recipe of curve $1 in its CSV (the bench writes the CSV after each recipe)
  local c=${CURVE_CSV[$1]}
  [[ -e $c ]] && [[ $(tail -n +2 "$c" | cut -d, -f1 | sort -u | wc -l) -ge ${CURVE_RECIPES[$1]} ]]
}
next_curve() {  # the first curve not done and not failed, or nothing
  local c
  for c in curve curve2 curve3; do
    curve_done $c || grep -qxF $c $FAILED || { echo $c; return; }
  done
}
next_b() {  # the next lane-B target, or nothing (CURVE_FIRST=1: the curves before the LE rows)
  local s v e t
  if [[ ${CURVE_FIRST:-0} == 1 ]]; then
    t=$(next_curve)
    [[ -z $t ]] || { echo "$t"; return; }
  fi
  for s in 0 1 2; do
    ready $s || continue
    for v in "${LE_ROWS[@]}"; do
      t=$V/runs/sasrec/$v/seed$s/metrics.json
      [[ -e $t ]] || grep -qxF "$t" $FAILED || { echo "$t"; return; }
    done
  done
  t=$(next_curve)
  [[ -z $t ]] || { echo "$t"; return; }
  t=$(next_lfm_envs)
  [[ -z $t ]] || { echo "$t"; return; }
  # the claims table's LFM bases (no LE): they also show where LFM's validation plateaus at the 50-epoch budget
  for s in 0 1 2; do
    for v in sasrec/normal sasrec/snqn sasrec/sa2c gru/normal gru/snqn gru/sa2c; do
      t=results/cpu-verdict/lfm/runs/$v/base/seed$s/metrics.json
      [[ -e $t ]] || grep -qxF "$t" $FAILED || { echo "$t"; return; }
    done
  done
  for s in 0 1 2; do
    for v in "${CONTROL[@]}"; do
      for e in oracle idrec0.1; do
        t=$V/runs/sasrec/${v}_$e/seed$s/metrics.json
        [[ -e $t ]] || grep -qxF "$t" $FAILED || { echo "$t"; return; }
      done
    done
  done
}
next_lfm_envs() {  # issue 13's LFM table (../2026-12-06-lfm-envs): "lfm-envs S" (seed S's base runs and control
  # columns, once lfm.sh made the control environments), "lfm-envs S llm" (its LLM column, once LE replicate 0's
  # precompute is complete); each once, in that order
  local s c L=results/cpu-verdict/lfm/le
  [[ -e $L/oracle/oracle/augment_sasrec.parquet && -e $L/idrec/idrec0.1/augment_sasrec.parquet ]] || return 0
  for s in 0 1 2; do
    c="lfm-envs $s"
    grep -qxF "$c" $LFM_ENVS_DONE $FAILED 2>/dev/null || { echo "$c"; return; }
  done
  local d=$L/smollm2/itlr  # replicate 0, the one LE of that table
  [[ -e $d/states.parquet && -e $d/rewards.parquet && -e $d/augment_sasrec.parquet ]] || return 0
  for s in 0 1 2; do
    c="lfm-envs $s llm"
    grep -qxF "$c" $LFM_ENVS_DONE $FAILED 2>/dev/null || { echo "$c"; return; }
  done
}
lane_b() {
  local t
  # a job left going by a restarted lane B (a recommender run's metrics.json; lane A's GRU augmentation runs through
  # the same run.sh and must not hold lane B up)
  wait_for "snakemake.*--allowed-rules train.*runs/.*metrics\.json|itok_curve_200"
  while hold && t=$(next_b) && [[ -n $t ]]; do
    echo "$(date -u +%FT%TZ) start $t"
    if [[ $t == lfm-envs* ]]; then
      # shellcheck disable=SC2086
      if bash $LFM_ENVS runs ${t#lfm-envs }; then echo "$t" >> $LFM_ENVS_DONE; echo "$(date -u +%FT%TZ) done $t"
      else echo "$(date -u +%FT%TZ) FAILED $t"; echo "$t" >> $FAILED; fi
      continue
    fi
    if [[ $t == curve* ]]; then
      if $t; then echo "$(date -u +%FT%TZ) done $t"; else echo "$(date -u +%FT%TZ) FAILED $t"; echo "$t" >> $FAILED; fi
      continue
    fi
    local run=$D/run.sh
    [[ $t != results/cpu-verdict/lfm/* ]] || run=$D/lfm.sh  # the LFM half: lfm.yaml on top
    if CORES=1 SMK_FLAGS=--nolock bash $run "$t"; then
      echo "$(date -u +%FT%TZ) done $t"
    else
      echo "$(date -u +%FT%TZ) FAILED $t"
      echo "$t" >> $FAILED
    fi
  done
  echo "$(date -u +%FT%TZ) lane B: nothing left"
}
LFM_RUN=docs/results/2026-12-04-lfm-le/run.sh
LFM30_RUN=docs/results/2026-12-06-lfm-le-itok30/run.sh
LFM_ENVS=docs/results/2026-12-06-lfm-envs/run.sh
LFM_ENVS_DONE=results/cpu-verdict/lfm_envs_done.txt
ITOK_TIMED_RUN=docs/results/2026-12-06-industry-itok-timed/run.sh
CATALOGUE=docs/results/2026-12-05-item-token-recipes/itok_catalogue_tm_lr0.05
catalogue() {  # every product, one thread, resumable; own-vs-other on 2,000 random pairs at 12-24 iterations
  itok_bench \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 100000 --batch-items 64 \
    --pairs 2000 --eval-at 12,16,20,24 --recipe cat_tm_lr0.05_mt24:text_mean:0.05:24:24 \
    --curve-csv $CATALOGUE.csv --out $CATALOGUE.json >> results/cpu-verdict/itok_catalogue.log 2>&1
}
lane_a() {
  local r
  wait_for "snakemake.*(states|rewards|augment_sasrec|augment_gru)\.parquet|snakemake.*(le_quality|item_tokens)\.json|itok_catalogue"  # a job
  # left going by a restarted lane A
  # (the LFM LE's replicate 0 on this AMX-BF16 CPU, item tokens and fit, ran first here on 2026-12-05; its
  # diagnostics are in ../2026-12-04-lfm-le/files/amx-bf16. Its fit's outputs were deleted on 2026-12-06 by a params
  # rerun; the LFM precompute below fits it again first, seeded)
  # issue 12's item-token target on the whole Industry catalogue with the recipe curve2 found (text-mean init, lr 0.05,
  # 24 tokens: 0.9375 at 24 iterations on the 200-product sample), 2,000 pairs
  [[ -e $CATALOGUE.csv ]] || grep -qxF catalogue $FAILED || {
    echo "$(date -u +%FT%TZ) item tokens of the Industry catalogue, text-mean lr 0.05, 24 iterations"
    catalogue || echo catalogue >> $FAILED
  }
  for r in 0 1 2; do
    hold
    echo "$(date -u +%FT%TZ) precompute of replicate $r"
    CORES=1 THREADS=1 bash $LE_RUN precompute $r
  done
  # issue 12: the claims table's LE recipe (seed 0) on the catalogue's 0.911 item tokens
  # (../2026-12-06-industry-itok-timed): does the LE learn more on better item tokens? (about 20 min)
  hold
  echo "$(date -u +%FT%TZ) Industry LE on the timed run's item tokens: fit"
  { THREADS=1 bash $ITOK_TIMED_RUN fit && bash $ITOK_TIMED_RUN collect; } || echo itok-timed-fit >> $FAILED
  # the LFM LE with 30 item-token iterations instead of 12 (../2026-12-06-lfm-le-itok30): the LFM LE above is at
  # chance on every diagnostic, and its item tokens stopped early; this decides which LFM LE is worth a precompute
  hold
  echo "$(date -u +%FT%TZ) LFM LE with 30 item-token iterations: item tokens and fit"
  [[ -e results/lfm-itok30/lfm/data/stats.json ]] || bash $LFM30_RUN setup
  { bash $LFM30_RUN itok && bash $LFM30_RUN fit && bash $LFM30_RUN collect; } || echo lfm-itok30 >> $FAILED
  hold
  echo "$(date -u +%FT%TZ) GRU augmentation of replicate 0"
  CORES=1 SMK_FLAGS=--nolock bash $D/run.sh $V/le/smollm2/$(rep_dir 0)/augment_gru.parquet
  # the LFM half (lfm.sh, 2026-12-06): its control environments (minutes), then its LLM LE itlr's replicates (the
  # frozen-token LE of ../2026-12-04-lfm-le and ../2026-12-06-lfm-le-itok30 is at chance on every diagnostic; itlr,
  # ours, is the first above chance on every one: ../2026-12-06-lfm-le-fit): replicate 0's precompute, GRU's Industry
  # augmentation of replicates 1 and 2, then replicates 1 and 2 (fit and precompute each)
  hold
  echo "$(date -u +%FT%TZ) LFM control environments"
  SMK_FLAGS=--nolock bash $D/lfm.sh controls || echo lfm-controls >> $FAILED
  hold
  echo "$(date -u +%FT%TZ) LFM LE itlr replicate 0: precompute"
  SMK_FLAGS=--nolock bash $D/lfm.sh precompute 0 || echo lfm-precompute-0 >> $FAILED
  for r in 1 2; do
    hold
    echo "$(date -u +%FT%TZ) GRU augmentation of replicate $r"
    CORES=1 SMK_FLAGS=--nolock bash $D/run.sh $V/le/smollm2/$(rep_dir $r)/augment_gru.parquet
  done
  for r in 1 2; do
    hold
    echo "$(date -u +%FT%TZ) LFM LE itlr replicate $r: fit and precompute"
    SMK_FLAGS=--nolock bash $D/lfm.sh precompute $r || echo lfm-precompute-$r >> $FAILED
  done
  echo "$(date -u +%FT%TZ) lane A: done"
}
HOLD=results/cpu-verdict/HOLD
hold() {  # while results/cpu-verdict/HOLD exists, start nothing new (a timed benchmark has the machine; the running
  # job was stopped by hand and resumes when the lane goes on)
  while [[ -e $HOLD ]]; do sleep 30; done
}
wait_for() {  # until no process matches the pattern (other than this shell's own)
  while pgrep -f "$1" | grep -vqx "$$"; do sleep 60; done
}
case ${1:-both} in
  a) lane_a ;;
  b) lane_b ;;
  next) next_b ;;  # what lane B would run next
  both)
    lane_a > results/cpu-verdict/lanes_a.log 2>&1 &
    sleep 60  # lane A's first Snakemake call builds the data check first
    lane_b > results/cpu-verdict/lanes_b.log 2>&1
    wait
    ;;
  *) echo "lanes.sh: a, b or both" >&2; exit 2 ;;
esac
