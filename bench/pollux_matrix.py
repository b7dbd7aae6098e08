#!/usr/bin/env python3
"""Builds data/pollux/ (a throughput matrix in cnet's format) from the Pollux artefact's measured
placements (github.com/petuum/adaptdl, branch osdi21-artifact, simulator/traces/<job>/placements.csv:
placement,local_bsz,step_time,sync_time, measured on AWS g4dn.12xlarge nodes of 4 NVIDIA T4 each).

Usage: bench/pollux_matrix.py TRACES_DIR OUT_DIR
  TRACES_DIR holds <job>/placements.csv (or <job>.csv); OUT_DIR gets throughputs.csv and
  throughputs_unconsolidated.csv.

Conversion (stated in data/pollux/README.md):
- a placement string lists GPUs per node ("13": one node with 1 GPU, one with 3);
- each job type is taken at one per-GPU batch size: the lower median of the sizes measured in
  every placement; its name says which ("cifar10 (local batch 129)");
- steps/s = workers / step_time (single-worker-equivalent steps, as in Gavel's matrix);
- one node (throughputs.csv): the placement with one digit; spread (throughputs_unconsolidated.csv):
  the median over every placement of that many GPUs on two or more nodes.
"""
import collections
import csv
import os
import statistics
import sys

JOBS = ["bert", "cifar10", "deepspeech2", "imagenet", "ncf", "yolov3"]


def read(traces, job):
    for p in (os.path.join(traces, job, "placements.csv"), os.path.join(traces, job + ".csv")):
        if os.path.exists(p):
            with open(p, newline="") as f:
                return list(csv.DictReader(f))
    sys.exit(f"{traces}: no placements for {job}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    traces, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    one, spread = [], []
    for job in JOBS:
        rows = read(traces, job)
        by_bsz = collections.defaultdict(set)
        for r in rows:
            by_bsz[int(r["local_bsz"])].add(r["placement"])
        placements = {r["placement"] for r in rows}
        full = sorted(b for b, p in by_bsz.items() if p == placements)
        bsz = full[(len(full) - 1) // 2]
        name = f"{job} (local batch {bsz})"
        times = collections.defaultdict(list)  # (workers, spread) -> step times
        for r in rows:
            if int(r["local_bsz"]) != bsz:
                continue
            p = r["placement"]
            workers = sum(int(c) for c in p)
            times[(workers, len(p) > 1)].append(float(r["step_time"]))
        for (w, s), ts in sorted(times.items()):
            rate = w / statistics.median(ts)
            (spread if s else one).append((name, "T4", w, rate))
    for fname, rows in (("throughputs.csv", one), ("throughputs_unconsolidated.csv", spread)):
        with open(os.path.join(out, fname), "w", newline="") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["job_type", "accelerator", "workers", "steps_per_second"])
            for name, acc, w, rate in rows:
                wr.writerow([name, acc, w, f"{rate:.6g}"])


if __name__ == "__main__":
    main()
