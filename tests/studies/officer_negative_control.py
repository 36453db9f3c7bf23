"""Does the negative control (suspect identification) flag force-level confounding of the officer effect?

For each seed: simulate ``N`` cases with the synthetic default, once with ``officer_confounding`` = ``c``
(forces of higher investigative quality -- which raises both suspect identification and charging -- are
likelier to appoint an officer) and run :func:`attrition.effects.officer_negative_control`
(randomisation inference, 499 assignments) and :func:`officer_permutation_test` on charge. Recorded: how
often the negative control flags confounding (its 95% interval excludes 1) and how often the charge
interval covers the true odds ratio.

Run from the repository root (2 workers):
``OMP_NUM_THREADS=1 .venv/bin/python tests/studies/officer_negative_control.py 40000 100 0 2.0``
(cases, replicates, first seed, officer_confounding).
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from attrition.effects import officer_negative_control, officer_permutation_test
from attrition.synthetic import simulate


def one(seed: int, n: int, confounding: float) -> dict:
    warnings.simplefilter("ignore")
    d = simulate(n_cases=n, random_state=seed, officer_confounding=confounding)
    try:
        nc = officer_negative_control(d.cases, d.forces, n_permutations=499, random_state=seed)
        ch = officer_permutation_test(d.cases, d.forces, "charged", n_permutations=499,
                                      random_state=seed).set_index("measure").loc["odds_ratio"]
    except Exception as err:  # a failed fit is a result of the study
        return dict(seed=seed, error=f"{type(err).__name__}: {err}")
    truth = d.truth["officer_charged_or"]
    return dict(seed=seed, error="", nc_estimate=nc["estimate"], nc_p=nc["p"], flags=nc["flags_confounding"],
                charge_or=ch["estimate"], charge_truth=truth,
                charge_cover=bool(ch["lower 95%"] <= truth <= ch["upper 95%"]))


if __name__ == "__main__":
    n, reps, first = (int(a) for a in sys.argv[1:4])
    c = float(sys.argv[4])
    t0 = time.time()
    df = pd.DataFrame(Parallel(n_jobs=2)(delayed(one)(first + k, n, c) for k in range(reps)))
    df.to_csv(f"/tmp/officer_negative_control_{n}_{reps}_{first}_{c}.csv", index=False)
    ok = df[df["error"] == ""]
    R = len(ok)
    f, cov = ok["flags"].mean(), ok["charge_cover"].mean()
    print(f"officer_confounding = {c}: {R} datasets of {n} cases ({len(df) - R} failed)")
    print(f"  negative control flags confounding in {f:.3f} (MC SE {np.sqrt(f * (1 - f) / R):.3f}); "
          f"mean suspect-identification OR {ok['nc_estimate'].mean():.3f}")
    err = np.log(ok["charge_or"] / ok["charge_truth"])
    print(f"  charge OR interval covers the truth in {cov:.3f} (MC SE {np.sqrt(cov * (1 - cov) / R):.3f}); mean log "
          f"error {err.mean():+.4f} (MC SE {err.std() / np.sqrt(R):.4f})")
    print(f"runtime {time.time() - t0:.0f} s on 2 workers")
