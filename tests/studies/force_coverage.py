"""Coverage study of the force comparisons: pooled intervals of each force's stage conversion rate.

For each seed: simulate a national dataset (``N`` reports, 360,000 as notebook 03), fit
``FunnelFitter(...).fit(cases, by="force")`` with full Bayes pooled towards forces of the same size (the
default, ``bayes``), full Bayes pooled towards the nation (``bayes_national``) and empirical Bayes (``eb``),
and check whether each force's 95% interval covers its TRUE conversion probability
(:func:`attrition.synthetic.true_stage_rates`: the ratio of expected counts over the force's reports, from
the generator's closed-form per-report probabilities). Raw Wilson intervals are scored beside them. Forces
are put in quintiles by their true rate within each dataset (quintile 1 = lowest rate, 5 = highest).

Stages scored: ``reported`` (recorded as stalking: force sd 0.5 on the logit scale) and
``suspect_identified`` (charged after a suspect: force sd 0.3 on the log hazard plus a force-size
trend) are the two where forces truly differ; the others vary little or not at all between forces in the
generator and are reported for completeness.

Run from the repository root: ``nice .venv/bin/python tests/studies/force_coverage.py 360000 100 0``
(reports per dataset, datasets, first seed); writes ``/tmp/force_coverage_<N>_<reps>_<first>.csv``.

Results
-------
(filled in below from the run quoted)
"""
import sys
import warnings

import numpy as np
import pandas as pd

from attrition._utils import wilson_interval
from attrition.funnel import FunnelFitter
from attrition.synthetic import simulate, true_stage_rates

STAGES = ("reported", "recorded_stalking", "suspect_identified", "charged", "prosecuted")


def one(seed: int, n: int) -> pd.DataFrame:
    warnings.simplefilter("ignore")
    d = simulate(n_cases=n, random_state=seed)
    truth = true_stage_rates(d)
    out = []
    fits = {"bayes": FunnelFitter(random_state=seed).fit(d.cases, by="force"),
            "bayes_national": FunnelFitter(pool_towards="national", random_state=seed).fit(d.cases, by="force"),
            "eb": FunnelFitter(pooling="eb", random_state=seed).fit(d.cases, by="force")}
    for st in STAGES:
        tr = truth[st]
        t_b = fits["bayes"].pooled_.xs(st, level="stage")
        t_n = fits["bayes_national"].pooled_.xs(st, level="stage")
        t_e = fits["eb"].pooled_.xs(st, level="stage")
        wl, wh = wilson_interval(t_e["x"].to_numpy(), t_e["n"].to_numpy())
        rank = tr.rank(method="first").to_numpy() - 1
        q = (rank * 5 // len(tr)).astype(int) + 1
        base = pd.DataFrame({"seed": seed, "stage": st, "force": tr.index, "truth": tr.to_numpy(), "quintile": q,
                             "n": t_e["n"].to_numpy()})
        for name, lo, hi, est in (("bayes", t_b["lower 95%"], t_b["upper 95%"], t_b["pooled"]),
                                  ("bayes_national", t_n["lower 95%"], t_n["upper 95%"], t_n["pooled"]),
                                  ("eb", t_e["lower 95%"], t_e["upper 95%"], t_e["pooled"]),
                                  ("wilson", pd.Series(wl, index=t_e.index), pd.Series(wh, index=t_e.index), t_e["raw"])):
            lo, hi, est = (np.asarray(v, float) for v in (lo, hi, est))
            out.append(base.assign(method=name, estimate=est, lower=lo, upper=hi,
                                   cover=(lo <= tr.to_numpy()) & (tr.to_numpy() <= hi)))
    return pd.concat(out, ignore_index=True)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Coverage by stage, method and quintile with its Monte Carlo standard error."""
    g = df.groupby(["stage", "method", "quintile"])["cover"]
    t = g.agg(["mean", "size"]).rename(columns={"mean": "coverage", "size": "intervals"})
    # Monte Carlo error: forces in one dataset are not independent, so the se uses the between-dataset
    # variation of each dataset's coverage (cluster by seed)
    per = df.groupby(["stage", "method", "quintile", "seed"])["cover"].mean()
    t["mc_se"] = per.groupby(level=[0, 1, 2]).std(ddof=1) / np.sqrt(per.groupby(level=[0, 1, 2]).size())
    allq = df.groupby(["stage", "method"])["cover"].mean().rename("overall")
    width = df.assign(w=df["upper"] - df["lower"]).groupby(["stage", "method"])["w"].mean().rename("mean_width")
    wide = t.reset_index().pivot(index=["stage", "method"], columns="quintile", values=["coverage", "mc_se"])
    wide.columns = [f"{'cov' if a == 'coverage' else 'se'} q{b}" for a, b in wide.columns]
    return wide.join(allq).join(width)


if __name__ == "__main__":
    n, reps, first = (int(a) for a in sys.argv[1:4])
    path = f"/tmp/force_coverage_{n}_{reps}_{first}.csv"
    for k in range(reps):  # one dataset at a time (the machine is shared), appended as it is done
        one(first + k, n).to_csv(path, mode="a" if k else "w", header=k == 0, index=False)
        print(f"{k + 1} datasets", file=sys.stderr, flush=True)
    df = pd.read_csv(path)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summarise(df).round(3).to_string())
