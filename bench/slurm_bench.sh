#!/usr/bin/env bash
# computenet in front of a real Slurm 22.05 (scripts/slurm, loopback), in one run on this machine:
#
#  A. Throughput, jobs/s: client -> `cnet serve` -> slurmrestd -> slurmctld, against `sbatch` loops and
#     against slurmrestd `POST /slurm/v0.0.38/job/submit` on keep-alive connections (cnet_load).
#     For cnet two rates: accepted/s (HTTP 201s from cnet serve) and end-to-end/s = N / (first
#     submit_time .. the moment the last job's Slurm job id was committed to cnet's DB), plus the
#     dispatch latency of every job (Slurm id recorded - submit_time), p50/p99/max.
#  B. Node recovery -> dispatch: a job waits in computenet for a GPU node; the node comes back
#     (i) `scontrol update state=resume` after `state=down`, (ii) its slurmd restarted after a
#     SIGKILL; time until computenet has submitted the waiting job to Slurm (onto that node).
#     Per repetition: RECOVERY_NODE made unusable (and the time until Slurm says NOT_RESPONDING /
#     DOWN and computenet's GET /v1/sites says unusable is noted), NNODES-1 blockers (1 worker x
#     8 H100, `sleep 600`) fill the other nodes, a probe job of the same shape waits in computenet,
#     a random 0-2 s pause (a random phase of computenet's 2-s inventory refresh), then t0 = the
#     node recovered (`state=resume` returned / slurmd relaunched as scripts/slurm/start.sh does),
#     t1 = sinfo shows it idle, t2 = the probe's Slurm id committed to cnet's DB (polled every
#     10 ms); the probe's placement must be RECOVERY_NODE in computenet and in Slurm; then every job
#     is cancelled (DELETE /v1/jobs/{id}) and Slurm drained before the next repetition. B runs the
#     as-built binary only.
#
#   bench/slurm_bench.sh                                   # everything (~6-7 min on 2 cores)
#   CNET=/tmp/sbench-bin/cnet LOAD=/tmp/sbench-bin/cnet_load bench/slurm_bench.sh
#   SKIP_RECOVERY=1 REPEATS=1 bench/slurm_bench.sh         # throughput only, one repetition
#
# Nothing executes during A, on any path, and all paths submit the same job (1 node, 1 task,
# 1 CPU, 1024 MB, no time limit) to the same kind of Slurm: a CPU-only site (NNODES x TP_NCPUS
# CPUs, NGPUS=0, so computenet's capacity model can hold NNODES*TP_NCPUS 1-CPU jobs at once) with a
# reservation `cnetbench` that starts in a day: jobs submitted into it are accepted and stay
# PENDING (reason Reservation). computenet's site config has `reservation: cnetbench`; sbatch gets
# --reservation=cnetbench, the REST body "reservation":"cnetbench" (slurmrestd answers with a
# job_id plus error 2056 "Requested reservation not usable now": accepted, like computenet judges).
# Every measurement gets a fresh Slurm site (empty job table) and, for cnet, a fresh server and
# data dir. B uses the default GPU site (4 nodes x 8 fake H100) and actually runs `sleep 600` jobs.
#
# Dispatch latency is read from cnet's SQLite DB (read-only) by a poller (POLL_S, 10 ms) that notes
# when each job's "submitted to <site>" event (SCHEDULED -> SCHEDULED, with the Slurm id in
# jobs.runtime_json) becomes visible: "recorded" latency = first seen - submit_time (an upper bound,
# within POLL_S). The event's own `time` is when its dispatch batch (<= 64 jobs) had been submitted,
# before the commit; "event" latency = event time - submit_time (a lower bound).
#
# Env (defaults): BUILD ($ROOT/build; holds cnet and bench/cnet_load), CNET, LOAD (override each),
#   REPEATS (3), CNET_CLIENTS ("1 8"), CNET_N (1500), PACED_N (40; 0 skips) jobs sent one at a time with curl, PACED_GAP_S
#   (0.1) apart: the dispatch latency of a job that finds the loop idle (no batch ahead of it),
#   REST_RUNS ("1:1500 8:2000"),
#   SBATCH_N (500), SBATCH_PAR (8), SBATCH_PAR_N (504 in all), NNODES (4), TP_NCPUS (512),
#   RECOVERY_REPEATS (5), RECOVERY_VARIANTS ("resume slurmd"), RECOVERY_NODE (node4),
#   SLURMD_WAIT (down: wait for Slurm's DOWN after the kill; notresponding: its NOT_RESPONDING),
#   SKIP_THROUGHPUT (0), SKIP_RECOVERY (0), KEEP_WORK (0), POLL_S (0.01), CNET_CYCLE_S (unset: the
#   service's cycle_interval_s default, 0.1), CNET_INVENTORY_S (unset: the Slurm site's
#   inventory_interval_s default, 2 s; binaries before that key reject it), CNET_SUBMIT_CONNECTIONS
#   (unset: the site's submit_connections default; same caveat),
#   SLURMCTLD_PORT (8817), SLURMD_PORT_BASE (18300), RESTPORT (8820), CNET_PORT (18080),
#   OUT (throughput CSV; default: beside cnet, slurm_bench-DATE.csv; recovery rows in
#   ${OUT%.csv}-recovery.csv).
# Exit status: 0 when every check passed (each cnet job got a distinct Slurm id and is PENDING in
# the reservation, zero client errors, Slurm holds exactly the submitted jobs, the probe landed on
# RECOVERY_NODE in computenet and in Slurm); 1 otherwise (the tables are still printed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CNET=${CNET:-$BUILD/cnet}
LOAD=${LOAD:-$BUILD/bench/cnet_load}
REPEATS=${REPEATS:-3}
CNET_CLIENTS=${CNET_CLIENTS:-"1 8"}
CNET_N=${CNET_N:-1500}
PACED_N=${PACED_N:-40}
PACED_GAP_S=${PACED_GAP_S:-0.1}
REST_RUNS=${REST_RUNS-"1:1500 8:2000"}
SBATCH_N=${SBATCH_N:-500}
SBATCH_PAR=${SBATCH_PAR:-8}
SBATCH_PAR_N=${SBATCH_PAR_N:-504}
TP_NNODES=${NNODES:-4}
TP_NCPUS=${TP_NCPUS:-512}
RECOVERY_REPEATS=${RECOVERY_REPEATS:-5}
RECOVERY_VARIANTS=${RECOVERY_VARIANTS-"resume slurmd"}
RNODE=${RECOVERY_NODE:-node4}
SLURMD_WAIT=${SLURMD_WAIT:-down}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_RECOVERY=${SKIP_RECOVERY:-0}
KEEP_WORK=${KEEP_WORK:-0}
POLL_S=${POLL_S:-0.01}
CNET_PORT=${CNET_PORT:-18080}
export SLURMCTLD_PORT=${SLURMCTLD_PORT:-8817}
export SLURMD_PORT_BASE=${SLURMD_PORT_BASE:-18300}
export RESTPORT=${RESTPORT:-8820}
RES=cnetbench

