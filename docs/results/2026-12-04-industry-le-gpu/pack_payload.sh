#!/usr/bin/env bash
# The pieces the GPU calls carry (device.sh), made here: .gpu1 .. .gpuN in the repository root. One payload tar holds
# the GGUF (xz), the polars runtime (unpacked, xz), the small wheels missing there, the data of the chains to run and
# an earlier lease's paper-chain checkpoints; it is cut into pieces that fit one call each beside the working tree
# (a call carries at most 64 MiB, the tree included: PIECE bytes, by default 64 MiB - the tree - 3 MB).
# Needs `make setup`, the GGUF fetched (snakemake's fetch_llm rule) and, per chain in CHAINS (default lfm,gru,curve,paper):
#   pre, paper, curve: results/cpu-le-full/industry/{data, warmup/sasrec/seed0/top5.parquet}
#               (docs/results/2026-12-04-industry-full-controls/run.sh makes them);
#   lfm:        results/cpu-lfm-control/lfm/{data, warmup/sasrec/seed0/top5.parquet} (../2026-12-04-lfm-le/run.sh data);
#   gru:        the Industry data, the Industry LE's weights (results/cpu-le-full/industry/le/smollm2: item tokens,
#               ext0.1top6smw's adapter and score head) and results/cpu-verdict/industry/warmup/gru/seed0/top5.parquet (the verdict's GRU
#               warm-up: ../2026-12-04-industry-verdict/run.sh results/cpu-verdict/industry/warmup/gru/seed0/top5.parquet).
#   lfmreps:    results/cpu-lfm-control/lfm/{data, warmup/sasrec/seed{0,1,2}/top5.parquet};
#   reps:       the three replicates of ../2026-12-05-industry-le-cpu (their weights), the SASRec warm-ups of seeds
#               0-2 there and the verdict's GRU warm-ups of seeds 0-2.
# Until 2026-12-04 the pieces were fixed: .gpu1-.gpu3 of at most 48.5 MB (git history).
set -euo pipefail
cd "$(dirname "$0")/../../.."
CHAINS=${CHAINS:-lfm,gru,curve,paper}
grep -qx '/.gpu\*/' .git/info/exclude 2>/dev/null || echo '/.gpu*/' >> .git/info/exclude
T=$(mktemp -d)
mkdir "$T/p"
pip_dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$T" "$@"; }
pip_dl polars==2.1.0 polars-runtime-32==2.1.0 gguf==0.19.0 \
  $(.venv/bin/pip freeze | grep -iE '^(jsonschema|jsonschema-specifications|referencing|rpds-py)==')
# the compressed GGUF is kept beside it (ignored by git): xz -9 of 98 MB takes minutes
G=resources/llm/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[[ -e $G.xz && $G.xz -nt $G ]] || { xz -T2 -9 -k -c $G > $G.xz.tmp && mv $G.xz.tmp $G.xz; }
cp $G.xz "$T/p/g.xz"
mkdir "$T/pr" && (cd "$T/pr" && unzip -q ../polars_runtime_32-*.whl) && tar -C "$T/pr" -cf - . | xz -T2 -9 > "$T/p/pr.tar.xz"
cp "$T"/gguf-*.whl "$T"/jsonschema*.whl "$T"/referencing-*.whl "$T"/rpds_py-*.whl "$T"/polars-2.1.0-py3-none-any.whl "$T/p/"
data=()
[[ ,$CHAINS, == *,pre,* || ,$CHAINS, == *,paper,* || ,$CHAINS, == *,both,* || ,$CHAINS, == *,gru,* || ,$CHAINS, == *,curve,* \
   || ,$CHAINS, == *,reps,* ]] && \
  data+=(results/cpu-le-full/industry/data results/cpu-le-full/industry/warmup/sasrec/seed0/top5.parquet)
