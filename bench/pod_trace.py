#!/usr/bin/env python3
"""Writes a `cnet simulate` CSV trace of pods that ask for a share of one GPU or for whole GPUs on
one node, arriving as a Poisson process at a rate that offers LOAD of the cluster's GPUs.

The mix (GPUs: relative count) is our assumption, the `mixed` mix of BENCHMARKS section 9 without
CPU cores: 0.25:15, 0.5:15, 1:40, 2:15, 4:8, 8:7 (mean 1.6925 GPUs per pod). A pod's duration D
is log-uniform in [10 min, 4 h] (mean 4,342 s): its run time at its share on a V100 (its
total_steps = D x share x its one-worker V100 rate, or D x its k-worker V100 rate for k whole
GPUs, from the throughput matrix). The offered load is rate x mean GPUs x mean D / GPUs; on
slower types (P100, T4) jobs run longer, so the load there is higher than offered.

Usage: pod_trace.py THROUGHPUTS_CSV GPUS LOAD HOURS SEED > trace.csv
"""
import csv
import math
import random
import sys

MIX = [(0.25, 15), (0.5, 15), (1, 40), (2, 15), (4, 8), (8, 7)]
D_LO, D_HI = 600.0, 14400.0


def main():
    matrix, gpus, load, hours, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    v100 = {}  # (job type, workers) -> steps/s on V100, one node
    with open(matrix) as f:
        for row in csv.DictReader(f):
            if row["accelerator"] == "V100":
                v100[(row["job_type"], int(row["workers"]))] = float(row["steps_per_second"])
    rng = random.Random(seed)
    wsum = sum(w for _, w in MIX)
    mean_gpus = sum(d * w for d, w in MIX) / wsum
    mean_d = (D_HI - D_LO) / math.log(D_HI / D_LO)
    rate = load * gpus / (mean_gpus * mean_d)  # pods per second
    print(f"# offered load {load} of {gpus} GPUs: {rate * 3600:.1f} pods/h over {hours} h, seed {seed}", file=sys.stderr)
    print("job_id,submit_time_s,job_type,workers,total_steps,accelerators_per_worker")
    t, i = 0.0, 0
    while True:
        t += rng.expovariate(rate)
        if t > hours * 3600:
            break
        demand = rng.choices([d for d, _ in MIX], weights=[w for _, w in MIX])[0]
        k = max(1, int(demand))
        types = sorted(jt for (jt, w) in v100 if w == k)
        jt = rng.choice(types)
        d = math.exp(rng.uniform(math.log(D_LO), math.log(D_HI)))
        steps = d * (demand * v100[(jt, 1)] if demand < 1 else v100[(jt, k)])
        per = f"{demand:g}" if demand < 1 else str(k)
        print(f'{i},{t:.3f},"{jt}",1,{steps:.3f},{per}')
        i += 1


if __name__ == "__main__":
    main()
