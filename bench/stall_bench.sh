#!/usr/bin/env bash
# Reads and cancels while a Slurm site hangs (issue 8): a real Slurm on loopback whose slurmrestd is
# SIGSTOPped (connections are accepted by the kernel and never answered, as a hung daemon does)
# while `cnet serve` dispatches jobs to it. Measured, for each binary in BINS, in one run:
#   GET /v1/sites and GET /v1/usage latency (cnet_load --method GET, one keep-alive client),
#   and cancel latency of queued local jobs (POST /v1/jobs/{id}/cancel, curl's time_total),
# taken while launches to the hung site are in flight (the stall window).
#
#   bench/stall_bench.sh                                   # BINS="new:build/cnet"
#   BINS="before:/tmp/old/cnet after:build/cnet" bench/stall_bench.sh
# Env (defaults): BINS ("new:$ROOT/build/cnet"), LOAD ($ROOT/build/bench/cnet_load), READS (2000),
#   CANCELS (100), HPC_JOBS (24: jobs sent to the hung site first), CNET_PORT (18090),
#   SLURMCTLD_PORT (8917), SLURMD_PORT_BASE (18400), RESTPORT (8920).
# Prints one table row per binary and endpoint: p50, p99, max (ms), requests, errors.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINS=${BINS:-"new:$ROOT/build/cnet"}
LOAD=${LOAD:-$ROOT/build/bench/cnet_load}
READS=${READS:-2000}
CANCELS=${CANCELS:-100}
HPC_JOBS=${HPC_JOBS:-24}
CNET_PORT=${CNET_PORT:-18090}
export SLURMCTLD_PORT=${SLURMCTLD_PORT:-8917} SLURMD_PORT_BASE=${SLURMD_PORT_BASE:-18400} RESTPORT=${RESTPORT:-8920}
SERVER_URL=http://127.0.0.1:$CNET_PORT
. "$ROOT/bench/lib.sh"
die() { echo "stall_bench: $*" >&2; exit 2; }
log() { echo "[stall_bench $(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "must run as root (scripts/slurm needs it)"
[ -x "$LOAD" ] || die "$LOAD missing (ninja -C build cnet_load)"

WORK=$(mktemp -d /tmp/cnet-stall-bench.XXXXXX)
chmod 711 "$WORK"
export BASE=$WORK/slurm SLURM_CONF=""
SERVER_PID=""
REST_PID=""
cleanup() {
  [ -n "$REST_PID" ] && kill -CONT "$REST_PID" 2>/dev/null || true
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  "$ROOT/scripts/slurm/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

env=$(NNODES=2 NCPUS=8 NGPUS=8 "$ROOT/scripts/slurm/setup.sh" 2>"$WORK/setup.log") || { cat "$WORK/setup.log" >&2; die "setup failed"; }
eval "$env"
"$ROOT/scripts/slurm/start.sh" 2>"$WORK/start.log" || { cat "$WORK/start.log" >&2; die "start failed"; }
REST_PID=$(cat "$BASE/pid/slurmrestd.pid")

# pct FILE P: the P-th percentile of the numbers in FILE (one per line), nearest rank.
pct() { sort -g "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }

printf "%-8s %-22s %8s %8s %8s %6s %6s\n" "binary" "endpoint" "p50_ms" "p99_ms" "max_ms" "n" "errors"
for entry in $BINS; do
  label=${entry%%:*}; bin=${entry#*:}
  [ -x "$bin" ] || die "$bin missing"
  CDIR=$(mktemp -d "$WORK/cnet.XXXX")
  cat > "$CDIR/cnet.yaml" <<YAML
policy: backfill
cycle_interval_s: 0.05
catalogue: $ROOT/data/accelerators.yaml
sites:
  - {name: local, type: local, cpus: 1}
  - name: hpc
    type: slurm
    url: http://127.0.0.1:$RESTPORT
    jwt_key_file: $BASE/state/jwt_hs256.key
    gres_map: {"gpu:h100": H100-SXM}
    poll_interval_s: 0.2
YAML
  "$bin" serve --config "$CDIR/cnet.yaml" --addr "127.0.0.1:$CNET_PORT" --data "$CDIR/data" --init \
    >"$CDIR/serve.out" 2>"$CDIR/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do curl -sf -m 1 -o /dev/null "$SERVER_URL/healthz" && break; sleep 0.05; done
  ADMIN=$(sed -n 's/^admin token (shown once; only its hash is stored): //p' "$CDIR/serve.out")
  [ -n "$ADMIN" ] || die "$label: no admin token"
  api PUT /v1/tenants "$ADMIN" '{"name":"t"}' >/dev/null
  TOKEN=$(api POST /v1/tokens "$ADMIN" '{"tenant":"t"}' | jget '["token"]')
  for _ in $(seq 1 100); do
    api GET /v1/sites "$TOKEN" | grep -q '"H100-SXM":16' && break; sleep 0.1
  done
  # Local jobs to cancel: a blocker holds the one CPU, the others wait behind it.
  api POST /v1/jobs "$TOKEN" '{"name":"blocker","command":"sleep 600","accelerators_per_worker":0,"sites":["local"]}' >/dev/null
  ids=()
  for i in $(seq 1 "$CANCELS"); do
    ids+=("$(api POST /v1/jobs "$TOKEN" '{"name":"w","command":"true","accelerators_per_worker":0,"sites":["local"]}' | jget '["id"]')")
  done
  # The stall: slurmrestd stops answering; jobs are dispatched to it (their launches hang).
  kill -STOP "$REST_PID"
  for i in $(seq 1 "$HPC_JOBS"); do
    api POST /v1/jobs "$TOKEN" '{"name":"h","command":"true","accelerator_types":["H100-SXM"],"sites":["hpc"]}' >/dev/null
  done
  sleep 0.5
  for path in /v1/sites /v1/usage; do
    out=$("$LOAD" --url "$SERVER_URL" --token "$TOKEN" --method GET --path "$path" --clients 1 --requests "$READS" --timeout 60 2>&1 || true)
    echo "$out" > "$CDIR/load$(echo "$path" | tr / _).txt"
    read -r p50 p99 mx < <(echo "$out" | awk '/^latency_ms:/ {print $3, $7, $9}')
    errs=$(echo "$out" | awk '/^errors:/ {print $2}')
    printf "%-8s %-22s %8s %8s %8s %6s %6s\n" "$label" "GET $path" "${p50:-?}" "${p99:-?}" "${mx:-?}" "$READS" "${errs:-?}"
  done
  : > "$CDIR/cancel.txt"
  errs=0
  for id in "${ids[@]}"; do
    r=$(curl -s -m 60 -o /dev/null -w '%{http_code} %{time_total}' -X POST -d '' -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/jobs/$id/cancel")
    [ "${r%% *}" = 202 ] || errs=$((errs + 1))
    awk -v t="${r#* }" 'BEGIN {print t * 1000}' >> "$CDIR/cancel.txt"
  done
  printf "%-8s %-22s %8.2f %8.2f %8.2f %6s %6s\n" "$label" "POST cancel (queued)" "$(pct "$CDIR/cancel.txt" 50)" \
    "$(pct "$CDIR/cancel.txt" 99)" "$(pct "$CDIR/cancel.txt" 100)" "$CANCELS" "$errs"
  kill -CONT "$REST_PID"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  scancel --partition=debug >/dev/null 2>&1 || true
done
