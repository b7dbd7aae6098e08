#!/usr/bin/env python3
"""Summarises `cnet simulate --util-out U --jobs-out J` of a fractional-GPU workload: per run
(policy/scorer), the unallocated and fragmented fraction of all GPUs averaged over the samples in
[FROM_H, TO_H] hours (while pods still arrive), the average JCT and queueing time of all jobs,
and the queueing of fractional and of whole-GPU jobs apart (job kinds from the trace).

Usage: sharing_summary.py TRACE_CSV UTIL_CSV JOBS_CSV FROM_H TO_H
"""
import csv
import sys
from collections import defaultdict


def main():
    trace, util, jobs, lo, hi = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
    share = {}
    with open(trace) as f:
        for r in csv.DictReader(f):
            share[r["job_id"]] = float(r["accelerators_per_worker"]) < 1
    samples = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))  # run -> t -> total, idle, frag
    with open(util) as f:
        for r in csv.DictReader(f):
            t = float(r["time_s"])
            if lo * 3600 <= t <= hi * 3600:
                s = samples[r["policy"]][t]
                s[0] += float(r["total"])
                s[1] += float(r["idle"])
                s[2] += float(r["fragmented"])
    jct = defaultdict(list)
    queue = defaultdict(lambda: defaultdict(list))
    with open(jobs) as f:
        for r in csv.DictReader(f):
            jct[r["policy"]].append(float(r["jct_s"]))
            q = float(r["start_s"]) - float(r["submit_s"])
            queue[r["policy"]]["all"].append(q)
            queue[r["policy"]]["share" if share[r["job_id"]] else "whole"].append(q)
    mean = lambda v: sum(v) / len(v) if v else float("nan")
    print("| run | unallocated | fragmented | avg JCT (h) | avg queueing (min): all / shares / whole | jobs |")
    print("|---|---|---|---|---|---|")
    for run in sorted(jct):
        pts = samples[run].values()
        un = mean([s[1] / s[0] for s in pts])
        fr = mean([s[2] / s[0] for s in pts])
        qa, qs, qw = (mean(queue[run][k]) / 60 for k in ("all", "share", "whole"))
        print(f"| {run} | {un:.4f} | {fr:.4f} | {mean(jct[run]) / 3600:.3f} | {qa:.1f} / {qs:.1f} / {qw:.1f} | {len(jct[run])} |")


if __name__ == "__main__":
    main()
