"""Coverage and null rejection of attrition.effects.officer_permutation_test (randomisation inference).

For each seed: simulate ``N`` cases with the synthetic default (43 forces; 4 with an officer throughout
and 3 adopting at the start of the last of 3 years, chosen with probability proportional to size) and
run the randomisation test on ``charged`` two ways: between and within forces (year effects and log force
size, the default) and within forces only (``fixed_effects="force"``: identified by the 3 adopters).
Recorded: whether the 95% interval of the odds ratio covers the true marginal odds ratio
(``truth["officer_charged_or"]``) and the interval of the risk ratio covers ``truth["officer_charged_rr"]``;
with ``officer_hr_charge=1`` (no effect) whether p < 0.05.

Run from the repository root (2 workers):
``OMP_NUM_THREADS=1 .venv/bin/python tests/studies/officer_permutation_coverage.py 40000 200 0 [null]``
(cases, replicates, first seed, "null" for no officer effect).
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from attrition.effects.officer_permutation import officer_permutation_test
from attrition.synthetic import simulate

VARIANTS = (("between+within", None), ("within (force FE)", "force"))


def one(seed: int, n: int, null: bool, n_permutations: int = 999) -> list[dict]:
    warnings.simplefilter("ignore")
    truth = {"officer_hr_charge": 1.0, "officer_or_recording": 1.0} if null else {}
    d = simulate(n_cases=n, random_state=seed, **truth)
    out = []
    for name, fe in VARIANTS:
        try:
            r = officer_permutation_test(d.cases, d.forces, "charged", fixed_effects=fe,
                                         n_permutations=n_permutations, random_state=seed).set_index("measure")
        except Exception as err:  # a failed fit is a result of the study
            out.append(dict(seed=seed, variant=name, error=f"{type(err).__name__}: {err}"))
            continue
        row = dict(seed=seed, variant=name, p=r.loc["odds_ratio", "p"], error="")
        for m, key in (("odds_ratio", "officer_charged_or"), ("risk_ratio", "officer_charged_rr")):
            row[f"{m}_est"] = r.loc[m, "estimate"]
            row[f"{m}_truth"] = d.truth[key]
            row[f"{m}_cover"] = bool(r.loc[m, "lower 95%"] <= d.truth[key] <= r.loc[m, "upper 95%"])
            row[f"{m}_width"] = np.log(r.loc[m, "upper 95%"] / r.loc[m, "lower 95%"])
        out.append(row)
    return out


if __name__ == "__main__":
    n, reps, first = (int(a) for a in sys.argv[1:4])
    null = len(sys.argv) > 4 and sys.argv[4] == "null"
    t0 = time.time()
    res = Parallel(n_jobs=2)(delayed(one)(first + k, n, null) for k in range(reps))
    df = pd.DataFrame([r for rep in res for r in rep])
    df.to_csv(f"/tmp/officer_permutation_{n}_{reps}_{first}{'_null' if null else ''}.csv", index=False)
    bad = df[df["error"] != ""]
    if len(bad):
        print(bad[["seed", "variant", "error"]].to_string())
    ok = df[df["error"] == ""]
    for name, g in ok.groupby("variant"):
        R = len(g)
        rej = (g["p"] < 0.05).mean()
        print(f"{name}: {R} datasets of {n} cases{' (no effect)' if null else ''}")
        print(f"  rejection at 5%: {rej:.3f} (MC SE {np.sqrt(rej * (1 - rej) / R):.3f})")
        for m in ("odds_ratio", "risk_ratio"):
            c = g[f"{m}_cover"].mean()
            err = np.log(g[f"{m}_est"] / g[f"{m}_truth"])
            print(f"  {m}: coverage {c:.3f} (MC SE {np.sqrt(c * (1 - c) / R):.3f}), mean log error "
                  f"{err.mean():+.4f} (MC SE {err.std() / np.sqrt(R):.4f}), median log width {g[f'{m}_width'].median():.3f}")
    print(f"runtime {time.time() - t0:.0f} s on 2 workers")
