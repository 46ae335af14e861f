#!/usr/bin/env bash
# The full-Industry LE chain on a 2-core CPU (issue 12), stage by stage; each stage resumes from its checkpoint
# (rerun the same line after a kill; in a new session, where results/ is gone, run `item_tokens` again before `fit`).
# Repository root, the shared data beside it, `make setup` done. Stages 1 and 3 need the machine otherwise idle (they
# time things).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-02-industry-le-full
SMK=(snakemake --cores 2 --rerun-triggers mtime --configfile config/config.yaml config/industry_le_cpu.yaml
     --config data_dir=../shared/data)
SMK_EXT=(snakemake --cores 2 --rerun-triggers mtime
         --configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
         --config data_dir=../shared/data)
SMK_CLIP=(snakemake --cores 2 --rerun-triggers mtime
          --configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_clip_cpu.yaml
          --config data_dir=../shared/data)
LE=results/cpu-le-full/industry/le/smollm2
DOMAIN='{"item": "product", "items": "products", "history": "has purchased these products", "next": "be the next product to be purchased", "continue": "continue to purchase"}'

stage=${1:-all}

# 1. the item-token recipe curve: own-vs-other against iterations on a seeded 200-item sample (400 pairs), bf16
if [[ $stage == all || $stage == curve ]]; then
  "${SMK[@]}" -- results/cpu-le-full/industry/data/items.parquet resources/llm/smollm2/hf/config.json
  python benchmarks/bench_item_tokens.py --llm resources/llm/smollm2/hf --dtype bf16 \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 200 --skip-speed --batch-items 64 --pairs 400 \
    --eval-at 0,4,8,12 --threads 2 --recipe tm_lr0.2_mt8:text_mean:0.2:12:8 \
    --recipe tm_lr0.2_mt12:text_mean:0.2:12:12 --recipe tm_lr0.1_mt16:text_mean:0.1:12:16 \
    --curve-csv $D/itok_curve_200items.csv --out $D/itok_curve_200items.json
  python benchmarks/bench_item_tokens.py --llm resources/llm/smollm2/hf --dtype bf16 --attn eager \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 200 --skip-speed --batch-items 64 --pairs 400 \
    --eval-at 0,4,8,12,16 --threads 2 --recipe tm_lr0.2_mt24:text_mean:0.2:16:24 \
    --recipe tm_lr0.2_mt32:text_mean:0.2:12:32 \
    --curve-csv $D/itok_curve_200items_eager.csv --out $D/itok_curve_200items_eager.json
fi

# 2. item tokens of the whole catalogue (4,385 products), the chosen recipe, 2 threads
if [[ $stage == all || $stage == item_tokens ]]; then
  "${SMK[@]}" --set-threads item_tokens=2 -- $LE/item_tokens.json
fi

# 3. the LE training step, bf16, idle machine: naive (the reference) vs the exact fast paths and the top-6 approximation
if [[ $stage == all || $stage == bench ]]; then
  python benchmarks/bench_le.py --llm resources/llm/smollm2/hf --dtype bf16 \
    --data-dir results/cpu-le-full/industry/data --sections train --train-steps 5 --threads 2 --recipe paper \
    --train-variants naive,shared-nockpt,naive-eager,shared-nockpt-eager,shared-top6-nockpt-eager \
    --domain "$DOMAIN" --out benchmarks/measured/cpu_idle_bench_le_train_industry_full_bf16_2threads_paper.json
fi

# 3b. the same on this session's machine with the exact row and memory switches (row_tokens 256, micro-batches) and
#     the top-6 approximation, in both recipes (idle machine)
if [[ $stage == all || $stage == bench_rows ]]; then
  for recipe in paper extended; do
    python benchmarks/bench_le.py --llm resources/llm/smollm2/hf --dtype bf16 \
      --data-dir results/cpu-le-full/industry/data --sections train --train-steps 9 --threads 2 --recipe $recipe \
      --train-variants naive,shared-nockpt-eager,shared-nockpt-eager-row256,shared-nockpt-eager-row256-micro10,shared-nockpt-eager-row256-micro5,shared-top6-nockpt-eager-row256 \
      --domain "$DOMAIN" --out benchmarks/measured/cpu_idle_bench_le_train_industry_full_bf16_2threads_${recipe}_rows.json
  done
fi

# 3c. the precompute's inference paths (naive vs prefix- and KV-shared, and the paper rule's chosen-only reward) at
#     precompute.batch_size 32 and 256, 24 training sequences, bf16, eager attention, 2 threads (idle machine)
if [[ $stage == all || $stage == bench_inf ]]; then
  for bs in 32 256; do
    python benchmarks/bench_le.py --llm resources/llm/smollm2/hf --dtype bf16 --attn eager \
      --data-dir results/cpu-le-full/industry/data --sections inference --sequences 24 --negatives 10 \
      --batch-size $bs --threads 2 --domain "$DOMAIN" \
      --out benchmarks/measured/cpu_idle_bench_le_inference_industry_full_bf16_2threads_bs$bs.json
  done
fi

# 4. the LE in the paper recipe, the paper's 10 epochs over the 10% subset, 2 threads (62 min here)
if [[ $stage == all || $stage == fit ]]; then
  "${SMK[@]}" --set-threads fit_le=2 -- $LE/frac0.1/le_quality.json
fi

# 5. the LE in the extended recipe: the 4 epochs that fit in a session (config/industry_le_ext_cpu.yaml), 2 threads
if [[ $stage == all || $stage == fit_ext ]]; then
  "${SMK_EXT[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/ext0.1/le_quality.json
fi