die() { echo "slurm_bench: $*" >&2; exit 2; }
for b in "$CNET" "$LOAD"; do
  [ -x "$b" ] || die "$b missing (set BUILD, or CNET and LOAD; build: ninja -C BUILD cnet cnet_load)"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (scripts/slurm needs it)"
for t in curl python3 sbatch squeue sinfo scontrol scancel ss; do command -v $t >/dev/null || die "$t missing (scripts/install-deps.sh)"; done
[ -f "$ROOT/data/accelerators.yaml" ] || die "$ROOT/data/accelerators.yaml missing"
case "$SLURMD_WAIT" in down|notresponding) ;; *) die "SLURMD_WAIT must be down or notresponding" ;; esac

WORK=$(mktemp -d /tmp/cnet-slurm-bench.XXXXXX)
chmod 711 "$WORK"   # the Slurm sites live below it; munged (user munge) must traverse it
OUT=${OUT:-$(dirname "$CNET")/slurm_bench-$(date +%Y%m%d-%H%M%S).csv}
ROUT=${OUT%.csv}-recovery.csv
ROWS=$WORK/rows.csv
RROWS=$WORK/recovery.csv
echo "rep,variant,method,clients,n,errors,accept_wall_s,accepted_per_s,acc_p50_ms,acc_p99_ms,e2e_wall_s,e2e_per_s,rec_p50_ms,rec_p99_ms,rec_max_ms,ev_p50_ms,ev_p99_ms,ev_max_ms,batches,max_batch,cycles,cycle_mean_ms,get_jobs_ms,sites_get_ms,load1_start,load1_end,check" > "$ROWS"
echo "variant,rep,t2_minus_t0_ms,t2_minus_t1_ms,t1_minus_t0_ms,t2ev_minus_t0_ms,placement_node,slurm_node,pause_s,detect_nr_s,detect_down_s,detect_cnet_s,load1,check" > "$RROWS"
T_START=$EPOCHREALTIME
log() { echo "[slurm_bench $(date +%H:%M:%S)] $*" >&2; }
FAILS=()
fail_check() { FAILS+=("$*"); log "CHECK FAILED: $*"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

SERVER_PID=""
SERVER_URL=http://127.0.0.1:$CNET_PORT
ADMIN=""
TOKEN=""
CDIR=""
POLLER_PID=""
SLURM_UP=0
SBATCH_PIDS=()
export BASE=""
export SLURM_CONF=""

# ---------- cleanup: everything by PID ----------
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then log "cnet serve pid $SERVER_PID: SIGKILL"; kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""; ADMIN=""; TOKEN=""
}
stop_poller() {
  [ -n "$POLLER_PID" ] || return 0
  kill -TERM "$POLLER_PID" 2>/dev/null || true
  wait "$POLLER_PID" 2>/dev/null || true
  POLLER_PID=""
}
slurm_down() {  # stops the site; removes its directory (thousands of job files) unless KEEP_WORK=1
  [ "$SLURM_UP" = 1 ] || return 0
  SLURM_UP=0
  if "$ROOT/scripts/slurm/stop.sh" 2>"$BASE/stop.log"; then
    [ "$KEEP_WORK" = 1 ] || rm -rf "$BASE"
  else
    cat "$BASE/stop.log" >&2; log "warning: scripts/slurm/stop.sh reported leftovers (kept $BASE)"
  fi
}
cleanup() {
  local rc=$?
  set +e
  [ $rc -eq 0 ] || KEEP_WORK=1   # keep everything for a look
  for p in "${SBATCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  stop_poller
  stop_server
  slurm_down
  if [ "$KEEP_WORK" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------- helpers ----------
SITE_SEQ=0
# slurm_up NCPUS NGPUS [reservation]: a fresh site under $WORK (empty job table)
slurm_up() {
  local ncpus=$1 ngpus=$2 withres=${3:-}
  SITE_SEQ=$((SITE_SEQ + 1))
  export BASE=$WORK/slurm$SITE_SEQ
  for p in "$SLURMCTLD_PORT" "$RESTPORT" $(seq $((SLURMD_PORT_BASE + 1)) $((SLURMD_PORT_BASE + TP_NNODES))); do
    for _ in $(seq 1 50); do ss -Htln "sport = :$p" | grep -q . || break; sleep 0.1; done
  done
  local env
  env=$(NNODES=$TP_NNODES NCPUS=$ncpus NGPUS=$ngpus "$ROOT/scripts/slurm/setup.sh" 2>"$WORK/setup.log") ||
    { cat "$WORK/setup.log" >&2; die "scripts/slurm/setup.sh failed"; }
  eval "$env"
  SLURM_UP=1
  "$ROOT/scripts/slurm/start.sh" 2>"$BASE/start.log" || { cat "$BASE/start.log" >&2; die "scripts/slurm/start.sh failed"; }
  if [ -n "$withres" ]; then
    scontrol create reservation reservationname=$RES starttime=now+1day duration=60 nodes=ALL users=root >/dev/null ||
      die "cannot create the reservation"
  fi
}

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"

# start_server VARIANT [reservation] -> SERVER_PID ADMIN TOKEN CDIR (config: only the Slurm site)
start_server() {
  local variant=$1 res=${2:-}
  CDIR=$(mktemp -d "$WORK/cnet.XXXX")
  for _ in $(seq 1 50); do ss -Htln "sport = :$CNET_PORT" | grep -q . || break; sleep 0.1; done
  ss -Htln "sport = :$CNET_PORT" | grep -q . && die "TCP port $CNET_PORT is in use"
  {
    echo "policy: fifo"
    echo "catalogue: $ROOT/data/accelerators.yaml"
    echo "sites:"
    echo "  - name: hpc"
    echo "    type: slurm"
    echo "    url: http://127.0.0.1:$RESTPORT"
    echo "    user: root"
    echo "    jwt_key_file: $BASE/state/jwt_hs256.key"
    [ -n "$res" ] && echo "    reservation: $res"
    echo '    gres_map: {"gpu:h100": H100-SXM}'
    echo "    poll_interval_s: 0.2"
    if [ -n "${CNET_INVENTORY_S:-}" ]; then echo "    inventory_interval_s: $CNET_INVENTORY_S"; fi
    if [ -n "${CNET_SUBMIT_CONNECTIONS:-}" ]; then echo "    submit_connections: $CNET_SUBMIT_CONNECTIONS"; fi
    if [ -n "${CNET_CYCLE_S:-}" ]; then echo "cycle_interval_s: $CNET_CYCLE_S"; fi
  } > "$CDIR/cnet.yaml"
  "$CNET" serve --config "$CDIR/cnet.yaml" --addr "127.0.0.1:$CNET_PORT" \
    --data "$CDIR/data" --init >"$CDIR/serve.out" 2>"$CDIR/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -m 1 -o /dev/null "$SERVER_URL/healthz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$CDIR/serve.err" >&2; die "cnet serve exited"; }
    sleep 0.05
  done
  ADMIN=$(sed -n 's/^admin token (shown once; only its hash is stored): //p' "$CDIR/serve.out")
  [ -n "$ADMIN" ] || die "no admin token in $CDIR/serve.out"
  api PUT /v1/tenants "$ADMIN" '{"name":"load","max_queued_jobs":0}' >/dev/null
  TOKEN=$(api POST /v1/tokens "$ADMIN" '{"tenant":"load"}' | jget '["token"]')
}

cycle_stats() {  # "count mean_ms" of the scheduling loop's cycles
  curl -s -m 5 -H "Authorization: Bearer $ADMIN" "$SERVER_URL/metrics" | awk '
    /^cnet_scheduling_cycle_seconds_sum/ {s=$2} /^cnet_scheduling_cycle_seconds_count/ {c=$2}
    END {printf "%d %.1f", c, (c>0 ? 1000*s/c : 0)}'
}
get_jobs_ms() {  # one GET /slurm/v0.0.38/jobs, as cnet's poll does it
  local jwt=$1
  curl -s -o /dev/null -m 30 -w '%{time_total}' -H 'X-SLURM-USER-NAME: root' -H "X-SLURM-USER-TOKEN: $jwt" \
    "http://127.0.0.1:$RESTPORT/slurm/v0.0.38/jobs" | awk '{printf "%.0f", $1 * 1000}'
}
pending_in_res() {  # jobs PENDING in the reservation whose name starts with $1
  squeue -h -t PD -o '%j %v' | awk -v p="$1" -v r="$RES" 'index($1, p) == 1 && $2 == r' | wc -l
}

# Poller: notes when each job's "submitted to <site>" event becomes visible in the DB.
cat > "$WORK/poller.py" <<'PY'
import os, signal, sqlite3, sys, time
db, n, out, interval, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
deadline = time.time() + timeout
while not os.path.exists(db) and time.time() < deadline: time.sleep(interval)
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
last, seen = 0, {}
while len(seen) < n and time.time() < deadline and not stop:
    t = time.time()  # the commit was visible when the read began: an upper bound of its time
    for seq, job, ev, reason in c.execute("SELECT seq, job_id, time, reason FROM events WHERE seq > ? ORDER BY seq", (last,)):
        last = seq
        if reason.startswith("submitted to ") and job not in seen: seen[job] = (ev, t)
    if len(seen) < n: time.sleep(interval)
with open(out, "w") as f:
    for job, (ev, t) in sorted(seen.items()): f.write(f"{job}\t{ev:.6f}\t{t:.6f}\n")
sys.exit(0 if len(seen) >= n else 1)
PY

# Analysis of one cnet run: appends a row to ROWS; prints check failures on stdout.
cat > "$WORK/analyse.py" <<'PY'
import csv, json, sqlite3, sys
(rows_csv, db, seen_tsv, load_csv, rep, variant, method, clients, n, cycles, cycle_mean, getjobs, sites_ms, l0, l1, squeue_pending) = sys.argv[1:17]
n = int(n)
def pct(v, p):
    if not v: return float("nan")
    v = sorted(v); k = max(1, min(len(v), -(-len(v) * p // 100)))
    return v[int(k) - 1]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
jobs = {i: (st, sub, rt) for i, st, sub, rt in c.execute("SELECT id, state, submit_time, runtime_json FROM jobs")}
seen = {}
for line in open(seen_tsv):
    j, ev, t = line.split("\t"); seen[int(j)] = (float(ev), float(t))
problems = []
if len(jobs) != n: problems.append(f"{len(jobs)} jobs in the DB, expected {n}")
ids = set()
for j, (st, sub, rt) in jobs.items():
    try: sid = json.loads(rt)["slurm_job_id"] if rt else None
    except Exception: sid = None
    if not sid: problems.append(f"job {j} has no Slurm job id (state {st})"); continue
    ids.add(sid)
    if st != "SCHEDULED": problems.append(f"job {j} is {st}, not SCHEDULED")
if len(ids) != len(jobs): problems.append(f"{len(ids)} distinct Slurm ids for {len(jobs)} jobs")
missing = [j for j in jobs if j not in seen]
if missing: problems.append(f"{len(missing)} jobs never seen dispatched by the poller (e.g. {missing[:3]})")
if int(squeue_pending) != n: problems.append(f"Slurm has {squeue_pending} cnet jobs PENDING in the reservation, expected {n}")
ld = list(csv.DictReader(open(load_csv)))[-1]
if int(ld["errors"]) != 0: problems.append(f"cnet_load: {ld['errors']} errors")
rec = [1000 * (seen[j][1] - jobs[j][1]) for j in jobs if j in seen]
ev = [1000 * (seen[j][0] - jobs[j][1]) for j in jobs if j in seen]
first = min(s for _, s, _ in jobs.values())
last = max(t for _, t in seen.values()) if seen else float("nan")
e2e_wall = last - first
batches = {}  # event time -> jobs: one time per dispatch batch
for e, _ in seen.values():
    batches[e] = batches.get(e, 0) + 1
row = [rep, variant, method, clients, n, ld["errors"], ld["wall_s"], ld["req_per_s"], ld["p50_ms"], ld["p99_ms"],
       f"{e2e_wall:.3f}", f"{len(seen) / e2e_wall:.1f}" if len(seen) == n else "0",
       f"{pct(rec, 50):.1f}", f"{pct(rec, 99):.1f}", f"{max(rec):.1f}", f"{pct(ev, 50):.1f}", f"{pct(ev, 99):.1f}", f"{max(ev):.1f}",
       len(batches), max(batches.values()) if batches else 0, cycles, cycle_mean, getjobs, sites_ms, l0, l1, "ok" if not problems else "FAILED"]
with open(rows_csv, "a", newline="") as f: csv.writer(f).writerow(row)
print(f"    accepted {float(ld['req_per_s']):.0f}/s in {float(ld['wall_s']):.2f} s; end-to-end {row[11]}/s in {e2e_wall:.2f} s; "
      f"recorded latency p50 {row[12]} p99 {row[13]} max {row[14]} ms (event time p50 {row[15]} p99 {row[16]}); "
      f"{len(batches)} dispatch batches (largest {row[19]}); {cycles} cycles, mean {cycle_mean} ms; GET /v1/sites right after "
      f"the burst {sites_ms} ms; slurmrestd GET /jobs {getjobs} ms", file=sys.stderr)
for p in problems[:5]: print(p)
PY

# paced_load N GAP_S CSV: N POSTs with curl, one at a time, GAP_S apart; a cnet_load-style CSV row
paced_load() {
  local n=$1 gap=$2 csv=$3 i out t0 t1
  : > "$CDIR/paced.lat"
  t0=$EPOCHREALTIME
  for ((i = 0; i < n; i++)); do
    out=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' -X POST -H "Authorization: Bearer $TOKEN" \
          -H 'Content-Type: application/json' --data-binary @"$CDIR/body.json" "$SERVER_URL/v1/jobs") || out="000 0"
    echo "$out" >> "$CDIR/paced.lat"
    sleep "$gap"
  done
  t1=$EPOCHREALTIME
  echo "label,clients,requests,errors,wall_s,req_per_s,p50_ms,p90_ms,p99_ms,max_ms,client_cpu_s" > "$csv"
  sort -k2 -g "$CDIR/paced.lat" | awk -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" '
    { n++; d[n] = $2 * 1000; if ($1 !~ /^2/) err++ }
    END { printf "paced,1,%d,%d,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f,0\n", n, err, w, n / w, d[int((n*50+99)/100)], d[int((n*90+99)/100)], d[int((n*99+99)/100)], d[n] }' >> "$csv"
  echo "    paced: $(tail -n 1 "$csv")" >&2
}

run_cnet() {  # run_cnet REP VARIANT CLIENTS|paced N
  local rep=$1 variant=$2 c=$3 n=$4 l0 l1 cs jwt gj pend out sites_ms method="cnet POST /v1/jobs -> Slurm"
  slurm_up "$TP_NCPUS" 0 res
  start_server "$variant" "$RES"
  echo '{"name":"b","command":["true"],"accelerators_per_worker":0,"cpus_per_worker":1}' > "$CDIR/body.json"
  python3 "$WORK/poller.py" "$CDIR/data/cnet.db" "$n" "$CDIR/seen.tsv" "$POLL_S" $((60 + n / 10)) &
  POLLER_PID=$!
  l0=$(load1)
  if [ "$c" = paced ]; then
    method="cnet POST /v1/jobs -> Slurm (paced: 1 job per ${PACED_GAP_S} s)"
    log "cnet [$variant] rep $rep: $n jobs one at a time (curl), ${PACED_GAP_S} s apart (load1 $l0)"
    paced_load "$n" "$PACED_GAP_S" "$CDIR/load.csv"
    c=1
  else
    log "cnet [$variant] rep $rep: $c client(s) x $n jobs (load1 $l0)"
    "$LOAD" --clients "$c" --requests "$n" --csv-out "$CDIR/load.csv" --url "$SERVER_URL" --token "$TOKEN" \
      --body-file "$CDIR/body.json" --label cnet 2>&1 | grep -E '^(first error|errors|req_per_s|latency)' | sed 's/^/    /' >&2 || true
  fi
  # The loop holds its core lock while it dispatches a batch; GET /v1/sites waits for that lock.
  # Asked 0.25 s after the last submit, when the loop's tick (every cycle_interval_s) has begun.
  sleep 0.25
  sites_ms=$(curl -s -o /dev/null -m 120 -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/sites" | awk '{printf "%.0f", $1 * 1000}')
  wait "$POLLER_PID" || log "poller: not every job was seen dispatched before its timeout"
  POLLER_PID=""
  l1=$(load1)
  cs=$(cycle_stats)
  jwt=$("$ROOT/scripts/slurm/token.sh" root 600)
  gj=$(get_jobs_ms "$jwt")
  pend=$(pending_in_res cnet-)
  out=$(python3 "$WORK/analyse.py" "$ROWS" "$CDIR/data/cnet.db" "$CDIR/seen.tsv" "$CDIR/load.csv" "$rep" "$variant" "$method" "$c" "$n" \
        "${cs% *}" "${cs#* }" "$gj" "$sites_ms" "$l0" "$l1" "$pend")
  [ -z "$out" ] || while IFS= read -r line; do fail_check "cnet [$variant] rep $rep c=$c: $line"; done <<< "$out"
  stop_server
  [ "$KEEP_WORK" = 1 ] || rm -rf "$CDIR"
  slurm_down
}

# sbatch: per-call latency from $EPOCHREALTIME; one process and one munge credential per call.
sbatch_loop() {  # sbatch_loop N LATFILE
  local n=$1 f=$2 t0 t1 i
  for ((i = 0; i < n; i++)); do
    t0=$EPOCHREALTIME
    if sbatch --parsable --reservation=$RES -J b -N 1 --ntasks-per-node=1 -c 1 --mem=1024 -D /tmp -o /dev/null -e /dev/null \
         --wrap true >/dev/null 2>>"$f.err"; then
      t1=$EPOCHREALTIME; echo "$t0 $t1 0" >> "$f"
    else
      t1=$EPOCHREALTIME; echo "$t0 $t1 1" >> "$f"
    fi
  done
}
sbatch_row() {  # sbatch_row REP METHOD CLIENTS L0 LATFILES...
  local rep=$1 method=$2 clients=$3 l0=$4 l1 pend; shift 4
  l1=$(load1)
  pend=$(pending_in_res b)
  cat "$@" | awk -v rep="$rep" -v m="$method" -v c="$clients" -v l0="$l0" -v l1="$l1" -v pend="$pend" '
    { n++; d[n] = ($2 - $1) * 1000; err += $3; if (n == 1 || $1 < t0) t0 = $1; if ($2 > t1) t1 = $2 }
    END {
      for (gap = int(n / 2); gap > 0; gap = int(gap / 2))
        for (i = gap + 1; i <= n; i++) { v = d[i]; j = i; while (j > gap && d[j - gap] > v) { d[j] = d[j - gap]; j -= gap } d[j] = v }
      p50 = d[int((n * 50 + 99) / 100)]; p99 = d[int((n * 99 + 99) / 100)]
      w = t1 - t0
      ok = (err == 0 && pend == n) ? "ok" : "FAILED"
      printf "%s,slurm,%s,%d,%d,%d,%.3f,%.1f,%.3f,%.3f,,,,,,,,,,,,,,,%s,%s,%s\n", rep, m, c, n, err, w, n / w, p50, p99, l0, l1, ok
    }' >> "$ROWS"
  local last; last=$(tail -n 1 "$ROWS")
  log "  $(echo "$last" | awk -F, '{printf "%s jobs/s, p50 %s ms, p99 %s ms, errors %s", $8, $9, $10, $6}')"
  case "$last" in *,FAILED) fail_check "$method rep $rep: errors or Slurm holds $pend jobs (expected all pending in $RES)";; esac
}

run_sbatch() {  # run_sbatch REP LOOPS TOTAL
  local rep=$1 loops=$2 total=$3 l0 k
  slurm_up "$TP_NCPUS" 0 res
  l0=$(load1)
  log "sbatch rep $rep: $loops loop(s), $total calls in all (load1 $l0)"
  for ((k = 0; k < loops; k++)); do
    sbatch_loop $((total / loops)) "$BASE/sb.$k.lat" &
    SBATCH_PIDS+=($!)
  done
  for p in "${SBATCH_PIDS[@]}"; do wait "$p"; done
  SBATCH_PIDS=()
  if [ "$loops" = 1 ]; then m="sbatch (sequential)"; else m="sbatch ($loops parallel loops)"; fi
  sbatch_row "$rep" "$m" "$loops" "$l0" "$BASE"/sb.*.lat
  slurm_down
}

run_rest() {  # run_rest REP CLIENTS N
  local rep=$1 c=$2 n=$3 l0 l1 jwt pend csv=$WORK/rest.$$.csv
  slurm_up "$TP_NCPUS" 0 res
  jwt=$("$ROOT/scripts/slurm/token.sh" root 3600)
  printf '{"script":"#!/bin/sh\\ntrue\\n","job":{"name":"r","nodes":1,"tasks_per_node":1,"cpus_per_task":1,"memory_per_node":1024,"reservation":"%s","current_working_directory":"/tmp","standard_output":"/dev/null","standard_error":"/dev/null","environment":{"PATH":"/usr/bin:/bin"}}}\n' \
    "$RES" > "$BASE/rest_job.json"
  l0=$(load1)
  log "slurmrestd rep $rep: $c client(s) x $n POST job/submit (load1 $l0)"
  rm -f "$csv"
  "$LOAD" --clients "$c" --requests "$n" --csv-out "$csv" --url "http://127.0.0.1:$RESTPORT" --path /slurm/v0.0.38/job/submit \
    --header 'X-SLURM-USER-NAME: root' --header "X-SLURM-USER-TOKEN: $jwt" --body-file "$BASE/rest_job.json" --label rest 2>&1 |
    grep -E '^(first error|errors|req_per_s|latency)' | sed 's/^/    /' >&2 || true
  l1=$(load1)
  pend=$(pending_in_res r)
  tail -n 1 "$csv" | awk -F, -v rep="$rep" -v c="$c" -v l0="$l0" -v l1="$l1" -v pend="$pend" -v n="$n" \
    '{ ok = ($4 == 0 && pend == n) ? "ok" : "FAILED"
       printf "%s,slurm,slurmrestd POST job/submit,%d,%d,%d,%.3f,%.1f,%.3f,%.3f,,,,,,,,,,,,,,,%s,%s,%s\n", rep, c, $3, $4, $5, $6, $7, $9, l0, l1, ok }' >> "$ROWS"
  case "$(tail -n 1 "$ROWS")" in *,FAILED) fail_check "slurmrestd rep $rep c=$c: errors or Slurm holds $pend jobs, expected $n";; esac
  slurm_down
}

# ---------- A. throughput ----------
if [ "$SKIP_THROUGHPUT" != 1 ]; then
  for rep in $(seq 1 "$REPEATS"); do
    for c in $CNET_CLIENTS; do run_cnet "$rep" asbuilt "$c" "$CNET_N"; done
    [ "$PACED_N" -gt 0 ] && run_cnet "$rep" asbuilt paced "$PACED_N"
    [ "$SBATCH_N" -gt 0 ] && run_sbatch "$rep" 1 "$SBATCH_N"
    [ "$SBATCH_PAR_N" -gt 0 ] && run_sbatch "$rep" "$SBATCH_PAR" "$SBATCH_PAR_N"
    for cr in $REST_RUNS; do run_rest "$rep" "${cr%%:*}" "${cr##*:}"; done
  done
fi

# ---------- B. node recovery -> dispatch ----------
# wait_until DESC TIMEOUT_S CMD...: polls CMD every 0.1 s
wait_until() {
  local desc=$1 to=$2; shift 2
  local end; end=$(awk -v t="$EPOCHREALTIME" -v d="$to" 'BEGIN{printf "%.0f", t + d}')
  until "$@"; do
    [ "${EPOCHREALTIME%.*}" -lt "$end" ] || { log "timed out ($to s) waiting: $desc"; return 1; }
    sleep 0.1
  done
}
all_idle() { [ "$(sinfo -h -N -t idle -o '%N' | sort -u | wc -l)" -ge "$TP_NNODES" ]; }
slurm_empty() { [ -z "$(squeue -h -t PD,R,CG,CF,S -o %i)" ]; }
job_state() { api GET "/v1/jobs/$1" "$TOKEN" | jget '["state"]'; }
dispatched() {  # job has its Slurm id in the DB
  python3 - "$CDIR/data/cnet.db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
r = c.execute("SELECT runtime_json FROM jobs WHERE id = ?", (int(sys.argv[2]),)).fetchone()
sys.exit(0 if r and "slurm_job_id" in r[0] else 1)
PY
}
slurm_id_of() {
  python3 - "$CDIR/data/cnet.db" "$1" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(json.loads(c.execute("SELECT runtime_json FROM jobs WHERE id = ?", (int(sys.argv[2]),)).fetchone()[0])["slurm_job_id"])
PY
}
running_in_slurm() { [ "$(squeue -h -t R -o %i | wc -l)" -ge "$1" ]; }

# Measures from t0: t1 (Slurm shows the node idle) and t2 (the probe's Slurm id committed to the DB,
# seen by polling every 10 ms; and the event's own time). Prints "t1 t2 t2ev".
cat > "$WORK/recovery_wait.py" <<'PY'
import sqlite3, subprocess, sys, time
t0, db, probe, node, timeout = float(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
t1 = t2 = t2ev = None
while time.time() < t0 + timeout and (t1 is None or t2 is None):
    if t2 is None:
        t = time.time()
        r = c.execute("SELECT time FROM events WHERE job_id = ? AND reason LIKE 'submitted to %'", (probe,)).fetchone()
        if r: t2, t2ev = t, r[0]
    if t1 is None:
        s = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        if s == "idle": t1 = time.time()  # seen idle when sinfo returned: an upper bound
    time.sleep(0.01)
print(t1 or 0, t2 or 0, t2ev or 0)
PY

# Detection after the failure at time TK: polls (every 0.1 s) Slurm's state of the node and cnet's
# GET /v1/sites at the same time, until Slurm shows WANT (down: DOWN; notresponding: the `*` of
# NOT_RESPONDING) and cnet shows the node unusable. Prints "nr down cnet" (seconds after TK; -1: not seen).
cat > "$WORK/detect.py" <<'PY'
import json, subprocess, sys, time, urllib.request
tk, node, url, token, want, timeout = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
nr = down = cnet = None
def usable():
    req = urllib.request.Request(url + "/v1/sites", headers={"Authorization": "Bearer " + token})
    for s in json.load(urllib.request.urlopen(req, timeout=10))["sites"]:
        for n in s["nodes"]:
            if n["name"] == node: return n["usable"]
    return None
while time.time() < tk + timeout:
    st = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True).stdout.strip()
    now = time.time()
    if nr is None and st.endswith("*"): nr = now
    if down is None and st.startswith("down"): down = now
    if cnet is None and usable() is False: cnet = time.time()
    if cnet is not None and (down if want == "down" else nr) is not None: break
    time.sleep(0.1)
f = lambda t: f"{t - tk:.1f}" if t is not None else "-1"
print(f(nr), f(down), f(cnet))
PY

GPU_JOB='{"name":"%s","command":["sleep","600"],"workers":1,"accelerators_per_worker":8,"accelerator_types":["H100-SXM"]}'
recovery_rep() {  # recovery_rep VARIANT REP
  local variant=$1 rep=$2 ids=() probe t0 res t1 t2 t2ev pnode snode sid tk l check=ok pause d_nr d_down d_cnet want
  # 1. the node unusable (in Slurm, and in computenet's view)
  tk=$EPOCHREALTIME
  if [ "$variant" = resume ]; then
    scontrol update nodename="$RNODE" state=down reason=bench
    want=down
  else
    local pid; pid=$(cat "$BASE/pid/slurmd-$RNODE.pid")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmd ] || die "pid $pid is not slurmd"
    tk=$EPOCHREALTIME
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    want=$SLURMD_WAIT
  fi
  res=$(python3 "$WORK/detect.py" "$tk" "$RNODE" "$SERVER_URL" "$TOKEN" "$want" 120)
  read -r d_nr d_down d_cnet <<< "$res"
  [ "$d_cnet" != -1 ] || die "computenet never marked $RNODE unusable"
  if [ "$want" = down ]; then [ "$d_down" != -1 ] || die "Slurm never marked $RNODE DOWN"; else [ "$d_nr" != -1 ] || die "Slurm never marked $RNODE NOT_RESPONDING"; fi
  # 2. blockers fill the other nodes (NNODES-1 of them, 8 GPUs each); the probe waits in computenet
  for ((k = 1; k < TP_NNODES; k++)); do
    # shellcheck disable=SC2059
    ids+=("$(api POST /v1/jobs "$TOKEN" "$(printf "$GPU_JOB" "blocker$k")" | jget '["id"]')")
  done
  for id in "${ids[@]}"; do wait_until "blocker $id dispatched" 30 dispatched "$id" || die "blocker $id not dispatched"; done
  wait_until "blockers RUNNING in Slurm" 30 running_in_slurm $((TP_NNODES - 1)) || die "blockers not running in Slurm"
  # shellcheck disable=SC2059
  probe=$(api POST /v1/jobs "$TOKEN" "$(printf "$GPU_JOB" probe)" | jget '["id"]')
  ids+=("$probe")
  sleep 0.5
  [ "$(job_state "$probe")" = PENDING ] || die "probe $probe is $(job_state "$probe"), expected PENDING"
  # A random 0-2 s pause, so that t0 falls at a random phase of computenet's 2-s inventory refresh.
  pause=$(awk -v r="$RANDOM" 'BEGIN{printf "%.3f", r / 32767 * 2}')
  sleep "$pause"
  # 3. recover the node
  if [ "$variant" = resume ]; then
    scontrol update nodename="$RNODE" state=resume
    t0=$EPOCHREALTIME
  else
    setsid /usr/sbin/slurmd -D -N "$RNODE" -f "$SLURM_CONF" </dev/null >>"$BASE/log/slurmd-$RNODE.out" 2>&1 &
    echo $! > "$BASE/pid/slurmd-$RNODE.pid"
    t0=$EPOCHREALTIME
  fi
  l=$(load1)
  res=$(python3 "$WORK/recovery_wait.py" "$t0" "$CDIR/data/cnet.db" "$probe" "$RNODE" 60)
  read -r t1 t2 t2ev <<< "$res"
  if [ "${t2%.*}" = 0 ] || [ "${t1%.*}" = 0 ]; then die "recovery not observed within 60 s (t1=$t1 t2=$t2)"; fi
  pnode=$(api GET "/v1/jobs/$probe" "$TOKEN" | jget '["placement"]["node"]')
  sid=$(slurm_id_of "$probe")
  wait_until "probe RUNNING in Slurm" 20 eval '[ "$(squeue -h -j '"$sid"' -o %T)" = RUNNING ]' || true
  snode=$(squeue -h -j "$sid" -o %N)
  if [ "$pnode" != "$RNODE" ] || [ "$snode" != "$RNODE" ]; then
    check=FAILED; fail_check "recovery $variant rep $rep: probe placed on '$pnode' by computenet, runs on '$snode' in Slurm (expected $RNODE)"
  fi
  awk -v v="$variant" -v r="$rep" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v te="$t2ev" -v pn="$pnode" -v sn="$snode" -v pz="$pause" \
      -v dn="$d_nr" -v dd="$d_down" -v dc="$d_cnet" -v l="$l" -v ck="$check" \
    'BEGIN { printf "%s,%d,%.0f,%.0f,%.0f,%.0f,%s,%s,%s,%s,%s,%s,%s,%s\n", v, r, (t2-t0)*1000, (t2-t1)*1000, (t1-t0)*1000, (te-t0)*1000, pn, sn, pz, dn, dd, dc, l, ck }' >> "$RROWS"
  log "  recovery $variant rep $rep: $(tail -n 1 "$RROWS" | awk -F, '{printf "t2-t0 %s ms, t2-t1 %s ms, t1-t0 %s ms, placement %s / Slurm %s; detection after the failure: Slurm NOT_RESPONDING %s s, DOWN %s s, cnet unusable %s s", $3, $4, $5, $7, $8, $10, $11, $12}')"
  # 4. cancel everything, wait until Slurm runs nothing and computenet has released the capacity
  for id in "${ids[@]}"; do api DELETE "/v1/jobs/$id" "$TOKEN" >/dev/null || true; done
  for id in "${ids[@]}"; do wait_until "job $id CANCELLED" 30 eval '[ "$(job_state '"$id"')" = CANCELLED ]' || die "job $id not cancelled"; done
  wait_until "Slurm has no jobs left" 30 slurm_empty || die "Slurm still has jobs"
  wait_until "all nodes idle" 30 all_idle || die "nodes not idle"
}

if [ "$SKIP_RECOVERY" != 1 ] && [ -n "$RECOVERY_VARIANTS" ]; then
  slurm_up 16 8
  start_server asbuilt
  for variant in $RECOVERY_VARIANTS; do
    case "$variant" in resume|slurmd) ;; *) die "unknown recovery variant $variant" ;; esac
    log "recovery [$variant]: $RECOVERY_REPEATS repetitions"
    for rep in $(seq 1 "$RECOVERY_REPEATS"); do recovery_rep "$variant" "$rep"; done
  done
  stop_server
  slurm_down
