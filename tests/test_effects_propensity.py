"""Tests of attrition.effects.propensity: statsmodels cross-checks, closed forms, simulation truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy.special import expit
from statsmodels.discrete.discrete_model import Logit
from statsmodels.treatment.treatment_effects import TreatmentEffect, ate_ipw

from attrition.effects import PropensityModel, aipw_effect, balance_table, ipw_effect, ipw_weights
from attrition.exceptions import ConvergenceError, DataValidationError, NotFittedError, StatisticalWarning

COVS = ["x1", "x2", "grp"]
GRP_P = {"a": 0.5, "b": 0.3, "c": 0.2}
GT = {"a": 0.0, "b": 0.5, "c": -0.4}  # group effect on treatment
GY = {"a": 0.0, "b": 0.4, "c": -0.6}  # group effect on outcome
EFFECT = 0.6  # conditional log-odds ratio of the treatment


def simulate(n, seed, n_clusters=None, cluster_sd=0.0):
    """Confounded data: x1 (normal), x2 (binary), grp (3 levels) raise both treatment and outcome."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n)
    grp = rng.choice(list(GRP_P), p=list(GRP_P.values()), size=n)
    lin_t = -0.3 + 0.8 * x1 + 0.7 * x2 + pd.Series(grp).map(GT).to_numpy()
    lin_y = -0.5 + 0.6 * x1 - 0.5 * x2 + pd.Series(grp).map(GY).to_numpy()
    df = pd.DataFrame({"x1": x1, "x2": x2, "grp": grp})
    if n_clusters:
        cl = rng.integers(n_clusters, size=n)
        u_t = rng.normal(scale=cluster_sd, size=n_clusters)[cl]
        u_y = rng.normal(scale=cluster_sd, size=n_clusters)[cl]
        lin_t, lin_y = lin_t + u_t, lin_y + u_y
        df["force"] = cl
    t = rng.binomial(1, expit(lin_t))
    df["t"] = t
    df["y"] = rng.binomial(1, expit(lin_y + EFFECT * t))
    return df


def true_risks():
    """Exact marginal risks under T=0 and T=1 for the data above (no clusters), by Gauss-Hermite."""
    nodes, wts = np.polynomial.hermite_e.hermegauss(80)
    wts = wts / wts.sum()
    r = np.zeros(2)
    for g, pg in GRP_P.items():
        for x2, px2 in ((0, 0.6), (1, 0.4)):
            lin = -0.5 + 0.6 * nodes - 0.5 * x2 + GY[g]
            for a in (0, 1):
                r[a] += pg * px2 * np.sum(wts * expit(lin + EFFECT * a))
    return r


def design(df):
    return np.column_stack(
        [np.ones(len(df)), df.x1, df.x2, df.grp == "b", df.grp == "c"]
    ).astype(float)


class _LogitWithResid(Logit):
    """statsmodels' TreatmentEffect reads ``results.resid`` of the outcome model; Logit lacks it."""

    def fit(self, *args, **kwargs):
        kwargs.setdefault("disp", 0)
        res = super().fit(*args, **kwargs)
        res.resid = res.resid_response
        return res


@pytest.fixture(scope="module")
def data():
    return simulate(2000, seed=1)


@pytest.fixture(scope="module")
def sm_teffect(data):
    X = design(data)
    ps = Logit(data.t.to_numpy(), X).fit(disp=0)
    assert 0.01 < ps.predict().min() and ps.predict().max() < 0.99  # so statsmodels' clipping is inactive
    te_ipw = TreatmentEffect(sm.OLS(data.y.to_numpy(), X), data.t.to_numpy(), results_select=ps)
    te_aipw = TreatmentEffect(_LogitWithResid(data.y.to_numpy(), X), data.t.to_numpy(), results_select=ps)
    return ps, te_ipw.ipw().summary_frame(), te_aipw.aipw().summary_frame()


