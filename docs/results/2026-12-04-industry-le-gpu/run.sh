#!/usr/bin/env bash
# What ran here for the GPU chain (README.md), stage by stage. Repository root, the shared data beside it, `make setup`.
#   run.sh payload   the pieces for the three device calls (pack_payload.sh); the calls themselves: README.md
#   run.sh install   unpack the tars the last device call brought back (DEV=/work/.device/N) into results/
#   run.sh install-reps  the `reps` chain's shards (DEV's reps.tar.gz) into results/: each shard only where the CPU has
#                    none (a CPU shard stays; the GPU's copy goes to results/gpu-reps-overlap/ for the device check,
#                    with replicate 0's augment_gpu/); then ../2026-12-05-industry-le-cpu/run.sh precompute r and the
#                    verdict's run.sh gather them
#   run.sh states    the LE states on this CPU (rule le_states, 8 shards) and the gathers of the GPU's shards
#   run.sh augment   the augmentation hit rate (files/augment.{md,csv})
#   run.sh restore   put the kept GPU outputs (files/le: item tokens, adapter, score head, rewards, augmentation;
#                    kept beside this folder, not in git) back into results/ for a fresh results folder (after the preprocess), then `run.sh states`; the
#                    item tokens are the GPU's own, since the adapter was fitted on them and CPU-made ones differ
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-le-gpu
R=results/cpu-le-full/industry
LE=$R/le/smollm2/ext0.1top6smw
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
    config/industry_full_envs_cpu.yaml $D/overlay.yaml)
case ${1:?stage} in
  payload) bash $D/pack_payload.sh ;;
  install)
    for t in ext_itok.tar ext_fit.tar.gz pre.tar.gz paper_itok.tar paper_fit.tar.gz; do
      if [[ -s ${DEV:?}/$t ]]; then tar -xf "$DEV/$t" --exclude="logs/*"; fi
    done
    ;;
  install-reps)
    T=$(mktemp -d)
    tar -C "$T" -xzf "${DEV:?}/reps.tar.gz"
    (cd "$T" && find results -name '[0-7].parquet') | while read -r f; do
      if [[ $f == */augment_gpu/* || -e $f ]]; then
        mkdir -p "results/gpu-reps-overlap/$(dirname "$f")" && mv "$T/$f" "results/gpu-reps-overlap/$f"
      else
        mkdir -p "$(dirname "$f")" && mv "$T/$f" "$f"
      fi
    done
    rm -rf "$T"
    find results/gpu-reps-overlap -name '*.parquet' 2>/dev/null | sed 's|/[0-7].parquet$||' | sort | uniq -c
    ;;
  states)
    snakemake --cores 2 --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data -- \
      $LE/states.parquet $LE/rewards.parquet $LE/augment_sasrec.parquet
    ;;
  restore)
    # the weights (item tokens, adapter, score head) are not in git: they stay beside this file where the GPU run was
    # installed; elsewhere the chain reruns on a lent GPU (gpu_chain.sh pre)
    for f in $D/files/le/item_tokens.safetensors $D/files/le/score_head.safetensors \
             $D/files/le/adapter/adapter_model.safetensors; do
      [[ -e $f ]] || { echo "run.sh restore: $f is missing (weights are kept out of git; rerun the chain: gpu_chain.sh pre)" >&2; exit 1; }
    done
    mkdir -p $LE && cp $D/files/le/item_tokens.safetensors $D/files/le/item_tokens.parquet $D/files/item_tokens.json \
      $D/files/item_tokens_loss.png $R/le/smollm2/
    cp -r $D/files/le/adapter $D/files/le/score_head.safetensors $D/files/le/rewards.parquet \
      $D/files/le/augment_sasrec.parquet $D/files/ext0.1top6smw/{le_quality.json,learning_curve.csv,train_log.csv} $LE/
    ;;
  augment)
    lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"ext0.1top6smw\", \"backbone\": \"sasrec\",
      \"augment\": \"$LE/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed0/top5.parquet\",
      \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $D/files/augment.md --out-csv $D/files/augment.csv
    ;;
esac
