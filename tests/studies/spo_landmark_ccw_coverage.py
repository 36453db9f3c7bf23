"""Replication (coverage) studies of spo.landmark_analysis and spo.clone_censor_weight.

Run from the repository root:
``.venv/bin/python tests/studies/spo_landmark_ccw_coverage.py NAME --n-cases N --reps R [--n-boot B] [--seed0 S]
[--no-landmark] [--no-ccw]``. Writes /tmp/<NAME>.pkl (one row per replicate x estimator x outcome x measure)
and prints a summary. The results quoted in tests/test_effects_spo_replications.py came from this script
(CCW with control "never", then the only comparison).
"""
from __future__ import annotations

import argparse
import pickle
import time
import warnings

import numpy as np
import pandas as pd

from attrition._parallel import run_tasks
from attrition.effects import spo
from attrition.synthetic import DEFAULT_TRUTH, simulate

LANDMARKS = (14, 28, 56)
GRACE, HORIZON = 28, 180
TRUE_HR = {"charge": 1.5, "withdrawal": 0.6}


def _clean(cases):
    bad = cases["days_to_police_outcome"] < cases["days_to_suspect_identified"]
    return cases[~bad.to_numpy(bool)]


def _censor_later_spo(cases, L):
    """Per-protocol landmark data: a case with no SPO by day L is censored on the day its later SPO is granted
    (so the comparison group stays SPO-free; no dilution). SPO timing depends only on risk/force and random
    delays, so given the covariates this censoring is non-informative."""
    c = cases.copy()
    g = np.fmin(c["days_to_spo_interim_granted"].to_numpy(float), c["days_to_spo_full_granted"].to_numpy(float))
    po = c["days_to_police_outcome"].to_numpy(float)
    ex = np.where(np.isnan(po), c["duration"].to_numpy(float), po)
    later = (g > L) & (g < ex)
    c.loc[later, "days_to_police_outcome"] = np.nan
    c.loc[later, "outcome_code"] = pd.NA
    c.loc[later, "duration"] = g[later]
    return c


def _dilution(cases, L):
    """Among the comparison group at L (open, no SPO by L): share of follow-up after L with an SPO in force,
    and share of each outcome's events under an SPO."""
    J = spo._journey(cases)
    at = (J.suspect <= L) & (J.exit > L)
    ctrl = at & ~(J.spo <= L)
    pt = (J.exit - L)[ctrl]
    later = np.isfinite(J.spo) & (J.spo > L)
    pt_spo = np.where(later, J.exit - J.spo, 0.0)[ctrl]
    out = {"f_time": pt_spo.sum() / pt.sum(), "n_ctrl_later_spo": int(later[ctrl].sum())}
    for o in ("charge", "withdrawal"):
        ev = (J.cause == o)[ctrl]
        out[f"f_ev_{o}"] = (ev & later[ctrl]).sum() / max(ev.sum(), 1)
    return out


