#!/usr/bin/env bash
# Job-submission throughput on this machine: `cnet serve` (durable: SQLite WAL, synchronous=FULL,
# group commit) against a real Slurm 22.05 on loopback (scripts/slurm): sbatch and slurmrestd.
#
#   bench/submit_bench.sh                  # everything, cnet part REPEATS times (medians in the table)
#   SKIP_SLURM=1 bench/submit_bench.sh     # cnet only
#
# Nothing executes while submissions are measured, on either side:
#  * cnet: the config declares one local site with cpus: 1 and policy fifo; a "blocker" job
#    (sleep) takes that CPU first, so every measured job stays PENDING behind it (admitted, durable,
#    in the scheduler's queue). The blocker is cancelled (its process killed) before the server stops.
#  * Slurm: sbatch --hold / REST "hold": true (HOLD=1, default): jobs are accepted and stay held.
# Each cnet run gets a fresh server and data dir (an empty queue), so client counts compare alike.
#
# Variants of the cnet server (CNET_VARIANTS). The what-ifs change no source: an LD_PRELOAD shim
# (C source below, built here with cc) changes socket options inside the unmodified binary.
#   default         the service as built, default config (http_threads 8).
#   nodelay         what-if: TCP_NODELAY on accepted sockets. Shows the cost of httplib's default
#                   (Nagle on) with its separate header/body writes: ~40 ms delayed ACK per request.
#   nodelay-bl      nodelay, and listen() backlog 4096 instead of httplib's hard-coded 5 (connection
#                   bursts overflow it: SYN cookies, resets, 1 s SYN retransmits).
#   nodelay-bl-t64  nodelay-bl plus `http_threads: 64` in the config (a pool thread per connection;
#                   with 8 threads, connections 9..64 wait until another connection closes).
# Env (defaults): BUILD (build-load), REPEATS (3),
#   CNET_VARIANTS ("default nodelay nodelay-bl nodelay-bl-t64"), runs as clients:requests:
#   RUNS_default ("1:150 8:1200 64:1600"), RUNS_nodelay ("1:15000 8:40000 64:40000"),
#   RUNS_bl ("64:40000", for both -bl variants), SLURM_REPEATS (3; a fresh site each),
#   SBATCH_N (1000), SBATCH_PAR (8), SBATCH_PAR_N (2000 in all), REST_RUNS ("1:4000 8:8000"),
#   HOLD (1), SKIP_SLURM (0), KEEP_WORK (0), OUT (per-run CSV; default $BUILD/submit_bench-DATE.csv),
#   DEPTH_STEPS (5) x DEPTH_RUN ("8:25000"): one nodelay server, batches back to back, to show
#   submits/s and p99 against queue depth (0 skips it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-load}
CNET=$BUILD/cnet
LOAD=$BUILD/bench/cnet_load
REPEATS=${REPEATS:-3}
CNET_VARIANTS=${CNET_VARIANTS-"default nodelay nodelay-bl nodelay-bl-t64"}   # "" runs none
RUNS_default=${RUNS_default:-"1:150 8:1200 64:1600"}
RUNS_nodelay=${RUNS_nodelay:-"1:15000 8:40000 64:40000"}
RUNS_bl=${RUNS_bl:-"64:40000"}
SLURM_REPEATS=${SLURM_REPEATS:-3}
DEPTH_STEPS=${DEPTH_STEPS:-5}
DEPTH_RUN=${DEPTH_RUN:-"8:25000"}
SBATCH_N=${SBATCH_N:-1000}
SBATCH_PAR=${SBATCH_PAR:-8}
SBATCH_PAR_N=${SBATCH_PAR_N:-2000}
REST_RUNS=${REST_RUNS:-"1:4000 8:8000"}
HOLD=${HOLD:-1}
SKIP_SLURM=${SKIP_SLURM:-0}
KEEP_WORK=${KEEP_WORK:-0}

