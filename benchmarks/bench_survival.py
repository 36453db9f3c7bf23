"""Benchmark of attrition.survival on 1,000,000 journeys with daily ties (not a unit test).

Run: .venv/bin/python benchmarks/bench_survival.py [--quick] [--n 1000000]

Prints wall times (best of a few runs for the fast calls, one run for lifelines) of:
  ours: all-cause Aalen-Johansen CIF (5 causes) with IJ variance;
  lifelines AalenJohansenFitter for ONE cause with variance (--quick: on 100k rows, scaled x10);
  statsmodels CumIncidenceRight (all causes);
  numpy floors: one argsort + bincount, and bincount over integer days without sort;
  MultiStateFitter with Greenwood-type variance on 1M 6-state journeys;
and peak memory (tracemalloc for our code; ru_maxrss for the process).
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from attrition.survival import MultiStateFitter, cumulative_incidence

TRANSITIONS = [
    ("reported", "suspect_identified"), ("reported", "no_suspect"),
    ("suspect_identified", "charged"), ("suspect_identified", "no_further_action"),
    ("charged", "convicted"), ("charged", "not_convicted"),
]


def competing_risks_data(n: int, seed: int = 1):
    """~1,000 distinct integer days, 5 causes + censoring."""
    rng = np.random.default_rng(seed)
    days = np.minimum(rng.geometric(1 / 150, n), 1000).astype(float)
    events = rng.choice(6, n, p=[0.2, 0.3, 0.2, 0.15, 0.1, 0.05])
    return days, events


def journeys(n: int, seed: int = 2) -> pd.DataFrame:
    """n 6-state journeys (reported -> suspect_identified -> charged -> convicted, exits from
    each), daily times, administrative censoring; one row per sojourn (vectorised)."""
    rng = np.random.default_rng(seed)
    cens = rng.integers(30, 1000, n)
    ids = np.arange(n)
    chain = [("reported", "suspect_identified", "no_suspect", 0.6, 20),
             ("suspect_identified", "charged", "no_further_action", 0.5, 40),
             ("charged", "convicted", "not_convicted", 0.7, 90)]
    parts = []
    alive = np.ones(n, bool)
    t = np.zeros(n)
    for state, onward, exit_, p_on, mean in chain:
        i = np.flatnonzero(alive)
        gap = 1 + np.floor(rng.exponential(mean, i.shape[0]))
        stop = t[i] + gap
        censored = stop > cens[i]
        stop = np.where(censored, cens[i], stop)
        move_on = rng.random(i.shape[0]) < p_on
        to = np.where(censored, None, np.where(move_on, onward, exit_))
        parts.append(pd.DataFrame({"case_id": ids[i], "start": t[i], "stop": stop, "from_state": state,
                                   "to_state": to}))
        alive[:] = False
        nxt = i[~censored & move_on & (stop < cens[i])]
        alive[nxt] = True
        t[i] = stop
    df = pd.concat(parts, ignore_index=True)
    for c in ("from_state", "to_state"):
        df[c] = df[c].astype("category")
    return df


def timed(f, *a, **k):
    t0 = time.perf_counter()
    out = f(*a, **k)
    return time.perf_counter() - t0, out


def best(reps, f, *a, **k):
    return min(timed(f, *a, **k)[0] for _ in range(reps))


def best_cpu(reps, f, *a, **k):
    """Best CPU time (time.process_time) of reps runs: robust when the machine is shared."""
    out = []
    for _ in range(reps):
        t0 = time.process_time()
        f(*a, **k)
        out.append(time.process_time() - t0)
    return min(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="run lifelines on n/10 rows and scale x10")
    args = ap.parse_args(argv)
    n = args.n
    days, events = competing_risks_data(n)
    print(f"competing risks: n={n:,}, {np.unique(days).size} distinct days, 5 causes")

    cumulative_incidence(days[:1000], events[:1000])  # warm-up (imports)
    tracemalloc.start()
    cumulative_incidence(days, events)
    _, peak_cif = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # fast calls: best of `reps` (the machine may be shared); slow ones run once
    reps = 5
    t_ours = best(reps, cumulative_incidence, days, events)
    print(f"  ours, all 5 causes + IJ variance:        {t_ours * 1e3:9.1f} ms  (peak traced {peak_cif / 2**20:.0f} MiB)")

    def floor_sort():
        o = np.argsort(days)
        return np.bincount(events[o], minlength=6)

    def floor_bincount():
        return np.bincount(days.astype(np.int64) * 6 + events, minlength=1001 * 6)

    t_sort = best(reps, floor_sort)
    t_floor = best(reps, floor_bincount)
    print(f"  numpy floor, one argsort + bincount:     {t_sort * 1e3:9.1f} ms")
    print(f"  numpy floor, bincount over integer days: {t_floor * 1e3:9.1f} ms")

    try:
        from statsmodels.duration.survfunc import CumIncidenceRight
        t_sm = best(3, CumIncidenceRight, days, events)
        print(f"  statsmodels CumIncidenceRight:           {t_sm * 1e3:9.1f} ms")
    except Exception as err:  # pragma: no cover - depends on the environment
        t_sm = np.nan
        print(f"  statsmodels CumIncidenceRight failed: {err}")

    try:
        from lifelines import AalenJohansenFitter
        m = n // 10 if args.quick else n
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ll, _ = timed(AalenJohansenFitter(calculate_variance=True).fit, days[:m], events[:m], event_of_interest=1)
        scale = n / m
        label = f" (on {m:,} rows, x{scale:.0f})" if args.quick else ""
        t_ll *= scale
        print(f"  lifelines AalenJohansenFitter, 1 cause:  {t_ll * 1e3:9.1f} ms{label}")
    except Exception as err:  # pragma: no cover
        t_ll = np.nan
        print(f"  lifelines failed: {err}")

    c_ours, c_floor = best_cpu(reps, cumulative_incidence, days, events), best_cpu(reps, floor_bincount)
    print(f"  ratio ours / bincount floor:      {t_ours / t_floor:6.2f}  (CPU time: {c_ours * 1e3:.1f} / "
          f"{c_floor * 1e3:.1f} ms = {c_ours / c_floor:.2f})")
    print(f"  ratio statsmodels / ours:         {t_sm / t_ours:6.2f}")
    print(f"  ratio lifelines(1 cause) / ours:  {t_ll / t_ours:6.0f}")

    jr = journeys(n)
    print(f"multi-state: {n:,} journeys, {len(jr):,} sojourns, {jr['stop'].nunique()} distinct days, {len(MultiStateFitter(TRANSITIONS).states_)} states")
    tracemalloc.start()
    t_ms, fitter = timed(MultiStateFitter(TRANSITIONS).fit, jr)
    _, peak_ms = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_ms = min(t_ms, best(2, MultiStateFitter(TRANSITIONS).fit, jr))
    print(f"  MultiStateFitter + Greenwood variance:   {t_ms * 1e3:9.1f} ms  (peak traced {peak_ms / 2**20:.0f} MiB)")
    c0 = time.process_time()
    MultiStateFitter(TRANSITIONS).fit(jr, variance="ij")
    print(f"  MultiStateFitter + IJ variance (survfit): {time.process_time() - c0:9.2f} s CPU")
    t_rm, _ = timed(fitter.expected_time_in_state, 365)
    print(f"  expected_time_in_state(365) with se:     {t_rm * 1e3:9.1f} ms")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak resident memory of this process (incl. lifelines/statsmodels): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
