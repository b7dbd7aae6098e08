#!/usr/bin/env bash
# Install, build, then compare scheduling policies on Gavel's multi-GPU workload on the
# 36 K80 + 36 P100 + 36 V100 cluster of the Gavel paper (simulated; about a minute on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/cnet simulate --cluster data/clusters/gavel-36x3.yaml \
  --throughputs data/gavel/throughputs.csv --throughputs-spread data/gavel/throughputs_unconsolidated.csv \
  --generate gavel-multi --rate 2.6 --jobs 2000 --measure 500-999 --seed 0 \
  --policy fifo,backfill,las,las-hetero,ftf-hetero,cost-hetero