def one_replicate(seed, n_cases, n_boot, do_landmark=True, do_ccw=True, do_pp=True):
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    targets = tuple(t * n_cases / 360_000 for t in DEFAULT_TRUTH["foi_spo_targets"])
    d = simulate(n_cases=n_cases, random_state=seed, foi_spo_targets=targets)
    cases = _clean(d.cases)
    rows = []
    timing = {"sim": time.perf_counter() - t0}
    if do_landmark:
        t0 = time.perf_counter()
        try:
            lm = spo.landmark_analysis(cases, LANDMARKS)
        except Exception as err:  # noqa: BLE001 - recorded
            lm = None
            rows.append({"seed": seed, "estimator": "landmark", "error": repr(err)})
        timing["landmark"] = time.perf_counter() - t0
        if lm is not None:
            for _, r in lm.iterrows():
                truth = np.log(TRUE_HR[r.outcome])
                rows.append({"seed": seed, "estimator": f"landmark {int(r.landmark)}", "outcome": r.outcome,
                             "measure": "log HR", "estimate": r.log_estimate, "se": r.se,
                             "lo": np.log(r["lower 95%"]), "hi": np.log(r["upper 95%"]), "truth": truth,
                             "events_exposed": r.events_exposed, "n_exposed": r.n_exposed,
                             **_dilution(cases, r.landmark)})
        if do_pp:
            t0 = time.perf_counter()
            for L in LANDMARKS:
                try:
                    pp = spo.landmark_analysis(_censor_later_spo(cases, L), (L,))
                except Exception as err:  # noqa: BLE001
                    rows.append({"seed": seed, "estimator": f"landmark-pp {L}", "error": repr(err)})
                    continue
                for _, r in pp.iterrows():
                    rows.append({"seed": seed, "estimator": f"landmark-pp {L}", "outcome": r.outcome,
                                 "measure": "log HR", "estimate": r.log_estimate, "se": r.se,
                                 "lo": np.log(r["lower 95%"]), "hi": np.log(r["upper 95%"]),
                                 "truth": np.log(TRUE_HR[r.outcome]), "events_exposed": r.events_exposed,
                                 "n_exposed": r.n_exposed})
            timing["landmark_pp"] = time.perf_counter() - t0
    if do_ccw:
        t0 = time.perf_counter()
        try:
            est, _ = spo.clone_censor_weight(cases, grace=GRACE, horizon=HORIZON, n_boot=n_boot, random_state=seed)
        except Exception as err:  # noqa: BLE001
            est = None
            rows.append({"seed": seed, "estimator": "ccw", "error": repr(err)})
        timing["ccw"] = time.perf_counter() - t0
        if est is not None:
            el = spo._journey(cases).cases["case_id"]
            tr = spo.true_ccw_risks(d.case_truth, d.truth, grace=GRACE, horizon=HORIZON, case_ids=el)
            cols = {f"risk (SPO by day {GRACE})": "risk_spo", f"risk (no SPO by day {GRACE})": "risk_never", "RD": "rd", "RR": "rr"}
            n_boot_ok = int(est["note"].iloc[0].split(" bootstrap")[0].split("; ")[-1])
            for _, r in est.iterrows():
                rows.append({"seed": seed, "estimator": "ccw", "outcome": r.outcome, "measure": r.measure,
                             "estimate": r.estimate, "se": r.se, "lo": r["lower 95%"], "hi": r["upper 95%"],
                             "truth": tr.loc[r.outcome, cols[r.measure]], "n_boot_ok": n_boot_ok})
    for r in rows:
        r.update({f"t_{k}": v for k, v in timing.items()})
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df["estimate"].notna()].copy()
    ok["cover"] = (ok["lo"] < ok["truth"]) & (ok["truth"] < ok["hi"])
    ok["err"] = ok["estimate"] - ok["truth"]
    ok["below"] = ok["hi"] <= ok["truth"]   # CI entirely below the truth
    ok["above"] = ok["lo"] >= ok["truth"]
    if "events_exposed" not in ok:
        ok["events_exposed"] = np.nan
    g = ok.groupby(["estimator", "outcome", "measure"], sort=False)
    s = g.agg(reps=("cover", "size"), coverage=("cover", "mean"), bias=("err", "mean"), sd=("err", "std"),
              mean_se=("se", "mean"), truth=("truth", "mean"), miss_low=("below", "mean"),
              miss_high=("above", "mean"), ev_exp=("events_exposed", "mean"))
    s["mc_se_bias"] = s["sd"] / np.sqrt(s["reps"])
    s["mc_se_cov"] = np.sqrt(s["coverage"] * (1 - s["coverage"]) / s["reps"])
    s["sd/se"] = s["sd"] / s["mean_se"]
    # skewness of the error (small-count estimators)
    s["skew"] = g["err"].skew()
    return s[["reps", "truth", "coverage", "mc_se_cov", "miss_low", "miss_high", "bias", "mc_se_bias", "sd",
              "mean_se", "sd/se", "skew", "ev_exp"]]


def report(df):
    pd.set_option("display.width", 250, "display.max_columns", 30, "display.max_rows", 200)
    p = df.attrs
    print(p, f"wall {p['wall_s']:.0f} s = {p['wall_s'] / p['reps']:.2f} s per replicate (2 workers)")
    tcols = [c for c in df.columns if c.startswith("t_")]
    print("mean CPU seconds per replicate:", df.groupby("seed")[tcols].first().mean().round(2).to_dict())
    if "error" in df:
        print("errors:", df["error"].dropna().value_counts().to_dict())
    print(summarise(df).round(4))
    dil = [c for c in ("f_time", "n_ctrl_later_spo", "f_ev_charge", "f_ev_withdrawal") if c in df]
    if dil:
        print(df[df.estimator.str.startswith("landmark ") & (df.outcome == "charge")].groupby("estimator")[dil].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--n-cases", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed0", type=int, default=5000)
    ap.add_argument("--no-landmark", action="store_true")
    ap.add_argument("--no-ccw", action="store_true")
    ap.add_argument("--no-pp", action="store_true")
    ap.add_argument("--show", action="store_true", help="only print the summary of a saved study")
    a = ap.parse_args()
    path = f"/tmp/{a.name}.pkl"
    if a.show:
        with open(path, "rb") as fh:
            report(pickle.load(fh))
        return
    t0 = time.perf_counter()
    reps = run_tasks(one_replicate, [(a.seed0 + k, a.n_cases, a.n_boot, not a.no_landmark, not a.no_ccw, not a.no_pp)
                                     for k in range(a.reps)], n_jobs=2, progress=True)
    df = pd.DataFrame([r for rep in reps for r in rep])
    df.attrs = {k: v for k, v in vars(a).items() if k != "show"} | {"wall_s": time.perf_counter() - t0}
    with open(path, "wb") as fh:
        pickle.dump(df, fh)
    report(df)


if __name__ == "__main__":
    main()
