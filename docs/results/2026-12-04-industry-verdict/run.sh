#!/usr/bin/env bash
# The claims table's runs on the full Industry stand-in with the learned LLM LE (issue 15; verdict.yaml). Repository
# root, the shared data beside it, `make setup` done, and results/cpu-le-full holding the preprocess, the negative
# pool, the SASRec warm-ups and the three replicates of ext0.1top6smw's item tokens, fit and precompute
# (docs/results/2026-12-05-industry-le-cpu/run.sh) and the control environments
# (docs/results/2026-12-04-industry-full-controls/run.sh). The results folder results/cpu-verdict gets hard links
# of those files, so only the recommender runs, the GRU warm-up and GRU's augmentation run here. Resumes.
#   run.sh [targets...]   default: claims_table (129 recommender runs at the 50-epoch budget, 3 seeds)
#   VERDICT_OVERLAY=F.yaml run.sh ...   one more config file on top of verdict.yaml (claims_so_far.sh)
#   CORES=1 run.sh ...  one job at a time (default 2), beside another chain on this 2-core machine
#   run.sh table          the claims table from the runs that exist (restored ones included; train not allowed)
#   run.sh collect        every finished run's metrics.json, ranks.parquet, train_log.csv into runs/ here
#   run.sh restore        the same back into results/ (where absent)
#   DATASET=lfm run.sh collect|restore   the same for the LFM half (lfm.sh) with lfm_runs/
#   run.sh link SRC DST   the hard links above from another stand-in's results
#   ALLOWED_RULES="..." run.sh ...   other rules than the recommender runs' (lfm.sh: the LFM LE's precompute)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-verdict
S=results/cpu-le-full/industry
V=results/cpu-verdict/industry
if [[ ${1:-} == collect || ${1:-} == restore ]]; then
  RUNS=$D/runs
  if [[ ${DATASET:-industry} != industry ]]; then V=results/cpu-verdict/$DATASET RUNS=$D/${DATASET}_runs; fi
  # collect: every finished run's metrics.json, ranks.parquet and train_log.csv into runs/ here (same tree as
  # results/); restore: back into results/ where absent (the claims table reads only the first two: claims_so_far.sh;
  # Snakemake retrains a restored run, whose model.safetensors is not kept)
  if [[ $1 == collect ]]; then src=$V/runs dst=$RUNS; else src=$RUNS dst=$V/runs; fi
  [[ -d $src ]] || exit 0
  (cd "$src" && find . -name metrics.json) | while read -r m; do
    r=$(dirname "$m")
    [[ $1 == restore && -e $dst/$r/metrics.json ]] && continue
    mkdir -p "$dst/$r"
    cp "$src/$r"/{metrics.json,ranks.parquet,train_log.csv} "$dst/$r/"
  done
  exit 0
fi
link() {  # hard links of $1's data, SASRec warm-ups, LLM LE ext0.1top6smw (each replicate) and control environments into $2
  local s=$1 v=$2 l r f c w
  mkdir -p $v/warmup/sasrec
  [[ -d $v/data ]] || cp -al $s/data $v/
  for w in $s/warmup/sasrec/seed*; do  # replicate r's warm-up is seed r's (its augmentation's top-5)
    [[ -d $w ]] || continue  # none yet (a new checkout)
    [[ -d $v/warmup/sasrec/${w##*/} ]] || cp -al $w $v/warmup/sasrec/
  done
  for r in "" /rep1 /rep2; do  # the replicates that exist (replicates.yaml of ../2026-12-05-industry-le-cpu)
    l=le/smollm2$r/ext0.1top6smw
    [[ -e $s/$l/le_quality.json ]] || continue
    mkdir -p $v/$l
    for f in item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png; do
      ln -f $s/le/smollm2$r/$f $v/le/smollm2$r/
    done
    for f in adapter score_head.safetensors le_quality.json train_log.csv learning_curve.csv; do
      [[ -e $v/$l/$f || ! -e $s/$l/$f ]] || cp -al $s/$l/$f $v/$l/
    done
    # the gathered precompute and its shards (states/, rewards/, augment/sasrec/), each only once it is complete (its
    # gathered file exists; a replicate's precompute may still be running): with the shards present, Snakemake does
    # not plan the allowed le_augment / le_gather_augment to remake the SASRec augmentation here
    for f in states rewards augment/sasrec; do
      g=$f.parquet
      [[ $f == augment/sasrec ]] && g=augment_sasrec.parquet
      [[ -e $s/$l/$g && ! -e $v/$l/$g ]] || continue
      mkdir -p $v/$l/$f
      cp -alf $s/$l/$f/. $v/$l/$f/
      ln -f $s/$l/$g $v/$l/$g
    done
  done
  for c in idrec/idrec0.1 oracle/oracle; do  # the control environments' models and precompute (oracle / idrec columns)
    mkdir -p $v/le/${c%/*}
    [[ -d $v/le/$c || ! -d $s/le/$c ]] || cp -al $s/le/$c $v/le/${c%/*}/
  done
}
if [[ ${1:-} == link ]]; then  # run.sh link SRC DST: the same links for another stand-in (lfm.sh)
  link "${2:?SRC}" "${3:?DST}"
  exit 0
fi
[[ ! -d $S/data ]] || link $S $V  # (an LFM-only checkout has no Industry chain)
if [[ ${1:-} == table ]]; then
  # the claims table from the runs that exist, train not allowed: a run restored from runs/ (metrics.json and
  # ranks.parquet, not its model.safetensors) is read as it is instead of being retrained
  shift
  snakemake --cores 1 --rerun-incomplete ${SMK_FLAGS:-} --rerun-triggers mtime --allowed-rules report_claims claims_table \
    --configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml \
    config/industry_full_envs_cpu.yaml $D/verdict.yaml ${VERDICT_OVERLAY:-} --config data_dir=../shared/data \
    -- "${@:-claims_table}"
  exit 0
fi
# ALLOWED_RULES: another set of rules (lfm.sh: the LFM LE's precompute and control environments, made here)
# shellcheck disable=SC2086
snakemake --cores "${CORES:-2}" --rerun-incomplete ${SMK_FLAGS:-} --rerun-triggers mtime \
  --allowed-rules ${ALLOWED_RULES:-train warmup le_augment le_gather_augment report_claims claims_table} \
  --configfile config/config.yaml config/industry_le_cpu.yaml \
  config/industry_le_ext_cpu.yaml config/industry_full_envs_cpu.yaml $D/verdict.yaml ${VERDICT_OVERLAY:-} --config data_dir=../shared/data \
  -- "${@:-claims_table}"