# ------------------------------------------------------------------------------------------- statsmodels
def test_propensity_model_matches_statsmodels_logit(data, sm_teffect):
    ps = sm_teffect[0]
    pm = PropensityModel().fit(data, "t", COVS)
    assert list(pm.params_.index) == ["Intercept", "x1", "x2", "grp[T.b]", "grp[T.c]"]
    assert_allclose(pm.params_.to_numpy(), ps.params, rtol=1e-7)
    s = pm.summary
    assert_allclose(s["se"].to_numpy(), ps.bse, rtol=1e-5)
    assert_allclose(s[["lower 95%", "upper 95%"]].to_numpy(), ps.conf_int(), rtol=1e-5)
    assert_allclose(s["odds_ratio"], np.exp(ps.params), rtol=1e-7)
    assert_allclose(pm.propensity_.to_numpy(), ps.predict(), rtol=1e-7)
    assert pm.propensity_.index.equals(data.index)
    assert_allclose(pm.predict(data.iloc[:7]).to_numpy(), ps.predict()[:7], rtol=1e-7)
    assert "2000 cases" in repr(pm) and "'t'" in repr(pm)


def test_ipw_matches_statsmodels_treatment_effect(data, sm_teffect):
    sf = sm_teffect[1]
    res = ipw_effect(data, "y", "t", COVS)
    # statsmodels normalises the weights within arm (Hajek) = our stabilised estimator
    assert_allclose(res.loc["risk_difference", "estimate"], sf.loc["ATE", "coef"], atol=1e-10)
    assert_allclose(res.loc["risk_untreated", "estimate"], sf.loc["POM0", "coef"], atol=1e-10)
    assert_allclose(res.loc["risk_treated", "estimate"], sf.loc["POM1", "coef"], atol=1e-10)
    # sandwich SE = statsmodels' GMM (HC0) SE
    assert_allclose(res.loc["risk_difference", "se"], sf.loc["ATE", "std err"], rtol=1e-6)
    assert_allclose(res.loc["risk_untreated", "se"], sf.loc["POM0", "std err"], rtol=1e-6)
    assert_allclose(res.loc["risk_treated", "se"], sf.loc["POM1", "std err"], rtol=1e-6)
    assert_allclose(res.loc["risk_difference", ["lower 95%", "upper 95%"]].to_numpy(float),
                    sf.loc["ATE", ["Conf. Int. Low", "Conf. Int. Upp."]].to_numpy(float), rtol=1e-6)
    assert_allclose(res.loc["risk_difference", "p"], sf.loc["ATE", "P>|z|"], rtol=1e-4)


def test_ipw_horvitz_thompson_matches_statsmodels_unnormalised(data, sm_teffect):
    ps = sm_teffect[0]
    ate, pom0, pom1 = ate_ipw(data.y.to_numpy(), data.t.to_numpy(), ps.predict(), weighted=False)
    res = ipw_effect(data, "y", "t", COVS, stabilized=False)
    assert_allclose(res["estimate"].iloc[:3].to_numpy(), [pom0, pom1, ate], atol=1e-10)


def test_aipw_matches_statsmodels_treatment_effect(data, sm_teffect):
    sf = sm_teffect[2]
    res = aipw_effect(data, "y", "t", COVS)
    assert_allclose(res.loc["risk_difference", "estimate"], sf.loc["ATE", "coef"], atol=1e-10)
    assert_allclose(res.loc["risk_untreated", "estimate"], sf.loc["POM0", "coef"], atol=1e-10)
    assert_allclose(res.loc["risk_treated", "estimate"], sf.loc["POM1", "coef"], atol=1e-10)
    for ours, theirs in (("risk_difference", "ATE"), ("risk_untreated", "POM0"), ("risk_treated", "POM1")):
        assert_allclose(res.loc[ours, "se"], sf.loc[theirs, "std err"], rtol=1e-6)


