#!/usr/bin/env bash
# Jobs that really run, end to end, through computenet and through plain sbatch (issue 16 item 6),
# on loopback Slurm clusters (scripts/slurm), in one run on this machine:
#
#  A. Bursts: N one-GPU jobs (`sleep D`, D = 1..5 s in turn, mean 3 s) sent at once
#     - with sbatch to cluster A,                       (sbatch, 1 cluster)
#     - through `cnet serve` to cluster A,              (cnet, 1 cluster)
#     - through `cnet serve` to clusters A and B        (cnet, 2 clusters; TWO=1)
#     - with sbatch to A and B at once, N/2 each        (sbatch, 2 clusters; TWO=1: the sum of
#       both clusters' rates, the peer of cnet -> A + B)
#     jobs/s end to end = N / (first submit .. the last job's end, as the job itself records it).
#  B. Paced: PACED_N jobs (`sleep 1`), one every PACED_GAP_S, to cluster A with room to spare:
#     submit-to-RUNNING latency = the job's own first timestamp - the client's time before the
#     submit call; p50/p99, sbatch against cnet.
# Each cluster: NNODES nodes x NGPUS fake H100 (gpu:h100). Clients: one python process per run,
# submitting one job after the other (sbatch: one process per job; cnet: POST /v1/jobs on one
# keep-alive connection).
#
#   bench/slurm_run_bench.sh                     # N_LIST="200", TWO=1 (~6 min on 2 shared cores)
#   N_LIST="200 2000" bench/slurm_run_bench.sh   # adds the 2,000 bursts (~6 min more per path)
#
# Env (defaults): BUILD ($ROOT/build), CNET ($BUILD/cnet), N_LIST ("200"), NNODES (2), NGPUS (8),
#   TWO (1), PACED_N (30; 0 skips), PACED_GAP_S (1.5), POLL_S (unset: the site's poll_interval_s
#   default), KEEP (set: keep the work dir), SBATCH_SRUN (1: sbatch runs the command in an srun step,
#   as computenet's batch script does), QUEUE_AHEAD (unset: the site's queue_ahead default, 0 = off), ports: cluster A 9817/19300/9820, cluster B 9917/19400/9920, CNET_PORT (19080),
#   OUT (CSV; default beside cnet, slurm_run_bench-DATE.csv), PATHS ("sbatch cnet": the burst paths to
#   run; with TWO=1 each runs to one and to both clusters).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CNET=${CNET:-$BUILD/cnet}
N_LIST=${N_LIST:-200}
NNODES=${NNODES:-2}
NGPUS=${NGPUS:-8}
TWO=${TWO:-1}
PACED_N=${PACED_N:-30}
PACED_GAP_S=${PACED_GAP_S:-1.5}
PATHS=${PATHS:-sbatch cnet}
want() { [[ " $PATHS " == *" $1 "* ]]; }
CNET_PORT=${CNET_PORT:-19080}
OUT=${OUT:-$(dirname "$CNET")/slurm_run_bench-$(date +%Y%m%d-%H%M%S).csv}

die() { echo "slurm_run_bench: $*" >&2; exit 2; }
log() { echo "[slurm_run_bench $(date +%H:%M:%S)] $*" >&2; }
[ -x "$CNET" ] || die "$CNET missing (build: cmake --build build --target cnet)"
[ "$(id -u)" -eq 0 ] || die "must run as root (scripts/slurm needs it)"
for t in curl python3 sbatch squeue scancel; do command -v $t >/dev/null || die "$t missing (scripts/install-deps.sh)"; done

WORK=$(mktemp -d /tmp/cnet-run-bench.XXXXXX)
chmod 711 "$WORK"
SERVER_PID=""
BASES=()
SERVER_URL=http://127.0.0.1:$CNET_PORT

