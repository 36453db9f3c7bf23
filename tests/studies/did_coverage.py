"""Coverage study of the DiD of attrition.effects.officer.officer_did (CR2 vs CR1).

For each seed: simulate ``N`` cases with the synthetic default (3 forces adopt an officer in the last
year), fit the TWFE DiD of ``charged`` with both variances, and check whether the 95% CI covers the
true effect on the adopters in their adoption year (mean over those cases of the closed-form charge
probabilities with and without an officer, ``case_truth``).

Run from the repository root (2 cores, about 1.3 s per replicate at 40,000 cases):
``.venv/bin/python tests/studies/did_coverage.py 40000 200 100``  (cases, replicates, first seed).
Result recorded in officer.officer_did's docstring (seeds 100-299): CR2 198/200, CR1 164/200.
"""
import sys
import warnings

import numpy as np
import pandas as pd

from attrition._parallel import run_tasks
from attrition.effects.officer import officer_did
from attrition.synthetic import simulate


def true_att(d, adopters) -> float:
    """True effect of an officer on the charge probability of the adopters' cases in the adoption year."""
    last = d.cases["financial_year"].astype(str).max()
    m = (d.cases["force"].astype(str).isin(adopters) & (d.cases["financial_year"].astype(str) == last)).to_numpy()
    return float((d.case_truth["p_charged_officer1"] - d.case_truth["p_charged_officer0"])[m].mean())


def one(seed: int, n: int) -> list[dict]:
    warnings.simplefilter("ignore")
    d = simulate(n_cases=n, random_state=seed)
    out = []
    for ss in ("cr2", "t"):
        res = officer_did(d.cases, d.forces, "charged", small_sample=ss, event_study=False)
        r = res.iloc[0]
        att = true_att(d, res.attrs["adopting_forces"])
        out.append(dict(seed=seed, small_sample=ss, estimate=r["estimate"], se=r["se"], df=r["df"], att=att,
                        cover=bool(r["lower 95%"] < att < r["upper 95%"])))
    return out


if __name__ == "__main__":
    n, reps, first = (int(a) for a in sys.argv[1:4])
    res = run_tasks(one, [(first + k, n) for k in range(reps)], n_jobs=2, progress=True)
    df = pd.DataFrame([r for rep in res for r in rep])
    err = df["estimate"] - df["att"]
    print(df.assign(err=err).groupby("small_sample").agg(covered=("cover", "sum"), reps=("cover", "size"),
                                                        mean_se=("se", "mean"), sd=("estimate", "std"),
                                                        median_df=("df", "median"), mean_error=("err", "mean")))
    print("MC SE of the mean error:", err[df.small_sample == "cr2"].std() / np.sqrt(reps))
