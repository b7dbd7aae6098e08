#!/usr/bin/env bash
# Slowloris: a normal client's request latency while SLOW connections (default 500) trickle request
# headers at the server for SECS seconds (default 30), each byte by byte, reconnecting at once when
# the server closes one (the request deadline). The slow connections come from 127.0.0.2..11 (50 per
# address: under the per-client cap, so that only the thread-per-connection design and the deadline
# are measured); the normal client, from 127.0.0.1, opens a new connection for each
# GET /v1/jobs?limit=10 (token) every 20 ms. Prints p50/p99/max and errors per binary.
#
#   BINS="before:/tmp/http-base/cnet after:build/cnet" bench/slowloris_bench.sh
# Env: BINS ("after:build/cnet"), SLOW (500), SECS (30), TIMEOUT_S (client timeout per request, 30).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINS=${BINS:-"after:$ROOT/build/cnet"}
SLOW=${SLOW:-500}
SECS=${SECS:-30}
TIMEOUT_S=${TIMEOUT_S:-30}
command -v curl >/dev/null || { echo "slowloris_bench: curl missing" >&2; exit 2; }
command -v python3 >/dev/null || { echo "slowloris_bench: python3 missing" >&2; exit 2; }
ulimit -n 4096 2>/dev/null || true

WORK=$(mktemp -d /tmp/cnet-slowloris.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

cat > "$WORK/attack.py" <<'PY'
import http.client, socket, statistics, sys, threading, time
port, slow, secs, token, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
stop = False
reconnects = 0
def open_slow(i):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i // 50}", 0))
    s.setblocking(True)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.send(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    return s
def attacker():
    global reconnects
    socks = [open_slow(i) for i in range(slow)]
    while not stop:
        for i, s in enumerate(socks):
            try:
                s.send(b"a")
            except OSError:
                try:
                    s.close()
                    socks[i] = open_slow(i)
                    reconnects += 1
                except OSError:
                    pass
        time.sleep(1.0)
    for s in socks:
        s.close()
t = threading.Thread(target=attacker, daemon=True)
t.start()
time.sleep(2)  # all slow connections are open
lat, errors = [], 0
end = time.time() + secs
while time.time() < end:
    t0 = time.time()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=("127.0.0.1", 0))
        c.request("GET", "/v1/jobs?limit=10", headers={"Authorization": "Bearer " + token})
        r = c.getresponse(); r.read(); c.close()
        if r.status != 200: errors += 1
        else: lat.append((time.time() - t0) * 1000)
    except Exception:
        errors += 1
    time.sleep(0.02)
stop = True
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")
print(f"{len(lat)} {errors} {q(0.5):.2f} {q(0.99):.2f} {lat[-1] if lat else float('nan'):.2f} {reconnects}")
PY

printf '%-8s %6s %6s %9s %9s %9s %8s %11s\n' binary slow ok errors p50_ms p99_ms max_ms reconnects
for entry in $BINS; do
  name=${entry%%:*}; bin=${entry#*:}
  dir=$(mktemp -d "$WORK/srv.XXXX"); port=$(free_port)
  printf 'sites:\n  - {name: f, type: fake, nodes: [{name: n1, cpus: 1}]}\n' > "$dir/cnet.yaml"
  "$bin" serve --config "$dir/cnet.yaml" --addr "127.0.0.1:$port" --data "$dir/data" --init >"$dir/out" 2>"$dir/err" &
  PID=$!
  for _ in $(seq 1 100); do curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
  admin=$(sed -n 's/^admin token (shown once; only its hash is stored): //p' "$dir/out")
  curl -sf -m 5 -X PUT -H "Authorization: Bearer $admin" -d '{"name":"bench"}' "http://127.0.0.1:$port/v1/tenants" >/dev/null
  token=$(curl -sf -m 5 -X POST -H "Authorization: Bearer $admin" -d '{"tenant":"bench"}' "http://127.0.0.1:$port/v1/tokens" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  read -r ok errors p50 p99 max reconnects < <(python3 "$WORK/attack.py" "$port" "$SLOW" "$SECS" "$token" "$TIMEOUT_S")
  printf '%-8s %6s %6s %9s %9s %9s %8s %11s\n' "$name" "$SLOW" "$ok" "$errors" "$p50" "$p99" "$max" "$reconnects"
  kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""
done
