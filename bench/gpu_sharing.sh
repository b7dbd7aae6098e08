#!/usr/bin/env bash
# GPU sharing on a production-like cluster: pods asking for fractions of a GPU or whole GPUs,
# packed onto the Alibaba PAI cluster (1,897 machines, 6,742 GPUs; Weng et al., NSDI'22) by
# best-fit and by the FGD-style scorer (Weng et al., ATC'23), arriving until 50..100% of the
# cluster's GPUs have been asked for. Prints the mean unallocated and fragmented GPU fractions over
# SEEDS seeds and writes every run's points to OUT_DIR/pack-<mix>.csv.
# The pod mixes are our assumption (no pod trace with GPU shares ships here): "inference" is
# share-heavy, "mixed" has more whole-GPU and multi-GPU pods.
# Usage: bench/gpu_sharing.sh [BUILD_DIR] [OUT_DIR] [SEEDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
out=${2:-/tmp/cnet-sharing}
seeds=${3:-5}
mkdir -p "$out"
declare -A mixes=(
  [inference]="0.1:10,0.25:25,0.5:25,1:30,2:5,4:3,8:2"
  [mixed]="0.25:15,0.5:15,1:40,2:15,4:8,8:7"
)
for name in inference mixed; do
  echo "== mix $name: ${mixes[$name]}"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$build/cnet" pack \
    --cluster "$here/data/clusters/alibaba-pai.yaml" --mix "${mixes[$name]}" \
    --scorer best-fit,best-fit-gpu,fgd --seeds "$seeds" --loads 0.5,0.6,0.7,0.8,0.9,0.95,1.0 \
    --out "$out/pack-$name.csv"
done
