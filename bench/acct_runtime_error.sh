#!/usr/bin/env bash
# Predicted vs actual run time in the service (docs/BENCHMARKS.md §12): a local site runs N real
# jobs whose command sleeps exactly their estimated_duration_s, so the run-time error `cnet acct`
# reports is what the service adds around a job (process start, exit detection, bookkeeping), the
# part of any prediction the user cannot control.
#   bench/acct_runtime_error.sh [CNET_BINARY] [N]
set -euo pipefail
CNET=${1:-build/cnet}
N=${2:-20}
DIR=$(mktemp -d /tmp/cnet-acct-bench.XXXXXX)
chmod 755 "$DIR"  # job accounts traverse it to their run directories
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$DIR/cnet.yaml" <<CFG
addr: 127.0.0.1:$PORT
data: $DIR/data
cycle_interval_s: 0.02
sites:
  - {name: local, type: local, cpus: 4, price_per_hour_usd: 0.5}
CFG
"$CNET" serve --config "$DIR/cnet.yaml" --init >"$DIR/server.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do grep -q 'admin token' "$DIR/server.out" && break; sleep 0.1; done
ADMIN=$(grep 'admin token' "$DIR/server.out" | grep -o 'cnet_[A-Za-z0-9_-]*' | head -1)
export CNET_ADDR=127.0.0.1:$PORT XDG_CONFIG_HOME=$DIR
CNET_TOKEN=$ADMIN "$CNET" admin tenant bench >/dev/null
export CNET_TOKEN=$(CNET_TOKEN=$ADMIN "$CNET" admin token create --tenant bench)
for i in $(seq "$N"); do
  d=$(( (i % 4) + 1 ))   # 1-4 s
  printf 'name: j%s\ncommand: "sleep %s"\ncpus_per_worker: 1\naccelerators_per_worker: 0\nestimated_duration_s: %s\n' \
    "$i" "$d" "$d" >"$DIR/j$i.yaml"
  "$CNET" submit "$DIR/j$i.yaml" >/dev/null
done
for _ in $(seq 600); do
  left=$("$CNET" ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
  [ "$left" = 0 ] && break
  sleep 0.5
done
"$CNET" acct --format id,state,elapsed_s,predicted_run_s,run_error >&2
"$CNET" acct --json --state SUCCEEDED | python3 -c '
import json, sys
d = json.load(sys.stdin)
e = d["run_time_error"]
print("jobs %d  median |error| %.1f%%  p90 |error| %.1f%%  median signed %+.1f%%" %
      (e["jobs"], 100 * e["median_abs"], 100 * e["p90_abs"], 100 * e["median"]))'
