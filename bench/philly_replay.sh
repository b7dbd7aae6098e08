#!/usr/bin/env bash
# Full replay of the 82,247-job Philly trace (Jeon et al., ATC'19) on the Alibaba PAI cluster
# (6,742 GPUs; Weng et al., NSDI'22) with backfill and las-hetero, timing each run and its peak
# memory (GNU time). Fails if backfill takes 60 s or more, or las-hetero 600 s or more.
# Usage: bench/philly_replay.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
out=${2:-/tmp/cnet-philly}
shared=${CNET_SHARED_DATA:-$here/../shared/data}
mkdir -p "$out"
status=0
for policy in backfill las-hetero; do
  /usr/bin/time -f "%e %M" -o "$out/$policy.time" "$build/cnet" simulate \
    --cluster "$here/data/clusters/alibaba-pai.yaml" \
    --throughputs "$here/data/gavel/throughputs.csv" --throughputs-spread "$here/data/gavel/throughputs_unconsolidated.csv" \
    --trace "$shared/philly/philly.csv" --trace-format philly --policy "$policy" --seed 0 --quiet \
    --json "$out/$policy.json" > "$out/$policy.txt"
  read -r wall rss_kb < "$out/$policy.time"
  limit=$([ "$policy" = backfill ] && echo 60 || echo 600)
  verdict=$(awk -v w="$wall" -v l="$limit" 'BEGIN{print (w < l) ? "OK" : "MISSED"}')
  [ "$verdict" = OK ] || status=1
  python3 - "$out/$policy.json" "$policy" "$wall" "$rss_kb" "$limit" "$verdict" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p, wall, rss, limit, verdict = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
print(f"{p:11s} jobs {d['jobs_completed']:6d}  wall {wall:6.1f} s (limit {limit} s) {verdict}  peak RSS {rss/1024:6.1f} MiB"
      f"  avg JCT {d['avg_jct_hours']:.2f} h  p99 {d['p99_jct_hours']:.1f} h  solve p50 {d['solve_ms_p50']:.2f} ms max {d['solve_ms_max']:.1f} ms")
PY
done
exit $status
