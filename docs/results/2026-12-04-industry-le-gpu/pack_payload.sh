#!/usr/bin/env bash
# The pieces the GPU calls carry (device.sh), made here: .gpu1, .gpu2, .gpu3 in the repository root, each at most
# about 50 MB so that with the 16 MB working tree a call stays under the device's 64 MiB. Needs `make setup`, the
# GGUF fetched (snakemake's fetch_llm rule) and results/cpu-le-full/industry/{data, warmup/sasrec/seed0} (the CPU's
# preprocess and SASRec warm-up: docs/results/2026-12-04-industry-full-controls/run.sh makes them).
set -euo pipefail
cd "$(dirname "$0")/../../.."
grep -qx '/.gpu\*/' .git/info/exclude 2>/dev/null || echo '/.gpu*/' >> .git/info/exclude
T=$(mktemp -d)
pip_dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$T" "$@"; }
pip_dl polars==2.1.0 polars-runtime-32==2.1.0 gguf==0.19.0 \
  $(.venv/bin/pip freeze | grep -iE '^(jsonschema|jsonschema-specifications|referencing|rpds-py)==')
xz -T2 -9 -k -c resources/llm/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > "$T/g.xz"
mkdir "$T/pr" && (cd "$T/pr" && unzip -q ../polars_runtime_32-*.whl) && tar -C "$T/pr" -cf - . | xz -T2 -6 > "$T/pr.tar.xz"
rm -rf .gpu1 .gpu2 .gpu3 && mkdir .gpu1 .gpu2 .gpu3
head -c 48500000 "$T/g.xz" > .gpu1/g.xz.0 && tail -c +48500001 "$T/g.xz" > .gpu2/g.xz.1
cp "$T"/gguf-*.whl "$T"/jsonschema*.whl "$T"/referencing-*.whl "$T"/rpds_py-*.whl .gpu1/
head -c 8000000 "$T/pr.tar.xz" > .gpu2/pr.tar.xz.0 && tail -c +8000001 "$T/pr.tar.xz" > .gpu3/pr.tar.xz.1
cp "$T"/polars-2.1.0-py3-none-any.whl .gpu3/
tar -cf .gpu3/data.tar results/cpu-le-full/industry/data results/cpu-le-full/industry/warmup/sasrec/seed0/top5.parquet
# an earlier lease's paper chain, to resume there (device.sh setup unpacks it): its item tokens or their checkpoint,
# and the fit's checkpoint; gpu_chain.sh skips what is done
P=results/gpu-paper/industry/le/smollm2
resume=$(ls -d $P/checkpoint.pt $P/item_tokens.* $P/frac0.1/checkpoint.pt 2>/dev/null || true)
[[ -z $resume ]] || tar -cf .gpu3/paper_resume.tar $resume
rm -rf "$T"
du -sb .gpu1 .gpu2 .gpu3
