#!/usr/bin/env bash
# The Industry LLM LE ext0.1top6smw made on a 2-core CPU with AMX-BF16 (issues 12 and 15), stage by stage, in
# results/cpu-le-full: the claims table's LE since 2026-12-05 (README.md here). Repository root, the shared data beside
# it, `make setup` done. Each stage resumes (Snakemake keeps finished jobs; the item tokens and the fit resume from their
# checkpoints). THREADS (default 2) torch threads a job, CORES (default 2) jobs at a time.
# Every stage takes the replicate as a second argument (0, 1 or 2; default 0; replicates.yaml):
# replicate r lives in le/smollm2/rep<r> (replicate 0: le/smollm2) with its own SASRec warm-up (seed r).
#   run.sh data        the preprocessed data alone (every other stage makes it first)
#   run.sh itok        the item tokens of the 4,385 products (config/industry_le_cpu.yaml's CPU recipe)
#   run.sh fit         the LE fit with le_quality.json and its learning curve (config/industry_le_ext_cpu.yaml)
#   run.sh precompute  states, rewards and SASRec augmentation of every training transition (8 shards each)
#   run.sh states-rewards   the states and rewards alone (GRU's LE rows read no SASRec augmentation)
#   run.sh augment     the augmentation hit rate (files/augment.{md,csv})
#   run.sh collect     the chain's diagnostics into files/ here (item_tokens.json, le_quality.json, learning curve,
#                      train log, the adapter's config) and every replicate's rule logs and benchmarks (files/logs/).
#                      The weights stay out of git: a new checkout rebuilds a replicate with itok and fit (seeded;
#                      about 40 min on the AMX machine of 2026-12-05), then `run.sh check r`
#   run.sh check       the rebuilt replicate's le_quality.json against the committed one: the same diagnostics, or
#                      the rebuild is a different LE (another machine's kernels) and its runs start again
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
[[ $stage == collect || $stage == check ]] || smk -- $R/data/stats.json resources/llm/smollm2/hf/config.json
case $stage in
  data) ;;  # the preprocessed data alone (the line above)
  itok) smk -- $LE/item_tokens.json ;;
  fit) smk -- $S/le_quality.json ;;
  precompute) smk -- $R/data/negatives.parquet $R/warmup/sasrec/seed$rep/top5.parquet \
      $S/states.parquet $S/rewards.parquet $S/augment_sasrec.parquet ;;
  states-rewards) smk -- $R/data/negatives.parquet $S/states.parquet $S/rewards.parquet ;;
  augment)
    lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"ext0.1top6smw\", \"backbone\": \"sasrec\",
      \"augment\": \"$S/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed$rep/top5.parquet\",
      \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $F/augment.md --out-csv $F/augment.csv
    ;;
  collect)
    mkdir -p $F/le/adapter $D/files/logs
    for f in item_tokens.json item_tokens_loss.png item_tokens.parquet; do [[ -e $LE/$f ]] && cp $LE/$f $F/le/; done
    for f in le_quality.json learning_curve.csv train_log.csv adapter/adapter_config.json adapter/README.md; do
      [[ -e $S/$f ]] && cp $S/$f $F/le/$f
    done
    # every replicate's rule logs and benchmarks (rep<r> in their paths), in one place: finished jobs only (a job's
    # benchmark file is written when it ends; a running job's log is still growing)
    (cd results/cpu-le-full/benchmarks && find item_tokens fit_le le_states le_rewards le_augment -name '*.tsv' \
       2>/dev/null || true) | while read -r b; do
      mkdir -p "$D/files/logs/$(dirname "$b")"
      cp "results/cpu-le-full/benchmarks/$b" "$D/files/logs/$b"
      [[ ! -e results/cpu-le-full/logs/${b%.tsv}.log ]] || cp "results/cpu-le-full/logs/${b%.tsv}.log" "$D/files/logs/${b%.tsv}.log"
    done
    ;;
  check)  # the diagnostics only, not the wall times (same_diag.py exits 1 naming the first that differs)
    python docs/results/2026-12-04-industry-verdict/same_diag.py "$F/le/le_quality.json" "$S/le_quality.json" ;;
  *) echo "run.sh: unknown stage $stage" >&2; exit 2 ;;
esac
