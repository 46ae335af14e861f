#!/usr/bin/env bash
# Issue 13's LFM table with the LLM LE that learns (envs.yaml), in results/lfm-envs. Repository root, the shared data
# beside it, `make setup` done, and the claims table's LFM files in results/cpu-verdict/lfm
# (../2026-12-04-industry-verdict/lfm.sh controls, precompute 0): they are hard-linked here after check.py, the LE
# once its precompute is complete. Resumes; one job at a time unless CORES says more.
#   run.sh runs SEED [llm]   seed SEED's base runs and the control columns (idrec0.1, oracle, random: the random
#                            environment is made here); with llm, the LLM column too (needs LE replicate SEED)
#   run.sh table [F.yaml]    the table from the runs (report rules only) and collect; with an overlay of this folder
#                            (so_far_*.yaml: fewer seeds or columns), a partial table into its own folder here
#   run.sh collect           environments.md / .csv, the diagnostics, each environment's le_quality.json, every
#                            run's metrics.json, ranks.parquet and train_log.csv into this folder (tables/, le/, runs/)
#   run.sh augment           tables/augment.md / .csv: each environment's SASRec augmentation (lea report augment)
#   run.sh restore           those runs' files back into results/ where absent (a new checkout; `runs` does it first):
#                            `runs` skips a run whose metrics.json exists, `table` reads it as it is (train not allowed)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-lfm-envs
SRC=results/cpu-verdict/lfm
R=results/lfm-envs/lfm
LE=itlr
CF=(--configfile config/config.yaml config/lfm_control_cpu.yaml docs/results/2026-12-04-lfm-le/llm.yaml
    docs/results/2026-12-04-lfm-le/amx.yaml $D/envs.yaml)
smk() { snakemake --nolock ${SMK_FLAGS:-} --cores "${CORES:-1}" --rerun-incomplete --rerun-triggers mtime "${CF[@]}" \
  --config data_dir=../shared/data "$@"; }
