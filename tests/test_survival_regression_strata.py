"""Stratified cause-specific Cox (CauseSpecificCox(..., strata_col=)) against R survival 3.5:
coxph(Surv(start, stop, ev) ~ x1 + x2 + g1 + g2 + strata(s), ties = "efron", cluster = ..., weights = ...)
on tests/results/regression_strata_data.csv (made by regression_strata.py; R script regression_strata.R)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from attrition.exceptions import DataValidationError
from attrition.survival.regression import CauseSpecificCox, _efron

RESULTS = Path(__file__).parent / "results"
COVS = ["x1", "x2", "g1", "g2"]
# name in the reference files, cause, weighted, cluster column (None: model-based variance)
FITS = [("c1_id", 1, False, "id"), ("c2_id", 2, False, "id"), ("c1_w_cl", 1, True, "cl"),
        ("c2_w_cl", 2, True, "cl"), ("c1_nocl", 1, False, None)]


@pytest.fixture(scope="module")
def ref():
    d = pd.read_csv(RESULTS / "regression_strata_data.csv")
    return d, pd.read_csv(RESULTS / "regression_strata_ref.csv"), pd.read_csv(RESULTS / "regression_strata_basehaz.csv")


def _fit(d, cause, weighted, cluster):
    return CauseSpecificCox().fit(d, "stop", "status", cause, COVS, entry_col="start", cluster_col=cluster,
                                  weights_col="w" if weighted else None, strata_col="s")


@pytest.mark.parametrize("name, cause, weighted, cluster", FITS)
def test_matches_r_coxph_strata(ref, name, cause, weighted, cluster):
    d, coefs, bh = ref
    r = coefs[coefs["fit"] == name].set_index("covariate").loc[COVS]
    m = _fit(d, cause, weighted, cluster)
    s = m.summary.set_index("covariate").loc[COVS]
    assert_allclose(s["coef"], r["coef"], rtol=1e-6)
    assert_allclose(s["se"], r["se"], rtol=1e-6)  # robust (cluster) or model-based
    assert_allclose(s["naive se"], r["naive_se"], rtol=1e-6)
    assert_allclose(m.log_likelihood_[cause], r["loglik"].iloc[0], rtol=1e-9)
    assert (s["n"] == r["n"]).all() and (s["events"] == r["nevent"]).all()
    assert s["robust"].all() == (cluster is not None)
    # one baseline per stratum (R survfit at covariates 0, at the event times); stratum "e" has no cause-1
    # events and therefore no baseline for cause 1
    b = bh[bh["fit"] == name]
    H = m.baseline_cumulative_hazard_[cause]
    assert H.index.names == ["s", "time"]
    assert list(H.index.get_level_values("s")) == list(b["stratum"])
    assert_allclose(H.index.get_level_values("time"), b["time"])
    assert_allclose(H.to_numpy(), b["cumhaz"].to_numpy(), rtol=1e-6)
    assert "stratified on 's' (5 strata)" in repr(m)


def test_fit_all_equals_single_fits(ref):
    d, coefs, _ = ref
    m = CauseSpecificCox().fit_all(d, "stop", "status", COVS, entry_col="start", cluster_col="id", strata_col="s")
    for name, cause in (("c1_id", 1), ("c2_id", 2)):
        r = coefs[coefs["fit"] == name]
        assert_allclose(m.params_.loc[cause].to_numpy(), r["coef"].to_numpy(), rtol=1e-6)
        assert_allclose(m.standard_errors_.loc[cause].to_numpy(), r["se"].to_numpy(), rtol=1e-6)


def test_stratification_changes_the_fit(ref):
    """Strata with very different baselines: ignoring them gives other coefficients (the test can fail)."""
    d, coefs, _ = ref
    a = CauseSpecificCox().fit(d, "stop", "status", 1, COVS, entry_col="start", cluster_col="id")
    r = coefs[coefs["fit"] == "c1_id"]
    assert np.max(np.abs(a.params_.to_numpy() - r["coef"].to_numpy())) > 0.01
    assert a.baseline_cumulative_hazard_[1].index.names == ["time"]


def test_single_stratum_is_unstratified(ref):
    d, _, _ = ref
    a = CauseSpecificCox().fit(d, "stop", "status", 1, COVS, entry_col="start", cluster_col="id")
    b = CauseSpecificCox().fit(d.assign(one="all"), "stop", "status", 1, COVS, entry_col="start", cluster_col="id",
                               strata_col="one")
    assert_allclose(b.params_.to_numpy(), a.params_.to_numpy(), rtol=1e-10)
    assert_allclose(b.standard_errors_.to_numpy(), a.standard_errors_.to_numpy(), rtol=1e-10)
    assert_allclose(b.baseline_cumulative_hazard_[1].to_numpy(), a.baseline_cumulative_hazard_[1].to_numpy(),
                    rtol=1e-10)


def test_strata_are_separate_likelihoods(ref):
    """The stratified Efron log-likelihood, score and information are sums of the per-stratum ones
    (closed-form property), and the score residuals of each stratum are those of its own fit."""
    d, _, _ = ref
    ev = (d["status"] == 1).to_numpy()
    X = d[COVS].to_numpy(float) - d[COVS].to_numpy(float).mean(0)
    start, stop, w = d["start"].to_numpy(float), d["stop"].to_numpy(float), d["w"].to_numpy(float)
    beta = np.array([0.3, -0.2, 0.1, 0.4])
    codes = pd.factorize(d["s"], sort=True)[0]
    full = _efron(start, stop, ev, X, w, beta, strata=codes)
    tot = {"loglik": 0.0, "score": 0.0, "information": 0.0}
    for k in np.unique(codes):  # five strata
        i = codes == k
        if not ev[i].any():
            continue
        part = _efron(start[i], stop[i], ev[i], X[i], w[i], beta)
        for key in tot:
            tot[key] = tot[key] + part[key]
        assert_allclose(full["resid"][i], part["resid"], rtol=1e-10, atol=1e-12)
    for key in tot:
        assert_allclose(full[key], tot[key], rtol=1e-12)
    # residuals of a stratum without events: only risk-set terms, none here -> zero
    assert_allclose(full["resid"][codes == 4], 0.0)


def test_strata_of_any_dtype_and_order_invariance(ref):
    d, coefs, _ = ref
    r = coefs[coefs["fit"] == "c1_id"]
    d2 = d.assign(s=d["s"].map({"a": 5, "b": 1, "c": 3, "d": 2, "e": 4})).sample(frac=1.0, random_state=0)
    m = CauseSpecificCox().fit(d2, "stop", "status", 1, COVS, entry_col="start", cluster_col="id", strata_col="s")
    assert_allclose(m.params_.to_numpy(), r["coef"].to_numpy(), rtol=1e-6)
    assert_allclose(m.standard_errors_.to_numpy(), r["se"].to_numpy(), rtol=1e-6)


def test_bad_strata(ref):
    d, _, _ = ref
    with pytest.raises(DataValidationError, match="strata_col 'nope' is not a column"):
        CauseSpecificCox().fit(d, "stop", "status", 1, COVS, strata_col="nope")
    bad = d.copy()
    bad["s"] = bad["s"].astype(object)
    bad.loc[3, "s"] = None
    with pytest.raises(DataValidationError, match=r"strata_col 's' has 1 missing value\(s\) \(e.g. at index \[3\]\)"):
        CauseSpecificCox().fit(bad, "stop", "status", 1, COVS, entry_col="start", strata_col="s")
    with pytest.raises(DataValidationError, match="both as a covariate and as a role column"):
        CauseSpecificCox().fit(d, "stop", "status", 1, ["x1", "g1"], strata_col="g1")


def test_stratified_errors(ref):
    """The own Newton-Raphson of stratified fits: a covariate constant within every stratum (absorbed by the
    strata) is a singular-information error; a diverging coefficient (monotone likelihood) is a separation error."""
    from attrition.exceptions import ConvergenceError

    d, _, _ = ref
    d = d.assign(level=d["s"].map({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0}))
    with pytest.raises(ConvergenceError, match="constant within every stratum"):
        CauseSpecificCox().fit(d, "stop", "status", 1, ["x2", "level"], entry_col="start", strata_col="s")
    # every cause-1 event has the largest x3 among the rows at risk at its time: beta -> +inf
    ev = (d["status"] == 1).to_numpy()
    d["x3"] = np.where(ev, 1e3 - d["stop"], -d["stop"])
    with pytest.raises(ConvergenceError, match="perfect separation.*x3"):
        CauseSpecificCox().fit(d, "stop", "status", 1, ["x2", "x3"], entry_col="start", strata_col="s")


# ------------------------------------------------------------------------------------------------
# use in attrition.effects.spo: the time-varying Cox of an SPO in force, stratified on force
# ------------------------------------------------------------------------------------------------
def test_spo_time_varying_cox_is_stratified_on_force():
    from attrition.effects import spo
    from attrition.synthetic import simulate

    cases = simulate(n_cases=20_000, random_state=4).cases
    cases = cases[~(cases["days_to_police_outcome"] < cases["days_to_suspect_identified"]).to_numpy(bool)]
    res = spo.spo_time_varying_cox(cases, outcomes=("withdrawal",), covariates=("risk",))
    assert "stratified on force" in res.loc[0, "note"]
    # the same model fitted directly on the counting-process table
    cp = spo.spo_counting_process(cases, covariates=("risk",))
    cp["force"] = cp["case_id"].map(cases.set_index("case_id")["force"]).to_numpy()
    m = CauseSpecificCox().fit(cp, "stop", "event", "withdrawal", ["spo", "risk_medium", "risk_high"],
                               entry_col="start", cluster_col="case_id", strata_col="force")
    assert_allclose(res.loc[0, "log_estimate"], m.params_.iloc[0], rtol=1e-12)
    assert_allclose(res.loc[0, "se"], m.standard_errors_.iloc[0], rtol=1e-12)
    # a counting-process table with the force column gives the same; strata=None differs
    res2 = spo.spo_time_varying_cox(cp, outcomes=("withdrawal",), covariates=["risk_medium", "risk_high"])
    assert_allclose(res2.loc[0, "log_estimate"], res.loc[0, "log_estimate"], rtol=1e-12)
    res0 = spo.spo_time_varying_cox(cases, outcomes=("withdrawal",), covariates=("risk",), strata=None)
    assert abs(res0.loc[0, "log_estimate"] - res.loc[0, "log_estimate"]) > 1e-4
    assert "stratified" not in res0.loc[0, "note"]
    with pytest.raises(DataValidationError, match=r"strata='region' is not a column.*strata=None"):
        spo.spo_time_varying_cox(cases, outcomes=("withdrawal",), covariates=("risk",), strata="region")
    lm = spo.landmark_analysis(cases, (28,), outcomes=("withdrawal",), covariates=("risk",))
    assert "stratified on force" in lm.loc[0, "note"]