for b in "$CNET" "$LOAD"; do
  [ -x "$b" ] || { echo "submit_bench: $b missing; build: cmake -S $ROOT -B $BUILD -G Ninja && ninja -C $BUILD -j2 cnet cnet_load" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "submit_bench: curl missing (scripts/install-deps.sh)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "submit_bench: python3 missing" >&2; exit 2; }

WORK=$(mktemp -d /tmp/cnet-submit-bench.XXXXXX)
chmod 711 "$WORK"   # the Slurm site lives below it; munged (user munge) must traverse it
ROWS=$WORK/rows.csv        # one row per measurement
OUT=${OUT:-$BUILD/submit_bench-$(date +%Y%m%d-%H%M%S).csv}
echo "variant,method,clients,requests,errors,wall_s,req_per_s,p50_ms,p90_ms,p99_ms,max_ms,srv_cpu_us,cli_cpu_us,load1,note" > "$ROWS"
log() { echo "[submit_bench $(date +%H:%M:%S)] $*" >&2; }

SERVER_PID=""
SERVER_URL=""
BLOCKER_ID=""
ADMIN=""
SLURM_STARTED=0
export BASE=""

# ---------- cleanup: everything by PID ----------
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local st=""
  if [ -n "$BLOCKER_ID" ] && [ -n "$ADMIN" ]; then
    # Cancel the blocker so its sleep is killed (running jobs outlive the server by design).
    curl -s -o /dev/null -m 5 -X DELETE -H "Authorization: Bearer $ADMIN" "$SERVER_URL/v1/jobs/$BLOCKER_ID" || true
    for _ in $(seq 1 50); do
      st=$(curl -s -m 5 -H "Authorization: Bearer $ADMIN" "$SERVER_URL/v1/jobs/$BLOCKER_ID" |
           python3 -c 'import json,sys; print(json.load(sys.stdin).get("state",""))' 2>/dev/null || true)
      [ "$st" = CANCELLED ] && break
      sleep 0.1
    done
    [ "$st" = CANCELLED ] || log "warning: blocker job $BLOCKER_ID is '$st', not CANCELLED"
  fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then log "cnet serve pid $SERVER_PID: SIGKILL"; kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""; BLOCKER_ID=""; ADMIN=""
}
cleanup() {
  local rc=$?
  set +e
  stop_server
  if [ "$SLURM_STARTED" = 1 ]; then "$ROOT/scripts/slurm/stop.sh" >&2; SLURM_STARTED=0; fi
  if [ "$KEEP_WORK" = 1 ] || [ $rc -ne 0 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }
# CPU time (user + system, clock ticks) used so far by the given processes, all threads.
cpu_ticks() { local p t=0 v; for p in "$@"; do v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo $t; }
# ... and by this shell's waited-for children (cutime + cstime): the sbatch processes.
child_ticks() { awk '{print $16 + $17}' /proc/$$/stat; }
HZ=$(getconf CLK_TCK)
SRV_PIDS=()   # the server side's processes, for srv_cpu_us

# A free TCP port on 127.0.0.1 (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ---------- the what-if shim: SHIM_NODELAY=1: TCP_NODELAY on accepted sockets; SHIM_BACKLOG=N: listen(fd, N) ----------
SHIM=""
build_shim() {
  [ -n "$SHIM" ] && return 0
  command -v cc >/dev/null || { log "cc missing: skipping the what-if variants"; return 1; }
  cat > "$WORK/nodelay.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
static void nodelay(int fd) {
  int one = 1;
  const char *e = getenv("SHIM_NODELAY");
  if (fd >= 0 && e && *e == '1') setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
int listen(int fd, int backlog) {
  static int (*real)(int, int);
  if (!real) real = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
  const char *e = getenv("SHIM_BACKLOG");
  return real(fd, e && atoi(e) > backlog ? atoi(e) : backlog);
}
int accept(int s, struct sockaddr *a, socklen_t *l) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  int fd = real(s, a, l);
  nodelay(fd);
  return fd;
}
int accept4(int s, struct sockaddr *a, socklen_t *l, int f) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
  int fd = real(s, a, l, f);
  nodelay(fd);
  return fd;
}
C
  cc -shared -fPIC -O2 -o "$WORK/nodelay.so" "$WORK/nodelay.c" -ldl
  SHIM=$WORK/nodelay.so
}

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"

