#!/usr/bin/env bash
# The calls made on the lent GPU machine (no network; at most 64 MiB of working tree + carried files per call, so the
# GGUF, the polars runtime and the data travel as one payload tar in pieces over consecutive calls: .gpu1 .. .gpuN,
# made by pack_payload.sh here, each call carrying one). Run from the repository root there:
#   device.sh stash   (every call: keep this call's piece in /root/stash)
#   device.sh setup   (once every piece is there: the payload, sha256-checked, unpacked; the wheels, the GGUF,
#                      sha256-checked, its HF folder, polars and the data; before that it only lists what it has)
#   device.sh launch  (gpu_chain.sh WORK_DIR ${CHAIN:-both}, in its own session, so that it outlives the call;
#                      CHAIN=lfm,gru,curve,paper runs the LFM chain, the verdict's GRU augmentation, the item-token
#                      curve, then the paper chain with the time left; CHAIN=reps,curve: 2026-12-05's lease)
#   device.sh wait N  (up to N seconds, until the chain ends)
#   device.sh pack    (the outputs so far into $OUT: meta.tar.gz with the timeline and logs, one archive a chain)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$PWD
W=${DEVICE_WORK:-/root/w}
ST=${DEVICE_STASH:-/root/stash}
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$W" "$ST" /tmp/site /tmp/bin
export PYTHONPATH=/tmp/site:$repo/src PYTHONUNBUFFERED=1 PATH=/tmp/bin:$PATH TOKENIZERS_PARALLELISM=false
printf '#!/bin/sh\nexec python3 -c "import sys; from lea.cli import main; sys.exit(main(sys.argv[1:]))" "$@"\n' \
  > /tmp/bin/lea
chmod +x /tmp/bin/lea
unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)'; }

