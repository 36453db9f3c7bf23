"""Tests of attrition.effects.officer_permutation: exact enumeration against a brute-force loop written
independently (statsmodels), simulation truth for one seed each with and without an effect, bad input."""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from attrition.effects.officer_permutation import _n_assignments, officer_permutation_test, officer_schedules
from attrition.exceptions import DataValidationError, StatisticalWarning
from attrition.synthetic import simulate

LO, HI = "lower 95%", "upper 95%"


@pytest.fixture(scope="module")
def synth():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(n_cases=40_000, random_state=11)


@pytest.fixture(scope="module")
def synth_null():
    return simulate(n_cases=40_000, random_state=12, officer_hr_charge=1.0)


def _six_forces(d):
    """Six forces of the synthetic data, two with an officer throughout, one adopting, three never."""
    S = officer_schedules(d.cases, d.forces)
    always = S.index[S.all(axis=1)][:2].tolist()
    adopt = S.index[S.any(axis=1) & ~S.all(axis=1)][:1].tolist()
    never = S.index[~S.any(axis=1) & (S.index != "London, City of")][:3].tolist()
    keep = always + adopt + never
    return d.cases[d.cases["force"].isin(keep)], d.forces[d.forces["force"].isin(keep)], keep


def test_exact_enumeration_matches_brute_force_loop(synth):
    cases, forces, keep = _six_forces(synth)
    res = officer_permutation_test(cases, forces, "charged", covariates=("risk", "financial_year"),
                                   weights="equal", n_permutations=999)
    # 6 forces, schedules {always: 2, adopting: 1, never: 3}: 6! / (2! 1! 3!) = 60 distinct assignments
    assert res["exact"].all() and (res["n_assignments"] == 60).all() and (res["n_permutations"] == 60).all()
    assert res["min_p"].iloc[0] == pytest.approx(2 / 60)

    # independent computation: case-mix logit (statsmodels), empirical force-year log odds, OLS on each assignment
    c = cases.assign(force=cases["force"].astype(str), y=cases["charged"].astype(float))
    X = pd.get_dummies(c["risk"].astype(str), drop_first=True, dtype=float)
    fit = sm.GLM(c["y"], sm.add_constant(X), family=sm.families.Binomial()).fit()
    c["p"] = fit.fittedvalues
    fy = c.groupby(["force", "financial_year"]).agg(O=("y", "sum"), n=("y", "size"), e=("p", "mean")).reset_index()
    fy["W"] = np.log((fy["O"] + 0.5) / (fy["n"] - fy["O"] + 0.5)) - np.log(fy["e"] / (1 - fy["e"]))
    sched = {f: forces[forces["force"] == f].sort_values("financial_year")["dedicated_stalking_officer"].to_numpy(float)
             for f in sorted(keep)}
    years = sorted(fy["financial_year"].unique())
    Z = pd.get_dummies(fy["financial_year"], drop_first=True, dtype=float).assign(const=1.0)

    def coef(assign):
        d = np.array([assign[f][years.index(y)] for f, y in zip(fy["force"], fy["financial_year"])])
        return sm.OLS(fy["W"], Z.assign(d=d)).fit().params["d"]

    names = sorted(keep)
    t_obs = coef(sched)
    seen, stats = set(), []
    for perm in itertools.permutations(names):
        a = {f: sched[g] for f, g in zip(names, perm)}
        key = tuple(tuple(a[f]) for f in names)
        if key not in seen:
            seen.add(key)
            stats.append(coef(a))
    stats = np.array(stats)
    assert len(stats) == 60
    p = min(1.0, 2 * min(np.sum(stats >= t_obs - 1e-12), np.sum(stats <= t_obs + 1e-12)) / len(stats))
    row = res.set_index("measure").loc["odds_ratio"]
    np.testing.assert_allclose(np.log(row["estimate"]), t_obs, rtol=1e-8)
    np.testing.assert_allclose(row["p"], p, rtol=1e-12)
    np.testing.assert_allclose(np.sort(res.attrs["null_distribution"]), np.sort(stats), rtol=1e-8, atol=1e-12)


def test_interval_is_the_set_of_effects_not_rejected(synth):
    res = officer_permutation_test(synth.cases, synth.forces, "charged", n_permutations=499, random_state=1)
    psi = res.attrs["psi"]
    lo, hi = psi["lower"], psi["upper"]
    assert lo < psi["estimate"] < hi
    # inside the interval the test does not reject, outside it does (same assignments: same seed; 0.01 from the
    # ends, as the p-value is a step function of the hypothesised effect and wobbles right at the ends)
    for x, rejected in ((lo + 0.01, False), (lo - 0.01, True), (hi - 0.01, False), (hi + 0.01, True)):
        shifted = officer_permutation_test(synth.cases, synth.forces, "charged", n_permutations=499, random_state=1,
                                           null=np.exp(x)).set_index("measure")
        assert bool(shifted.loc["odds_ratio", "p"] <= 0.05) is rejected, (x, shifted.loc["odds_ratio", "p"])


