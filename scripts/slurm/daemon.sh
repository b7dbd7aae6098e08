#!/usr/bin/env bash
# Crashes or restarts one daemon of a site started by start.sh, for fault tests and benchmarks:
#   daemon.sh kill  slurmctld|slurmrestd|slurmd-nodeN   SIGKILL by the PID in $BASE/pid (a crash)
#   daemon.sh start slurmctld|slurmrestd|slurmd-nodeN   starts it again as start.sh does
# slurmctld restarts from its StateSaveLocation (jobs, nodes); `start` returns when it answers
# (sinfo), slurmrestd when it answers HTTP, a slurmd when it has exec'd. Env: BASE (required).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
slurm_need_base
log() { echo "slurm/daemon: $*" >&2; }
usage() { echo "usage: daemon.sh kill|start slurmctld|slurmrestd|slurmd-nodeN" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1 name=$2
case "$name" in
  slurmctld|slurmrestd) prog=$name ;;
  slurmd-node[0-9]*) prog=slurmd; node=${name#slurmd-} ;;
  *) usage ;;
esac
pidf="$BASE/pid/$name.pid"

case "$action" in
  kill)
    pid=$(cat "$pidf" 2>/dev/null || true)
    slurm_pid_is "$pid" "$prog" || { log "$name is not running (pid '${pid}')"; exit 1; }
    kill -KILL "$pid"
    for _ in $(seq 1 100); do slurm_alive "$pid" || break; sleep 0.05; done
    slurm_alive "$pid" && { log "$name pid $pid survived SIGKILL"; exit 1; }
    rm -f "$pidf"
    log "killed $name (pid $pid)"
    ;;
  start)
    pid=$(cat "$pidf" 2>/dev/null || true)
    if slurm_pid_is "$pid" "$prog"; then log "$name already runs (pid $pid)"; exit 1; fi
    case "$name" in
      slurmctld)
        setsid /usr/sbin/slurmctld -D -f "$SLURM_CONF" </dev/null >>"$BASE/log/slurmctld.out" 2>&1 &
        echo $! > "$pidf"
        slurm_wait_exec "$(cat "$pidf")" slurmctld || { log "slurmctld did not start"; exit 1; }
        for _ in $(seq 1 200); do
          timeout 5 sinfo -h >/dev/null 2>&1 && break
          slurm_pid_is "$(cat "$pidf")" slurmctld || { log "slurmctld exited (see $BASE/log/slurmctld.log)"; exit 1; }
          sleep 0.1
        done
        timeout 5 sinfo -h >/dev/null 2>&1 || { log "slurmctld does not answer"; exit 1; }
        ;;
      slurmrestd)
        SLURM_JWT=daemon setsid /usr/sbin/slurmrestd -f "$SLURM_CONF" -a rest_auth/jwt -s openapi/v0.0.38 \
          -u slurmrest "127.0.0.1:$RESTPORT" </dev/null >>"$BASE/log/slurmrestd.out" 2>&1 &
        echo $! > "$pidf"
        slurm_wait_exec "$(cat "$pidf")" slurmrestd || { log "slurmrestd did not start"; exit 1; }
        code=000
        for _ in $(seq 1 200); do
          code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$RESTPORT/slurm/v0.0.38/ping" || true)
          [ "$code" = 401 ] && break
          sleep 0.05
        done
        [ "$code" = 401 ] || { log "slurmrestd does not answer (HTTP $code)"; exit 1; }
        ;;
      *)
        setsid /usr/sbin/slurmd -D -N "$node" -f "$SLURM_CONF" </dev/null >>"$BASE/log/slurmd-$node.out" 2>&1 &
        echo $! > "$pidf"
        slurm_wait_exec "$(cat "$pidf")" slurmd || { log "slurmd $node did not start"; exit 1; }
        ;;
    esac
    log "started $name (pid $(cat "$pidf"))"
    ;;
  *) usage ;;
esac