# ---------- clusters (ours only, by BASE) ----------
cluster_env() {  # cluster_env A|B -> exports BASE and ports for scripts/slurm
  if [ "$1" = A ]; then
    export BASE=$WORK/slurmA SLURMCTLD_PORT=9817 SLURMD_PORT_BASE=19300 RESTPORT=9820 CLUSTER_NAME=benchA
  else
    export BASE=$WORK/slurmB SLURMCTLD_PORT=9917 SLURMD_PORT_BASE=19400 RESTPORT=9920 CLUSTER_NAME=benchB
  fi
  export SLURM_CONF=$BASE/etc/slurm.conf
}
cluster_up() {
  cluster_env "$1"
  NNODES=$NNODES NGPUS=$NGPUS NCPUS=16 "$ROOT/scripts/slurm/setup.sh" >"$WORK/setup-$1.env" 2>"$WORK/setup-$1.log" ||
    { cat "$WORK/setup-$1.log" >&2; die "setup.sh failed for cluster $1"; }
  BASES+=("$1")
  "$ROOT/scripts/slurm/start.sh" 2>"$WORK/start-$1.log" || { cat "$WORK/start-$1.log" >&2; die "start.sh failed for cluster $1"; }
}
cluster_clear() {  # no jobs left in cluster $1
  cluster_env "$1"
  scancel -u root 2>/dev/null || true
  for _ in $(seq 1 200); do [ -z "$(squeue -h 2>/dev/null)" ] && return 0; sleep 0.1; done
  log "warning: cluster $1 still has jobs"
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  set +e
  stop_server
  for c in "${BASES[@]}"; do cluster_env "$c"; "$ROOT/scripts/slurm/stop.sh" >/dev/null 2>&1; done
  [ $rc -eq 0 ] && [ -z "${KEEP:-}" ] && rm -rf "$WORK" || log "work dir kept: $WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"

# start_server SITE... : cnet serve over the given clusters; sets TOKEN
start_server() {
  local cdir=$WORK/cnet-$RANDOM
  mkdir -p "$cdir"
  {
    echo "catalogue: $ROOT/data/accelerators.yaml"
    echo "sites:"
    for c in "$@"; do
      cluster_env "$c"
      echo "  - name: hpc$c"
      echo "    type: slurm"
      echo "    url: http://127.0.0.1:$RESTPORT"
      echo "    jwt_key_file: $BASE/state/jwt_hs256.key"
      echo '    gres_map: {"gpu:h100": H100-SXM}'
      echo "    output_dir: $cdir/out$c"
      if [ -n "${POLL_S:-}" ]; then echo "    poll_interval_s: $POLL_S"; fi
      if [ -n "${QUEUE_AHEAD:-}" ]; then echo "    queue_ahead: $QUEUE_AHEAD"; fi
    done
  } >"$cdir/cnet.yaml"
  "$CNET" serve --config "$cdir/cnet.yaml" --addr "127.0.0.1:$CNET_PORT" --data "$cdir/data" --init \
    >"$cdir/serve.out" 2>"$cdir/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    curl -sf -m 1 -o /dev/null "$SERVER_URL/healthz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$cdir/serve.err" >&2; die "cnet serve exited"; }
    sleep 0.05
  done
  local admin
  admin=$(sed -n 's/^admin token (shown once; only its hash is stored): //p' "$cdir/serve.out")
  [ -n "$admin" ] || die "no admin token in $cdir/serve.out"
  api PUT /v1/tenants "$admin" '{"name":"bench","max_queued_jobs":0}' >/dev/null
  TOKEN=$(api POST /v1/tokens "$admin" '{"tenant":"bench"}' | jget '["token"]')
  # Wait until every site is healthy with its GPUs (the first inventory read).
  for _ in $(seq 1 200); do
    api GET /v1/sites "$admin" | python3 -c "
import json,sys; s=json.load(sys.stdin)['sites']
sys.exit(0 if all(x['healthy'] and x.get('free',{}).get('H100-SXM',0) > 0 for x in s) else 1)" && return 0
    sleep 0.1
  done
  die "sites not healthy: $(api GET /v1/sites "$admin")"
}

cat >"$WORK/driver.py" <<'PY'
# driver.py MODE KIND N OUTDIR [GAP_S]: MODE sbatch|cnet, KIND burst|paced. Each job writes
# "<start> <end>" (epoch seconds, its own clock) to OUTDIR/<i>; the client's submit times go to
# OUTDIR/submits<IDX0>.tsv. Prints nothing; exits non-zero on a failed submit.
import http.client, json, os, shlex, subprocess, sys, time
mode, kind, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
gap = float(sys.argv[5]) if len(sys.argv) > 5 else 0
os.makedirs(out, exist_ok=True)
os.chmod(out, 0o1777)
def cmd(i):
    d = 1 if kind == "paced" else 1 + i % 5
    return f"s=$(date +%s.%N); sleep {d}; echo $s $(date +%s.%N) > {out}/{i}.tmp && mv {out}/{i}.tmp {out}/{i}"
def wrap(c):  # SBATCH_SRUN=1: the command in an srun step, as computenet's batch script runs it
    return "srun bash -c " + shlex.quote(c) if os.environ.get("SBATCH_SRUN") == "1" else c
conn = None
if mode == "cnet":
    conn = http.client.HTTPConnection("127.0.0.1", int(os.environ["CNET_PORT"]), timeout=30)
i0 = int(os.environ.get("IDX0", "0"))  # first job index (two drivers into one OUTDIR)
subs = open(f"{out}/submits{i0}.tsv", "w")
t_next = time.time()
for i in range(i0, i0 + n):
    if gap: 
        time.sleep(max(0, t_next - time.time())); t_next += gap
    t = time.time()
    if mode == "sbatch":
        r = subprocess.run(["sbatch", "-Q", "--parsable", "-J", f"b{i}", "-n1", "--gres=gpu:h100:1", "-o", "/dev/null",
                            "--wrap", wrap(cmd(i))], capture_output=True, text=True)
        if r.returncode != 0: sys.exit(f"sbatch {i}: {r.stderr}")
    else:
        body = json.dumps({"name": f"b{i}", "command": cmd(i), "accelerators_per_worker": 1,
                           "accelerator_types": ["H100-SXM"], "time_limit_s": 120, "estimated_duration_s": 3})
        conn.request("POST", "/v1/jobs", body, {"Authorization": "Bearer " + os.environ["TOKEN"],
                                                "Content-Type": "application/json"})
        r = conn.getresponse(); data = r.read()
        if r.status != 201: sys.exit(f"POST {i}: {r.status} {data[:200]}")
    subs.write(f"{i}\t{t:.6f}\n")
subs.close()
PY

cat >"$WORK/analyse.py" <<'PY'
# analyse.py KIND N OUTDIR TIMEOUT_S: waits for every job's record, prints "wall_s rate p50_ms p99_ms".
import os, sys, time
kind, n, out, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline = time.time() + timeout
def done(): return [f for f in os.listdir(out) if f.isdigit()]
while len(done()) < n and time.time() < deadline: time.sleep(0.2)
if len(done()) < n: sys.exit(f"only {len(done())} of {n} jobs ended within {timeout} s")
subs = {int(l.split()[0]): float(l.split()[1])
        for f in os.listdir(out) if f.startswith("submits") for l in open(f"{out}/{f}")}
rec = {int(f): tuple(map(float, open(f"{out}/{f}").read().split())) for f in done()}
first = min(subs.values()); last = max(e for _, e in rec.values())
lat = sorted(1000 * (rec[i][0] - subs[i]) for i in rec)
def pct(p): return lat[max(0, min(len(lat) - 1, -(-len(lat) * p // 100) - 1))]
print(f"{last - first:.2f} {n / (last - first):.2f} {pct(50):.0f} {pct(99):.0f}")
PY

echo "kind,path,clusters,n,wall_s,jobs_per_s,start_p50_ms,start_p99_ms,load1,cnet_cpu_s" >"$OUT"
server_cpu() {  # CPU seconds (user + system) cnet serve has used so far; "" when none runs
  [ -n "$SERVER_PID" ] && [ -r "/proc/$SERVER_PID/stat" ] || return 0
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$SERVER_PID/stat"
}
row() {  # row KIND PATH CLUSTERS N OUTDIR TIMEOUT
  local r
  r=$(python3 "$WORK/analyse.py" "$1" "$4" "$5" "$6") || { log "$2 $1 N=$4: $r"; return 1; }
  read -r wall rate p50 p99 <<<"$r"
  echo "$1,$2,$3,$4,$wall,$rate,$p50,$p99,$(cut -d' ' -f1 /proc/loadavg),$(server_cpu)" | tee -a "$OUT" >&2
}

log "clusters up ($NNODES nodes x $NGPUS GPUs each)"
cluster_up A
[ "$TWO" = 1 ] && cluster_up B
export CNET_PORT

for n in $N_LIST; do
  timeout=$((n * 3 + 120))
  if want sbatch; then
    log "burst of $n: sbatch -> A"
    cluster_env A
    python3 "$WORK/driver.py" sbatch burst "$n" "$WORK/sb-$n"
    row burst sbatch 1 "$n" "$WORK/sb-$n" $timeout
    cluster_clear A
  fi

  if want cnet; then
    log "burst of $n: cnet -> A"
    start_server A
    TOKEN=$TOKEN python3 "$WORK/driver.py" cnet burst "$n" "$WORK/cn1-$n"
    row burst cnet 1 "$n" "$WORK/cn1-$n" $timeout
    stop_server; cluster_clear A
  fi

  if [ "$TWO" = 1 ] && want cnet; then
    log "burst of $n: cnet -> A + B"
    start_server A B
    TOKEN=$TOKEN python3 "$WORK/driver.py" cnet burst "$n" "$WORK/cn2-$n"
    row burst cnet 2 "$n" "$WORK/cn2-$n" $timeout
    stop_server; cluster_clear A; cluster_clear B
  fi
  if [ "$TWO" = 1 ] && want sbatch; then
    log "burst of $n: sbatch -> A + B (N/2 each, at once)"
    half=$((n / 2))
    (cluster_env A; python3 "$WORK/driver.py" sbatch burst "$half" "$WORK/sb2-$n") &
    pa=$!
    (cluster_env B; IDX0=$half python3 "$WORK/driver.py" sbatch burst "$((n - half))" "$WORK/sb2-$n") &
    pb=$!
    wait $pa && wait $pb || die "sbatch -> A + B failed"
    row burst sbatch 2 "$n" "$WORK/sb2-$n" $timeout
    cluster_clear A; cluster_clear B
  fi
done

if [ "$PACED_N" -gt 0 ]; then
  log "paced: $PACED_N jobs, one every $PACED_GAP_S s: sbatch -> A"
  cluster_env A
  python3 "$WORK/driver.py" sbatch paced "$PACED_N" "$WORK/sbp" "$PACED_GAP_S"
  row paced sbatch 1 "$PACED_N" "$WORK/sbp" 120
  cluster_clear A
  log "paced: cnet -> A"
  start_server A
  TOKEN=$TOKEN python3 "$WORK/driver.py" cnet paced "$PACED_N" "$WORK/cnp" "$PACED_GAP_S"
  row paced cnet 1 "$PACED_N" "$WORK/cnp" 120
  stop_server
fi
log "rows in $OUT"
