#!/usr/bin/env bash
# Carbon benchmark (docs/BENCHMARKS.md §14): greenest vs fastest on three grids, and variants that
# isolate where the gain comes from. Usage: bench/carbon/run.sh [path/to/cnet] [jobs] [rate/h] [seed]
set -euo pipefail
cd "$(dirname "$0")/../.."
CNET=${1:-build/cnet}
JOBS=${2:-1000}
RATE=${3:-4}
SEED=${4:-0}
run() {  # carbon-file objectives
  echo "== $1 ($2)"
  "$CNET" simulate --cluster bench/carbon/three-zones.yaml --throughputs data/gavel/throughputs.csv \
    --throughputs-spread data/gavel/throughputs_unconsolidated.csv --generate gavel-single --rate "$RATE" \
    --jobs "$JOBS" --policy backfill --seed "$SEED" --carbon "bench/carbon/$1" --objective "$2" --quiet
}
run real-noshift.yaml fastest,greenest   # baseline; greenest in space and accelerator
run real.yaml greenest                   # + time (temporal shifting), perfect forecast
run noisy.yaml greenest                  # the same with the noisy forecast
run same-grid.yaml fastest,greenest      # one grid everywhere: accelerator choice only
run same-grid-shift.yaml greenest        # one grid everywhere: accelerator + time
