#!/usr/bin/env bash
# The LLM stages run on one lent GPU machine without network (issue 12), called directly with the settings JSON that
# snakemake's rules pass (settings_*.json here, taken from `snakemake -n -p`), two chains one after the other (the
# second with the time that is left; without MPS, processes time-slice the GPU, so a second chain at once would slow
# the first's small-batch steps):
#   paper: the paper's full LE settings (paper_gpu.yaml on config.yaml): item tokens, 300 iterations, then the LE in
#          the paper recipe, 10 epochs over the 10% subset, with its le_quality.json;
#   pre:   ext0.1top6smw: the item tokens of industry_le_cpu.yaml (12 iterations), the LE fit (4 epochs, the
#          extended recipe, LoRA in the top 6 blocks; industry_le_ext_cpu.yaml) with its le_quality.json, its precompute:
#          the rewards of every training transition (observed item + the K = 10 pool negatives) and the augmentation
#          over the SASRec warm-up's top-5, 8 shards of each as concurrent processes;
#   lfm:   the same chain on the LFM stand-in at 5,047 tracks (../2026-12-04-lfm-le: its settings_*.json and llm.yaml),
#          added after the 2026-12-04 lease (not run there);
#   gru:   the claims table's GRU augmentation with the Industry LE of `pre` (its weights in the payload), added after the
#          lease too;
#   curve: the paper's item-token recipe beside the CPU recipe on a 200-product sample (own-vs-other against
#          iterations), added after the lease too;
#   reps:  the claims table's LE replicates fitted on the CPU (../2026-12-05-industry-le-cpu, weights in the payload):
#          the rewards of replicates 1 and 2, their SASRec augmentation, the GRU augmentation of replicates 0, 1, 2
#          (the verdict's GRU warm-ups), and replicate 0's SASRec augmentation again beside its CPU one (the device
#          check, in augment_gpu/); 8 shards each, POOL (default 16) processes at once; added 2026-12-05;
#   lfmreps: the LFM chain (lfm) in the claims table's three replicates, seeds 0-2, at once; added 2026-12-05.
# Speed settings that differ from the CPU rules', none with an effect on the values (README.md): item_tokens.batch_items
# 512 (settings_item_tokens.json has the config's 64) and precompute.batch_size 512 (the config's 256).
#
#   gpu_chain.sh WORK_DIR [pre|paper|lfm|gru|curve|both, or a comma list run in that order, e.g. lfm,gru,curve,paper]
#
# WORK_DIR holds resources/llm/smollm2/hf and results/cpu-le-full/industry/{data, warmup/sasrec/seed0/top5.parquet}
# (lfm: results/cpu-lfm-control/lfm/{data, warmup/sasrec/seed0/top5.parquet})
# (device.sh setup puts them there); `lea` on the PATH. Each stage leaves WORK_DIR/stage.<name>.done and is skipped
# when that exists; the item tokens and the fits resume from their checkpoints after a cut.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
W=${1:?work dir}
which=${2:-both}
cd "$W"
mkdir -p logs/pre
stamp() { echo "$(date +%s) $*" >> "$W/timeline.txt"; }

paper() {
  local R=results/cpu-le-full/industry P=results/gpu-paper/industry/le/smollm2
  if [[ ! -e stage.paper_itok.done ]]; then
    stamp paper_itok start
    lea item-tokens --settings "$(cat "$here/settings_paper_item_tokens.json")" --items $R/data/items.parquet \
      --out-dir $P --seed 0 --threads 2 > logs/paper_item_tokens.log 2>&1 && touch stage.paper_itok.done
    stamp paper_itok end
  fi
  [[ -e stage.paper_itok.done ]] || return 1
  if [[ ! -e stage.paper_fit.done ]]; then
    stamp paper_fit start
    lea fit-le --settings "$(cat "$here/settings_paper_fit_le.json")" --data-dir $R/data \
      --item-tokens $P/item_tokens.safetensors --out-dir $P/frac0.1 --seed 0 --threads 2 \
      > logs/paper_fit_le.log 2>&1 && touch stage.paper_fit.done
    stamp paper_fit end
  fi
}