# gru: the GRU warm-up's top-5 and the Industry LE's weights (not in git)
G=results/cpu-le-full/industry/le/smollm2
[[ ,$CHAINS, == *,gru,* ]] && data+=(results/cpu-verdict/industry/warmup/gru/seed0/top5.parquet
  $G/item_tokens.safetensors $G/item_tokens.parquet $G/ext0.1top6smw/adapter $G/ext0.1top6smw/score_head.safetensors)
# reps: the three CPU replicates' weights (item tokens, adapter, score head), the SASRec warm-ups of seeds 0-2 and the
# verdict's GRU warm-ups of seeds 0-2 (gpu_chain.sh reps)
if [[ ,$CHAINS, == *,reps,* ]]; then
  for r in 0 1 2; do
    L=$G; [[ $r == 0 ]] || L=$G/rep$r
    data+=($L/item_tokens.safetensors $L/item_tokens.parquet $L/item_tokens.json $L/ext0.1top6smw/adapter
           $L/ext0.1top6smw/score_head.safetensors results/cpu-le-full/industry/warmup/sasrec/seed$r/top5.parquet
           results/cpu-verdict/industry/warmup/gru/seed$r/top5.parquet)
  done
fi
# lfmreps: the LFM data and the SASRec warm-ups of seeds 0-2 (../2026-12-04-lfm-le/run.sh data, and the warm-ups of
# seeds 1 and 2 with its replicates.yaml)
[[ ,$CHAINS, == *,lfmreps,* ]] && data+=(results/cpu-lfm-control/lfm/data
  results/cpu-lfm-control/lfm/warmup/sasrec/seed{0,1,2}/top5.parquet)
if [[ ,$CHAINS, == *,lfm,* ]]; then
  data+=(results/cpu-lfm-control/lfm/data results/cpu-lfm-control/lfm/warmup/sasrec/seed0/top5.parquet)
  # what the CPU has finished of the LFM chain (gpu_chain.sh skips it): the item tokens, the LE fit (adapter, score
  # head, le_quality.json, curves); not a cut stage's checkpoint (12 MB for the item tokens, a minute's work there)
  F=results/cpu-lfm-control/lfm/le/smollm2
  [[ -e $F/item_tokens.json ]] && data+=($F/item_tokens.json $F/item_tokens.safetensors $F/item_tokens.parquet)
  [[ -e $F/ext0.1top6smw/le_quality.json ]] && \
    data+=($F/ext0.1top6smw/adapter $F/ext0.1top6smw/score_head.safetensors $F/ext0.1top6smw/le_quality.json
           $F/ext0.1top6smw/learning_curve.csv $F/ext0.1top6smw/train_log.csv)
fi
[[ ${#data[@]} -gt 0 ]] && tar -cf "$T/p/data.tar" "${data[@]}"
# an earlier lease's paper chain, to resume there (device.sh setup unpacks it): its item tokens or their checkpoint,
# and the fit's checkpoint; gpu_chain.sh skips what is done
P=results/gpu-paper/industry/le/smollm2
resume=$(ls -d $P/checkpoint.pt $P/item_tokens.* $P/frac0.1/checkpoint.pt 2>/dev/null || true)
[[ -z $resume ]] || tar -cf "$T/p/paper_resume.tar" $resume
tar -C "$T/p" -cf "$T/payload.tar" .
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
PIECE=${PIECE:-$(( 64 * 1048576 - tree - 3000000 ))}
rm -rf .gpu[0-9]*
split -b "$PIECE" -d -a 2 "$T/payload.tar" "$T/payload.tar."
parts=("$T"/payload.tar.[0-9][0-9])
for i in "${!parts[@]}"; do mkdir .gpu$((i + 1)) && mv "${parts[$i]}" .gpu$((i + 1))/; done
(cd "$T" && sha256sum payload.tar > "$OLDPWD/.gpu1/payload.sha256")
echo "${#parts[@]}" > .gpu1/payload.parts
rm -rf "$T"
echo "working tree $tree bytes, pieces of at most $PIECE bytes, chains $CHAINS"
du -sb .gpu[0-9]*
