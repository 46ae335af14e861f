#!/usr/bin/env bash
# The claims table from the runs finished so far, while run.sh / cpu_order.sh is still going: the spec of rule
# report_claims (from a dry run of run.sh) given to `lea report-claims` as it is. A comparison whose runs are missing
# is "not tested" (its missing files listed in claims_detail.csv); one with fewer seeds on one side uses the seeds
# both sides have. When every run exists this is the table the rule writes.
#   claims_so_far.sh OUT_DIR [OVERLAY.yaml ...]   writes OUT_DIR/claims.md, claims.csv, claims_detail.csv; OVERLAY:
#   configs on top of verdict.yaml, in order, that narrow the table to the runs that exist (seeds, backbones), e.g.
#   so_far_sasrec.yaml, or lfm.yaml so_far_lfm.yaml for the LFM half alone
set -euo pipefail
OUT=$(realpath -m "${1:?OUT_DIR}")
shift
ov=()
for f in "$@"; do ov+=("$(realpath "$f")"); done
[[ ${#ov[@]} == 0 ]] || export VERDICT_OVERLAY="${ov[*]}"
cd "$(dirname "$0")"
mkdir -p "$OUT"
# the dry run may plan an LE replicate's fit and precompute that are not made yet (nothing runs): the spec is the same
dry=$(ALLOWED_RULES="train warmup negatives fit_le le_states le_rewards le_augment le_gather_states le_gather_rewards
  le_gather_augment report_claims claims_table" SMK_FLAGS="-n -p --forcerun report_claims" \
  bash run.sh results/cpu-verdict/tables/claims.md 2>&1)
line=$(grep -m1 "^Shell command: lea report-claims --spec " <<<"$dry")
spec=$(python3 -c 'import shlex, sys; a = shlex.split(sys.stdin.read()); print(a[a.index("--spec") + 1])' <<<"${line#Shell command: }")
cd ../../..
.venv/bin/lea report-claims --spec "$spec" --out-md "$OUT/claims.md" --out-csv "$OUT/claims.csv" \
  --out-detail-csv "$OUT/claims_detail.csv"
