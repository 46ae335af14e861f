#!/usr/bin/env bash
# The Industry LLM LE ext0.1top6smw made on a 2-core CPU with AMX-BF16 (issues 12 and 15), stage by stage, in
# results/cpu-le-full: the claims table's LE since 2026-12-05 (README.md here). Repository root, the shared data beside
# it, `make setup` done. Each stage resumes (Snakemake keeps finished jobs; the item tokens and the fit resume from their
# checkpoints). THREADS (default 2) torch threads a job, CORES (default 2) jobs at a time.
# Every stage but collect / restore takes the replicate as a second argument (0, 1 or 2; default 0; replicates.yaml):
# replicate r lives in le/smollm2/rep<r> (replicate 0: le/smollm2) with its own SASRec warm-up (seed r).
#   run.sh itok        the item tokens of the 4,385 products (config/industry_le_cpu.yaml's CPU recipe)
#   run.sh fit         the LE fit with le_quality.json and its learning curve (config/industry_le_ext_cpu.yaml)
#   run.sh precompute  states, rewards and SASRec augmentation of every training transition (8 shards each)
#   run.sh augment     the augmentation hit rate (files/augment.{md,csv})
#   run.sh collect     the chain's files into files/ here: the weights (item tokens, adapter, score head: about 11 MB,
#                      committed so that a new checkout needs no refit), the diagnostics, the rewards and augmentation
#                      (gathered files and shards); the fit's checkpoint.pt while the fit is unfinished. Not the
#                      states (63 MB): `run.sh precompute` remakes them from the weights in about 15 min of one core
#   run.sh restore     files/ back into results/ (where absent), after the data and the LLM folder; then
#                      `run.sh precompute` remakes only the states
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-05-industry-le-cpu
R=results/cpu-le-full/industry
LE=$R/le/smollm2
S=$LE/ext0.1top6smw
F=$D/files
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
    config/industry_full_envs_cpu.yaml $D/replicates.yaml)
# --max-checksum-file-size: the shared data's files get new mtimes between sessions; with their checksums recorded
# Snakemake keeps the work built on them (docs/results/2026-12-04-lfm-le/run.sh)
TRIG=(--rerun-triggers mtime --max-checksum-file-size 256MB)
smk() { snakemake --nolock --cores "${CORES:-2}" "${TRIG[@]}" "${CF[@]}" --config data_dir=../shared/data \
  --set-threads item_tokens="${THREADS:-2}" fit_le="${THREADS:-2}" le_states="${THREADS:-1}" \
  le_rewards="${THREADS:-1}" le_augment="${THREADS:-1}" "$@"; }
stage=${1:?stage}
rep=${2:-0}
if [[ $rep != 0 ]]; then LE=$LE/rep$rep S=$LE/ext0.1top6smw F=$F/rep$rep; fi
[[ $stage == collect ]] || smk -- $R/data/stats.json resources/llm/smollm2/hf/config.json
case $stage in
  itok) smk -- $LE/item_tokens.json ;;
  fit) smk -- $S/le_quality.json ;;
  precompute) smk -- $R/data/negatives.parquet $R/warmup/sasrec/seed$rep/top5.parquet \
      $S/states.parquet $S/rewards.parquet $S/augment_sasrec.parquet ;;
  augment)
    lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"ext0.1top6smw\", \"backbone\": \"sasrec\",
      \"augment\": \"$S/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed$rep/top5.parquet\",
      \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $F/augment.md --out-csv $F/augment.csv
    ;;
  collect)
    mkdir -p $F/le
    for f in item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png; do
      [[ -e $LE/$f ]] && cp $LE/$f $F/le/
    done
    # the item tokens' checkpoint only while they are unfinished (they resume from it)
    if [[ -e $LE/checkpoint.pt && ! -e $LE/item_tokens.json ]]; then cp $LE/checkpoint.pt $F/le/item_tokens_checkpoint.pt
    else rm -f $F/le/item_tokens_checkpoint.pt; fi
    if [[ -d $S ]]; then
      for f in adapter score_head.safetensors le_quality.json learning_curve.csv train_log.csv rewards.parquet \
               augment_sasrec.parquet rewards augment; do
        [[ -e $S/$f ]] && cp -r $S/$f $F/le/
      done
      # the fit's checkpoint only while the fit has not written le_quality.json (it resumes from it)
      if [[ -e $S/checkpoint.pt && ! -e $S/le_quality.json ]]; then cp $S/checkpoint.pt $F/le/; else rm -f $F/le/checkpoint.pt; fi
    fi
    # every replicate's rule logs and benchmarks (rep<r> in their paths), in one place
    mkdir -p $D/files/logs
    cp -r results/cpu-le-full/logs/{item_tokens,fit_le,le_states,le_rewards,le_augment} $D/files/logs/ 2>/dev/null || true
    cp -r results/cpu-le-full/benchmarks/{item_tokens,fit_le,le_states,le_rewards,le_augment} $D/files/logs/ 2>/dev/null || true
    ;;
  restore)
    # after the data and the LLM folder (above), so that the restored files are newer than their inputs
    mkdir -p $S $LE
    for f in item_tokens.safetensors item_tokens.parquet item_tokens.json item_tokens_loss.png; do
      [[ -e $F/le/$f && ! -e $LE/$f ]] && cp $F/le/$f $LE/
    done
    [[ -e $F/le/item_tokens_checkpoint.pt && ! -e $LE/checkpoint.pt ]] && cp $F/le/item_tokens_checkpoint.pt $LE/checkpoint.pt
    for f in adapter score_head.safetensors le_quality.json learning_curve.csv train_log.csv checkpoint.pt rewards \
             augment rewards.parquet augment_sasrec.parquet; do
      [[ -e $F/le/$f && ! -e $S/$f ]] && cp -r $F/le/$f $S/
    done
    # shards first, gathered files last: each output newer than its inputs
    touch -c $S/rewards.parquet $S/augment_sasrec.parquet  # -c: never create a missing (unfinished) output
    ;;
  *) echo "run.sh: unknown stage $stage" >&2; exit 2 ;;
esac
