#!/usr/bin/env bash
# Stops the site started by start.sh, by PID only: cancels its jobs, then SIGTERMs slurmrestd,
# the slurmd, slurmctld and munged from $BASE/pid (each checked against /proc/PID/comm first, so a
# reused PID is left alone), SIGKILLs what is still alive after 10 s, and finally ends job
# steps (slurmstepd) that still hold files under $BASE open. Exits 1 if anything survived.
# Env: BASE (required).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
slurm_need_base
log() { echo "slurm/stop: $*" >&2; }

prog_of() { local n; n=$(basename "$1" .pid); echo "${n%%-node*}"; }

# 1. Cancel every job, so that slurmstepd and job processes end (they outlive slurmd by design).
ctld=$(cat "$BASE/pid/slurmctld.pid" 2>/dev/null || true)
if slurm_pid_is "$ctld" slurmctld; then
  timeout 10 scancel --partition=debug >/dev/null 2>&1 || true
fi

# 2. SIGTERM in dependency order; munged last (the others need it to shut down cleanly).
order=("$BASE/pid/slurmrestd.pid" "$BASE"/pid/slurmd-node*.pid "$BASE/pid/slurmctld.pid" "$BASE/pid/munged.pid")
declare -a sent=()
for f in "${order[@]}"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f"); prog=$(prog_of "$f")
  if [ "$f" = "$BASE/pid/munged.pid" ]; then
    # wait for the Slurm daemons before taking munge away
    for p in "${sent[@]}"; do for _ in $(seq 1 100); do slurm_alive "$p" || break; sleep 0.1; done; done
  fi
  if slurm_pid_is "$pid" "$prog"; then
    kill -TERM "$pid" 2>/dev/null && { log "SIGTERM $prog pid $pid"; sent+=("$pid"); }
  fi
done
# 3. Wait up to 10 s each; then SIGKILL (slurmd ignores SIGTERM for a while when slurmctld is gone).
rc=0
for f in "${order[@]}"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f"); prog=$(prog_of "$f")
  for _ in $(seq 1 100); do slurm_pid_is "$pid" "$prog" || break; sleep 0.1; done
  if slurm_pid_is "$pid" "$prog"; then
    log "SIGKILL $prog pid $pid"; kill -KILL "$pid" 2>/dev/null; sleep 0.2
    slurm_pid_is "$pid" "$prog" && { log "$prog pid $pid survived SIGKILL"; rc=1; }
  fi
  rm -f "$f"
done

# 4. Leftovers of this site (e.g. slurmstepd when slurmctld was already dead and scancel could
#    not run): daemons found by open files or cwd under $BASE, plus every process below them (the
#    job's own processes), all SIGKILLed by PID.
self_chain=" $$ $PPID "
descendants() {  # PIDs below $1, from /proc/*/stat parent links
  local parent=$1 p st rest
  for st in /proc/[0-9]*/stat; do
    read -r rest < "$st" 2>/dev/null || continue
    rest=${rest##*) }            # drop "pid (comm) " (comm may hold spaces)
    set -- $rest
    [ "${2:-}" = "$parent" ] || continue
    p=${st#/proc/}; p=${p%/stat}
    echo "$p"; descendants "$p"
  done
}
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  case "$self_chain" in *" $pid "*) continue ;; esac
  comm=$(cat "$d/comm" 2>/dev/null) || continue
  case "$comm" in slurmstepd*|slurmd*|slurmctld*|slurmscriptd|slurmrestd|munged) ;; *) continue ;; esac
  if ls -l "$d/fd/" "$d/cwd" 2>/dev/null | grep -qF -- "$BASE/"; then
    kids=$(descendants "$pid" | tr '\n' ' ')
    log "leftover $comm pid $pid uses $BASE: SIGKILL it${kids:+ and its processes $kids}"
    kill -KILL "$pid" $kids 2>/dev/null || true
    sleep 0.1
    for p in $pid $kids; do slurm_alive "$p" && { log "pid $p survived"; rc=1; }; done
  fi
done
[ $rc -eq 0 ] && log "stopped (nothing of $BASE left running)"
exit $rc
