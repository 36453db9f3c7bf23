"""Make tests/results/regression_strata_data.csv: counting-process data with strata, ties, late entry,
a time-varying binary covariate, weights and two causes, for regression_strata.R (R survival reference).
Run from the repository root: .venv/bin/python tests/results/regression_strata.py"""
import numpy as np
import pandas as pd

rng = np.random.default_rng(20261124)
n = 700
stratum = rng.choice(["a", "b", "c", "d", "e"], size=n, p=[0.35, 0.25, 0.2, 0.15, 0.05])
base = {"a": 0.010, "b": 0.025, "c": 0.005, "d": 0.015, "e": 0.0}  # daily cause-1 hazards (none in e)
x2 = np.round(rng.normal(size=n), 2)
grp = rng.integers(0, 3, n)  # a 3-level factor, dummy-coded
entry = np.where(rng.random(n) < 0.2, rng.integers(1, 20, n), 0).astype(float)
switch = np.where(rng.random(n) < 0.4, entry + rng.integers(1, 60, n), np.inf)  # x1 = 1 after switch
h1 = np.array([base[s] for s in stratum]) * np.exp(0.3 * x2 + 0.2 * (grp == 1))
h2 = 0.008 * np.exp(-0.4 * x2 + 0.3 * (grp == 2))
# piecewise: before the switch hazards h, after it h1 * 1.6 and h2 * 0.7
with np.errstate(divide="ignore", invalid="ignore"):
    t1a = entry + rng.exponential(1 / np.where(h1 > 0, h1, 1.0)) / (h1 > 0)
    t1 = np.where(t1a > switch, switch + (t1a - switch) / 1.6, t1a)
    t2a = entry + rng.exponential(1 / h2)
    t2 = np.where(t2a > switch, switch + (t2a - switch) / 0.7, t2a)
cens = entry + rng.uniform(5, 150, n)
t = np.ceil(np.minimum.reduce([t1, t2, cens]))  # whole days: many ties
status = np.where(np.ceil(t1) == t, 1, np.where(np.ceil(t2) == t, 2, 0))
sw = np.ceil(switch)
split = (sw > entry) & (sw < t)
ids = np.arange(1, n + 1)
w = np.round(rng.uniform(0.5, 2.0, n), 3)
first = pd.DataFrame({"id": ids, "start": entry, "stop": np.where(split, sw, t), "x1": (sw <= entry).astype(int),
                      "status": np.where(split, 0, status)})
second = pd.DataFrame({"id": ids[split], "start": sw[split], "stop": t[split], "x1": 1, "status": status[split]})
d = pd.concat([first, second]).sort_values(["id", "start"], kind="stable").reset_index(drop=True)
pos = d["id"].to_numpy() - 1
d["x2"] = x2[pos]
d["g1"] = (grp[pos] == 1).astype(int)
d["g2"] = (grp[pos] == 2).astype(int)
d["s"] = stratum[pos]
d["w"] = w[pos]
d["cl"] = (d["id"] - 1) // 7  # clusters of 7 cases (for the cluster-robust variance)
d.to_csv("tests/results/regression_strata_data.csv", index=False)
print(d.shape, d.groupby("s")["status"].value_counts().unstack())