def test_ratio_rows_are_delta_method_of_risks(data):
    res = ipw_effect(data, "y", "t", COVS)
    m0, m1 = res.loc["risk_untreated", "estimate"], res.loc["risk_treated", "estimate"]
    assert_allclose(res.loc["risk_ratio", "estimate"], m1 / m0, rtol=1e-12)
    assert_allclose(res.loc["odds_ratio", "estimate"], m1 / (1 - m1) / (m0 / (1 - m0)), rtol=1e-12)
    rr = res.loc["risk_ratio"]
    # CI symmetric on the log scale with the reported (log-scale) se
    assert_allclose(np.log(rr["upper 95%"]) - np.log(rr["estimate"]), 1.959963984540054 * rr["se"], rtol=1e-9)
    assert list(res["scale"]) == ["identity"] * 3 + ["log"] * 2
    assert res["p"].iloc[:2].isna().all() and res.attrs["df"] == np.inf
    assert "sandwich" in res.attrs["variance"]


# ------------------------------------------------------------------------------------------- closed forms
def test_crude_ipw_equals_difference_in_proportions(data):
    res = ipw_effect(data, "y", "t", [])
    p1, p0 = data.y[data.t == 1].mean(), data.y[data.t == 0].mean()
    n1, n0 = (data.t == 1).sum(), (data.t == 0).sum()
    assert_allclose(res.loc["risk_difference", "estimate"], p1 - p0, rtol=1e-12)
    # HC0 variance of a difference of proportions: p(1-p)/n per arm
    assert_allclose(res.loc["risk_difference", "se"], np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0), rtol=1e-10)
    assert_allclose(res.loc["risk_ratio", "se"], np.sqrt((1 - p1) / (n1 * p1) + (1 - p0) / (n0 * p0)), rtol=1e-10)


def test_cluster_variance_matches_statsmodels_ols_cluster(data):
    df = data.assign(force=np.arange(len(data)) % 43)
    res = ipw_effect(df, "y", "t", [], cluster="force")
    ols = sm.OLS(df.y.to_numpy(float), sm.add_constant(df.t.to_numpy(float))).fit(
        cov_type="cluster", cov_kwds={"groups": df.force.to_numpy(), "use_correction": False}
    )
    G = 43
    assert_allclose(res.loc["risk_difference", "estimate"], ols.params[1], rtol=1e-12)
    assert_allclose(res.loc["risk_difference", "se"], np.sqrt(G / (G - 1)) * ols.bse[1], rtol=1e-10)
    assert res.attrs["n_clusters"] == 43 and res.attrs["df"] == 42
    from scipy import stats

    q = stats.t.ppf(0.975, 42)
    est, se = res.loc["risk_difference", ["estimate", "se"]]
    assert_allclose(res.loc["risk_difference", "upper 95%"], est + q * se, rtol=1e-12)


@pytest.mark.parametrize("estimator", [ipw_effect, aipw_effect])
def test_singleton_clusters_give_hc0_times_n_over_n_minus_1(data, estimator):
    df = data.assign(case=np.arange(len(data)))
    plain = estimator(df, "y", "t", COVS)
    clus = estimator(df, "y", "t", COVS, cluster="case")
    n = len(df)
    assert_allclose(clus["se"].to_numpy(), plain["se"].to_numpy() * np.sqrt(n / (n - 1)), rtol=1e-10)
    assert_allclose(clus["estimate"].to_numpy(), plain["estimate"].to_numpy(), rtol=1e-12)