# start_server VARIANT -> sets SERVER_PID SERVER_URL TOKEN BLOCKER_ID
start_server() {
  local variant=$1 dir port preload="" nd="" bl=""
  dir=$(mktemp -d "$WORK/cnet.XXXX")
  port=$(free_port)
  {
    echo "policy: fifo"
    case "$variant" in *-t64) echo "http_threads: 64" ;; esac
    echo "sites:"
    echo "  - {name: local, type: local, cpus: 1, accelerators: 0}"
  } > "$dir/cnet.yaml"
  case "$variant" in nodelay*) build_shim || return 1; preload=$SHIM; nd=1 ;; esac
  case "$variant" in *-bl*) bl=4096 ;; esac
  LD_PRELOAD=$preload SHIM_NODELAY=$nd SHIM_BACKLOG=$bl "$CNET" serve --config "$dir/cnet.yaml" --addr "127.0.0.1:$port" --data "$dir/data" --init \
    >"$dir/serve.out" 2>"$dir/serve.err" &
  SERVER_PID=$!
  SERVER_URL=http://127.0.0.1:$port
  for _ in $(seq 1 100); do
    curl -sf -m 1 -o /dev/null "$SERVER_URL/healthz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/serve.err" >&2; return 1; }
    sleep 0.05
  done
  ADMIN=$(sed -n 's/^admin token (shown once; only its hash is stored): //p' "$dir/serve.out")
  [ -n "$ADMIN" ] || { log "no admin token in $dir/serve.out"; return 1; }
  api PUT /v1/tenants "$ADMIN" '{"name":"load","max_queued_jobs":0}' >/dev/null
  TOKEN=$(api POST /v1/tokens "$ADMIN" '{"tenant":"load"}' | jget '["token"]')
  BLOCKER_ID=$(api POST /v1/jobs "$TOKEN" \
    '{"name":"blocker","command":["sleep","100000"],"accelerators_per_worker":0,"cpus_per_worker":1}' | jget '["id"]')
  local st=""
  for _ in $(seq 1 100); do
    st=$(api GET "/v1/jobs/$BLOCKER_ID" "$TOKEN" | jget '["state"]')
    [ "$st" = RUNNING ] && break
    sleep 0.05
  done
  [ "$st" = RUNNING ] || { log "blocker job is $st, not RUNNING"; return 1; }
}

# Scheduling-cycle mean (ms) and queue length from /metrics.
server_stats() {
  curl -s -m 5 -H "Authorization: Bearer $ADMIN" "$SERVER_URL/metrics" | awk '
    /^cnet_scheduling_cycle_seconds_sum/ {s=$2} /^cnet_scheduling_cycle_seconds_count/ {c=$2}
    /^cnet_queue_length/ {q=$2}
    END {printf "cycle_mean_ms=%.1f queue=%d", (c>0 ? 1000*s/c : 0), q}'
}

# run_load VARIANT METHOD CLIENTS REQUESTS NOTE cnet_load-args... : appends a row
# srv_cpu_us: CPU of SRV_PIDS per request during the run; cli_cpu_us: cnet_load's own.
run_load() {
  local variant=$1 method=$2 clients=$3 n=$4 note=$5; shift 5
  local l out csv c0 c1
  l=$(load1)
  csv=$WORK/load.$$.csv; rm -f "$csv"
  c0=$(cpu_ticks "${SRV_PIDS[@]}")
  out=$("$LOAD" --clients "$clients" --requests "$n" --csv-out "$csv" "$@" 2>&1) || true
  c1=$(cpu_ticks "${SRV_PIDS[@]}")
  echo "$out" | sed 's/^/    /' >&2
  [ -f "$csv" ] || { log "cnet_load wrote no result"; return 1; }
  tail -n 1 "$csv" | awk -F, -v v="$variant" -v m="$method" -v l="$l" -v note="$note" -v ct=$((c1 - c0)) -v hz="$HZ" \
    'BEGIN{OFS=","} {print v, m, $2, $3, $4, $5, $6, $7, $8, $9, $10, sprintf("%.0f", ct / hz * 1e6 / $3), sprintf("%.0f", $11 * 1e6 / $3), l, note}' >> "$ROWS"
}