for stage in "$@"; do
case $stage in
  stash)
    for d in .gpu[0-9]*; do [[ -d $d ]] && cp -r "$d"/. "$ST"/; done
    ls -la "$ST"
    ;;
  setup)
    if [[ -e $ST/payload.parts && ! -e $ST/payload.done ]]; then
      have=$(ls "$ST"/payload.tar.[0-9][0-9] 2>/dev/null | wc -l)
      if (( have < $(cat "$ST"/payload.parts) )); then
        echo "payload: $have of $(cat "$ST"/payload.parts) pieces"; continue
      fi
      cat "$ST"/payload.tar.[0-9][0-9] > "$ST"/payload.tar && (cd "$ST" && sha256sum -c payload.sha256) \
        && tar -C "$ST" -xf "$ST"/payload.tar && rm "$ST"/payload.tar "$ST"/payload.tar.[0-9][0-9] \
        && touch "$ST"/payload.done
    fi
    for w in "$ST"/*.whl; do
      [[ -e $w ]] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$w" && rm "$w"
    done
    if [[ ! -e /tmp/site/_polars_runtime_32 && -e $ST/pr.tar.xz ]]; then
      unxz < "$ST"/pr.tar.xz | tar -C /tmp/site -xf -
    fi
    g=$W/resources/llm/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    if [[ ! -e $g && -e $ST/g.xz ]]; then
      mkdir -p "$(dirname "$g")"
      unxz < "$ST"/g.xz > "$g.tmp"
      echo "$GGUF_SHA  $g.tmp" | sha256sum -c - && mv "$g.tmp" "$g"
    fi
    if [[ -e $g && ! -e $W/resources/llm/smollm2/hf/config.json ]]; then
      (cd "$W" && python3 -c 'import json, sys; from lea.llm.load import convert; convert(json.loads(sys.argv[1]), sys.argv[2])' \
        '{"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "load_in_4bit": false, "path": "resources/llm/smollm2", "prefix_text": "<|im_start|>", "trust_remote_code": false}' \
        resources/llm/smollm2/hf) 2>&1 | grep -v -i warn | tail -3
    fi
    if [[ -e $ST/data.tar ]]; then
      tar -C "$W" -xf "$ST"/data.tar
    fi
    if [[ -e $ST/paper_resume.tar ]]; then  # the paper chain's checkpoints from an earlier lease (pack_payload.sh)
      tar -C "$W" -xf "$ST"/paper_resume.tar
    fi
    python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, torch.cuda.get_device_name(0))'
    python3 -c 'import polars, lea.env.cli, lea.env.precompute; print("polars", polars.__version__)' 2>&1 | tail -1
    ls "$W"/resources/llm/smollm2/hf 2>/dev/null | tr '\n' ' '; echo
    ;;
  launch)
    setsid nohup bash "$here/gpu_chain.sh" "$W" "${CHAIN:-both}" > "$W/chain_${CHAIN:-both}.log" 2>&1 < /dev/null &
    sleep 2
    ;;
  wait)
    end=$(( $(date +%s) + ${2:-60} ))
    while (( $(date +%s) < end )); do
      pgrep -f gpu_chain.sh > /dev/null || break
      sleep 5
    done
    cat "$W/timeline.txt" 2>/dev/null
    for f in "$W"/logs/*.log "$W"/logs/pre/*/rewards_0.log "$W"/logs/pre/*/augment_0.log; do
      [[ -e $f ]] && { echo "== $f"; tr '\r' '\n' < "$f" | grep -v -i warn | tail -3; }
    done
    # the replicates' jobs (reps): outputs so far and the failed ones' last lines
    (cd "$W" && find results -name '[0-7].parquet' -newer timeline.txt 2>/dev/null | sed 's|/[0-7].parquet$||' | sort | uniq -c)
    for f in "$W"/logs/pre/reps/*.log; do
      [[ -e $f ]] && grep -q -i -E 'error|traceback' "$f" && { echo "== $f"; tail -5 "$f"; }
    done
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
    ;;
  pack)
    # what the chains produced, one archive per chain and only where it produced something (at most 8 files back)
    [[ -n ${OUT:-} ]] || { echo "no OUT"; exit 1; }
    cd "$W"
    E=results/cpu-le-full/industry/le/smollm2/ext0.1top6smw
    P=results/gpu-paper/industry/le/smollm2
    F=results/cpu-lfm-control/lfm/le/smollm2
    L=results/cpu-le-full/industry/le/smollm2
    pk() {  # pk ARCHIVE PATH...: the paths that exist, if any
      local a=$1 have=(); shift
      for p in "$@"; do [[ -e $p ]] && have+=("$p"); done
      (( ${#have[@]} )) && tar -czf "$OUT/$a" "${have[@]}"
      return 0
    }
    pk meta.tar.gz timeline.txt chain*.log logs itok_curve_200items_gpu.csv itok_curve_200items_gpu.json
    pk paper.tar.gz $P/item_tokens.json $P/item_tokens.parquet $P/item_tokens.safetensors $P/checkpoint.pt $P/frac0.1
    pk ext.tar.gz $L/item_tokens.json $E/le_quality.json $E/rewards $E/augment/sasrec
    pk reps.tar.gz $E/augment_gpu $L/rep1/ext0.1top6smw/rewards $L/rep1/ext0.1top6smw/augment \
      $L/rep2/ext0.1top6smw/rewards $L/rep2/ext0.1top6smw/augment results/cpu-verdict/industry/le
    # the lfm chain (one LE, seed 0) or the lfmreps chain (three), by the stages that ran
    [[ -e stage.lfm_itok.done ]] && pk lfm.tar.gz $(ls -d $F/item_tokens* $F/ext0.1top6smw 2>/dev/null | grep -v checkpoint)
    # lfmreps: replicate 0 whole; replicates 1 and 2 without their item tokens' tensor (the recipe has no random
    # choice, so it is replicate 0's: the sha256 sums let run.sh install-reps check that), each within 16 MiB
    if [[ -e stage.lfm0_itok.done ]]; then
      (cd $F 2>/dev/null && sha256sum item_tokens.safetensors rep*/item_tokens.safetensors > item_tokens.sha256 2>/dev/null)
      pk lfm0.tar.gz $F/item_tokens.sha256 $F/item_tokens.json $F/item_tokens.parquet $F/item_tokens.safetensors \
        $F/ext0.1top6smw/{adapter,score_head.safetensors,le_quality.json,learning_curve.csv,train_log.csv,rewards,augment}
      pk lfm12.tar.gz $F/rep{1,2}/item_tokens.json $F/rep{1,2}/item_tokens.parquet \
        $F/rep{1,2}/ext0.1top6smw/{adapter,score_head.safetensors,le_quality.json,learning_curve.csv,train_log.csv,rewards,augment}
    fi
    ls -la "$OUT"
    ;;
esac
done