def test_ipw_weights_closed_form():
    t = np.array([1, 0, 1, 0, 1])
    e = np.array([0.5, 0.5, 0.8, 0.2, 0.25])
    assert_allclose(ipw_weights(t, e, stabilized=False, truncate=None), [2, 2, 1.25, 1.25, 4])
    assert_allclose(ipw_weights(t, e, truncate=None), [0.6 * 2, 0.4 * 2, 0.6 * 1.25, 0.4 * 1.25, 0.6 * 4])
    w = ipw_weights(t, e, stabilized=False, truncate=(0.0, 0.75))
    # 75th percentile of [2, 2, 1.25, 1.25, 4] (linear interpolation) is 2
    assert_allclose(w, [2, 2, 1.25, 1.25, 2])
    with pytest.raises(DataValidationError, match="strictly between 0 and 1"):
        ipw_weights(t, [0.5, 0.5, 1.0, 0.2, 0.3])
    with pytest.raises(ValueError, match="truncate"):
        ipw_weights(t, e, truncate=(0.9, 0.1))


def test_truncated_ipw_equals_weighted_means_with_truncated_weights(data):
    pm = PropensityModel().fit(data, "t", COVS)
    w = ipw_weights(pm.treatment_, pm.propensity_, truncate=(0.02, 0.98))
    res = ipw_effect(data, "y", "t", COVS, truncate=(0.02, 0.98))
    y, t = data.y.to_numpy(), data.t.to_numpy()
    m1 = np.sum(w * t * y) / np.sum(w * t)
    m0 = np.sum(w * (1 - t) * y) / np.sum(w * (1 - t))
    assert_allclose(res["estimate"].iloc[:3].to_numpy(), [m0, m1, m1 - m0], rtol=1e-12)
    assert not np.isclose(res.loc["risk_difference", "estimate"],
                          ipw_effect(data, "y", "t", COVS).loc["risk_difference", "estimate"])


# ------------------------------------------------------------------------------------------- simulation truth
def test_true_risks_by_monte_carlo():
    # the quadrature truth is itself checked against a large simulation
    big = simulate(400_000, seed=99)
    r = true_risks()
    # crude arm means are confounded, so compare the marginal truth with a direct g-formula on the sample
    lin = -0.5 + 0.6 * big.x1 - 0.5 * big.x2 + big.grp.map(GY)
    assert_allclose([expit(lin).mean(), expit(lin + EFFECT).mean()], r, atol=2e-3)


def test_confounded_simulation_naive_biased_adjusted_cover_truth():
    df = simulate(5000, seed=2024)
    r0, r1 = true_risks()
    truth = r1 - r0
    naive = ipw_effect(df, "y", "t", []).loc["risk_difference"]
    ipw = ipw_effect(df, "y", "t", COVS).loc["risk_difference"]
    aipw = aipw_effect(df, "y", "t", COVS).loc["risk_difference"]
    assert naive["estimate"] - truth > 0.08  # strong upward confounding
    assert not naive["lower 95%"] <= truth <= naive["upper 95%"]
    for res in (ipw, aipw):
        assert res["lower 95%"] <= truth <= res["upper 95%"]
        assert abs(res["estimate"] - truth) < 0.03
    rr = aipw_effect(df, "y", "t", COVS).loc["risk_ratio"]
    assert rr["lower 95%"] <= r1 / r0 <= rr["upper 95%"]


def test_aipw_is_doubly_robust_to_a_wrong_propensity_model():
    df = simulate(20000, seed=7)
    r0, r1 = true_risks()
    # propensity omits the strongest confounder x1; the outcome models include it
    ipw = ipw_effect(df, "y", "t", ["x2", "grp"]).loc["risk_difference", "estimate"]
    aipw = aipw_effect(df, "y", "t", ["x2", "grp"], outcome_covariates=COVS).loc["risk_difference"]
    assert abs(ipw - (r1 - r0)) > 0.04  # IPW with the wrong propensity model is biased
    # AIPW is not (over 30 seeds its mean is within 1 Monte Carlo SE of the truth; here within 3 SE)
    assert abs(aipw["estimate"] - (r1 - r0)) < 3 * aipw["se"]
    assert abs(aipw["estimate"] - (r1 - r0)) < abs(ipw - (r1 - r0)) / 3