# 5b. the same with LoRA in the top 6 blocks only (an approximation, ext0.1top6), for le_quality against ext0.1
if [[ $stage == all || $stage == fit_ext_top6 ]]; then
  "${SMK_EXT[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/ext0.1top6/le_quality.json
fi
# 5c. ext0.1top6 with the catalogue softmax for the state (README section 10), 2 threads, idle machine
if [[ $stage == all || $stage == fit_ext_top6_sm ]]; then
  "${SMK_EXT[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/ext0.1top6sm/le_quality.json
fi
# 5d. ext0.1top6sm with L_sm weighted 0.1 (state_weight; README section 10)
if [[ $stage == all || $stage == fit_ext_top6_smw ]]; then
  "${SMK_EXT[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/ext0.1top6smw/le_quality.json
fi

# 6. the LE in the paper recipe with each step's gradient clipped to norm 1 (config/industry_le_clip_cpu.yaml);
#    two fits at once (each a snakemake of its own in this folder): THREADS=1 NOLOCK=1 run.sh fit_ext & and the same
#    for fit_clip, one thread each (two 2-thread torch processes on 2 cores oversubscribe; workflow/rules/le.smk)
if [[ $stage == all || $stage == fit_clip ]]; then
  "${SMK_CLIP[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/clip0.1/le_quality.json
fi

# 6b. clipsm0.1: clip0.1 with the catalogue softmax for the state (README section 10), 2 threads, idle machine
if [[ $stage == all || $stage == fit_clip_sm ]]; then
  "${SMK_CLIP[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/clipsm0.1/le_quality.json
fi
# 6c. clipsm0.1 at half the learning rates (README section 10; about 65 min, resumes from its checkpoint)
if [[ $stage == all || $stage == fit_clip_sm_lr ]]; then
  "${SMK_CLIP[@]}" --set-threads fit_le=${THREADS:-2} ${NOLOCK:+--nolock} -- $LE/clipsm0.1lr/le_quality.json
fi

# 7. the floor and the linear probes of the untrained LE (README section 7): the reference scorers of the validation
#    examples of sections 4-6 and Eq. 1's linear head on the frozen hidden states (3.5 min, 2 threads, after
#    item_tokens). files/clip0.1/fit_le_settings.json is the --settings JSON the fit_le rule passed for clip0.1 (the
#    probe reads its llm, le, finetune, history and domain: the same subset and validation sample as every setting here)
if [[ $stage == all || $stage == probe ]]; then
  python $D/probe_features.py --settings $D/files/clip0.1/fit_le_settings.json \
    --data-dir results/cpu-le-full/industry/data --item-tokens $LE/item_tokens.safetensors \
    --out $D/files/probe_features.json --threads 2
fi

# 7b. readouts of the LE's state s^e_t fitted on frozen states (README section 10; about 75 s each, 2 threads): the
#     untrained LE, then clip0.1's trained adapter
if [[ $stage == all || $stage == probe_state ]]; then
  for le in untrained clip0.1; do
    python $D/probe_state.py --settings $D/files/clip0.1/fit_le_settings.json \
      --data-dir results/cpu-le-full/industry/data --item-tokens $LE/item_tokens.safetensors \
      $([[ $le == untrained ]] || echo --adapter-dir $LE/$le/adapter) --out $D/files/probe_state_$le.json --threads 2
  done
fi

# 8. the precompute of clip0.1 (the LE of section 6) for every training transition: states, rewards (the observed
#    item and the K = 10 pool negatives), the augmentation over the SASRec warm-up's top-5 (its 2,000-step warm-up and
#    the negative pool first), 8 shards, two 1-thread jobs at once; the states and the augmentation first, then the
#    augmentation hit rate (lea report augment), then the rewards (11 rewards a transition, the longest part)
if [[ $stage == all || $stage == precompute_clip ]]; then
  "${SMK_CLIP[@]}" -- $LE/clip0.1/states.parquet $LE/clip0.1/augment_sasrec.parquet
  R=results/cpu-le-full/industry
  lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"clip0.1\", \"backbone\": \"sasrec\",
    \"augment\": \"$LE/clip0.1/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed0/top5.parquet\",
    \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $D/files/clip0.1/augment.md \
    --out-csv $D/files/clip0.1/augment.csv
  "${SMK_CLIP[@]}" -- $LE/clip0.1/rewards.parquet
fi

# 8b. the precompute of ext0.1top6smw (README section 10, the first LE with every diagnostic above chance), as 8 for
#     clip0.1 (the same warm-up and negative pool), with precompute.batch_size 256 (industry_le_cpu.yaml): the states
#     and the augmentation (calibrated label reading + the reward of each of the 5 listed items, the extended recipe),
#     the augmentation hit rate, then the rewards
if [[ $stage == all || $stage == precompute_smw ]]; then
  "${SMK_EXT[@]}" -- $LE/ext0.1top6smw/states.parquet $LE/ext0.1top6smw/augment_sasrec.parquet
  R=results/cpu-le-full/industry
  lea report augment --spec "{\"entries\": [{\"dataset\": \"industry\", \"le\": \"ext0.1top6smw\", \"backbone\": \"sasrec\",
    \"augment\": \"$LE/ext0.1top6smw/augment_sasrec.parquet\", \"top5\": \"$R/warmup/sasrec/seed0/top5.parquet\",
    \"interactions\": \"$R/data/interactions.parquet\"}]}" --out-md $D/files/ext0.1top6smw/augment.md \
    --out-csv $D/files/ext0.1top6smw/augment.csv
  "${SMK_EXT[@]}" -- $LE/ext0.1top6smw/rewards.parquet
fi