# one LE chain: item tokens, fit with le_quality.json, rewards and augmentation in 8 shards as concurrent processes
#   le_chain NAME RESULTS_DATASET_DIR SETTING SETTINGS_DIR [REPLICATE]
# REPLICATE r (default 0): le/smollm2/rep<r> (r = 0: le/smollm2), seed r, the SASRec warm-up of seed r, as the CPU
# rules do for le.replicates (replicates.yaml)
le_chain() {
  local name=$1 R=$2 setting=$3 sd=$4 rep=${5:-0}
  local LE=$R/le/smollm2
  [[ $rep == 0 ]] || LE=$LE/rep$rep
  local S=$LE/$setting
  # stages finished on the CPU travel in the payload's data.tar (pack_payload.sh): their outputs mark them done
  [[ -e $LE/item_tokens.json ]] && touch stage.${name}_itok.done
  [[ -e $S/le_quality.json && -e $S/score_head.safetensors ]] && touch stage.${name}_fit.done
  if [[ ! -e stage.${name}_itok.done ]]; then
    stamp ${name}_itok start
    lea item-tokens --settings "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["item_tokens"]["batch_items"]=512; print(json.dumps(s))' "$sd/settings_item_tokens.json")" \
      --items $R/data/items.parquet --out-dir $LE --seed $rep --threads 2 > logs/${name}_item_tokens.log 2>&1 \
      && touch stage.${name}_itok.done
    stamp ${name}_itok end
  fi
  [[ -e stage.${name}_itok.done ]] || return 1
  if [[ ! -e stage.${name}_fit.done ]]; then
    stamp ${name}_fit start
    lea fit-le --settings "$(cat "$sd/settings_fit_le.json")" --data-dir $R/data \
      --item-tokens $LE/item_tokens.safetensors --out-dir $S --seed $rep --threads 2 \
      > logs/${name}_fit_le.log 2>&1 && touch stage.${name}_fit.done
    stamp ${name}_fit end
  fi
  [[ -e stage.${name}_fit.done ]] || return 1
  [[ -e stage.${name}_pre.done ]] && return 0
  stamp ${name}_pre start
  local le
  le=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["precompute"]["batch_size"]=512; print(json.dumps(s))' \
    "$sd/settings_precompute.json")
  local common=(--settings "$le" --data-dir $R/data --item-tokens $LE/item_tokens.safetensors --le-dir $S --seed $rep
                --threads 1)
  mkdir -p $S/rewards $S/augment/sasrec logs/pre/$name
  local pids=() k
  for k in 0 1 2 3 4 5 6 7; do
    [[ -e $S/rewards/$k.parquet ]] || { lea le-precompute --kind rewards "${common[@]}" --shard $k --shards 8 \
      --negatives $R/data/negatives.parquet --out $S/rewards/$k.parquet > logs/pre/$name/rewards_$k.log 2>&1 & pids+=($!); }
    [[ -e $S/augment/sasrec/$k.parquet ]] || { lea le-precompute --kind augment "${common[@]}" --shard $k --shards 8 \
      --top5 $R/warmup/sasrec/seed$rep/top5.parquet --out $S/augment/sasrec/$k.parquet \
      > logs/pre/$name/augment_$k.log 2>&1 & pids+=($!); }
  done
  local ok=1 p
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [[ $ok == 1 ]] && touch stage.${name}_pre.done
  stamp ${name}_pre end $ok
}

# the Industry chain of 2026-12-04 (its stage and log names: ext_itok, ext_fit, pre)
pre() { le_chain ext results/cpu-le-full/industry ext0.1top6smw "$here"; }
# the LFM stand-in's chain (docs/results/2026-12-04-lfm-le: its settings, 5,047 tracks, K = 5 pool negatives)
lfm() { le_chain lfm results/cpu-lfm-control/lfm ext0.1top6smw "$here/../2026-12-04-lfm-le"; }
# the claims table's three LFM replicates (../2026-12-04-lfm-le/replicates.yaml), the three chains at once (the fits'
# batches of 20 leave the GPU mostly idle, so they share it well); stages lfm0/lfm1/lfm2
lfmreps() {
  local r
  for r in 0 1 2; do le_chain lfm$r results/cpu-lfm-control/lfm ext0.1top6smw "$here/../2026-12-04-lfm-le" $r & done
  wait
}

# the claims table's GRU augmentation (issue 15, ../2026-12-04-industry-verdict): the committed Industry LE
# (the item tokens, adapter and score head of the chain above, in the payload's data.tar) over the GRU warm-up's top-5
# (results/cpu-verdict/industry/warmup/gru/seed0/top5.parquet, in the payload), 8 shards as concurrent processes
gru() {
  local R=results/cpu-le-full/industry V=results/cpu-verdict/industry LE=results/cpu-verdict/industry/le/smollm2
  local S=$LE/ext0.1top6smw
  [[ -e stage.gru_aug.done ]] && return 0
  mkdir -p $S/augment/gru logs/pre/gru
  local F=$R/le/smollm2
  cp $F/item_tokens.safetensors $F/item_tokens.parquet $LE/
  cp -r $F/ext0.1top6smw/adapter $F/ext0.1top6smw/score_head.safetensors $S/
  stamp gru_aug start
  local le
  le=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["precompute"]["batch_size"]=512; print(json.dumps(s))' \
    "$here/settings_precompute.json")
  local pids=() k
  for k in 0 1 2 3 4 5 6 7; do
    [[ -e $S/augment/gru/$k.parquet ]] || { lea le-precompute --kind augment --settings "$le" --data-dir $R/data \
      --item-tokens $LE/item_tokens.safetensors --le-dir $S --seed 0 --threads 1 --shard $k --shards 8 \
      --top5 $V/warmup/gru/seed0/top5.parquet --out $S/augment/gru/$k.parquet > logs/pre/gru/augment_$k.log 2>&1 &
      pids+=($!); }
  done
  local ok=1 p
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [[ $ok == 1 ]] && touch stage.gru_aug.done
  stamp gru_aug end $ok
}

