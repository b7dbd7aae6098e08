#!/usr/bin/env bash
# Cost of the start-up integrity check (store::OpenOptions::integrity_check_s, PRAGMA quick_check):
# a database made by `cnet serve --init` is filled with N pending jobs (a 600-byte spec each, with
# their submit events) through the sqlite3 CLI, then PRAGMA quick_check is timed on it, cold file
# cache aside (the file was just written).
#   bench/integrity_check_bench.sh                # N in 13136 100000
#   SIZES="1000 1000000" bench/integrity_check_bench.sh
# Needs: build/cnet, sqlite3 (CLI). Prints: jobs, file MiB, quick_check seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CNET=${CNET:-$ROOT/build/cnet}
SIZES=${SIZES:-"13136 100000"}
command -v sqlite3 >/dev/null || { echo "integrity_check_bench: needs the sqlite3 CLI" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PORT=$((20000 + RANDOM % 20000))
printf 'addr: 127.0.0.1:%d\ndata: %s/data\nsites:\n  - {name: local, type: local, cpus: 1}\n' "$PORT" "$WORK" > "$WORK/cnet.yaml"
"$CNET" serve --config "$WORK/cnet.yaml" --init > "$WORK/out" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
kill "$PID"; wait "$PID" || true
cp "$WORK/data/cnet.db" "$WORK/empty.db"
printf '%8s %9s %14s\n' jobs file_MiB quick_check_s
for n in $SIZES; do
  db=$WORK/db-$n.db
  cp "$WORK/empty.db" "$db"
  sqlite3 "$db" "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
    INSERT INTO jobs (tenant, name, spec_json, state, submit_time)
      SELECT 't', 'job-' || i, '{\"name\":\"job-' || i || '\",\"pad\":\"' || printf('%.600c', 'x') || '\"}', 'PENDING', i FROM k;
    INSERT INTO events (job_id, time, from_state, to_state, reason) SELECT id, submit_time, '', 'PENDING', 'submitted' FROM jobs;"
  mib=$(( $(stat -c %s "$db") / 1048576 ))
  t0=$(date +%s.%N)
  out=$(sqlite3 "$db" "PRAGMA quick_check;")
  t1=$(date +%s.%N)
  [ "$out" = ok ] || { echo "unexpected quick_check result: $out" >&2; exit 1; }
  printf '%8d %9d %14.3f\n' "$n" "$mib" "$(echo "$t1 - $t0" | bc)"
done
