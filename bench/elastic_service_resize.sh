#!/usr/bin/env bash
# One elastic resize through the real `cnet serve` on the local site (docs/elastic.md): job a
# (workers 2, elastic 1..4, CPU workers) runs alone as 4; job b (2 workers) arrives 3 s later; at
# the next round a is stopped (SIGTERM: each worker prints its checkpoint line) and restarted as 2.
# Prints both jobs' events with their times, and a's two attempts' output.
# Usage: bench/elastic_service_resize.sh   (CNET=path/to/cnet, ROUND_S=10, PORT=18377)
set -u
CNET=${CNET:-$(cd "$(dirname "$0")/.." && pwd)/build/cnet}
D=$(mktemp -d /tmp/cnet-elastic-demo.XXXXXX); chmod 0755 $D; : > $D/serve.out
PORT=${PORT:-18377}
printf 'job_type,accelerator,workers,steps_per_second\ntrain,x86-cpu,1,10\ntrain,x86-cpu,2,19\ntrain,x86-cpu,4,36\n' > $D/m.csv
cat > $D/cnet.yaml <<YAML
addr: 127.0.0.1:$PORT
data: $D/data
policy: elastic-hetero
round_s: ${ROUND_S:-10}
restore_s: 0
cycle_interval_s: 0.1
throughputs: $D/m.csv
sites:
  - {name: local, type: local, cpus: 4}
YAML
$CNET serve --config $D/cnet.yaml --init > $D/serve.out 2>&1 &
SP=$!
for i in $(seq 300); do grep -q "admin token" $D/serve.out && grep -q "listening" $D/serve.out && break; sleep 0.1; done
ADMIN=$(grep -o 'cnet_[A-Za-z0-9_-]*' $D/serve.out | head -1)
export CNET_ADDR=127.0.0.1:$PORT
CNET_TOKEN=$ADMIN $CNET admin tenant demo >/dev/null
TOKEN=$(CNET_TOKEN=$ADMIN $CNET admin token create --tenant demo | grep -o 'cnet_[A-Za-z0-9_-]*' | head -1)
export CNET_TOKEN=$TOKEN
cat > $D/a.yaml <<YAML
name: a
command: "trap 'echo checkpoint at world \$CNET_WORLD_SIZE; exit 143' TERM; echo world \$CNET_WORLD_SIZE; sleep 600 & wait"
workers: 2
min_workers: 1
max_workers: 4
cpus_per_worker: 1
accelerators_per_worker: 0
job_type: train
YAML
cat > $D/b.yaml <<YAML
name: b
command: sleep 600
workers: 2
cpus_per_worker: 1
accelerators_per_worker: 0
job_type: train
YAML
A=$($CNET submit $D/a.yaml | grep -o 'job [0-9]*' | cut -d' ' -f2)
sleep 3
B=$($CNET submit $D/b.yaml | grep -o 'job [0-9]*' | cut -d' ' -f2)
for i in $(seq 300); do
  s=$($CNET show --json $A | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"], j.get("attempts"))')
  [ "$s" = "RUNNING 2" ] && break; sleep 0.1
done
$CNET show --json $A | python3 -c '
import json,sys
j=json.load(sys.stdin)
ev=j.get("events",[])
for e in ev: print("%.3f %s -> %s: %s" % (e["time"], e["from"], e["to"], e["reason"][:110]))
'
$CNET show --json $B | python3 -c '
import json,sys
j=json.load(sys.stdin)
for e in j.get("events",[]): print("B %.3f %s -> %s: %s" % (e["time"], e["from"], e["to"], e["reason"][:80]))
'
echo "--- attempt 1 stdout"; $CNET logs --no-rank-prefix --attempt 1 $A
echo "--- attempt 2 stdout"; $CNET logs --no-rank-prefix $A
$CNET cancel $A >/dev/null; $CNET cancel $B >/dev/null
sleep 1; kill $SP; wait $SP 2>/dev/null
rm -rf $D
