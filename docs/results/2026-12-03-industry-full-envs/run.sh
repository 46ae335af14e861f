#!/usr/bin/env bash
# "What the environment adds" on the full Industry stand-in (issue 13), 2-core CPU: the SA2C-SASRec runs of seed 0
# against the LLM LE ext0.1top6smw (its precompute: ../2026-12-02-industry-le-full/run.sh precompute_smw first), then
# base and LES under rec.q_backbone_grad: false (qdetach.yaml), then the validation deltas. Repository root, the
# shared data beside it, `make setup` done. Each stage resumes (Snakemake keeps the finished runs).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-03-industry-full-envs
CF=(--configfile config/config.yaml config/industry_le_cpu.yaml config/industry_le_ext_cpu.yaml
    config/industry_full_envs_cpu.yaml)
R=results/cpu-le-full/industry/runs/sasrec/sa2c
Q=results/cpu-le-full-qdetach/industry/runs/sasrec/sa2c
stage=${1:-all}

if [[ $stage == all || $stage == seed0 ]]; then
  snakemake --cores 2 --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data -- \
    $R/{base,LER_ext0.1top6smw,LES_ext0.1top6smw,LEA_ext0.1top6smw,LEASR_ext0.1top6smw}/seed0/metrics.json
fi

# switch runs in their own results folder (results/cpu-le-full-<switch>), whose data, negative pool and LE states are
# hard links of results/cpu-le-full's (only the train rule runs there): switch_runs SWITCH RUN...
switch_runs() {
  local sw=$1; shift
  local SI=results/cpu-le-full-$sw/industry LE=results/cpu-le-full/industry/le/smollm2/ext0.1top6smw
  mkdir -p $SI/le/smollm2/ext0.1top6smw
  [[ -d $SI/data ]] || cp -al results/cpu-le-full/industry/data $SI/
  ln -f $LE/states.parquet $SI/le/smollm2/ext0.1top6smw/
  local targets=(); for v in "$@"; do targets+=("$SI/runs/sasrec/sa2c/$v/seed0/metrics.json"); done
  snakemake --cores 2 --rerun-triggers mtime --allowed-rules train "${CF[@]}" $D/$sw.yaml \
    --config data_dir=../shared/data -- "${targets[@]}"
}

# base and LES with the Q-head's TD losses kept out of the shared backbone (qdetach.yaml)
[[ $stage == all || $stage == qdetach ]] && switch_runs qdetach base LES_ext0.1top6smw

# LES with the LE state standardized per dimension (stdstate.yaml), against results/cpu-le-full's base
S=results/cpu-le-full-stdstate/industry/runs/sasrec/sa2c
[[ $stage == all || $stage == stdstate ]] && switch_runs stdstate LES_ext0.1top6smw

# validation deltas against the base of the same folder (paired t-test over the 5,930 validation cases), the losses
# at step 2862 (the last log row of SA2C's warm-up), and the run files
if [[ $stage == all || $stage == deltas ]]; then
  P=()
  for v in LER LES LEA LEASR; do P+=("$v=$R/${v}_ext0.1top6smw:$R/base"); done
  P+=("LES-qdetach=$Q/LES_ext0.1top6smw:$Q/base" "base-qdetach=$Q/base:$R/base")
  P+=("LES-stdstate=$S/LES_ext0.1top6smw:$R/base")
  python docs/results/2026-12-02-rl-probe/deltas.py 0 2862 "${P[@]}" > $D/valid_deltas_seed0.txt
  for d in $R/*/seed0 $Q/*/seed0 $S/*/seed0; do
    name=$(basename "$(dirname "$d")"); [[ $d == $Q/* ]] && name=$name-qdetach; [[ $d == $S/* ]] && name=$name-stdstate
    mkdir -p $D/runs/$name
    cp $d/metrics.json $d/ranks.parquet $d/train_log.csv $D/runs/$name/
  done
fi