fi

# ---------- summary ----------
cp "$ROWS" "$OUT"
cp "$RROWS" "$ROUT"
T_END=$EPOCHREALTIME
python3 - "$ROWS" "$RROWS" "$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.0f", b - a}')" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rrows = list(csv.DictReader(open(sys.argv[2])))
med = lambda xs: statistics.median(xs) if xs else float("nan")
def f(v, d=0):
    return "-" if v != v else f"{v:,.{d}f}"
groups = {}
for r in rows: groups.setdefault((r["variant"], r["method"], int(r["clients"])), []).append(r)
if rows:
    print("\nPer run:")
    print(f'{"rep":>3} {"variant":<8} {"method":<30} {"cl":>2} {"N":>5} {"err":>3} {"acc/s":>8} {"e2e/s":>7} {"rec p50":>8} {"rec p99":>8} {"rec max":>8} {"ev p50":>7} {"ev p99":>7} {"batches":>7} {"maxb":>5} {"cycles":>6} {"cyc ms":>7} {"GETjobs":>7} {"sites":>6} {"load1":>11} check')
    for r in rows:
        print(f'{r["rep"]:>3} {r["variant"]:<8} {r["method"][:30]:<30} {r["clients"]:>2} {r["n"]:>5} {r["errors"]:>3} {float(r["accepted_per_s"]):>8.1f} '
              f'{r["e2e_per_s"] or "-":>7} {r["rec_p50_ms"] or "-":>8} {r["rec_p99_ms"] or "-":>8} {r["rec_max_ms"] or "-":>8} {r["ev_p50_ms"] or "-":>7} '
              f'{r["ev_p99_ms"] or "-":>7} {r["batches"] or "-":>7} {r["max_batch"] or "-":>5} {r["cycles"] or "-":>6} {r["cycle_mean_ms"] or "-":>7} '
              f'{r["get_jobs_ms"] or "-":>7} {r["sites_get_ms"] or "-":>6} {r["load1_start"] + "->" + r["load1_end"]:>11} {r["check"]}')
    print("\nThroughput (medians over runs; dispatch latency = Slurm id recorded in cnet's DB - submit_time;"
          " 'event' = the DB event's own time, when its dispatch batch had been submitted):")
    hdr = ["method", "clients", "runs", "N", "accepted/s", "end-to-end/s", "dispatch p50 ms", "p99 ms", "max ms", "event p50/p99 ms", "errors", "load1"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(hdr))) + "|")
    for (v, m, c), rs in groups.items():
        g = lambda k: med([float(r[k]) for r in rs if r[k] != ""])
        name = "cnet -> Slurm" if v == "asbuilt" else m
        paced = "paced" in m
        if paced: name += ", paced: " + m.split("paced: ")[1].rstrip(")")
        if v == "slurm": name = "Slurm " + m
        iscnet = v != "slurm"
        loads = sorted(float(x) for r in rs for x in (r["load1_start"], r["load1_end"]))
        cells = [name, str(c), str(len(rs)), f'{int(med([int(r["n"]) for r in rs])):,}', "(paced)" if paced else f(g("accepted_per_s"), 1),
                 "(paced)" if paced else f(g("e2e_per_s"), 1) if iscnet else "-", f(g("rec_p50_ms")) if iscnet else "-", f(g("rec_p99_ms")) if iscnet else "-",
                 f(g("rec_max_ms")) if iscnet else "-", (f(g("ev_p50_ms")) + " / " + f(g("ev_p99_ms"))) if iscnet else "-",
                 str(sum(int(r["errors"]) for r in rs)), f"{loads[0]:.1f}-{loads[-1]:.1f}"]
        print("| " + " | ".join(cells) + " |")