@pytest.mark.slow
def test_ci_coverage_replication():
    r0, r1 = true_risks()
    truth = r1 - r0
    reps = 100
    hits = {"IPW": 0, "AIPW": 0}
    for i in range(reps):
        df = simulate(800, seed=10_000 + i)
        for name, est in (("IPW", ipw_effect), ("AIPW", aipw_effect)):
            row = est(df, "y", "t", COVS).loc["risk_difference"]
            hits[name] += row["lower 95%"] <= truth <= row["upper 95%"]
    print("coverage", hits)
    assert hits["IPW"] / reps >= 0.91, hits
    assert hits["AIPW"] / reps >= 0.91, hits


@pytest.mark.slow
def test_cluster_robust_coverage_with_43_forces():
    """Force-level confounders and shocks: only the cluster-robust CI keeps its coverage."""
    reps, G = 100, 43
    hits_cl = hits_iid = 0
    # superpopulation ATE: 0.6 * x1 + u ~ N(0, 0.6^2 + 0.5^2), by Gauss-Hermite quadrature
    z, wz = np.polynomial.hermite_e.hermegauss(80)
    lin = -0.5 + np.sqrt(0.61) * z
    truth = np.sum(wz * (expit(lin + 0.4) - expit(lin))) / wz.sum()
    rng = np.random.default_rng(5)
    for i in range(reps):
        # treatment assigned at force level (like a dedicated stalking officer), force-level outcome shocks
        n = 2000
        force = rng.integers(G, size=n)
        x1 = rng.normal(size=n)
        u = rng.normal(scale=0.5, size=G)
        t_force = rng.binomial(1, 0.5, size=G)
        t = t_force[force]
        y = rng.binomial(1, expit(-0.5 + 0.6 * x1 + u[force] + 0.4 * t))
        df = pd.DataFrame({"x1": x1, "t": t, "y": y, "force": force})
        if i == 0:
            res = ipw_effect(df, "y", "t", ["x1"], cluster="force")
            assert res.attrs["df"] == G - 1
        row_cl = ipw_effect(df, "y", "t", ["x1"], cluster="force").loc["risk_difference"]
        row_iid = ipw_effect(df, "y", "t", ["x1"]).loc["risk_difference"]
        hits_cl += row_cl["lower 95%"] <= truth <= row_cl["upper 95%"]
        hits_iid += row_iid["lower 95%"] <= truth <= row_iid["upper 95%"]
    print(f"coverage: cluster-robust {hits_cl}/{reps}, independence {hits_iid}/{reps}")
    assert hits_cl / reps >= 0.90, (hits_cl, hits_iid)
    assert hits_iid / reps < 0.80, (hits_cl, hits_iid)


# ------------------------------------------------------------------------------------------- balance
def test_balance_table_hand_computed():
    df = pd.DataFrame(
        {
            "t": [1, 1, 1, 0, 0, 0, 0],
            "age": [30.0, 40.0, 50.0, 20.0, 30.0, 40.0, 30.0],
            "high": [True, True, False, False, False, True, False],
            "rel": ["ex", "ex", "stranger", "ex", "stranger", "stranger", "stranger"],
        }
    )
    w = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    bt = balance_table(df, "t", ["age", "high", "rel"], weights=w)
    un = bt[bt["sample"] == "unadjusted"].set_index("covariate")
    wt = bt[bt["sample"] == "weighted"].set_index("covariate")
    assert list(un.index) == ["age", "high", "rel[ex]", "rel[stranger]"]
    # age: treated mean 40, var 100; control mean 30, var 200/3
    assert_allclose(un.loc["age", "smd"], 10 / np.sqrt((100 + 200 / 3) / 2))
    assert_allclose(un.loc["age", "variance_ratio"], 100 / (200 / 3))
    # high: p1 = 2/3, p0 = 1/4
    p1, p0 = 2 / 3, 1 / 4
    assert_allclose(un.loc["high", "smd"], (p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2))
    assert np.isnan(un.loc["high", "variance_ratio"]) and un.loc["high", "type"] == "binary"
    assert_allclose(un.loc["rel[ex]", ["mean_treated", "mean_untreated"]].to_numpy(float), [2 / 3, 1 / 4])
    # weighted age: treated mean (30+80+50)/4 = 40; control (20+30+80+30)/5 = 32
    m1, m0 = 40.0, 32.0
    v1 = 4 / (16 - 6) * (1 * 100 + 2 * 0 + 1 * 100)  # sum w / ((sum w)^2 - sum w^2) * sum w (x - m)^2
    v0 = 5 / (25 - 7) * (144 + 4 + 2 * 64 + 4)
    assert_allclose(wt.loc["age", ["mean_treated", "mean_untreated"]].to_numpy(float), [m1, m0])
    assert_allclose(wt.loc["age", "smd"], (m1 - m0) / np.sqrt((v1 + v0) / 2))
    assert_allclose(wt.loc["age", "variance_ratio"], v1 / v0)
    q1, q0 = 3 / 4, 2 / 5
    assert_allclose(wt.loc["high", "smd"], (q1 - q0) / np.sqrt((q1 * (1 - q1) + q0 * (1 - q0)) / 2))


