#!/usr/bin/env bash
# Starts the site made by setup.sh: munged, slurmctld, NNODES slurmd, slurmrestd (JWT, TCP
# 127.0.0.1:$RESTPORT). Each daemon runs in its own session (setsid), so a timeout or Ctrl-C around
# the caller does not take it down; its PID goes to $BASE/pid/NAME.pid for stop.sh. Returns when
# all nodes are idle and slurmrestd answers. On failure it stops what it started and exits 1.
# Env: BASE (required), START_TIMEOUT_S (60).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
slurm_need_base
log() { echo "slurm/start: $*" >&2; }
fail() {
  log "$*"
  for f in "$BASE"/log/slurmctld.log "$BASE"/log/slurmrestd.out "$BASE"/log/slurmd-node1.log; do
    [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 8 "$f" >&2; }
  done
  "$here/stop.sh" >&2 || true
  exit 1
}
timeout_s=${START_TIMEOUT_S:-60}

if compgen -G "$BASE/pid/*.pid" >/dev/null; then
  log "$BASE/pid has pid files: already started? (stop.sh first)"; exit 2
fi
for p in "$SLURMCTLD_PORT" "$RESTPORT" $(seq $((SLURMD_PORT_BASE + 1)) $((SLURMD_PORT_BASE + NNODES))); do
  if slurm_port_busy "$p"; then log "TCP port $p is in use; pick other ports at setup"; exit 2; fi
done

t0=$(date +%s.%N)
# munged forks into the background itself; its pid file is the only handle on it.
runuser -u munge -- /usr/sbin/munged --socket="$BASE/munge/munge.socket" \
  --key-file="$BASE/munge/munge.key" --pid-file="$BASE/munge/munged.pid" \
  --log-file="$BASE/munge/munged.log" --seed-file="$BASE/munge/munged.seed" \
  || fail "munged did not start (see $BASE/munge/munged.log)"
for _ in $(seq 1 50); do [ -s "$BASE/munge/munged.pid" ] && break; sleep 0.05; done
cp "$BASE/munge/munged.pid" "$BASE/pid/munged.pid"
slurm_pid_is "$(cat "$BASE/pid/munged.pid")" munged || fail "munged is not running"

# In a script (no job control) a background child is not a group leader, so setsid execs in
# place and $! is the daemon's own PID (checked with slurm_pid_is below).
setsid /usr/sbin/slurmctld -D -f "$SLURM_CONF" </dev/null >"$BASE/log/slurmctld.out" 2>&1 &
echo $! > "$BASE/pid/slurmctld.pid"
for i in $(seq 1 "$NNODES"); do
  setsid /usr/sbin/slurmd -D -N "node$i" -f "$SLURM_CONF" </dev/null >"$BASE/log/slurmd-node$i.out" 2>&1 &
  echo $! > "$BASE/pid/slurmd-node$i.pid"
done
slurm_wait_exec "$(cat "$BASE/pid/slurmctld.pid")" slurmctld || fail "slurmctld did not start"
for i in $(seq 1 "$NNODES"); do
  slurm_wait_exec "$(cat "$BASE/pid/slurmd-node$i.pid")" slurmd || fail "slurmd node$i did not start"
done

deadline=$(( $(date +%s) + timeout_s ))
idle=0
while :; do
  slurm_pid_is "$(cat "$BASE/pid/slurmctld.pid")" slurmctld || fail "slurmctld exited"
  idle=$(timeout 5 sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l || true)
  [ "$idle" -ge "$NNODES" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "only $idle/$NNODES nodes idle after ${timeout_s}s"
  sleep 0.1
done

# slurmrestd: refuses root; binds as root, then drops to slurmrest (-u). Only openapi/v0.0.38:
# the dbv0.0.38 plugin is fatal without slurmdbd. SLURM_JWT=daemon: it authenticates to
# slurmctld with each request's JWT.
SLURM_JWT=daemon setsid /usr/sbin/slurmrestd -f "$SLURM_CONF" -a rest_auth/jwt -s openapi/v0.0.38 \
  -u slurmrest "127.0.0.1:$RESTPORT" </dev/null >"$BASE/log/slurmrestd.out" 2>&1 &
echo $! > "$BASE/pid/slurmrestd.pid"
slurm_wait_exec "$(cat "$BASE/pid/slurmrestd.pid")" slurmrestd || fail "slurmrestd did not start"
code=000
while :; do
  slurm_pid_is "$(cat "$BASE/pid/slurmrestd.pid")" slurmrestd || fail "slurmrestd exited"
  # Without a token a live slurmrestd answers 401.
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$RESTPORT/slurm/v0.0.38/ping" || true)
  [ "$code" = 401 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "slurmrestd did not answer (last HTTP code $code)"
  sleep 0.05
done
for f in "$BASE"/pid/*.pid; do
  n=$(basename "$f" .pid); prog=${n%%-node*}
  slurm_pid_is "$(cat "$f")" "$prog" || fail "$n (pid $(cat "$f")) is not $prog"
done
t1=$(date +%s.%N)
log "ready: $idle/$NNODES nodes idle, REST on 127.0.0.1:$RESTPORT, in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s"
