#!/usr/bin/env bash
# Fractional GPUs that arrive, run and end (issue 10, GPU sharing in `cnet simulate`): pods asking
# for a share of one GPU or whole GPUs on one node (bench/pod_trace.py states the mix and the
# durations; the mix is our assumption) arrive on the Alibaba PAI cluster (6,742 GPUs) at an
# offered load of each of LOADS, for HOURS hours, and run to the end under `backfill` with
# best-fit and with FGD placing the shares. Prints, per load and scorer, the unallocated and
# fragmented fraction of the GPUs (mean of 10-minute samples from hour 1 to HOURS), the average
# JCT and queueing; writes the series to OUT_DIR/util-<load>.csv, the jobs to OUT_DIR/jobs-<load>.csv.
# Usage: bench/sharing_sim.sh [BUILD_DIR] [OUT_DIR] [HOURS] [LOADS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
out=${2:-/tmp/cnet-sharing-sim}
hours=${3:-3}
loads=${4:-0.5 0.8 1.0}
mkdir -p "$out"
for load in $loads; do
  python3 "$here/bench/pod_trace.py" "$here/data/gavel/throughputs.csv" 6742 "$load" "$hours" 1 > "$out/pods-$load.csv"
  echo "== offered load $load ($(($(wc -l < "$out/pods-$load.csv") - 1)) pods)"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$build/cnet" simulate --quiet \
    --cluster "$here/data/clusters/alibaba-pai.yaml" --throughputs "$here/data/gavel/throughputs.csv" \
    --trace "$out/pods-$load.csv" --policy backfill --share-scorer best-fit,fgd \
    --util-out "$out/util-$load.csv" --util-interval 600 --jobs-out "$out/jobs-$load.csv" | tail -n +2 | head -4
  python3 "$here/bench/sharing_summary.py" "$out/pods-$load.csv" "$out/util-$load.csv" "$out/jobs-$load.csv" 1 "$hours"
done
