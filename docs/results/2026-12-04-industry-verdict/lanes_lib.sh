# Sourced by lfm_lanes.sh, industry_lane.sh and lfm.sh (repository root as the working directory): what the lanes of
# both stand-ins share.

# The rules a lane's dry run may plan: the whole chain, so that a checkout without the LE files (a new one) still lists
# its runs; the dry run only lists them.
PLAN_RULES="preprocess train warmup negatives item_tokens fit_le le_states le_rewards le_augment le_gather_states
  le_gather_rewards le_gather_augment control_fit control_states control_rewards control_augment report_claims
  claims_table"

# missing_runs SCRIPT DATASET SEED FILTER: the metrics.json of DATASET's table at SEED still missing, from a dry run of
# SCRIPT (run.sh or lfm.sh) narrowed to that dataset and seed (the narrowing changes no run's settings); FILTER: a
# grep -E on the paths. GRU_AUG=1: only the runs that read GRU's augmentation (else none of them); NO_LLM=1 / LLM=1:
# only the runs that read no LLM LE file (le/smollm2) / that read one. A failed dry run exits (the lane stops).
missing_runs() {
  local script=$1 ds=$2 seed=$3 filter=$4 ov dry
  ov=results/cpu-verdict/tmp/${ds}_seed$seed.yaml
  mkdir -p results/cpu-verdict/tmp
  printf 'datasets_enabled: [%s]\nseeds: [%s]\n' "$ds" "$seed" > "$ov"
  dry=$(VERDICT_OVERLAY="$PWD/$ov" SMK_FLAGS="-n --nolock" ALLOWED_RULES="$PLAN_RULES" bash "$script" 2>&1) ||
    { echo "${script##*/}: the dry run of $ds seed $seed failed:" >&2; tail -20 <<<"$dry" >&2; exit 1; }
  awk -v gru="${GRU_AUG:-0}" -v nollm="${NO_LLM:-0}" -v llm="${LLM:-0}" '/^ +input:/{inp=$0} /^ +output:.*\/runs\//{
      if ((inp ~ /augment_gru/) == (gru == 1) && (nollm != 1 || inp !~ /le\/smollm2/) &&
          (llm != 1 || inp ~ /le\/smollm2/)) for (i = 1; i <= NF; i++) if ($i ~ /metrics.json/) {
        gsub(",", "", $i); print $i } }' <<<"$dry" | grep "^results/cpu-verdict/$ds/runs/" | grep "/seed$seed/" |
    grep -E "$filter" | sort -u | while read -r m; do [[ -e $m ]] || echo "$m"; done || true
}

# env_sums DIR: the SHA-256 of an environment's weights and gathered precompute (since 2026-12-07): a rebuild on a new
# checkout is the same environment when these agree, which its diagnostics alone cannot show
env_sums() {
  (cd "$1" && shopt -s nullglob && f=(./*.safetensors ./*/*.safetensors ./*.parquet) &&
    if ((${#f[@]})); then sha256sum "${f[@]}"; fi)
}