def test_recovers_truth_with_an_effect(synth):
    res = officer_permutation_test(synth.cases, synth.forces, "charged", random_state=2).set_index("measure")
    assert res["n_clusters"].iloc[0] == 43 and res["n_exposed_clusters"].iloc[0] == 7
    for m, key in (("odds_ratio", "or"), ("risk_ratio", "rr"), ("risk_difference", "rd")):
        truth = synth.truth[f"officer_charged_{key}"]
        assert res.loc[m, LO] <= truth <= res.loc[m, HI], (m, truth, res.loc[m, [LO, HI]].tolist())
    assert res.loc["odds_ratio", LO] > 1.0 and res.loc["odds_ratio", "p"] < 0.01


def test_no_effect_not_rejected(synth_null):
    res = officer_permutation_test(synth_null.cases, synth_null.forces, "charged", random_state=3).set_index("measure")
    assert res.loc["odds_ratio", "p"] > 0.05
    assert res.loc["odds_ratio", LO] < 1.0 < res.loc["odds_ratio", HI]
    assert res.loc["risk_ratio", LO] <= synth_null.truth["officer_charged_rr"] <= res.loc["risk_ratio", HI]


def test_within_force_version_uses_only_adopters(synth):
    res = officer_permutation_test(synth.cases, synth.forces, "charged", fixed_effects="force", n_permutations=499,
                                   random_state=4).set_index("measure")
    assert "force and year fixed effects" in res["method"].iloc[0]
    truth = synth.truth["officer_charged_or"]
    assert res.loc["odds_ratio", LO] <= truth <= res.loc["odds_ratio", HI]
    # without an adopting force nothing identifies the within-force effect
    S = officer_schedules(synth.cases, synth.forces)
    adopters = S.index[S.any(axis=1) & ~S.all(axis=1)]
    cases = synth.cases[~synth.cases["force"].isin(adopters)]
    forces = synth.forces[~synth.forces["force"].isin(adopters)]
    with pytest.raises(DataValidationError, match="change officer status"):
        officer_permutation_test(cases, forces, "charged", fixed_effects="force", n_permutations=99)


def test_too_few_assignments_warns_and_interval_unbounded(synth):
    S = officer_schedules(synth.cases, synth.forces)
    keep = [S.index[S.all(axis=1)][0], *S.index[~S.any(axis=1)][:3]]
    cases, forces = synth.cases[synth.cases["force"].isin(keep)], synth.forces[synth.forces["force"].isin(keep)]
    with pytest.warns(StatisticalWarning, match="4 distinct assignments"):
        res = officer_permutation_test(cases, forces, "charged", covariates=("risk",))
    assert res["n_assignments"].iloc[0] == 4 and np.isinf(res[HI].iloc[0])


def test_number_of_assignments():
    assert _n_assignments([36, 4, 3]) == math.comb(43, 7) * math.comb(7, 3)
    assert _n_assignments([2, 1, 3]) == 60
    assert _n_assignments([3, 4]) == 35


def test_bad_arguments(synth):
    for kw, msg in ((dict(weights="cases"), "weights"), (dict(n_permutations=10), "n_permutations"),
                    (dict(fixed_effects="year"), "fixed_effects"), (dict(strata="nope"), "strata")):
        with pytest.raises(ValueError, match=msg):
            officer_permutation_test(synth.cases, synth.forces, "charged", **kw)


def test_negative_control_is_null_without_confounding(synth):
    from attrition.effects import officer_negative_control

    nc = officer_negative_control(synth.cases, synth.forces, n_permutations=499, random_state=5)
    assert nc["outcome"] == "suspect_identified" and not nc["flags_confounding"]
    assert nc["lower 95%"] < 1.0 < nc["upper 95%"] and nc["p"] > 0.05
    with pytest.raises(DataValidationError, match="days_to_suspect_identified"):
        officer_negative_control(synth.cases.drop(columns="days_to_suspect_identified"), synth.forces)


@pytest.mark.slow
def test_negative_control_flags_force_level_confounding():
    # forces of higher investigative quality (raising suspect identification and charging) likelier to appoint
    # an officer: the negative control flags it (it did in 84 of 100 such datasets,
    # tests/studies/officer_negative_control.py) and the charge estimate is biased upwards
    from attrition.effects import officer_negative_control

    d = simulate(n_cases=40_000, random_state=3000, officer_confounding=2.0)
    nc = officer_negative_control(d.cases, d.forces, n_permutations=499, random_state=3000)
    assert nc["flags_confounding"] and nc["lower 95%"] > 1.0
    ch = officer_permutation_test(d.cases, d.forces, "charged", n_permutations=499, random_state=3000)
    assert ch.set_index("measure").loc["odds_ratio", LO] > d.truth["officer_charged_or"]
