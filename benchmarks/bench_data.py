"""Benchmark the foundation at 1,000,000 simulated journeys: time and peak memory of simulate,
load_events (Parquet and CSV) and to_cases. Targets: simulate + to_cases < 30 s and < 2 GiB peak;
load_events on the CSV (about 5M events) <= 15 s, against plain ``pandas.read_csv`` of the same file (which
only parses: no types, vocabularies, duplicates, order or case checks) as the ratio.

Run: .venv/bin/python benchmarks/bench_data.py [--cases N]
Peak memory is measured per step in a fresh subprocess (ru_maxrss), so steps do not inflate each other.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = r"""
import json, resource, sys, time
step, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from attrition.synthetic import simulate
from attrition.data import load_events, to_cases
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
cpu = time.process_time()
if step == "simulate+to_cases":
    d = simulate(n_cases=n, random_state=1)
    d.events.to_parquet(path + "/events.parquet")
    out = {"events": len(d.events), "cases": len(d.cases)}
    el = time.perf_counter() - t
    t2 = time.perf_counter(); to_cases(d.events); out["to_cases_alone_s"] = time.perf_counter() - t2
elif step == "write_csv":
    ev = pd.read_parquet(path + "/events.parquet"); ev["timestamp"] = ev["timestamp"].dt.strftime("%Y-%m-%d")
    ev.to_csv(path + "/events.csv", index=False); out = {}; el = time.perf_counter() - t
elif step == "load_events_parquet":
    ev = load_events(path + "/events.parquet", as_of="2023-09-30"); out = {"events": len(ev)}; el = time.perf_counter() - t
elif step == "load_events_csv":
    ev = load_events(path + "/events.csv", as_of="2023-09-30"); out = {"events": len(ev)}; el = time.perf_counter() - t
elif step == "pandas.read_csv":
    ev = pd.read_csv(path + "/events.csv"); out = {"rows": len(ev)}; el = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out.update(seconds=el, cpu_s=time.process_time() - cpu, peak_mib=peak / 1024, import_mib=base / 1024)
print(json.dumps(out))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    print(f"attrition foundation benchmark: {args.cases:,} journeys; load average {os.getloadavg()[0]:.1f}")
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for step in ["simulate+to_cases", "write_csv", "load_events_parquet", "load_events_csv", "pandas.read_csv"]:
            r = subprocess.run([sys.executable, "-c", STEP, step, str(args.cases), tmp], capture_output=True, text=True)
            if r.returncode:
                print(r.stderr)
                raise SystemExit(1)
            res = json.loads(r.stdout.strip().splitlines()[-1])
            extra = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v:.2f}" for k, v in res.items()
                              if k not in ("seconds", "peak_mib", "import_mib", "cpu_s"))
            seconds[step] = res["seconds"]
            print(f"{step:22s} {res['seconds']:7.2f} s (CPU {res['cpu_s']:6.2f} s)   peak {res['peak_mib']:7.0f} MiB   "
                  f"{extra}")
            if step == "simulate+to_cases":
                ok = res["seconds"] < 30 and res["peak_mib"] < 2048
                print(f"{'':22s} target < 30 s and < 2048 MiB: {'met' if ok else 'NOT MET'}")
            if step == "pandas.read_csv":
                ratio = seconds["load_events_csv"] / res["seconds"]
                ok = seconds["load_events_csv"] <= 15
                print(f"{'':22s} load_events / pandas.read_csv on the CSV: {ratio:.2f}x; target load_events <= 15 s: "
                      f"{'met' if ok else 'NOT MET'} (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
