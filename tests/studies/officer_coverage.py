"""Coverage study of attrition.effects.officer.officer_effect, every method with its default intervals.

For each seed: simulate ``N`` cases with the synthetic default (43 forces, 7 with an officer by the last
year), estimate the officer effect on ``charged`` by each method and check whether the 95% CI of the risk
difference and of the risk ratio covers the true marginal effect (``truth["officer_charged_rd"]`` /
``["officer_charged_rr"]``).

Run from the repository root: ``.venv/bin/python tests/studies/officer_coverage.py 40000 200 0``
(cases, replicates, first seed).
"""
import sys
import warnings

import numpy as np
import pandas as pd

from attrition._parallel import run_tasks
from attrition.effects.officer import officer_effect
from attrition.synthetic import simulate

METHODS = (("gee", None), ("glm_cluster", None), ("aipw", None), ("ipw", None))


def one(seed: int, n: int, methods=METHODS) -> list[dict]:
    warnings.simplefilter("ignore")
    d = simulate(n_cases=n, random_state=seed)
    out = []
    for method, ss in methods:
        try:
            r = officer_effect(d.cases, d.forces, "charged", method=method, small_sample=ss, naive=False,
                               random_state=seed).set_index("measure")
        except Exception as err:  # a failed fit is a result of the study, not the end of it
            out.append(dict(seed=seed, method=method, small_sample=ss, measure="error", estimate=np.nan,
                            truth=np.nan, cover=False, error=f"{type(err).__name__}: {err}"))
            continue
        for m, key in (("risk_difference", "officer_charged_rd"), ("risk_ratio", "officer_charged_rr")):
            truth = d.truth[key]
            out.append(dict(seed=seed, method=method, small_sample=r.loc[m, "small_sample"], measure=m,
                            estimate=r.loc[m, "estimate"], truth=truth,
                            cover=bool(r.loc[m, "lower 95%"] <= truth <= r.loc[m, "upper 95%"])))
    return out


if __name__ == "__main__":
    n, reps, first = (int(a) for a in sys.argv[1:4])
    res = run_tasks(one, [(first + k, n) for k in range(reps)], n_jobs=2, progress=True)
    df = pd.DataFrame([r for rep in res for r in rep])
    if "error" in df.columns:
        print(df[df["measure"] == "error"][["seed", "method", "error"]].to_string())
        df = df[df["measure"] != "error"]
    df.to_csv(f"/tmp/officer_coverage_{n}_{reps}_{first}.csv", index=False)
    err = np.where(df["measure"] == "risk_ratio", np.log(df["estimate"] / df["truth"]), df["estimate"] - df["truth"])
    print(df.assign(err=err).groupby(["method", "small_sample", "measure"]).agg(
        covered=("cover", "sum"), reps=("cover", "size"), mean_error=("err", "mean"), sd=("err", "std")))
