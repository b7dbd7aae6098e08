#!/usr/bin/env bash
# Prints a JWT for slurmrestd (X-SLURM-USER-TOKEN), minted by slurmctld: just the token.
#   JWT=$(BASE=... scripts/slurm/token.sh [USER] [LIFESPAN_S])     (defaults: root, 3600)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
slurm_need_base
user=${1:-root}
lifespan=${2:-3600}
out=$(scontrol token "username=$user" "lifespan=$lifespan")
tok=${out#SLURM_JWT=}
if [ "$tok" = "$out" ] || [ -z "$tok" ]; then
  echo "slurm/token: unexpected scontrol output: $out" >&2; exit 1
fi
printf '%s\n' "$tok"
