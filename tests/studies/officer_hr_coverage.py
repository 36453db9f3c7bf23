"""Coverage study of attrition.effects.officer.officer_hazard_ratio (adjusted, force-clustered, t(G-1)).

For each seed: simulate ``N`` cases with the synthetic default (43 forces, 7 with an officer by the last
year), estimate the hazard ratio of a charge per day since the suspect was identified and check whether
the 95% CI covers the generator's ``officer_hr_charge`` (1.8; the ratio given the force's own charging
level, so some attenuation of the force-averaged Cox estimate is expected).

Run from the repository root: ``.venv/bin/python tests/studies/officer_hr_coverage.py 40000 100 0``
(cases, replicates, first seed).
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd

from attrition.effects.officer import officer_hazard_ratio
from attrition.synthetic import simulate


def one(seed: int, n: int) -> dict:
    warnings.simplefilter("ignore")
    d = simulate(n_cases=n, random_state=seed)
    r = officer_hazard_ratio(d.cases, d.forces, naive=False).iloc[0]
    truth = d.truth["officer_hr_charge"]
    return dict(seed=seed, estimate=r["estimate"], log_se=r["se"], truth=truth,
                cover=bool(r["lower 95%"] <= truth <= r["upper 95%"]))


def main(n: int, reps: int, first: int) -> pd.DataFrame:
    t0 = time.time()
    res = pd.DataFrame([one(s, n) for s in range(first, first + reps)])
    cov = res["cover"].mean()
    mc = np.sqrt(cov * (1 - cov) / reps)
    log_est = np.log(res["estimate"])
    print(f"n={n}, replicates={reps}: coverage {cov:.3f} (Monte Carlo SE {mc:.3f}); "
          f"mean log HR {log_est.mean():.4f} vs true {np.log(res['truth'].iloc[0]):.4f}; "
          f"SD of log HR {log_est.std(ddof=1):.4f} vs mean SE {res['log_se'].mean():.4f}; "
          f"{time.time() - t0:.0f} s")
    return res


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
