#!/usr/bin/env bash
# valid_deltas.txt of the RL probe (issue 13), from the repository root after run.sh. "today" runs: the oracle probe's
# results folder (ORACLE, default: the oracle worktree's results/oracle-probe) and, for random, results/cpu-le (CPULE).
set -euo pipefail
O=${ORACLE:-/work/wt/oracle/results/oracle-probe}/industry/runs/sasrec/sa2c
C=${CPULE:-/work/main/results/cpu-le}/industry/runs/sasrec/sa2c
Q=results/rl-probe-qdetach/industry/runs/sasrec/sa2c
N=results/rl-probe-negfixed/industry/runs/sasrec/sa2c
python docs/results/2026-12-02-rl-probe/deltas.py 0,1,2 500 \
  "today LER oracle-rec=$O/LER_oracle-rec:$O/base" "today LEASR oracle-rec=$O/LEASR_oracle-rec:$O/base" \
  "today LER random=$C/LER_random:$O/base" "today LEASR random=$C/LEASR_random:$O/base" \
  "qdetach base vs today base=$Q/base:$O/base" \
  "qdetach LER oracle-rec=$Q/LER_oracle-rec:$Q/base" "qdetach LEASR oracle-rec=$Q/LEASR_oracle-rec:$Q/base" \
  "qdetach LER random=$Q/LER_random:$Q/base" "qdetach LEASR random=$Q/LEASR_random:$Q/base" \
  "negfixed LER oracle-rec=$N/LER_oracle-rec:$N/base" "negfixed LEASR oracle-rec=$N/LEASR_oracle-rec:$N/base" \
  "negfixed LER random=$N/LER_random:$N/base" "negfixed LEASR random=$N/LEASR_random:$N/base" \
  "qdetach LER vs today LER oracle-rec=$Q/LER_oracle-rec:$O/LER_oracle-rec" \
  "qdetach LEASR vs today LEASR oracle-rec=$Q/LEASR_oracle-rec:$O/LEASR_oracle-rec" \
  "negfixed LER vs today LER oracle-rec=$N/LER_oracle-rec:$O/LER_oracle-rec" \
  "negfixed LEASR vs today LEASR oracle-rec=$N/LEASR_oracle-rec:$O/LEASR_oracle-rec"
