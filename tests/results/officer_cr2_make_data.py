"""Make tests/results/officer_cr2_data.csv: a small case table for the clubSandwich CR2 references.

Six forces of unequal size over three financial years; forces F1-F3 adopt a dedicated officer in the last
year (a DiD design), covariate ``risk``. The stored CSV is the reference input (R and Python both read it).

Run from the repository root: ``.venv/bin/python tests/results/officer_cr2_make_data.py``, then
``Rscript tests/results/officer_cr2.R`` (writes officer_cr2_ref.csv).
"""
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

HERE = Path(__file__).parent
SEED, N = 20261124, 900

if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    forces = [f"F{k}" for k in range(1, 7)]
    w = np.arange(1, 7, dtype=float)
    force = rng.choice(forces, size=N, p=w / w.sum())
    fy = rng.choice(["2020/21", "2021/22", "2022/23"], size=N)
    risk = rng.choice(["standard", "medium", "high"], size=N, p=[0.6, 0.3, 0.1])
    officer = np.isin(force, ["F1", "F2", "F3"]) & (fy == "2022/23")
    u = dict(zip(forces, rng.normal(0, 0.4, 6)))
    eta = (-1.2 + 0.6 * officer + 0.5 * (risk == "medium") + 0.9 * (risk == "high")
           + pd.Series(force).map(u).to_numpy())
    charged = rng.random(N) < expit(eta)
    pd.DataFrame({"force": force, "financial_year": fy, "risk": risk, "officer": officer.astype(int),
                  "charged": charged.astype(int)}).to_csv(HERE / "officer_cr2_data.csv", index=False)
