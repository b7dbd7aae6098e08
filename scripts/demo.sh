#!/usr/bin/env bash
# The main job: install, build, start the dispatch service with the embedded default (one local
# site made of this machine, state in SQLite under a temporary --data), submit the example jobs in
# examples/ and show them being dispatched and completing. Stops the service at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cnet=build/cnet
data=$(mktemp -d /tmp/cnet-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export CNET_ADDR=127.0.0.1:$port
$cnet serve --addr "$CNET_ADDR" --data "$data" --init > "$data/serve.out" 2> "$data/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$CNET_ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin=$(grep -o 'cnet_[A-Za-z0-9_-]*' "$data/serve.out")
echo "== cnet serve is up on $CNET_ADDR (data in $data); an admin creates tenant 'demo' and its token"
CNET_TOKEN=$admin $cnet admin tenant demo --max-queued 1000
export CNET_TOKEN=$(CNET_TOKEN=$admin $cnet admin token --tenant demo)
echo; echo "== cnet sites"
$cnet sites
echo; echo "== submitting examples/"
for f in examples/*.yaml examples/*.json; do
  case $f in *gpu-site.yaml) continue ;; esac
  $cnet submit "$f" || true   # a job no site here can run is refused with the reason
done
echo; echo "== the queue while jobs are dispatched (cnet ls), every second until all have ended"
for _ in $(seq 60); do
  $cnet ls
  if ! $cnet ls --json | grep -qE '"state": ?"(PENDING|SCHEDULED|RUNNING)"'; then break; fi
  echo; sleep 1
done
echo; echo "== cnet show 2 (the gang: placement and event history)"
$cnet show 2
echo; echo "== cnet logs 2"
$cnet logs 2
echo; echo "== cnet logs --stderr of the failed job"
$cnet logs --stderr "$($cnet ls --state FAILED --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')"
echo; echo "== cnet usage"
$cnet usage
echo; echo "demo done; the service stops now (its state stays in $data)"
