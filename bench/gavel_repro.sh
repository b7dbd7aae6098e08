#!/usr/bin/env bash
# Reproduces the Gavel paper's (OSDI'20) headline comparisons on gavel-36x3 with computenet's
# simulator: rounds of 360 s, jobs 4000-4999 measured, mean of seeds 0,1,2; and the makespan of 700
# multi-GPU jobs present at time 0. Checks the ranges in bench/expect/gavel.yaml-like thresholds
# below and exits non-zero when one is missed.
# Usage: bench/gavel_repro.sh [BUILD_DIR] [OUT_DIR]   (default build, /tmp/cnet-gavel)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
out=${2:-/tmp/cnet-gavel}
shared=${CNET_SHARED_DATA:-$here/../shared/data}
mkdir -p "$out"
cnet=$build/cnet
common=(--cluster "$here/data/clusters/gavel-36x3.yaml" --throughputs "$shared/gavel/throughputs.csv"
        --throughputs-spread "$shared/gavel/throughputs_unconsolidated.csv" --round 360 --quiet)
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-9000}
run() {  # name args...
  local name=$1; shift
  "$cnet" simulate "${common[@]}" "$@" --json "$out/$name.json" > "$out/$name.txt"
}
pids=()
for s in $seeds; do
  run single-las-$s       --generate gavel-single --rate 5.6 --jobs "$jobs" --measure 4000-4999 --policy las --seed "$s" &
  run single-lashetero-$s --generate gavel-single --rate 5.6 --jobs "$jobs" --measure 4000-4999 --policy las-hetero --seed "$s"
  wait
  run multi-las-$s        --generate gavel-multi --rate 2.6 --jobs "$jobs" --measure 4000-4999 --policy las --seed "$s" &
  run multi-lashetero-$s  --generate gavel-multi --rate 2.6 --jobs "$jobs" --measure 4000-4999 --policy las-hetero --seed "$s"
  wait
  run makespan-fifo-$s     --generate gavel-multi --rate 0 --jobs 700 --policy fifo --seed "$s" &
  run makespan-hetero-$s   --generate gavel-multi --rate 0 --jobs 700 --policy makespan-hetero --seed "$s"
  wait
done
python3 - "$out" $seeds <<'PY'
import json, sys, statistics as st
out, seeds = sys.argv[1], sys.argv[2:]
def mean(name, key):
    return st.mean(json.load(open(f"{out}/{name}-{s}.json"))[key] for s in seeds)
rows = [
  ("single-GPU 5.6 jobs/h: avg JCT las / las-hetero", mean("single-las","avg_jct_hours"), mean("single-lashetero","avg_jct_hours"), 3.0, "paper 3.5x"),
  ("multi-GPU 2.6 jobs/h:  avg JCT las / las-hetero", mean("multi-las","avg_jct_hours"), mean("multi-lashetero","avg_jct_hours"), 1.9, "paper 2.2x"),
  ("700 jobs at t=0: makespan fifo / makespan-hetero", mean("makespan-fifo","makespan_hours"), mean("makespan-hetero","makespan_hours"), 2.4, "paper 2.5x"),
]
ok = True
print(f"seeds {' '.join(seeds)}; means over seeds")
for label, a, b, need, paper in rows:
    r = a / b
    good = r >= need
    ok &= good
    print(f"{label}: {a:8.2f} h / {b:8.2f} h = {r:5.2f}x (need >= {need}, {paper}) {'OK' if good else 'MISSED'}")
lh = mean("single-lashetero","avg_jct_hours")
good = lh <= 33.0
ok &= good
print(f"single-GPU las-hetero avg JCT {lh:.2f} h (need <= 33 h; Gavel seed 0: 28.96 h) {'OK' if good else 'MISSED'}")
for s in seeds:
    print(f"  seed {s}: single las {json.load(open(f'{out}/single-las-{s}.json'))['avg_jct_hours']:.2f} h,"
          f" las-hetero {json.load(open(f'{out}/single-lashetero-{s}.json'))['avg_jct_hours']:.2f} h;"
          f" multi las {json.load(open(f'{out}/multi-las-{s}.json'))['avg_jct_hours']:.2f} h,"
          f" las-hetero {json.load(open(f'{out}/multi-lashetero-{s}.json'))['avg_jct_hours']:.2f} h;"
          f" makespan fifo {json.load(open(f'{out}/makespan-fifo-{s}.json'))['makespan_hours']:.1f} h,"
          f" makespan-hetero {json.load(open(f'{out}/makespan-hetero-{s}.json'))['makespan_hours']:.1f} h")
sys.exit(0 if ok else 1)
PY
