#!/usr/bin/env bash
# The claims table's LFM half (issue 15; lfm.yaml on top of verdict.yaml), in the same results folder as Industry so
# that one table holds both stand-ins. Repository root, the shared data beside it, `make setup` done, and:
#   results/cpu-lfm-control/lfm/data   the LFM data at 5,047 tracks (docs/results/2026-12-04-lfm-le/run.sh data)
#   results/lfm-itok30/lfm/le/smollm2  its 30-iteration item tokens and the itlr LE's replicate 0
#                                      (docs/results/2026-12-06-lfm-le-itok30/run.sh setup, itok;
#                                      docs/results/2026-12-06-lfm-le-fit/run.sh fit itlr)
# Those are hard-linked into results/cpu-verdict/lfm, after a check that they were made with lfm.yaml's settings
# (lfm_check.py; `controls` and the base runs need only the data). Everything else is made here, by the verdict's
# own config. Resumes.
#   lfm.sh precompute R   LE replicate R (0, 1, 2): the negative pool (K = 10), the SASRec warm-up of seed R, for R > 0
#                         the itlr fit (seed R; replicate 0's item tokens: their text-mean recipe has no random
#                         choice), then its states, rewards and SASRec augmentation (8 shards each); one job at a time
#                         (CORES=2: two shards at once, one thread each, on a machine with nothing else running)
#   lfm.sh controls       the control environments idrec0.1 and oracle (fit, states, rewards, augmentation)
#   lfm.sh fig5 S         Figure 5's LE S of lfm_fig5.yaml (itlr0.05, itlr0.2, itlr0.5, itlr1.0, itlr-IT, itlr-SM; one
#                         replicate, seed 0): its fit and the precompute its runs read (-SM: the states alone, LES's)
#   lfm.sh [targets...]   the recommender runs (default: claims_table over both stand-ins, Industry's runs too);
#                         with VERDICT_OVERLAY=$PWD/lfm_fig5.yaml, Figure 5's runs too
#   lfm.sh collect | restore   the LFM runs' files into lfm_runs/ here, and back; collect also copies each LE
#                         replicate's and control environment's le_quality.json and learning curve into lfm_le/
#                         (not over a committed copy),
#                         with the SHA-256 of its weights and gathered precompute (sha256.txt)
#   CORES=1 lfm.sh ...    one job at a time, beside another chain
set -euo pipefail
cd "$(dirname "$0")/../../.."
D=docs/results/2026-12-04-industry-verdict
DATA=results/cpu-lfm-control/lfm/data
IT=results/lfm-itok30/lfm/le/smollm2
V=results/cpu-verdict/lfm
LE=itlr
if [[ ${1:-} == collect || ${1:-} == restore ]]; then
  if [[ $1 == collect ]]; then  # each LE replicate's and control environment's diagnostics, into lfm_le/
    . $D/lanes_lib.sh
    for q in $V/le/*/*/le_quality.json $V/le/smollm2/rep*/$LE/le_quality.json; do  # replicate 0 is smollm2/$LE
      [[ -e $q ]] || continue
      r=$(dirname "${q#$V/le/}")
      mkdir -p $D/lfm_le/$r
      # the first build's copies stay, which the earlier runs read: a rebuild (new checkout) must have their
      # diagnostics, and differs in its timings and peak memory only
      [[ ! -e $D/lfm_le/$r/le_quality.json ]] || .venv/bin/python $D/same_diag.py $D/lfm_le/$r/le_quality.json "$q"
      for f in le_quality.json learning_curve.csv; do
        [[ ! -e $(dirname "$q")/$f || -e $D/lfm_le/$r/$f ]] || cp "$(dirname "$q")/$f" $D/lfm_le/$r/
      done
      env_sums "$(dirname "$q")" > $D/lfm_le/$r/sha256.txt  # lanes_lib.sh
    done
    [[ ! -e $V/le/smollm2/item_tokens.safetensors ]] ||
      (cd $V/le/smollm2 && sha256sum item_tokens.safetensors) > $D/lfm_le/smollm2/item_tokens.sha256.txt
  fi
  DATASET=lfm exec bash $D/run.sh "$1"
fi
[[ -e $DATA/splits.parquet ]] || { echo "lfm.sh: $DATA/splits.parquet is missing: make the LFM data first (see the header)" >&2; exit 1; }
mkdir -p $V
[[ -d $V/data ]] || { mkdir -p $V/data; for f in interactions items splits stats; do
  g=$DATA/$f.parquet; [[ $f == stats ]] && g=$DATA/stats.json; ln -f "$g" $V/data/; done; }
