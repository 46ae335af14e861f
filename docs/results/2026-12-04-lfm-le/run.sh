#!/usr/bin/env bash
# The LLM LE chain on the LFM stand-in at 5,047 tracks (issues 12 and 13), stage by stage; each stage resumes
# (Snakemake keeps finished jobs; the item tokens and the fit resume from their checkpoints). Repository root, the
# shared data beside it, `make setup` done. One thread a job (two torch threads beside another busy process
# oversubscribe this 2-core machine); THREADS=2 for a stage that runs alone (the cores follow it: Snakemake scales a
# rule's threads down to --cores).
#   run.sh itok        the item tokens of the 5,047 tracks (the CPU recipe of config/lfm_control_cpu.yaml)
#   run.sh data        the negative pool and the SASRec warm-up's top-5 (the precompute's inputs; the GPU payload's too)
#   run.sh fit         the LE fit, ext0.1top6smw (llm.yaml), with le_quality.json and its learning curve
#   run.sh precompute  states, rewards and augmentation of every training transition (8 shards each)
#   run.sh install     unpack the LFM tars a lent GPU's last call brought back (DEV=<its files folder>;
#                      ../2026-12-04-industry-le-gpu/device.sh, CHAIN=lfm) into results/
#   run.sh install-reps  the same for the GPU chain's three replicates (CHAIN=lfmreps: lfm0.tar.gz, lfm12.tar.gz):
#                      replicates 1 and 2 get replicate 0's item tokens after a sha256 check (the recipe has no random
#                      choice); then `run.sh precompute r` makes the states here and gathers the shards
#   run.sh table [seeds012]  the LFM environments table with the LLM column beside the three controls (SASRec rows
#                      and GRU's Table 5 rows; seed0.yaml, or seeds012.yaml): the control fits, their precompute and
#                      every recommender run (2 jobs at a time)
#   run.sh collect     copy the chain's diagnostics here (files/; weights stay out of git: a new checkout rebuilds
#                      them with itok and fit, seeded)
# CPU_OVERLAY=amx adds amx.yaml (the speed switches for a CPU with bf16 kernels; a different LE from the fp32 one of
# files/, whose diagnostics it keeps in files/amx-bf16). itok, fit, precompute and collect take the LE replicate as a
# second argument (0, 1 or 2; default 0; replicates.yaml): replicate r lives in le/smollm2/rep<r> with its own SASRec
# warm-up (seed r), files in files/rep<r>.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-lfm-le
R=results/cpu-lfm-control/lfm
LE=$R/le/smollm2
S=$LE/ext0.1top6smw
CF=(--configfile config/config.yaml config/lfm_control_cpu.yaml $D/llm.yaml)
# The shared data's files get new mtimes between sessions. Snakemake 9 then reruns preprocess (whatever
# --rerun-triggers says: a newer input counts unless its recorded checksum matches, and checksums are recorded only of
# files under --max-checksum-file-size, 1 MB by default) and rebuilds everything after it in the same call: on
# 2026-12-05 it deleted the finished item tokens (3.5 h of CPU) to rebuild them. So the checksum limit covers the raw
# files, and each stage first builds the data alone: a later call compares the (identical) preprocess outputs'
# checksums and keeps the finished work.
# No params trigger: on 2026-12-06 a new precompute switch (its default in every stage's settings) made Snakemake fit
# this LE again and delete the finished fit; the work here was made by the committed config, and a change of recipe
# gets a new folder instead (../2026-12-06-lfm-le-itok30).
TRIG=(--rerun-triggers input --max-checksum-file-size 256MB)
rep=${2:-0}
F=$D/files
if [[ ${CPU_OVERLAY:-} == amx ]]; then CF+=($D/amx.yaml); F=$D/files/amx-bf16; fi
if [[ ${1:-} != table && $rep != 0 ]]; then
  CF+=($D/replicates.yaml)
  LE=$LE/rep$rep
  S=$LE/ext0.1top6smw
  F=$F/rep$rep
fi
smk() { snakemake --nolock --cores "${CORES:-${THREADS:-1}}" "${TRIG[@]}" "${CF[@]}" --config data_dir=../shared/data \
  --set-threads item_tokens="${THREADS:-1}" fit_le="${THREADS:-1}" "$@"; }
[[ ${1:?stage} == install || $1 == install-reps || $1 == collect ]] || smk -- $R/data/stats.json resources/llm/smollm2/hf/config.json
case ${1:?stage} in
  itok) smk -- $LE/item_tokens.json ;;
  data) smk -- $R/data/negatives.parquet $R/warmup/sasrec/seed0/top5.parquet ;;
  fit) smk -- $S/le_quality.json ;;
  precompute) smk -- $R/warmup/sasrec/seed$rep/top5.parquet $S/states.parquet $S/rewards.parquet $S/augment_sasrec.parquet ;;
  table)
    snakemake --nolock --cores "${CORES:-2}" "${TRIG[@]}" "${CF[@]}" $D/${2:-seed0}.yaml \
      --config data_dir=../shared/data -- environments_table
    ;;
  install)
    for t in lfm_itok.tar lfm_fit.tar.gz lfm_pre.tar.gz; do
      if [[ -s ${DEV:?}/$t ]]; then tar -xf "$DEV/$t" --exclude="logs/*"; fi
    done
    ;;
  install-reps)
    for t in lfm0.tar.gz lfm12.tar.gz; do
      [[ -s ${DEV:?}/$t ]] || { echo "run.sh install-reps: $DEV/$t is missing" >&2; exit 1; }
    done
    T=$(mktemp -d)
    tar -C "$T" -xzf "$DEV/lfm0.tar.gz" && tar -C "$T" -xzf "$DEV/lfm12.tar.gz"
    (cd "$T/$R/le/smollm2" && [[ $(awk '{print $1}' item_tokens.sha256 | sort -u | wc -l) == 1 ]]) || {
      echo "run.sh install-reps: the replicates' item tokens differ (item_tokens.sha256); replicates 1 and 2 need their own" >&2
      exit 1
    }
    for r in 1 2; do cp "$T/$R/le/smollm2/item_tokens.safetensors" "$T/$R/le/smollm2/rep$r/"; done
    mkdir -p $R/le && cp -r "$T/$R/le/smollm2" $R/le/
    rm -rf "$T"
    ;;
  collect)
    mkdir -p $F
    cp $LE/item_tokens.json $LE/item_tokens_loss.png $R/data/stats.json $F/ 2>/dev/null || true
    [[ -d $S ]] && cp $S/{le_quality.json,learning_curve.csv,train_log.csv} $F/ 2>/dev/null || true
    # the LLM rules' logs and benchmarks of finished jobs (a job's benchmark file is written when it ends), every
    # replicate's, with rep<r> in their paths
    (cd $R/../benchmarks && find item_tokens fit_le le_states le_rewards le_augment -path '*/lfm/*' -name '*.tsv' \
       2>/dev/null || true) | while read -r b; do
      mkdir -p "$F/logs/$(dirname "$b")"
      cp "$R/../benchmarks/$b" "$F/logs/$b"
      [[ ! -e $R/../logs/${b%.tsv}.log ]] || cp "$R/../logs/${b%.tsv}.log" "$F/logs/${b%.tsv}.log"
    done
    ;;
  *) echo "unknown stage $1" >&2; exit 2 ;;
esac
