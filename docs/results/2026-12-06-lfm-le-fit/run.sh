#!/usr/bin/env bash
# Can the LFM LLM LE fit 200 training transitions? (fit.yaml) Repository root, `make setup` done, the LFM chain of
# ../2026-12-06-lfm-le-itok30 up to its item tokens (its run.sh setup and itok). One thread a job.
#   run.sh fit SETTING   fit one setting of fit.yaml (ovf200, ovf200_lr02, ovf200_all, vnorm, itlr), with le_quality.json
#   run.sh collect       train logs and diagnostics into files/<setting>/ here; summary.md from them (summary.py)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PWD/.venv/bin:$PATH
D=docs/results/2026-12-06-lfm-le-fit
L=docs/results/2026-12-04-lfm-le
LE=results/lfm-itok30/lfm/le/smollm2
CF=(--configfile config/config.yaml config/lfm_control_cpu.yaml $L/llm.yaml $L/amx.yaml
    docs/results/2026-12-06-lfm-le-itok30/itok30.yaml $D/fit.yaml)
smk() { snakemake --nolock --cores "${THREADS:-1}" --rerun-triggers mtime "${CF[@]}" --config data_dir=../shared/data \
  --set-threads fit_le="${THREADS:-1}" "$@"; }
case ${1:?stage} in
  fit) smk --allowed-rules fit_le -- $LE/${2:?setting}/le_quality.json ;;
  collect)
    for s in ovf200 ovf200_lr02 ovf200_all vnorm itlr; do  # (files/vnorm_to_step200: the stopped vnorm fit's checkpoint log)
      [[ -e $LE/$s/le_quality.json ]] || continue
      mkdir -p $D/files/$s
      for f in le_quality.json train_log.csv learning_curve.csv; do [[ ! -s $LE/$s/$f ]] || cp $LE/$s/$f $D/files/$s/; done
    done
    python $D/summary.py $D/files itok30=docs/results/2026-12-06-lfm-le-itok30/files > $D/summary.md
    ;;
  *) echo "run.sh: unknown stage $1" >&2; exit 2 ;;
esac