collect() {
  mkdir -p $D/tables $D/runs
  for f in environments.md environments.csv environments_diagnostics.csv; do
    [[ ! -e $R/tables/$f ]] || cp $R/tables/$f $D/tables/
  done
  mkdir -p $D/le  # each environment's diagnostics (the LLM LE's per replicate)
  for f in idrec/idrec0.1 oracle/oracle random/random smollm2/itlr smollm2/rep1/itlr smollm2/rep2/itlr; do
    [[ ! -e $R/le/$f/le_quality.json ]] || cp $R/le/$f/le_quality.json "$D/le/$(echo "${f#*/}" | tr / _)_le_quality.json"
  done
  [[ -d $R/runs ]] || return 0
  (cd $R/runs && find . -name metrics.json) | while read -r m; do
    r=$(dirname "$m"); mkdir -p "$D/runs/$r"
    cp "$R/runs/$r"/{metrics.json,ranks.parquet,train_log.csv} "$D/runs/$r/"
  done
}
if [[ ${1:-} == collect ]]; then collect; exit 0; fi
restore() {  # the committed runs back into results/ where absent
  [[ -d $D/runs ]] || return 0
  (cd $D/runs && find . -name metrics.json) | while read -r m; do
    r=$(dirname "$m")
    [[ -e $R/runs/$r/metrics.json ]] && continue
    mkdir -p "$R/runs/$r"
    cp "$D/runs/$r"/{metrics.json,ranks.parquet,train_log.csv} "$R/runs/$r/"
  done
}
if [[ ${1:-} == restore ]]; then restore; exit 0; fi
if [[ ${1:-} == augment ]]; then  # tables/augment.md: each environment's SASRec augmentation against the true next item
  e=()
  for f in smollm2/itlr:itlr idrec/idrec0.1:idrec0.1 oracle/oracle:oracle random/random:random; do
    a=$R/le/${f%:*}/augment_sasrec.parquet
    [[ -e $a ]] || { echo "run.sh: $a is missing" >&2; exit 1; }
    e+=("{\"dataset\": \"lfm\", \"le\": \"${f#*:}\", \"backbone\": \"sasrec\", \"augment\": \"$a\",
      \"top5\": \"$R/warmup/sasrec/seed0/top5.parquet\", \"interactions\": \"$R/data/interactions.parquet\"}")
  done
  mkdir -p $D/tables
  lea report augment --spec "{\"entries\": [$(IFS=,; echo "${e[*]}")]}" --out-md $D/tables/augment.md \
    --out-csv $D/tables/augment.csv
  exit 0
fi
python $D/check.py
link() {  # the data, the pool, the warm-ups, the control environments, and each complete LE replicate
  local r d f
  mkdir -p $R/data $R/warmup/sasrec $R/le/idrec $R/le/oracle
  for f in interactions.parquet items.parquet splits.parquet stats.json negatives.parquet; do
    [[ -e $R/data/$f || ! -e $SRC/data/$f ]] || ln -f $SRC/data/$f $R/data/
  done
  for d in $SRC/warmup/sasrec/seed*; do [[ ! -d $d || -d $R/warmup/sasrec/${d##*/} ]] || cp -al $d $R/warmup/sasrec/; done
  for d in idrec/idrec0.1 oracle/oracle; do  # once complete (its augmentation is the last file made)
    [[ -d $R/le/$d || ! -e $SRC/le/$d/augment_sasrec.parquet ]] || cp -al $SRC/le/$d $R/le/${d%/*}/
  done
  for r in ""; do  # replicate 0, the one LE of every seed here (envs.yaml)
    d=$SRC/le/smollm2$r
    [[ -e $d/$LE/augment_sasrec.parquet && -e $d/$LE/states.parquet && -e $d/$LE/rewards.parquet ]] || continue
    [[ -d $R/le/smollm2$r/$LE ]] && continue
    mkdir -p $R/le/smollm2$r
    for f in item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png; do ln -f $d/$f $R/le/smollm2$r/; done
    cp -al $d/$LE $R/le/smollm2$r/
  done
}
link
case ${1:?stage} in
  runs)
    s=${2:?seed}
    t=()
    for fw in sa2c snqn; do
      t+=($R/runs/sasrec/$fw/base/seed$s/metrics.json)
      for v in LER LES LEA LEASR; do
        for e in idrec0.1 oracle random; do t+=($R/runs/sasrec/$fw/${v}_$e/seed$s/metrics.json); done
        [[ ${3:-} != llm ]] || t+=($R/runs/sasrec/$fw/$v/seed$s/metrics.json)
      done
    done
    t+=($R/runs/gru/sa2c/base/seed$s/metrics.json)
    for v in LESprime LES; do
      for e in idrec0.1 oracle random; do t+=($R/runs/gru/sa2c/${v}_$e/seed$s/metrics.json); done
      [[ ${3:-} != llm ]] || t+=($R/runs/gru/sa2c/$v/seed$s/metrics.json)
    done
    restore  # (a new checkout)
    todo=()  # a run with its metrics.json (finished, or restored without its model) is not run again
    for m in "${t[@]}"; do [[ -e $m ]] || todo+=("$m"); done
    [[ ${#todo[@]} -gt 0 ]] || exit 0
    # the random environment is made here (control_*; idrec0.1 and oracle are linked, never refitted: their files
    # exist); the LLM LE's files are linked and its rules not allowed
    smk --allowed-rules train control_fit control_states control_rewards control_augment -- "${todo[@]}"
    ;;
  table)
    restore  # (a new checkout)
    if [[ -n ${2:-} ]]; then  # a partial table (seeds or columns so far): the overlay's name is its folder here
      CF+=($D/$2)
      smk --allowed-rules report_environments environments_table -- environments_table
      mkdir -p $D/${2%.yaml}
      for f in environments.md environments.csv environments_diagnostics.csv; do cp $R/tables/$f $D/${2%.yaml}/; done
      rm -f $R/tables/environments*  # the full table is rebuilt from every run, never from a partial one
      exit 0
    fi
    smk --allowed-rules report_environments environments_table -- environments_table
    collect
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