def test_ipw_weights_improve_balance(data):
    pm = PropensityModel().fit(data, "t", COVS)
    w = ipw_weights(pm.treatment_, pm.propensity_, truncate=None)
    bt = balance_table(data.assign(w=w), "t", COVS, weights="w")
    before = bt[bt["sample"] == "unadjusted"].set_index("covariate")["smd"].abs()
    after = bt[bt["sample"] == "weighted"].set_index("covariate")["smd"].abs()
    assert before.max() > 0.2
    assert after.max() < 0.05


# ------------------------------------------------------------------------------------------- bad input
def test_treatment_never_or_always_given(data):
    with pytest.raises(DataValidationError, match="never given"):
        PropensityModel().fit(data.assign(t=0), "t", COVS)
    with pytest.raises(DataValidationError, match="always given"):
        ipw_effect(data.assign(t=True), "y", "t", COVS)


def test_missing_covariates_named_with_counts(data):
    df = data.copy()
    df.loc[df.index[:3], "x1"] = np.nan
    df["grp"] = df["grp"].astype(object)
    df.loc[df.index[5:10], "grp"] = None
    with pytest.raises(DataValidationError, match=r"'x1': 3 of 2000 rows; 'grp': 5 of 2000 rows") as exc:
        PropensityModel().fit(df, "t", COVS)
    assert "impute" in str(exc.value).lower() and "drop" in str(exc.value).lower()
    assert exc.value.problems.set_index("column")["n_rows"].to_dict() == {"x1": 3, "grp": 5}


def test_non_binary_and_absent_columns(data):
    with pytest.raises(DataValidationError, match="'x1' must be binary"):
        ipw_effect(data, "x1", "t", COVS)
    with pytest.raises(DataValidationError, match=r"\['nope'\] not found"):
        ipw_effect(data, "y", "t", ["nope"])
    with pytest.raises(DataValidationError, match="single value"):
        PropensityModel().fit(data.assign(c=1.0), "t", ["x1", "c"])


def test_separation_raises_convergence_error_naming_covariate(data):
    df = data.copy()
    df["grp"] = np.where(df.index < 20, "tiny", df["grp"])
    df.loc[df.index < 20, "t"] = 1
    with pytest.raises(ConvergenceError, match=r"grp\[T.tiny\].*[Cc]ollapse"):
        PropensityModel().fit(df, "t", COVS)
    with pytest.raises(ConvergenceError, match="x1"):
        PropensityModel().fit(df.assign(t=(df.x1 > 0).astype(int)), "t", ["x1"])
    # separation in an outcome model of AIPW is named with its arm
    df2 = data.copy()
    df2["grp"] = np.where(df2.index < 30, "tiny", df2["grp"])
    df2.loc[df2.index < 30, "y"] = 0
    with pytest.raises(ConvergenceError, match=r"outcome model .*arm.*grp\[T.tiny\]"):
        aipw_effect(df2, "y", "t", ["x1"], outcome_covariates=COVS)