# ---------- (a) cnet ----------
for variant in $CNET_VARIANTS; do
  case "$variant" in
    default) runs=$RUNS_default ;;
    nodelay) runs=$RUNS_nodelay; build_shim || continue ;;
    nodelay-bl|nodelay-bl-t64) runs=$RUNS_bl; build_shim || continue ;;
    *) log "unknown variant $variant"; exit 2 ;;
  esac
  for rep in $(seq 1 "$REPEATS"); do
    for cr in $runs; do
      c=${cr%%:*}; n=${cr##*:}
      start_server "$variant"
      SRV_PIDS=("$SERVER_PID")
      log "cnet $variant rep $rep: $c clients x $n requests (load1 $(load1))"
      run_load "$variant" "cnet POST /v1/jobs" "$c" "$n" "rep$rep" --url "$SERVER_URL" --token "$TOKEN"
      stats=$(server_stats)
      log "  server: $stats"
      sed -i '$ s/$/ '"$stats"'/' "$ROWS"
      stop_server
    done
  done
done

# ---------- (a2) queue depth: one server, DEPTH_STEPS batches back to back ----------
# The scheduling loop walks every pending job each cycle; this shows submits/s and p99 as the queue
# grows (variant nodelay, so that the ~40 ms Nagle delay does not hide it).
if [ "$DEPTH_STEPS" -gt 0 ] && build_shim; then
  start_server nodelay
  SRV_PIDS=("$SERVER_PID")
  c=${DEPTH_RUN%%:*}; n=${DEPTH_RUN##*:}
  for step in $(seq 1 "$DEPTH_STEPS"); do
    before=$(server_stats)
    log "queue depth step $step: $c clients x $n requests (server before: $before)"
    run_load depth "cnet POST /v1/jobs (queue grows)" "$c" "$n" "step$step ${before#* } before" --url "$SERVER_URL" --token "$TOKEN"
  done
  stop_server
fi

# ---------- (b)+(c) Slurm: SLURM_REPEATS times, a fresh site each (an empty job table) ----------
if [ "$SKIP_SLURM" != 1 ]; then
  export SLURMCTLD_PORT=${SLURMCTLD_PORT:-$(free_port)}
  export RESTPORT=${RESTPORT:-$(free_port)}
  # four consecutive free ports for the slurmd
  if [ -z "${SLURMD_PORT_BASE:-}" ]; then
    for cand in $(seq 27000 10 28000); do
      ok=1
      for i in 1 2 3 4; do ss -Htln "sport = :$((cand + i))" | grep -q . && ok=0; done
      [ $ok = 1 ] && { SLURMD_PORT_BASE=$cand; break; }
    done
  fi
  export SLURMD_PORT_BASE
  hold_flag=(); rest_hold=false
  if [ "$HOLD" = 1 ]; then hold_flag=(--hold); rest_hold=true; fi
  mode=$([ "$HOLD" = 1 ] && echo held || echo run)

  # sbatch: per-call latency from $EPOCHREALTIME; one process and one munge credential per call.
  sbatch_loop() {  # sbatch_loop N LATFILE
    local n=$1 f=$2 t0 t1 i
    for ((i = 0; i < n; i++)); do
      t0=$EPOCHREALTIME
      sbatch --parsable "${hold_flag[@]}" -J b -o /dev/null --wrap true >/dev/null
      t1=$EPOCHREALTIME
      echo "$t0 $t1" >> "$f"
    done
  }
  sbatch_row() {  # sbatch_row METHOD CLIENTS SRV_TICKS CLI_TICKS LATFILES... (wall: first start to last end)
    local method=$1 clients=$2 st=$3 ct=$4 l; shift 4
    l=$(load1)
    cat "$@" | awk -v m="$method" -v c="$clients" -v l="$l" -v note="$note" -v st="$st" -v ct="$ct" -v hz="$HZ" '
      { n++; d[n] = ($2 - $1) * 1000; if (n == 1 || $1 < t0) t0 = $1; if ($2 > t1) t1 = $2 }
      END {
        for (gap = int(n / 2); gap > 0; gap = int(gap / 2))   # shell sort of the latencies
          for (i = gap + 1; i <= n; i++) { v = d[i]; j = i; while (j > gap && d[j - gap] > v) { d[j] = d[j - gap]; j -= gap } d[j] = v }
        p50 = d[int((n * 50 + 99) / 100)]; p90 = d[int((n * 90 + 99) / 100)]; p99 = d[int((n * 99 + 99) / 100)]
        w = t1 - t0
        printf "slurm,%s,%d,%d,0,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f,%.0f,%.0f,%s,%s\n", m, c, n, w, n / w, p50, p90, p99, d[n], st / hz * 1e6 / n, ct / hz * 1e6 / n, l, note
      }' >> "$ROWS"
    tail -n 1 "$ROWS" | sed 's/^/    /' >&2
  }

  for rep in $(seq 1 "$SLURM_REPEATS"); do
    note="$mode rep$rep"
    export BASE=$WORK/slurm$rep
    eval "$("$ROOT/scripts/slurm/setup.sh")"
    SLURM_STARTED=1
    "$ROOT/scripts/slurm/start.sh"
    SRV_PIDS=()
    for f in "$BASE"/pid/*.pid; do SRV_PIDS+=("$(cat "$f")"); done   # munged, slurmctld, slurmd x4, slurmrestd

    log "Slurm rep $rep: sbatch, $SBATCH_N sequential calls ($mode)"
    s0=$(cpu_ticks "${SRV_PIDS[@]}"); k0=$(child_ticks)
    sbatch_loop "$SBATCH_N" "$BASE/sb_seq.lat"
    s1=$(cpu_ticks "${SRV_PIDS[@]}"); k1=$(child_ticks)
    sbatch_row "sbatch (sequential)" 1 $((s1 - s0)) $((k1 - k0)) "$BASE/sb_seq.lat"
    log "Slurm rep $rep: sbatch, $SBATCH_PAR parallel loops, $SBATCH_PAR_N calls in all"
    pids=()
    s0=$(cpu_ticks "${SRV_PIDS[@]}"); k0=$(child_ticks)
    for ((k = 0; k < SBATCH_PAR; k++)); do
      sbatch_loop $((SBATCH_PAR_N / SBATCH_PAR)) "$BASE/sb_par.$k.lat" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    s1=$(cpu_ticks "${SRV_PIDS[@]}"); k1=$(child_ticks)
    sbatch_row "sbatch ($SBATCH_PAR parallel loops)" "$SBATCH_PAR" $((s1 - s0)) $((k1 - k0)) "$BASE"/sb_par.*.lat
    expect=$((SBATCH_N + SBATCH_PAR_N / SBATCH_PAR * SBATCH_PAR))
    got=$(squeue -h -t all -o %i | wc -l)
    [ "$got" -ge "$expect" ] || log "warning: squeue shows $got jobs, expected >= $expect"

    # slurmrestd: one keep-alive connection per client; success = 200 with a job_id.
    JWT=$("$ROOT/scripts/slurm/token.sh" root 7200)
    printf '{"script":"#!/bin/sh\\ntrue\\n","job":{"name":"r","partition":"debug","nodes":1,"cpus_per_task":1,"memory_per_node":100,"time_limit":5,"hold":%s,"current_working_directory":"/tmp","standard_output":"/dev/null","environment":{"PATH":"/usr/bin:/bin"}}}\n' \
      "$rest_hold" > "$BASE/rest_job.json"
    for cr in $REST_RUNS; do
      c=${cr%%:*}; n=${cr##*:}
      log "Slurm rep $rep: slurmrestd, $c clients x $n requests ($mode)"
      run_load slurm "slurmrestd POST job/submit" "$c" "$n" "$note" --url "http://127.0.0.1:$RESTPORT" \
        --path /slurm/v0.0.38/job/submit --header 'X-SLURM-USER-NAME: root' --header "X-SLURM-USER-TOKEN: $JWT" \
        --body-file "$BASE/rest_job.json"
    done
    log "slurmctld holds $(squeue -h -t all -o %i | wc -l) jobs"
    "$ROOT/scripts/slurm/stop.sh" >&2
    SLURM_STARTED=0
  done
fi

# ---------- summary ----------
cp "$ROWS" "$OUT"
python3 - "$ROWS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
groups = {}
for r in rows:
    if r["variant"] == "depth": continue   # per step, see the per-run list
    groups.setdefault((r["variant"], r["method"], int(r["clients"])), []).append(r)
print()
print("Per run (srv_cpu/cli_cpu: CPU microseconds per request of the server side / of the client side):")
print(f'{"variant":<14} {"method":<34} {"cl":>3} {"requests":>8} {"err":>4} {"wall_s":>7} {"req/s":>8} {"p50ms":>8} {"p99ms":>8} {"maxms":>8} {"srv_cpu":>7} {"cli_cpu":>7} {"load1":>5}  note')
for r in rows:
    print(f'{r["variant"]:<14} {r["method"]:<34} {r["clients"]:>3} {r["requests"]:>8} {r["errors"]:>4} {float(r["wall_s"]):>7.2f} '
          f'{float(r["req_per_s"]):>8.1f} {float(r["p50_ms"]):>8.2f} {float(r["p99_ms"]):>8.2f} {float(r["max_ms"]):>8.1f} '
          f'{r["srv_cpu_us"]:>7} {r["cli_cpu_us"]:>7} {r["load1"]:>5}  {r["note"]}')
print()
print("Summary (medians over runs; goal: >= 5000 submits/s with p99 < 20 ms on 2 cores):")
hdr = ["system / method", "clients", "runs", "submits/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "srv CPU us/req", "errors"]
w = [50, 7, 4, 9, 7, 7, 7, 8, 14, 6]
print("| " + " | ".join(h.ljust(w[0]) if k == 0 else h.rjust(w[k]) for k, h in enumerate(hdr)) + " |")
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for (v, m, c), rs in groups.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    name = f"Slurm {m} ({rs[0]['note'].split()[0]})" if v == "slurm" else f"cnet {m.removeprefix('cnet ')} [{v}]"
    cells = [name, str(c), str(len(rs)), f'{med("req_per_s"):.1f}', f'{med("p50_ms"):.2f}', f'{med("p90_ms"):.2f}',
             f'{med("p99_ms"):.2f}', f'{med("max_ms"):.1f}', f'{med("srv_cpu_us"):.0f}', str(sum(int(r["errors"]) for r in rs))]
    print("| " + " | ".join(x.ljust(w[0]) if k == 0 else x.rjust(w[k]) for k, x in enumerate(cells)) + " |")
PY
log "rows: $OUT"
