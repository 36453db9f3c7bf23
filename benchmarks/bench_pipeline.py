"""Benchmark the whole library pipeline at 1,000,000 simulated cases: peak memory (target <= 2 GiB) and time.

The pipeline is what the report's figures notebook (08) runs, on an event log read from a file: read and
validate the log and build the case table (``load_dataset``), the national funnel, the funnel by force
with pooling, the competing-risks cumulative incidence on the string outcomes, the multi-state journey,
the mischarging table, the dedicated-officer effect and the SPO effect (no bootstrap: its replicates
run one after another and add time, not memory). It runs in a fresh subprocess; the peak resident memory
(``ru_maxrss``) is read after every step, so the step that sets the peak is named. The floor is the
obvious pandas route: ``pandas.read_parquet`` of the same log in its own subprocess (the data alone).

Run: .venv/bin/python benchmarks/bench_pipeline.py [--cases N]
Simulating the data (about a minute at 1M cases) is not timed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

MAKE = r"""
import sys, pickle
from attrition.synthetic import simulate
n, path = int(sys.argv[1]), sys.argv[2]
d = simulate(n_cases=n, random_state=1)
d.events.to_parquet(path + "/events.parquet")
d.forces.to_csv(path + "/force-years.csv", index=False)
print(len(d.events))
"""

PIPELINE = r"""
import json, resource, sys, time, warnings
path = sys.argv[1]
steps = []
def mark(name, t0, c0):
    steps.append({"step": name, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
t, c = time.perf_counter(), time.process_time()
import numpy as np, pandas as pd
from attrition.data import load_dataset
from attrition.effects import officer_design, officer_effect, spo_effect_on_data
from attrition.exceptions import AttritionError
from attrition.funnel import FunnelFitter
from attrition.mischarging import mischarging_table
from attrition.survival import JOURNEY_TRANSITIONS, MultiStateFitter, cumulative_incidence, journey_sojourns
mark("imports", t, c)
warnings.simplefilter("ignore")
t, c = time.perf_counter(), time.process_time()
data = load_dataset(path + "/events.parquet", forces_path=path + "/force-years.csv")
cases = data.cases
mark("load_dataset (read, validate, case table)", t, c)
t, c = time.perf_counter(), time.process_time(); FunnelFitter().fit(cases); mark("national funnel", t, c)
t, c = time.perf_counter(), time.process_time(); FunnelFitter().fit(cases, by="force"); mark("funnel by force", t, c)
t, c = time.perf_counter(), time.process_time()
outcome = (cases["exit_reason"].astype(object).where(cases["status"] != "convicted", "convicted")
           .where(cases["status"] != "open", "open"))
cumulative_incidence(cases["duration"], outcome, censor_code="open")
mark("cumulative incidence (string outcomes)", t, c)
t, c = time.perf_counter(), time.process_time()
MultiStateFitter(JOURNEY_TRANSITIONS).fit(journey_sojourns(cases)); mark("multi-state journey", t, c)
t, c = time.perf_counter(), time.process_time()
mischarging_table(cases, by="financial_year", stage="recorded"); mark("mischarging table", t, c)
t, c = time.perf_counter(), time.process_time()
frame, covs, notes = officer_design(cases, data.forces, "charged")
if frame is not None:
    officer_effect(frame, data.forces, outcome="charged", method="glm_cluster", covariates=covs, random_state=1)
mark("officer effect", t, c)
t, c = time.perf_counter(), time.process_time()
try:
    spo_effect_on_data(cases, random_state=1, n_boot=0)
except (AttritionError, ValueError) as err:
    print("spo:", err, file=sys.stderr)
mark("SPO effect (no bootstrap)", t, c)
print(json.dumps({"events": len(data.events), "cases": len(cases), "steps": steps}))
"""

FLOOR = r"""
import json, resource, sys, time
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, c = time.perf_counter(), time.process_time()
ev = pd.read_parquet(sys.argv[1] + "/events.parquet")
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "import_mib": base / 1024}))
"""


def _run(code: str, *args: str) -> str:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr)
        raise SystemExit(1)
    return r.stdout.strip().splitlines()[-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    print(f"whole-pipeline benchmark: {args.cases:,} cases; load average before {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        _run(MAKE, str(args.cases), tmp)
        floor = json.loads(_run(FLOOR, tmp))
        res = json.loads(_run(PIPELINE, tmp))
    print(f"{res['events']:,} events, {res['cases']:,} cases")
    print(f"{'step':42s} {'wall s':>7s} {'CPU s':>7s} {'peak so far MiB':>16s}")
    prev = 0.0
    for s in res["steps"]:
        grew = " <- raises the peak" if s["peak_mib"] > prev + 32 else ""
        prev = max(prev, s["peak_mib"])
        print(f"{s['step']:42s} {s['seconds']:7.2f} {s['cpu']:7.2f} {s['peak_mib']:16.0f}{grew}")
    peak = max(s["peak_mib"] for s in res["steps"])
    total = sum(s["seconds"] for s in res["steps"])
    print(f"pandas.read_parquet of the log alone: {floor['seconds']:.2f} s, peak {floor['peak_mib']:.0f} MiB")
    print(f"pipeline peak {peak:.0f} MiB = {peak / floor['peak_mib']:.1f}x the data alone; {total:.1f} s wall; "
          f"target <= 2048 MiB: {'met' if peak <= 2048 else 'NOT MET'}; load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
