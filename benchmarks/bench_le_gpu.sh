#!/usr/bin/env bash
# The LLM-stage benchmark (bench_le.py) on a GPU: SmolLM2-135M and Mistral-7B's architecture in 4-bit.
#
#   benchmarks/bench_le_gpu.sh TOKENIZER_DIR DATA_DIR OUT_DIR [pretrained]
#
# TOKENIZER_DIR is an HF folder of SmolLM2 (config.json + tokenizer files; `make setup` writes one to
# resources/llm/smollm2/hf). Without "pretrained" both models get random weights: speed does not depend on the
# values, and a GPU machine without the weights can still run it. Mistral-7B is built from its config with the
# SmolLM2 tokenizer's vocabulary, saved, and reloaded in nf4 through lea.llm.load_llm.
set -uo pipefail
tok=${1:?tokenizer dir}; data=${2:?data dir}; out=${3:?out dir}; weights=${4:-random}
mkdir -p "$out"
small=(--llm "$tok" --device cuda --data-dir "$data")
[ "$weights" = pretrained ] || small+=(--random-weights)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 benchmarks/bench_le.py "${small[@]}" --items 64 --iterations 5 --train-steps 20 --sequences 40 \
  --batch-size 64 --out "$out/bench_le_smollm2_cuda.json" 2>&1 | grep -v -i warn | tee "$out/smollm2.log"
python3 benchmarks/bench_le.py --llm "$tok" --device cuda --data-dir "$data" --arch mistral-7b --load-in-4bit \
  --items 16 --iterations 3 --train-steps 10 --sequences 24 --batch-size 32 \
  --out "$out/bench_le_mistral7b_nf4_cuda.json" 2>&1 | grep -v -i warn | tee "$out/mistral7b.log"
