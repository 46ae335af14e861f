#!/usr/bin/env bash
# Why the informative environments' rewards harm on the LFM stand-in (README). Repository root, the shared data
# beside it, `make setup` done, and the LFM table's data and negative pool in results/lfm-envs/lfm/data
# (../2026-12-06-lfm-envs/run.sh runs 0). Resumes; one job at a time unless CORES says more.
#   run.sh runs [FW/SETTING ...]   the three control settings of probe.yaml (fit, rewards) and their LER runs
#                    (SA2C, SNQN, seed 0); with arguments (e.g. sa2c/oraclegap1), those runs only, in that order
#   run.sh levels    levels.md: each environment's reward level on the training pool, inside and outside the LE
#                    subset (reward_levels.py; the LLM LE's rewards once ../2026-12-06-lfm-envs has linked them)
#   run.sh deltas    valid_deltas.txt: validation deltas against the LFM table's committed base runs, and the losses
#   run.sh aug       the augmented-reward check: Table 3's sv and q (SA2C, seed 0) with the LLM LE itlr, in the LFM
#                    table's results folder (results/lfm-envs; its config, not probe.yaml): which of LEA's two
#                    augmentation losses (Eq. 13 without r^e, Eq. 14 with it) carries itlr's LEA harm
#   run.sh collect   le/ (each setting's le_quality.json) and runs/ (every run's metrics, ranks, train_log) here
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-lfm-reward-scale
E=docs/results/2026-12-06-lfm-envs
R=results/lfm-reward-scale/lfm
# TABLE: the LFM table's config (`aug` runs in its results folder); CF: the probe's, probe.yaml on top
TABLE=(--configfile config/config.yaml config/lfm_control_cpu.yaml docs/results/2026-12-04-lfm-le/llm.yaml
       docs/results/2026-12-04-lfm-le/amx.yaml $E/envs.yaml)
CF=("${TABLE[@]}" $D/probe.yaml)
SETTINGS=(oracle/oracleanch oracle/oraclegap1 idrec/idrec0.1anch)
case ${1:?stage} in
  runs)
    S=results/lfm-envs/lfm/data
    [[ -e $S/negatives.parquet ]] || { echo "run.sh: $S/negatives.parquet is missing (see the header)" >&2; exit 1; }
    mkdir -p $R/data
    for f in interactions.parquet items.parquet splits.parquet stats.json negatives.parquet; do
      [[ -e $R/data/$f ]] || ln -f $S/$f $R/data/
    done
    t=()
    if [[ $# -gt 1 ]]; then  # the runs named, in that order (one snakemake call each)
      for fs in "${@:2}"; do
        CORES=${CORES:-1} bash $D/run.sh runs1 $R/runs/sasrec/${fs%/*}/LER_${fs#*/}/seed0/metrics.json
      done
      exit 0
    fi
    for fw in sa2c snqn; do for s in "${SETTINGS[@]}"; do t+=($R/runs/sasrec/$fw/LER_${s#*/}/seed0/metrics.json); done; done
    set -- runs1 "${t[@]}"
    ;&
  runs1)  # (internal) the runs whose metrics.json are given
    snakemake --nolock --cores "${CORES:-1}" --rerun-incomplete --rerun-triggers mtime "${CF[@]}" \
      --config data_dir=../shared/data --allowed-rules control_fit control_rewards train -- "${@:2}"
    ;;
  aug)
    snakemake --nolock --cores "${CORES:-1}" --rerun-incomplete --rerun-triggers mtime "${TABLE[@]}" \
      --config data_dir=../shared/data --allowed-rules train -- \
      results/lfm-envs/lfm/runs/sasrec/sa2c/{sv,q}/seed0/metrics.json
    ;;
  levels)  # the environments whose rewards exist (the probe's three once `runs` has made them)
    L=results/lfm-envs/lfm/le
    e=()
    for x in "random=$L/random/random" "itlr (LLM LE, extended recipe)=$L/smollm2/itlr" \
             "idrec0.1 (paper recipe)=$L/idrec/idrec0.1" "idrec0.1anch=$R/le/idrec/idrec0.1anch" \
             "oracle (paper recipe)=$L/oracle/oracle" "oracleanch=$R/le/oracle/oracleanch" \
             "oraclegap1=$R/le/oracle/oraclegap1"; do
      [[ ! -e ${x#*=}/rewards.parquet ]] || e+=("$x/rewards.parquet")
    done
    python $D/reward_levels.py --splits results/lfm-envs/lfm/data/splits.parquet --fraction 0.1 "${e[@]}" > $D/levels.md
    ;;
  deltas)
    lines=()
    for fw in sa2c snqn; do
      B=$E/runs/sasrec/$fw; P=$R/runs/sasrec/$fw
      lines+=("$fw LER idrec0.1=$B/LER_idrec0.1:$B/base" "$fw LER idrec0.1anch=$P/LER_idrec0.1anch:$B/base"
              "$fw LER oracle=$B/LER_oracle:$B/base" "$fw LER oracleanch=$P/LER_oracleanch:$B/base"
              "$fw LER oraclegap1=$P/LER_oraclegap1:$B/base" "$fw LER random=$B/LER_random:$B/base")
    done
    B=$E/runs/sasrec/sa2c
    for v in sv q; do  # `run.sh aug`'s runs, or their collected copies here (a new checkout)
      for A in results/lfm-envs/lfm/runs/sasrec/sa2c $D/runs/sasrec/sa2c; do
        [[ -e $A/$v/seed0/metrics.json ]] && { lines+=("sa2c $v itlr=$A/$v:$B/base"); break; }
      done
    done
    lines+=("sa2c LEA (sv+q) itlr=$B/LEA:$B/base" "sa2c LEA (sv+q) random=$B/LEA_random:$B/base")
    python docs/results/2026-12-02-rl-probe/deltas.py 0 3820 "${lines[@]}" > $D/valid_deltas.txt
    ;;
  collect)
    mkdir -p $D/le $D/runs
    for s in "${SETTINGS[@]}"; do cp $R/le/$s/le_quality.json $D/le/${s#*/}_le_quality.json; done
    for fw in sa2c snqn; do for s in "${SETTINGS[@]}"; do
      r=sasrec/$fw/LER_${s#*/}/seed0; mkdir -p $D/runs/$r
      cp $R/runs/$r/{metrics.json,ranks.parquet,train_log.csv} $D/runs/$r/
    done; done
    for v in sv q; do  # the augmented-reward check's runs (results/lfm-envs)
      r=sasrec/sa2c/$v/seed0; [[ -e results/lfm-envs/lfm/runs/$r/metrics.json ]] || continue
      mkdir -p $D/runs/$r; cp results/lfm-envs/lfm/runs/$r/{metrics.json,ranks.parquet,train_log.csv} $D/runs/$r/
    done
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
