#!/usr/bin/env bash
# GPU sharing on a production-like cluster: pods asking for fractions of a GPU or whole GPUs,
# packed onto the Alibaba PAI cluster (1,897 machines, 6,742 GPUs; Weng et al., NSDI'22) by
# best-fit and by the FGD-style scorer (Weng et al., ATC'23), arriving until 50..100% of the
# cluster's GPUs have been asked for. Prints the mean unallocated and fragmented GPU fractions over
# SEEDS seeds and writes every run's points to OUT_DIR/pack-<mix>.csv.
# The pod mixes (GPUs x CPU cores : relative count) are our assumption; no pod trace with GPU
# shares ships here. "light-cpu": share-heavy pods with few cores; "mixed": more whole-GPU and
# multi-GPU pods with 12 cores per GPU (an 8-GPU PAI node has 96); "cpu-heavy": 16 cores even for
# a quarter GPU, so cores run out before GPUs on the 8-GPU nodes.
# Usage: bench/gpu_sharing.sh [BUILD_DIR] [OUT_DIR] [SEEDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
out=${2:-/tmp/cnet-sharing}
seeds=${3:-5}
mkdir -p "$out"
declare -A mixes=(
  [light-cpu]="0.1x2:10,0.25x4:25,0.5x8:25,1x8:30,2x16:5,4x32:3,8x64:2"
  [mixed]="0.25x6:15,0.5x12:15,1x12:40,2x24:15,4x48:8,8x96:7"
  [cpu-heavy]="0.25x16:20,0.5x16:20,1x16:40,2x32:10,4x48:5,8x64:5"
)
for name in light-cpu mixed cpu-heavy; do
  echo "== mix $name: ${mixes[$name]}"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$build/cnet" pack \
    --cluster "$here/data/clusters/alibaba-pai.yaml" --mix "${mixes[$name]}" \
    --scorer best-fit,best-fit-gpu,fgd --seeds "$seeds" --loads 0.5,0.6,0.7,0.8,0.9,0.95,1.0 \
    --out "$out/pack-$name.csv"
done