if rrows:
    print("\nNode recovery -> dispatch (t0 = node recovered: `scontrol ... state=resume` returned / slurmd restarted;"
          " t1 = sinfo shows it idle; t2 = the waiting job's Slurm id committed to cnet's DB):")
    print("| variant | reps | t2-t0 median ms | t2-t0 max ms | t2-t1 median ms | t2-t1 max ms | t1-t0 median ms | probe on (cnet/Slurm) | failure -> Slurm NOT_RESPONDING / DOWN / cnet unusable, median s |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    by = {}
    for r in rrows: by.setdefault(r["variant"], []).append(r)
    for v, rs in by.items():
        g = lambda k: [float(r[k]) for r in rs]
        d = lambda k: "-" if any(float(r[k]) < 0 for r in rs) else f"{med(g(k)):.1f}"
        det = f'{d("detect_nr_s")} / {d("detect_down_s")} / {d("detect_cnet_s")}'
        nodes = ",".join(sorted(set(r["placement_node"] + "/" + r["slurm_node"] for r in rs)))
        name = {"resume": "(i) scontrol down -> resume", "slurmd": "(ii) slurmd SIGKILL -> restarted"}.get(v, v)
        print(f'| {name} | {len(rs)} | {med(g("t2_minus_t0_ms")):,.0f} | {max(g("t2_minus_t0_ms")):,.0f} | {med(g("t2_minus_t1_ms")):,.0f} | '
              f'{max(g("t2_minus_t1_ms")):,.0f} | {med(g("t1_minus_t0_ms")):,.0f} | {nodes} | {det} |')
    print("\nPer repetition: variant rep | t2-t0 t2-t1 t1-t0 (ms) | event time - t0 (ms) | placement / Slurm node | pause s | detection: NR / DOWN / cnet s | load1")
    for r in rrows:
        print(f'  {r["variant"]:<7} {r["rep"]:>2} | {r["t2_minus_t0_ms"]:>6} {r["t2_minus_t1_ms"]:>6} {r["t1_minus_t0_ms"]:>6} | {r["t2ev_minus_t0_ms"]:>6} | '
              f'{r["placement_node"]} / {r["slurm_node"]} | {r["pause_s"]} | {r["detect_nr_s"]} / {r["detect_down_s"]} / {r["detect_cnet_s"]} | {r["load1"]}')
print(f"\nwall time: {sys.argv[3]} s")
PY
log "rows: $OUT, $ROUT"
if [ ${#FAILS[@]} -gt 0 ]; then
  echo "slurm_bench: ${#FAILS[@]} check(s) failed:" >&2
  printf '  %s\n' "${FAILS[@]}" >&2
  exit 1
fi
