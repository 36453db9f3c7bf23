"""Benchmark of attrition.funnel.FunnelFitter on 1,000,000 synthetic cases (not a unit test).

Run: .venv/bin/python benchmarks/bench_funnel.py [--n 1000000] [--repeat 3]

Prints wall times (best of ``--repeat`` runs) of:
  FunnelFitter().fit(cases, by="force"): all 43 forces, 5 stage transitions, every exit reason, Wilson /
    Aalen-Johansen CIs for the open cells, national totals, empirical-Bayes pooling per stage and the
    pooled end-to-end posterior (4,000 Monte Carlo draws per force) — the full fitted object;
  FunnelFitter().fit(cases): national funnel only;
  a plain pandas groupby of the same counts (force x stage reached x status x exit reason), the floor
    any funnel tool must pay;
and the ratio fit / groupby. Target: fit by force under 2 s on 2 cores.
Simulating the data (~30 s for 1M cases) is not timed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from attrition.funnel import FunnelFitter
from attrition.synthetic import simulate


def best_of(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cases = simulate(n_cases=args.n, random_state=1).cases
    print(f"simulated {len(cases):,} cases in {time.perf_counter() - t0:.1f} s "
          f"({int((cases['status'] == 'open').sum()):,} open)")

    def groupby():
        return cases.groupby(["force", "stage_reached", "status", "exit_reason"], observed=True,
                             dropna=False).size()

    t_gb, _ = best_of(groupby, args.repeat)
    t_nat, _ = best_of(lambda: FunnelFitter().fit(cases), args.repeat)
    t_force, f = best_of(lambda: FunnelFitter().fit(cases, by="force"), args.repeat)

    print(f"pandas groupby of the counts         : {t_gb:8.3f} s")
    print(f"FunnelFitter.fit (national)          : {t_nat:8.3f} s   ({t_nat / t_gb:5.1f} x groupby)")
    print(f"FunnelFitter.fit(by='force') + pool  : {t_force:8.3f} s   ({t_force / t_gb:5.1f} x groupby)"
          f"   target < 2 s: {'OK' if t_force < 2 else 'MISSED'}")
    methods = f.method_["method"].value_counts().to_dict()
    print(f"cells by method: {methods}")
    e = f.national_end_to_end_
    print(f"national end-to-end: {e['estimate']:.4f} ({e['lower 95%']:.4f}-{e['upper 95%']:.4f}); "
          f"forces: {len(f.groups_)}; pooled end-to-end range "
          f"{np.min(f.pooled_end_to_end_['pooled']):.4f}-{np.max(f.pooled_end_to_end_['pooled']):.4f}")


if __name__ == "__main__":
    main()
