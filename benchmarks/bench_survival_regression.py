"""National-scale benchmark of the survival regression engines and of CIF on string outcomes (not a test).

Run: .venv/bin/python benchmarks/bench_survival_regression.py [--n 1000000] [--skip-lifelines]

On the same simulated data (n cases, daily times, two causes, two covariates) it prints CPU time
(``time.process_time``: robust on a shared machine), wall time and peak traced memory of

* ``CauseSpecificCox`` against lifelines ``CoxPHFitter`` (same Efron model; ratio ours / lifelines);
* ``FineGrayFitter`` (linear time, no expansion; targets at 1M: <= 10 s, <= 2 GiB), with the
  number of rows R ``finegray`` would have created, and at n/10 for the growth rate;
* ``cumulative_incidence`` on string outcomes (an object column, as notebook 04 passes the case table's
  outcomes) against integer codes and statsmodels ``CumIncidenceRight`` (ratios).
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from attrition.survival import CauseSpecificCox, FineGrayFitter, cumulative_incidence


def cases(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n).astype(float)
    h1 = 0.004 * np.exp(0.3 * x1 + 0.5 * x2)
    h2 = 0.006 * np.exp(-0.2 * x1)
    te = rng.exponential(1 / (h1 + h2))
    tc = rng.uniform(30, 1000, n)
    t = np.ceil(np.minimum(te, tc))
    cause = np.where(rng.random(n) < h1 / (h1 + h2), "a", "b")
    return pd.DataFrame({"time": t, "ev": np.where(te <= tc, cause, None), "x1": x1, "x2": x2})


def measure(f, *a, reps: int = 1, trace: bool = True, **k):
    """(best CPU s, best wall s, peak traced MiB of the first run, result)."""
    cpu, wall, peak, out = [], [], np.nan, None
    for i in range(reps):
        if trace and i == 0:
            tracemalloc.start()
        c0, w0 = time.process_time(), time.perf_counter()
        out = f(*a, **k)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        if trace and i == 0:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return min(cpu), min(wall), peak, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--skip-lifelines", action="store_true")
    args = ap.parse_args(argv)
    n = args.n
    df = cases(n)
    print(f"regression: n={n:,} cases, {df.time.nunique()} distinct days, "
          f"{int((df.ev == 'a').sum()):,} events of a, {int((df.ev == 'b').sum()):,} of b")
    CauseSpecificCox().fit(df.iloc[:2000], "time", "ev", "a", ["x1", "x2"])  # warm-up (imports)

    c, w, pk, m = measure(CauseSpecificCox().fit, df, "time", "ev", "a", ["x1", "x2"], reps=2)
    print(f"  CauseSpecificCox (Efron, model SE):      CPU {c:6.2f} s  wall {w:6.2f} s  peak {pk:6.0f} MiB")
    if not args.skip_lifelines:
        from lifelines import CoxPHFitter
        fr = df[["time", "x1", "x2"]].assign(e=(df.ev == "a").astype(float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cl, wl, pl, ll = measure(CoxPHFitter().fit, fr, "time", "e", batch_mode=True, reps=2)
        print(f"  lifelines CoxPHFitter (Efron):           CPU {cl:6.2f} s  wall {wl:6.2f} s  peak {pl:6.0f} MiB")
        diff = np.max(np.abs(ll.params_.to_numpy() - m.params_.to_numpy()))
        print(f"  ratio ours / lifelines (CPU):            {c / cl:6.2f}   (target <= 2; max |coef diff| {diff:.1e})")
    c, w, pk, m = measure(CauseSpecificCox().fit, df, "time", "ev", "a", ["x1", "x2"], robust=True)
    print(f"  CauseSpecificCox, robust SE:             CPU {c:6.2f} s  wall {w:6.2f} s  peak {pk:6.0f} MiB")

    for size in (n // 10, n):
        sub = df.iloc[:size]
        c, w, pk, fg = measure(FineGrayFitter().fit, sub, "time", "ev", "a", ["x1", "x2"])
        print(f"  FineGrayFitter, n={size:>9,}:           CPU {c:6.2f} s  wall {w:6.2f} s  peak {pk:6.0f} MiB  "
              f"(R finegray would expand to {fg.expanded_rows_:,} rows)")
    print("  Fine-Gray targets at 1M: <= 10 s and <= 2048 MiB")

    rng = np.random.default_rng(3)
    codes = rng.choice(6, n, p=[0.2, 0.3, 0.2, 0.15, 0.1, 0.05])
    days = df.time.to_numpy()
    labels = np.array([0, "convicted", "nfa", "victim_not_supporting", "cps_no_charge", "other"], dtype=object)
    outcome = pd.Series(labels[codes])  # as notebook 04: object column, 0 = censored
    cumulative_incidence(days[:1000], codes[:1000])
    ci, wi, _, _ = measure(cumulative_incidence, days, codes, reps=5, trace=False)
    cs, ws, _, _ = measure(cumulative_incidence, pd.Series(days), outcome, include_survival=True, reps=5, trace=False)
    print(f"cumulative incidence, n={n:,}, 5 causes:")
    print(f"  integer codes:                           CPU {ci * 1e3:6.1f} ms  wall {wi * 1e3:6.1f} ms")
    print(f"  string outcomes (object column):         CPU {cs * 1e3:6.1f} ms  wall {ws * 1e3:6.1f} ms")
    print(f"  ratio strings / integer codes (CPU):     {cs / ci:6.2f}   (target <= 2)")
    try:
        from statsmodels.duration.survfunc import CumIncidenceRight
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            csm, wsm, _, _ = measure(CumIncidenceRight, days, codes, reps=3, trace=False)
        print(f"  statsmodels CumIncidenceRight (codes):   CPU {csm * 1e3:6.1f} ms  wall {wsm * 1e3:6.1f} ms")
        print(f"  ratio statsmodels / ours on strings:     {csm / cs:6.2f}")
    except Exception as err:  # pragma: no cover - depends on the environment
        print(f"  statsmodels failed: {err}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak resident memory of this process (incl. lifelines/statsmodels and the data): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
