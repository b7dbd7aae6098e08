#!/usr/bin/env bash
# Grows or shrinks a site started by start.sh by one node, the way Slurm 22.05 needs it done
# (slurm.conf and gres.conf edited, slurmctld restarted with its state saved, slurmd reconfigured):
#   nodes.sh add      adds node<N+1> (same shape as the others) and starts its slurmd
#   nodes.sh remove   stops the last node's slurmd and removes it (it must have no jobs)
# Env: BASE (required).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
slurm_need_base
log() { echo "slurm/nodes: $*" >&2; }
[ $# -eq 1 ] && { [ "$1" = add ] || [ "$1" = remove ]; } || { echo "usage: nodes.sh add|remove" >&2; exit 2; }

n=$NNODES
if [ "$1" = add ]; then m=$((n + 1)); else m=$((n - 1)); fi
[ "$m" -ge 1 ] || { log "a site keeps at least one node"; exit 2; }
conf="$BASE/etc/slurm.conf" gres="$BASE/etc/gres.conf"
grep -q "^NodeName=node\[1-$n\] .*Port=\[$((SLURMD_PORT_BASE + 1))-$((SLURMD_PORT_BASE + n))\]" "$conf" ||
  { log "$conf has no NodeName=node[1-$n] line with ports $((SLURMD_PORT_BASE + 1))-$((SLURMD_PORT_BASE + n))"; exit 1; }

restart_ctld() {
  local pid
  pid=$(cat "$BASE/pid/slurmctld.pid")
  slurm_pid_is "$pid" slurmctld || { log "slurmctld is not running"; exit 1; }
  kill -TERM "$pid"  # a clean stop saves its state
  for _ in $(seq 1 200); do slurm_alive "$pid" || break; sleep 0.05; done
  slurm_alive "$pid" && { log "slurmctld did not stop"; exit 1; }
  rm -f "$BASE/pid/slurmctld.pid"
  "$here/daemon.sh" start slurmctld
}

if [ "$1" = remove ]; then
  pid=$(cat "$BASE/pid/slurmd-node$n.pid" 2>/dev/null || true)
  if slurm_pid_is "$pid" slurmd; then
    kill -TERM "$pid"
    for _ in $(seq 1 200); do slurm_alive "$pid" || break; sleep 0.05; done
    slurm_alive "$pid" && kill -KILL "$pid"
  fi
  rm -f "$BASE/pid/slurmd-node$n.pid"
fi
sed -i "s/^NodeName=node\[1-$n\] \(.*\)Port=\[\([0-9]*\)-$((SLURMD_PORT_BASE + n))\]/NodeName=node[1-$m] \1Port=[\2-$((SLURMD_PORT_BASE + m))]/" "$conf"
[ -f "$gres" ] && sed -i "s/^NodeName=node\[1-$n\] /NodeName=node[1-$m] /" "$gres"
sed -i "s/^NNODES=.*/NNODES=$m/" "$BASE/etc/ports.env"
if [ "$1" = add ]; then mkdir -p "$BASE/spool/node$m"; fi
restart_ctld
if [ "$1" = add ]; then "$here/daemon.sh" start "slurmd-node$m"; fi
timeout 10 scontrol reconfigure >/dev/null 2>&1 || log "scontrol reconfigure failed (the slurmd keep their old slurm.conf)"
if [ "$1" = add ]; then
  for _ in $(seq 1 100); do
    timeout 5 sinfo -h -n "node$m" -t idle -o %N 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  timeout 5 sinfo -h -n "node$m" -t idle -o %N 2>/dev/null | grep -q . || { log "node$m did not become idle"; exit 1; }
fi
log "site has $m nodes"
