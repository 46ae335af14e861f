#!/usr/bin/env bash
# "What the environment adds" (issue 13) on the full Industry stand-in (8,442 sequences, 4,385 products) with the
# three control environments (idrec0.1 on the 10% LE subset, oracle on every training sequence, random), SASRec x
# SA2C / SNQN x LER, LES, LEA, LEASR, on a 2-core CPU. Repository root, the shared data beside it, `make setup` done.
# Usage: run.sh [overlay.yaml ...] (overlays in this folder; default controls.yaml = seed 0), then `run.sh qdetach`
# (the oracle's SA2C runs under rec.q_backbone_grad: false) and `run.sh collect` (copies the tables, the
# environments' diagnostics and every run's files here). Each stage resumes: Snakemake keeps the finished runs.
# The diagnostics of idrec0.1sm (idrec with the catalogue-softmax state) come from
#   snakemake --cores 1 <the configs below> controls.yaml -- results/cpu-le-full/industry/le/idrec/idrec0.1sm/le_quality.json
# `run.sh deltas` writes valid_deltas_switches.txt (the switch runs on validation).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-04-industry-full-controls
R=results/cpu-le-full/industry
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
    config/industry_full_envs_cpu.yaml)
if [[ ${1:-} == collect ]]; then
  cp $R/tables/environments.{md,csv} $R/tables/environments_diagnostics.csv $D/
  for env in idrec/idrec0.1 idrec/idrec0.1sm oracle/oracle random/random; do
    mkdir -p $D/le/${env#*/}; cp $R/le/$env/{le_quality.json,train_log.csv} $D/le/${env#*/}/
  done
  mkdir -p $D/runs
  for root in $R/runs results/cpu-le-full-{qdetach,stdstate,stdunit}/industry/runs; do
    [[ -d $root ]] || continue
    tag=""; [[ $root == *qdetach* ]] && tag=qdetach_; [[ $root == *stdstate* ]] && tag=stdstate_
    [[ $root == *stdunit* ]] && tag=stdunit_
    for m in $root/*/*/*/seed*/metrics.json; do
      d=$(dirname "$m"); seed=$(basename "$d"); v=$(basename "$(dirname "$d")")
      fw=$(basename "$(dirname "$(dirname "$d")")"); bb=$(basename "$(dirname "$(dirname "$(dirname "$d")")")")
      name=$tag${bb}_${fw}_${v}_$seed
      cp "$m" $D/runs/${name}_metrics.json; cp "$d/ranks.parquet" $D/runs/${name}_ranks.parquet
      cp "$d/train_log.csv" $D/runs/${name}_train_log.csv
    done
  done
  python $D/diagnostics.py docs/results/2026-12-04-industry-le-gpu/files/ext0.1top6smw/le_quality.json \
    idrec0.1=$D/le/idrec0.1/le_quality.json idrec0.1sm=$D/le/idrec0.1sm/le_quality.json \
    oracle=$D/le/oracle/le_quality.json random=$D/le/random/le_quality.json > $D/diagnostics.md
  cp $R/data/stats.json $D/industry_stats.json
  exit 0
fi
if [[ ${1:-} == qdetach ]]; then
  # SA2C base, LER, LES and LEASR with the oracle under q_backbone_grad: false (qdetach.yaml), then SA2C LES with the
  # oracle's state standardized (stdstate.yaml)
  for sw in qdetach stdstate; do
    SI=results/cpu-le-full-$sw/industry
    mkdir -p $SI/le/oracle
    [[ -d $SI/data ]] || cp -al $R/data $SI/
    [[ -d $SI/le/oracle/oracle ]] || cp -al $R/le/oracle/oracle $SI/le/oracle/
    if [[ $sw == qdetach ]]; then runs=(base LER_oracle LES_oracle LEASR_oracle); else runs=(LES_oracle); fi
    targets=(); for v in "${runs[@]}"; do targets+=("$SI/runs/sasrec/sa2c/$v/seed0/metrics.json"); done
    snakemake --cores 2 --rerun-triggers mtime --allowed-rules train "${CF[@]}" $D/controls.yaml $D/$sw.yaml \
      --config data_dir=../shared/data -- "${targets[@]}"
  done
  exit 0
fi
if [[ ${1:-} == deltas ]]; then  # validation deltas and losses at step 2,950 of the switch runs (valid_deltas_switches.txt)
  B=$R/runs/sasrec/sa2c; Q=results/cpu-le-full-qdetach/industry/runs/sasrec/sa2c
  S=results/cpu-le-full-stdstate/industry/runs/sasrec/sa2c
  python docs/results/2026-12-02-rl-probe/deltas.py 0 2950 "LER oracle=$B/LER_oracle:$B/base" \
    "LES oracle=$B/LES_oracle:$B/base" "LEASR oracle=$B/LEASR_oracle:$B/base" "qdetach base vs base=$Q/base:$B/base" \
    "qdetach LER oracle=$Q/LER_oracle:$Q/base" "qdetach LES oracle=$Q/LES_oracle:$Q/base" \
    "qdetach LEASR oracle=$Q/LEASR_oracle:$Q/base" "stdstate LES oracle=$S/LES_oracle:$B/base" \
    "stdstate LES vs LES oracle=$S/LES_oracle:$B/LES_oracle" > $D/valid_deltas_switches.txt
  exit 0
fi
if [[ ${1:-} == llm_switches ]]; then
  # SA2C LES with the LLM LE under the three state/backbone switches (and LEASR under standardize_unit), each in its
  # own results folder whose data and ext0.1top6smw files are hard links of results/cpu-le-full's: q_backbone_grad
  # false and standardize (the overlays of ../2026-12-03-industry-full-envs), standardize_unit (stdunit.yaml);
  # qdetach's base is the one made above
  E=results/cpu-le-full/industry/le/smollm2/ext0.1top6smw
  for sw in qdetach stdstate stdunit; do
    SI=results/cpu-le-full-$sw/industry
    mkdir -p $SI/le/smollm2/ext0.1top6smw
    [[ -d $SI/data ]] || cp -al $R/data $SI/
    for f in states.parquet rewards.parquet augment_sasrec.parquet; do ln -f $E/$f $SI/le/smollm2/ext0.1top6smw/; done
    ov=docs/results/2026-12-03-industry-full-envs/$sw.yaml; runs=(LES_ext0.1top6smw)
    [[ $sw == stdunit ]] && { ov=$D/stdunit.yaml; runs+=(LEASR_ext0.1top6smw); }
    targets=(); for v in "${runs[@]}"; do targets+=("$SI/runs/sasrec/sa2c/$v/seed0/metrics.json"); done
    snakemake --cores 1 --rerun-triggers mtime --allowed-rules train "${CF[@]}" $ov --config data_dir=../shared/data \
      -- "${targets[@]}"
  done
  exit 0
fi
if [[ ${1:-} == llm_deltas ]]; then  # validation deltas and losses at step 2,950 of the LLM LE's runs (valid_deltas_llm.txt)
  B=$R/runs/sasrec/sa2c; Q=results/cpu-le-full-qdetach/industry/runs/sasrec/sa2c
  S=results/cpu-le-full-stdstate/industry/runs/sasrec/sa2c; U=results/cpu-le-full-stdunit/industry/runs/sasrec/sa2c
  L=LES_ext0.1top6smw
  python docs/results/2026-12-02-rl-probe/deltas.py 0 2950 "LER llm=$B/LER_ext0.1top6smw:$B/base" "LES llm=$B/$L:$B/base" \
    "LEASR llm=$B/LEASR_ext0.1top6smw:$B/base" "qdetach LES llm=$Q/$L:$Q/base" "stdstate LES llm=$S/$L:$B/base" \
    "stdunit LES llm=$U/$L:$B/base" "stdstate LES vs LES llm=$S/$L:$B/$L" "stdunit LES vs LES llm=$U/$L:$B/$L" \
    "stdunit LEASR llm=$U/LEASR_ext0.1top6smw:$B/base" \
    > $D/valid_deltas_llm.txt
  exit 0
fi
overlays=("${@:-controls.yaml}")
# the "input" trigger too: a row group added to experiments.environments changes the table's input set, which the
# mtime trigger alone does not see (the table was then "up to date" without GRU's runs)
snakemake --cores "${CORES:-2}" --rerun-triggers mtime input "${CF[@]}" "${overlays[@]/#/$D/}" --config data_dir=../shared/data \
  -- environments_table
