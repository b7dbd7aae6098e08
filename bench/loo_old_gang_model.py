#!/usr/bin/env python3
"""Leave-one-out of the *previous* gang model (before issue 10 item 3), for docs/BENCHMARKS.md.

Re-implements only the old prediction of an unmeasured gang from the reference type's
communication ratio (docs/ARCHITECTURE.md, performance model item 7) so that its error can be set
beside `cnet perf-loo` (the current model) on the same points. Single workers are unchanged
between the two models and are not evaluated here.
Usage: bench/loo_old_gang_model.py data/accelerators.yaml THROUGHPUTS.csv SPREAD.csv
"""
import csv, math, sys
from collections import defaultdict

import yaml


def load(path, spread, m):
    for r in csv.DictReader(open(path)):
        m[(r['job_type'], r['accelerator'], int(r['workers']), spread)] = float(r['steps_per_second'])


def main():
    cat = {a['name']: a for a in yaml.safe_load(open(sys.argv[1]))['accelerators']}
    m = {}
    load(sys.argv[2], False, m)
    load(sys.argv[3], True, m)

    def predict(m, t, a, n, spread):
        singles = [x for (tt, x, w, sp), v in m.items() if tt == t and w == 1 and not sp and v > 0]
        ref = max(singles, key=lambda x: cat[x]['peak_tflops'])
        r, s = cat[ref], cat[a]
        t1, tr = m[(t, a, 1, False)], m[(t, ref, 1, False)]
        f = 0.1
        for sp in ([spread, False] if spread else [False]):
            ws = sorted(w for (tt, x, w, s2), v in m.items() if tt == t and x == ref and s2 == sp and v > 0 and w > 1)
            if not ws:
                continue
            best = min(ws, key=lambda w: abs(math.log2(w) - math.log2(n)))
            eff = min(max(m[(t, ref, best, sp)] / (best * tr), 0.05), 1.0)  # the reference's T1
            f = (1 - eff) / eff * ((n - 1) / n) / ((best - 1) / best)
            if spread and not sp and r['link_bw_gbs'] > 0:
                f *= r['link_bw_gbs'] / r['network_bw_gbs']
            break
        bw = lambda c: c['network_bw_gbs'] if spread else (c['link_bw_gbs'] or c['network_bw_gbs'])
        return n * t1 / (1 + f * (bw(r) / bw(s)) * (t1 / tr))

    groups = defaultdict(list)
    for (t, a, n, sp), v in sorted(m.items()):
        if n == 1 or v <= 0 or m.get((t, a, 1, False), 0) <= 0:
            continue
        rest = dict(m)
        del rest[(t, a, n, sp)]
        ratio = predict(rest, t, a, n, sp) / v
        cls = 'gang, spread' if sp else 'gang, one node'
        groups[('all', cls)].append(ratio)
        groups[(a, cls)].append(ratio)

    def q(v, p):
        v = sorted(v)
        return v[max(1, math.ceil(p * len(v))) - 1]

    print('accelerator  gangs            points  median pred/meas  median |err|  p90 |err|')
    for (a, cls), v in sorted(groups.items(), key=lambda kv: (kv[0][0] != 'all', kv[0])):
        err = [abs(x - 1) for x in v]
        print(f'{a:12s} {cls:16s} {len(v):6d}  {q(v, .5):16.3f}  {100 * q(err, .5):11.1f}%  {100 * q(err, .9):8.1f}%')


main()
