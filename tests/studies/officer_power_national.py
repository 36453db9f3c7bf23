"""Power and coverage of the officer analyses at national volume (the synthetic default: 120,000 reports a
year, 3 years, 43 forces; 4 with an officer throughout and 3 adopting in the last year).

Each dataset is analysed three ways: randomisation inference between and within forces
(``officer_permutation_test``, 999 assignments), randomisation inference within forces (force fixed
effects: the 3 adopters) and the model-based comparison (``officer_effect``, GLM, CR2). Recorded per
analysis: rejection of no effect at 5% (power, or type I error when ``hr`` = 1) with its Monte Carlo SE,
coverage of the true marginal odds ratio, and the median half-width of the 95% interval of the risk
difference (the realistic national precision).

Run from the repository root (2 workers):
``OMP_NUM_THREADS=1 .venv/bin/python tests/studies/officer_power_national.py 100 0 1.3``
(replicates, first seed, true hazard ratio of the officer on charging).
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from attrition.effects.officer import officer_effect
from attrition.effects.officer_permutation import officer_permutation_test
from attrition.synthetic import simulate


def one(seed: int, hr: float) -> list[dict]:
    warnings.simplefilter("ignore")
    d = simulate(random_state=seed, officer_hr_charge=hr)
    out = []
    runs = (
        ("randomisation, between+within", lambda: officer_permutation_test(
            d.cases, d.forces, "charged", n_permutations=999, random_state=seed)),
        ("randomisation, within (force FE)", lambda: officer_permutation_test(
            d.cases, d.forces, "charged", n_permutations=999, fixed_effects="force", random_state=seed)),
        ("model: GLM g-computation, CR2", lambda: officer_effect(
            d.cases, d.forces, "charged", method="glm_cluster", naive=False)),
    )
    for name, run in runs:
        try:
            r = run().set_index("measure")
        except Exception as err:  # a failed fit is a result of the study
            out.append(dict(seed=seed, analysis=name, error=f"{type(err).__name__}: {err}"))
            continue
        out.append(dict(
            seed=seed, analysis=name, error="", p=r.loc["odds_ratio", "p"],
            or_est=r.loc["odds_ratio", "estimate"], or_truth=d.truth["officer_charged_or"],
            cover=bool(r.loc["odds_ratio", "lower 95%"] <= d.truth["officer_charged_or"] <= r.loc["odds_ratio", "upper 95%"]),
            rd_half_width=(r.loc["risk_difference", "upper 95%"] - r.loc["risk_difference", "lower 95%"]) / 2,
            rd_truth=d.truth["officer_charged_rd"], n_cases=len(d.cases)))
    return out


if __name__ == "__main__":
    reps, first, hr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    t0 = time.time()
    res = Parallel(n_jobs=2)(delayed(one)(first + k, hr) for k in range(reps))
    df = pd.DataFrame([r for rep in res for r in rep])
    df.to_csv(f"/tmp/officer_power_national_{reps}_{first}_{hr}.csv", index=False)
    bad = df[df["error"] != ""]
    if len(bad):
        print(bad[["seed", "analysis", "error"]].to_string())
    ok = df[df["error"] == ""]
    print(f"{reps} national datasets ({int(ok['n_cases'].median())} cases), officer HR on charging {hr}; "
          f"true RD {ok['rd_truth'].mean():.4f}, true OR {ok['or_truth'].mean():.3f}")
    for name, g in ok.groupby("analysis", sort=False):
        R = len(g)
        rej, cov = (g["p"] < 0.05).mean(), g["cover"].mean()
        print(f"  {name}: rejection {rej:.3f} (MC SE {np.sqrt(rej * (1 - rej) / R):.3f}); OR coverage {cov:.3f} "
              f"(MC SE {np.sqrt(cov * (1 - cov) / R):.3f}); median RD half-width {g['rd_half_width'].median():.4f}; "
              f"mean log OR error {np.log(g['or_est'] / g['or_truth']).mean():+.4f} "
              f"(MC SE {np.log(g['or_est'] / g['or_truth']).std() / np.sqrt(R):.4f}); {R} fits")
    print(f"runtime {time.time() - t0:.0f} s on 2 workers")
