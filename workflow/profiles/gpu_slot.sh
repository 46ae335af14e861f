#!/usr/bin/env bash
# Run a command on its own GPU(s) when several GPU jobs share one machine (local runs; SLURM assigns devices itself).
#   workflow/profiles/gpu_slot.sh N command args...     (N = GPUs the job needs: {resources.gpu} in a rule)
# Devices are 0..G-1 with G = $LEA_GPUS, else the count `nvidia-smi -L` prints, else 0. A device is taken by holding
# an flock on $LEA_GPU_LOCK_DIR/gpu<i>.lock for the command's lifetime, so concurrent jobs never share one; the
# command sees CUDA_VISIBLE_DEVICES set to the devices it got. With N = 0, no GPU on the machine, or a SLURM job
# (SLURM_JOB_ID set), the command runs unchanged.
set -euo pipefail
need=${1:?usage: gpu_slot.sh N command...}
shift
if [[ "$need" -le 0 || -n "${SLURM_JOB_ID:-}" ]]; then exec "$@"; fi
if [[ -n "${LEA_GPUS:-}" ]]; then total=$LEA_GPUS
elif command -v nvidia-smi > /dev/null 2>&1; then total=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
else total=0; fi
if [[ "$total" -le 0 ]]; then exec "$@"; fi
if [[ "$need" -gt "$total" ]]; then echo "gpu_slot.sh: job needs $need GPUs, machine has $total" >&2; exit 1; fi
lockdir=${LEA_GPU_LOCK_DIR:-${TMPDIR:-/tmp}/lea-gpu-locks-$(id -u)}
mkdir -p "$lockdir"
while true; do
  got=()
  for ((i = 0; i < total && ${#got[@]} < need; i++)); do
    exec {fd}> "$lockdir/gpu$i.lock"
    if flock -n "$fd"; then got+=("$i"); else exec {fd}>&-; fi
  done
  if [[ ${#got[@]} -ge "$need" ]]; then break; fi
  # not enough free devices: release what we hold and retry (Snakemake's gpu resource normally prevents this)
  for f in /proc/$$/fd/*; do
    n=${f##*/}
    if [[ "$n" -gt 9 && "$(readlink "$f")" == "$lockdir"/gpu*.lock ]]; then eval "exec $n>&-"; fi
  done
  sleep 2
done
export CUDA_VISIBLE_DEVICES
CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${got[*]}")
echo "gpu_slot.sh: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES" >&2
exec "$@"