link_le() {  # the item tokens and replicate 0's fit, after lfm_check.py (the precompute and the LE runs read them)
  local f r
  for f in $IT/item_tokens.safetensors $IT/$LE/le_quality.json $IT/$LE/adapter/item_tokens.safetensors; do
    if [[ ! -e $f ]]; then
      echo "lfm.sh: $f is missing: make the LFM item tokens and the itlr LE first (see the header)" >&2
      exit 1
    fi
  done
  .venv/bin/python $D/lfm_check.py  # the linked files were made with lfm.yaml's settings, or stop
  # and replicate 0's fit is the one the committed runs read (a rebuild on a new checkout), or stop
  .venv/bin/python $D/same_diag.py $D/lfm_le/smollm2/$LE/le_quality.json $IT/$LE/le_quality.json
  mkdir -p $V/le/smollm2/$LE
  for r in "" /rep1 /rep2; do  # the item tokens of every replicate: replicate 0's
    mkdir -p $V/le/smollm2$r
    for f in item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png; do
      [[ -e $V/le/smollm2$r/$f ]] || ln -f $IT/$f $V/le/smollm2$r/
    done
  done
  for f in adapter score_head.safetensors le_quality.json train_log.csv learning_curve.csv; do  # replicate 0's fit
    [[ -e $V/le/smollm2/$LE/$f ]] || cp -al $IT/$LE/$f $V/le/smollm2/$LE/
  done
}
case ${1:-} in
  controls) ;;
  precompute | fig5) link_le ;;
  *) [[ ! -e $IT/$LE/le_quality.json ]] || link_le ;;  # the base runs read no LE: they run before it exists
esac
export VERDICT_OVERLAY="$PWD/$D/lfm.yaml ${VERDICT_OVERLAY:-}"
rep_dir() { if [[ $1 == 0 ]]; then echo $V/le/smollm2/$LE; else echo $V/le/smollm2/rep$1/$LE; fi; }
case ${1:-} in
  precompute)
    r=${2:?replicate}
    rules="negatives warmup le_states le_rewards le_augment le_gather_states le_gather_rewards le_gather_augment"
    s=$(rep_dir "$r")
    fit=()
    if [[ $r != 0 ]]; then  # replicate 0's fit is the linked one; replicate r's is made here, then checked
      # against the committed diagnostics when they exist (a rebuild on a new checkout: the committed runs read that)
      rules="fit_le $rules"
      fit=($s/le_quality.json)
      CORES=${CORES:-1} ALLOWED_RULES="fit_le" bash $D/run.sh "${fit[@]}"
      c=$D/lfm_le/smollm2/rep$r/$LE/le_quality.json
      [[ ! -e $c ]] || .venv/bin/python $D/same_diag.py $c $s/le_quality.json
    fi
    CORES=${CORES:-1} ALLOWED_RULES="$rules" exec bash $D/run.sh $V/data/negatives.parquet $V/warmup/sasrec/seed$r/top5.parquet \
      "${fit[@]}" $s/states.parquet $s/rewards.parquet $s/augment_sasrec.parquet
    ;;
  fig5)
    s=${2:?an LE setting of lfm_fig5.yaml}
    grep -q "^    $s: " $D/lfm_fig5.yaml || { echo "lfm.sh: '$s' is not an LE setting of $D/lfm_fig5.yaml" >&2; exit 2; }
    export VERDICT_OVERLAY="$VERDICT_OVERLAY $PWD/$D/lfm_fig5.yaml"
    out=($V/le/smollm2/$s/le_quality.json $V/le/smollm2/$s/states.parquet)
    [[ $s == *-SM ]] || out+=($V/le/smollm2/$s/rewards.parquet $V/le/smollm2/$s/augment_sasrec.parquet)
    CORES=${CORES:-1} ALLOWED_RULES="fit_le le_states le_rewards le_augment le_gather_states le_gather_rewards le_gather_augment" \
      exec bash $D/run.sh "${out[@]}"
    ;;
  controls)
    CORES=${CORES:-1} ALLOWED_RULES="negatives warmup control_fit control_states control_rewards control_augment" \
      exec bash $D/run.sh $V/data/negatives.parquet \
      $V/le/idrec/idrec0.1/{le_quality.json,states.parquet,rewards.parquet,augment_sasrec.parquet} \
      $V/le/oracle/oracle/{le_quality.json,states.parquet,rewards.parquet,augment_sasrec.parquet}
    ;;
  *) exec bash $D/run.sh "$@" ;;
esac