# the claims table's replicates (issue 15): every job is `lea le-precompute` with the settings JSON of the CPU rules
# (settings_replicates_precompute.json, from `snakemake -n -p` of ../2026-12-05-industry-le-cpu/run.sh precompute 2
# and of the verdict's augment_gru; the same for every replicate) at batch_size 512, and the replicate's seed
rep_job() {  # rep_job KIND REP BACKBONE SHARD
  local kind=$1 r=$2 bb=$3 k=$4 R=results/cpu-le-full/industry V=results/cpu-verdict/industry
  local L=$R/le/smollm2 VL=$V/le/smollm2
  [[ $r == 0 ]] || { L=$L/rep$r; VL=$VL/rep$r; }
  local S=$L/ext0.1top6smw out extra=()
  case $kind/$bb in
    rewards/-) out=$S/rewards/$k.parquet; extra=(--negatives $R/data/negatives.parquet) ;;
    augment/sasrec) out=$S/augment/sasrec/$k.parquet; extra=(--top5 $R/warmup/sasrec/seed$r/top5.parquet) ;;
    check/sasrec) kind=augment; out=$S/augment_gpu/sasrec/$k.parquet; extra=(--top5 $R/warmup/sasrec/seed$r/top5.parquet) ;;
    augment/gru) out=$VL/ext0.1top6smw/augment/gru/$k.parquet; extra=(--top5 $V/warmup/gru/seed$r/top5.parquet) ;;
  esac
  [[ -e $out ]] && return 0
  mkdir -p "$(dirname "$out")" logs/pre/reps
  local le
  le=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["precompute"]["batch_size"]=512; print(json.dumps(s))' \
    "$here/settings_replicates_precompute.json")
  lea le-precompute --kind $kind --settings "$le" --data-dir $R/data --item-tokens $L/item_tokens.safetensors \
    --le-dir $S --shard $k --shards 8 "${extra[@]}" --seed $r --threads 1 --out "$out.tmp.parquet" \
    > logs/pre/reps/${1}_${r}_${bb}_$k.log 2>&1 && mv "$out.tmp.parquet" "$out"
}
reps() {
  [[ -e stage.reps.done ]] && return 0
  stamp reps start
  export -f rep_job
  export here
  local k
  { for k in 0 1 2 3 4 5 6 7; do echo "rewards 1 - $k"; echo "rewards 2 - $k"; done
    for k in 0 1 2 3 4 5 6 7; do echo "augment 1 sasrec $k"; echo "augment 2 sasrec $k"; done
    for k in 0 1 2 3 4 5 6 7; do echo "augment 0 gru $k"; echo "augment 1 gru $k"; echo "augment 2 gru $k"; done
    for k in 0 1 2 3 4 5 6 7; do echo "check 0 sasrec $k"; done
  } | xargs -P "${POOL:-16}" -L 1 bash -c 'rep_job "$0" "$1" "$2" "$3" || echo "failed: $0 $1 $2 $3"' \
    && touch stage.reps.done
  stamp reps end
}

# issue 12's item-token comparison: the paper's recipe (random init, lr 5e-3, whole sentences, 300 iterations) beside
# the CPU recipe family (text-mean init, lr 0.2, whole sentences, 16 iterations; ../2026-12-05-item-token-recipes) on the seeded 200-product sample and 400
# own-vs-other pairs of ../2026-12-02-industry-le-full section 1 (benchmarks/bench_item_tokens.py, bf16); the paper
# recipe's 3.3M loss tokens are about 4 h of one AVX2 core (about 220 loss tokens/s), not resumable within a recipe
curve() {
  [[ -e stage.curve.done ]] && return 0
  stamp curve start
  python3 "$here/../../../benchmarks/bench_item_tokens.py" --llm resources/llm/smollm2/hf --dtype bf16 --device cuda \
    --items results/cpu-le-full/industry/data/items.parquet --n-items 200 --skip-speed --batch-items 64 --pairs 400 \
    --eval-at 0,4,8,12,16,30,100,300 --threads 2 --recipe paper:random:0.005:300:all \
    --recipe tm_lr0.2_all:text_mean:0.2:16:all --curve-csv itok_curve_200items_gpu.csv \
    --out itok_curve_200items_gpu.json > logs/curve.log 2>&1 && touch stage.curve.done
  stamp curve end
}

for c in ${which//,/ }; do
  case $c in
    pre) pre ;;
    paper) paper ;;
    lfm) lfm ;;
    gru) gru ;;
    curve) curve ;;
    reps) reps ;;
    lfmreps) lfmreps ;;
    both) pre; paper ;;
    *) echo "unknown chain $c" >&2 ;;
  esac
done
stamp chain end