def test_extreme_propensities_name_the_strongest_predictor():
    """Converged, but a few units have fitted propensity 0 or 1 to 8 decimals: a positivity error naming the
    term that moves the logit most (|coef| x SD), not merely the least precise one."""
    rng = np.random.default_rng(5)
    n = 4000
    size = rng.normal(size=n)
    noise = rng.choice(["a", "b", "c"], size=n)
    t = rng.binomial(1, expit(-2 + 6 * size))
    df = pd.DataFrame({"size": size, "noise": noise, "t": t})
    df.loc[df["size"].idxmax(), "size"] = 9.0  # one unit far out: fitted propensity 1 to 8 decimals
    df.loc[df["size"].idxmin(), "size"] = -9.0
    with pytest.raises(ConvergenceError, match=r"positivity fails.*strongest predictor is 'size'"):
        PropensityModel().fit(df, "t", ["size", "noise"])


def test_positivity_warning_with_counts():
    rng = np.random.default_rng(3)
    x = rng.normal(size=3000)
    t = rng.binomial(1, expit(-1 + 2.5 * x))
    df = pd.DataFrame({"x": x, "t": t, "y": rng.binomial(1, 0.3, size=3000)})
    with pytest.warns(StatisticalWarning, match=r"\d+ case\(s\) have propensity < 0.01 and \d+ have propensity > 0.99"):
        pm = PropensityModel().fit(df, "t", ["x"])
    assert pm.n_positivity_low_ > 0 and pm.n_positivity_high_ > 0


def test_outcome_never_in_an_arm(data):
    df = data.copy()
    df.loc[df.t == 1, "y"] = 0
    with pytest.raises(DataValidationError, match="never occurs in the treated group"):
        ipw_effect(df, "y", "t", COVS)


def test_not_fitted_and_alpha(data):
    with pytest.raises(NotFittedError):
        PropensityModel().summary
    res = ipw_effect(data, "y", "t", COVS, alpha=0.1)
    assert "lower 90%" in res.columns
    with pytest.raises(ValueError, match="alpha"):
        ipw_effect(data, "y", "t", COVS, alpha=5)
    with pytest.raises(DataValidationError, match="at least 2 clusters"):
        ipw_effect(data.assign(f=1), "y", "t", COVS, cluster="f")


def test_deterministic(data):
    a = aipw_effect(data, "y", "t", COVS)
    b = aipw_effect(data.copy(), "y", "t", COVS)
    pd.testing.assert_frame_equal(a, b)


def test_category_absent_from_an_arm_and_collinearity(data):
    df = data.copy()
    df["grp"] = np.where((df.index < 15) & (df.t == 0), "rare", df["grp"])  # "rare" only among untreated
    with pytest.raises(ConvergenceError, match=r"outcome model .* in the treated arm .*grp\[T.rare\].*single value"):
        aipw_effect(df, "y", "t", ["x1"], outcome_covariates=COVS)
    with pytest.raises(ConvergenceError, match="collinear"):
        PropensityModel().fit(data.assign(x3=2 * data.x1), "t", ["x1", "x3"])


def test_balance_weights_series_aligned_by_index(data):
    pm = PropensityModel().fit(data, "t", COVS)
    w = pd.Series(ipw_weights(pm.treatment_, pm.propensity_, truncate=None), index=data.index)
    a = balance_table(data, "t", COVS, weights=w)
    b = balance_table(data, "t", COVS, weights=w.iloc[::-1])  # shuffled Series realigned, not misused
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(DataValidationError, match="index"):
        balance_table(data, "t", COVS, weights=w.iloc[:10])
