#!/usr/bin/env bash
# The claims table's remaining Industry work (since 2026-12-07: a new checkout without results/), one unit at a time,
# for lfm_lanes.sh's lane b. What is left: the control columns of seeds 0-2 (40 runs) and GRU's LE rows (21 runs,
# which read GRU's augmentation of each LE replicate). Every unit skips what exists and resumes what was cut off.
#   industry_lane.sh next   the next unit, in this order; exit 0 after one, 3 when nothing is left:
#     1. the control environments idrec0.1 and oracle in results/cpu-verdict (fit, states, rewards, augmentation; one
#        thread), then their diagnostics against the committed ones of industry_le/ (the rebuild of 2026-12-07, with
#        every digit that e50/claims_seeds012_sasrec_cpu_le/claims.md prints for the environments of the control runs
#        made before; ../2026-12-04-industry-full-controls/le/ holds an older build); a difference stops the lane;
#     2. for r = 0, 1, 2: LE replicate r rebuilt as it was made (../2026-12-05-industry-le-cpu/run.sh itok r, fit r:
#        two threads, as in 2026-12-05; a torch thread count changes the bf16 sums), `run.sh check r` against the
#        committed diagnostics (a difference stops the lane), its states and rewards (one thread a job, as then; the
#        SASRec augmentation, a third of the precompute, is left out: its runs are done, and GRU's rows read GRU's);
#     3. then seed r's GRU LE rows (GRU's warm-up of seed r and its augmentation first) and seed r's control runs.
#   industry_lane.sh list   what is left
#   industry_lane.sh collect   the finished runs into runs/ (run.sh collect) and, into industry_le/, the SHA-256 of
#                           each remade environment's weights and gathered precompute (sha256.txt beside its name)
# Two-thread jobs run with OMP_WAIT_POLICY=PASSIVE: beside the other lane's job, idle OpenMP threads then sleep instead
# of spinning (a SmolLM2 step at two threads beside two busy one-thread jobs: 2.1-2.6 s against 3.2-32 s; threads_check.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-verdict
LE_RUN=docs/results/2026-12-05-industry-le-cpu/run.sh
CTRL=$D/industry_le
S=results/cpu-le-full/industry
V=results/cpu-verdict/industry
. $D/lanes_lib.sh
CTRL_FILES=($V/le/idrec/idrec0.1/{le_quality.json,states.parquet,rewards.parquet,augment_sasrec.parquet}
            $V/le/oracle/oracle/{le_quality.json,states.parquet,rewards.parquet,augment_sasrec.parquet})
rep_dir() { if [[ $1 == 0 ]]; then echo $S/le/smollm2/ext0.1top6smw; else echo $S/le/smollm2/rep$1/ext0.1top6smw; fi; }
ready() { local d; d=$(rep_dir "$1"); [[ -e $d/states.parquet && -e $d/rewards.parquet ]]; }
controls_ready() { local f; for f in "${CTRL_FILES[@]}"; do [[ -e $f ]] || return 1; done; }
runs_of() {  # the metrics.json of seed $1's Industry table still missing; $2: a grep -E filter (lanes_lib.sh's
  # missing_runs, with its GRU_AUG)
  missing_runs $D/run.sh industry "$1" "$2"
}
next_unit() {
  local r t
  # every later step reads the Industry data of results/cpu-le-full (run.sh links it into results/cpu-verdict)
  [[ -e $S/data/stats.json ]] || { CORES=1 THREADS=1 bash $LE_RUN data; return 0; }
  if ! controls_ready; then
    CORES=1 ALLOWED_RULES="negatives warmup control_fit control_states control_rewards control_augment" \
      bash $D/run.sh "${CTRL_FILES[@]}"
    python $D/same_diag.py $CTRL/idrec/idrec0.1/le_quality.json $V/le/idrec/idrec0.1/le_quality.json
    python $D/same_diag.py $CTRL/oracle/oracle/le_quality.json $V/le/oracle/oracle/le_quality.json
    return 0
  fi
  for r in 0 1 2; do
    if ! ready $r; then
      if [[ ! -e $(rep_dir $r)/le_quality.json ]]; then
        OMP_WAIT_POLICY=PASSIVE CORES=2 THREADS=2 bash $LE_RUN itok $r
        OMP_WAIT_POLICY=PASSIVE CORES=2 THREADS=2 bash $LE_RUN fit $r
      fi
      bash $LE_RUN check $r
      CORES=1 THREADS=1 bash $LE_RUN states-rewards $r
      return 0
    fi
    t=$(GRU_AUG=1 runs_of $r '.')
    [[ -z $t ]] || { CORES=1 bash $D/run.sh $t; return 0; }
    t=$(runs_of $r '_(idrec0\.1|oracle)/')
    [[ -z $t ]] || { CORES=1 bash $D/run.sh $t; return 0; }
  done
  return 3
}
list() {
  local r
  echo "data: $([[ -e $S/data/stats.json ]] && echo present || echo missing)," \
    "control environments: $(controls_ready && echo complete || echo missing)"
  for r in 0 1 2; do
    echo "replicate $r: fit $([[ -e $(rep_dir $r)/le_quality.json ]] && echo present || echo missing)," \
      "states and rewards $(ready $r && echo complete || echo missing);" \
      "seed $r: GRU LE rows missing $(GRU_AUG=1 runs_of $r '.' | wc -l), control runs missing" \
      "$(runs_of $r '_(idrec0\.1|oracle)/' | wc -l)"
  done
}
collect() {
  local d r g
  bash $D/run.sh collect
  for d in $S/le/smollm2/ext0.1top6smw $S/le/smollm2/rep*/ext0.1top6smw $V/le/idrec/idrec0.1 $V/le/oracle/oracle; do
    [[ -e $d/le_quality.json ]] || continue
    r=${d#$S/le/}
    r=${r#$V/le/}
    mkdir -p $D/industry_le/$r
    {
      env_sums "$d"
      # GRU's augmentation of an LLM replicate is made in the verdict's folder, beside hard links of $S's LE files
      if [[ $d == $S/* ]]; then
        for g in $V/le/$r/augment_*.parquet; do
          if [[ -e $g ]]; then (cd $V/le/$r && sha256sum "./${g##*/}"); fi
        done
      fi
    } > $D/industry_le/$r/sha256.txt
  done
}
case ${1:-} in
  next) next_unit ;;
  list) list ;;
  collect) collect ;;
  *) echo "usage: industry_lane.sh next | list | collect" >&2; exit 2 ;;
esac
