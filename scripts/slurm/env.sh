# Shared settings for scripts/slurm/*.sh (sourced, not run).
#
# BASE      the site's directory (config, state, logs, pid files). setup.sh makes a fresh
#           mktemp dir when BASE is unset and prints `export BASE=...`; the other scripts need it.
# Ports are chosen at setup time and saved in $BASE/etc/ports.env, so start/stop/token use the
# same ones: SLURMCTLD_PORT (6817), SLURMD_PORT_BASE (17000: node i listens on base+i),
# RESTPORT (6820, slurmrestd on 127.0.0.1). NNODES (4) nodes of 16 CPUs, 64 GiB, 8 fake H100.
# setup.sh also takes NCPUS (16; RealMemory = NCPUS x 4 GiB) and NGPUS (8; 0 = CPU-only nodes, no
# GRES), written into slurm.conf/gres.conf only (not ports.env): e.g. NCPUS=512 NGPUS=0 for a site
# that holds thousands of 1-CPU jobs at once (bench/slurm_bench.sh).

slurm_need_base() {
  if [ -z "${BASE:-}" ]; then
    echo "$(basename "$0"): BASE is not set (run: eval \"\$(scripts/slurm/setup.sh)\")" >&2
    exit 2
  fi
  if [ ! -f "$BASE/etc/slurm.conf" ] || [ ! -f "$BASE/etc/ports.env" ]; then
    echo "$(basename "$0"): $BASE has no Slurm site (run scripts/slurm/setup.sh first)" >&2
    exit 2
  fi
  # shellcheck disable=SC1091
  . "$BASE/etc/ports.env"
  export SLURM_CONF="$BASE/etc/slurm.conf"
}

# Is PID alive and running program NAME (checks /proc/PID/comm, so a reused PID is not killed)?
slurm_pid_is() {
  local pid=$1 name=$2 comm
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  slurm_alive "$pid" || return 1
  [ "$comm" = "$name" ] || [ "$comm" = "$name-wlm" ]
}

slurm_port_busy() {
  # true when something listens on TCP port $1 (any address)
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# A just-forked child shows the shell's name until it has exec'd: wait (<= 5 s) until PID runs
# NAME. Fails at once if PID is gone.
slurm_wait_exec() {
  local pid=$1 name=$2 i
  for i in $(seq 1 100); do
    slurm_pid_is "$pid" "$name" && return 0
    [ -d "/proc/$pid" ] || return 1
    sleep 0.05
  done
  return 1
}

# PID exists and is not a zombie.
slurm_alive() {
  local st
  read -r st < "/proc/$1/stat" 2>/dev/null || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
