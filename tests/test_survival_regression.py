"""Tests of attrition.survival.regression against R survival 3.5 / cmprsk 2.2.

Reference values: tests/results/regression_reference.R (data generated and fitted in R, stored as CSV).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from attrition.exceptions import ConvergenceError, DataValidationError, NotFittedError
from attrition.survival.regression import CauseSpecificCox, FineGrayFitter, _efron, finegray_expand

RES = Path(__file__).parent / "results"
REF = pd.read_csv(RES / "regression_reference.csv")
RC = pd.read_csv(RES / "regression_data_rc.csv")  # status: "a", "b" or NaN (censored)
CP = pd.read_csv(RES / "regression_data_cp.csv")
NOTIES = pd.read_csv(RES / "regression_data_noties.csv")
RTOL = 1e-6


def ref(model):
    return REF[REF.model == model].set_index("covariate")


def assert_matches(fitter, model, *, se_col="se"):
    r = ref(model)
    s = fitter.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s["coef"], r["coef"], rtol=RTOL)
    np.testing.assert_allclose(s["se"], r[se_col], rtol=RTOL)
    if r["naive_se"].notna().all():
        np.testing.assert_allclose(s["naive se"], r["naive_se"], rtol=RTOL)
    np.testing.assert_allclose(list(fitter.log_likelihood_.values())[0], r["loglik"].iloc[0], rtol=1e-9)


CS_CASES = {
    "cs_rc_a": (RC, "time", "a", ["x1", "x2"], {}),
    "cs_rc_a_cluster": (RC, "time", "a", ["x1", "x2"], {"cluster_col": "force"}),
    "cs_rc_b_cluster": (RC, "time", "b", ["x1", "x2"], {"cluster_col": "force"}),
    "cs_cp_a": (CP, "stop", "a", ["x1", "x2", "tv"], {"entry_col": "start"}),
    "cs_cp_a_cluster": (CP, "stop", "a", ["x1", "x2", "tv"], {"entry_col": "start", "cluster_col": "force"}),
    "cs_cp_a_id": (CP, "stop", "a", ["x1", "x2", "tv"], {"entry_col": "start", "cluster_col": "id"}),
    "cs_cp_b_wt_cluster": (CP, "stop", "b", ["x1", "x2", "tv"],
                           {"entry_col": "start", "cluster_col": "force", "weights_col": "w"}),
}


@pytest.mark.parametrize("model", sorted(CS_CASES))
def test_cause_specific_matches_r_coxph(model):
    df, dur, cause, covs, kw = CS_CASES[model]
    m = CauseSpecificCox().fit(df, dur, "status", cause, covs, **kw)
    assert_matches(m, model)
    assert m.summary["robust"].all() == ("cluster_col" in kw)


def test_data_have_ties_and_late_entry():
    # the reference data exercise Efron ties, event/censoring ties and (start, stop] entry
    ev = RC[RC.status.notna()]
    assert ev.time.duplicated().sum() > 100
    assert np.intersect1d(ev.time, RC.time[RC.status.isna()]).size > 10
    assert (CP.groupby("id").size() > 1).sum() > 50 and (CP.groupby("id").start.min() > 0).sum() > 20


def test_baseline_cumulative_hazard_matches_r_basehaz():
    bh = pd.read_csv(RES / "regression_cs_basehaz.csv")
    m = CauseSpecificCox().fit(CP, "stop", "status", "a", ["x1", "x2", "tv"], entry_col="start",
                               cluster_col="force")
    H = m.baseline_cumulative_hazard_["a"]
    k = np.searchsorted(H.index.to_numpy(), bh["time"].to_numpy(), side="right")
    np.testing.assert_allclose(np.concatenate([[0.0], H.to_numpy()])[k], bh["hazard"], rtol=RTOL)


def test_fit_all_stacks_one_model_per_cause():
    m = CauseSpecificCox().fit_all(RC, "time", "status", ["x1", "x2"], cluster_col="force")
    s = m.summary
    assert list(s["cause"]) == ["a", "a", "b", "b"] and m.causes_ == ["a", "b"]
    for cause in "ab":
        single = CauseSpecificCox().fit(RC, "time", "status", cause, ["x1", "x2"], cluster_col="force").summary
        pd.testing.assert_frame_equal(s[s.cause == cause].reset_index(drop=True), single)
    np.testing.assert_allclose(s.loc[s.cause == "b", "se"], ref("cs_rc_b_cluster")["se"], rtol=RTOL)
    assert m.params_.index.names == ["cause", "covariate"]
    np.testing.assert_allclose(m.params_.loc["b"], ref("cs_rc_b_cluster")["coef"], rtol=RTOL)
    assert set(m.variance_matrix_) == {"a", "b"}


def test_summary_columns_and_ci_follow_alpha():
    m = CauseSpecificCox(alpha=0.1).fit(RC, "time", "status", "a", ["x1", "x2"], cluster_col="force")
    s = m.summary
    assert list(s.columns) == ["cause", "covariate", "coef", "exp(coef)", "se", "naive se", "robust", "z", "p",
                               "lower 90%", "upper 90%", "n", "events"]
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(s["lower 90%"], np.exp(s["coef"] - z * s["se"]), rtol=1e-12)
    np.testing.assert_allclose(s["upper 90%"], np.exp(s["coef"] + z * s["se"]), rtol=1e-12)
    np.testing.assert_allclose(s["p"], 2 * stats.norm.sf(np.abs(s["coef"] / s["se"])), rtol=1e-12)
    assert s["events"].iloc[0] == (RC.status == "a").sum() and s["n"].iloc[0] == len(RC)
    assert "clustered on 'force' (12 clusters)" in repr(m)


def test_numeric_event_codes_and_bool_equivalent():
    coded = RC.assign(code=np.where(RC.status.isna(), 0, np.where(RC.status == "a", 1, 2)))
    a = CauseSpecificCox().fit(RC, "time", "status", "a", ["x1", "x2"]).summary
    b = CauseSpecificCox().fit(coded, "time", "code", 1, ["x1", "x2"]).summary
    pd.testing.assert_frame_equal(a.drop(columns="cause"), b.drop(columns="cause"))
    c = CauseSpecificCox().fit(coded.assign(ev=coded.code == 1), "time", "ev", True, ["x1", "x2"]).summary
    np.testing.assert_allclose(c["coef"], a["coef"], rtol=1e-12)
    mixed = coded.assign(code=coded.code.astype(object).replace({1: "a", 2: "b"}))  # 0 kept as int 0
    d = CauseSpecificCox().fit(mixed, "time", "code", "a", ["x1", "x2"]).summary
    pd.testing.assert_frame_equal(a, d)


def test_efron_score_residuals_sum_to_score_and_vanish_at_mle():
    m = CauseSpecificCox().fit(CP, "stop", "status", "b", ["x1", "x2", "tv"], entry_col="start", weights_col="w")
    X = CP[["x1", "x2", "tv"]].to_numpy(float)
    w = CP["w"].to_numpy(float)
    ev = (CP.status == "b").to_numpy()
    beta = m.params_.loc["b"].to_numpy()
    e = _efron(CP.start.to_numpy(float), CP.stop.to_numpy(float), ev, X - X.mean(0), w, beta)
    np.testing.assert_allclose((w[:, None] * e["resid"]).sum(0), e["score"], atol=1e-9)
    assert np.abs(e["score"]).max() < 1e-8
    e2 = _efron(CP.start.to_numpy(float), CP.stop.to_numpy(float), ev, X - X.mean(0), w, beta + 0.05)
    np.testing.assert_allclose((w[:, None] * e2["resid"]).sum(0), e2["score"], rtol=1e-10)


def test_deterministic():
    f = lambda: CauseSpecificCox().fit(CP, "stop", "status", "a", ["x1", "x2", "tv"], entry_col="start",  # noqa: E731
                                       cluster_col="force").summary
    pd.testing.assert_frame_equal(f(), f(), check_exact=True)


# ---------------------------------------------------------------------------------------------- Fine-Gray
def _status(df, col="status", cause="a"):
    return np.where(df[col].isna(), 0, np.where(df[col] == cause, 1, 2))


def test_finegray_expansion_equals_r_finegray():
    exp = pd.read_csv(RES / "regression_fg_expanded.csv")
    mine = finegray_expand(RC["time"], _status(RC), "a")
    assert len(mine) == len(exp)
    np.testing.assert_array_equal(mine["row"], exp["id"] - 1)
    np.testing.assert_allclose(mine[["fgstart", "fgstop", "fgstatus"]], exp[["fgstart", "fgstop", "fgstatus"]])
    np.testing.assert_allclose(mine["fgwt"], exp["fgwt"], rtol=1e-12)


def test_finegray_expansion_hand_example():
    # times 1..5: censored at 2, competing at 1, events of interest at 3 and 5, censored at 4
    t = [1, 2, 3, 4, 5]
    s = [2, 0, 1, 0, 1]
    out = finegray_expand(t, s, 1)
    # censoring KM: G(2) = 1 - 1/4 = 0.75, G(4) = 0.75 * (1 - 1/2) = 0.375
    # competing case (row 0) stays: to 2 with weight 1, (2, 4] weight 0.75, (4, 5] weight 0.375
    r0 = out[out.row == 0]
    np.testing.assert_allclose(r0[["fgstart", "fgstop", "fgwt"]].to_numpy(),
                               [[0, 2, 1.0], [2, 4, 0.75], [4, 5, 0.375]])
    assert (out[out.row > 0].fgwt == 1).all() and len(out) == 7


@pytest.mark.parametrize("model,cause,kw", [("fg_a_id", "a", {}), ("fg_a_force", "a", {"cluster_col": "force"}),
                                            ("fg_b_id", "b", {})])
def test_finegray_matches_r_finegray_coxph(model, cause, kw):
    m = FineGrayFitter().fit(RC, "time", "status", cause, ["x1", "x2"], **kw)
    assert_matches(m, model)
    assert m.summary["robust"].all()


def test_finegray_close_to_crr():
    # with daily ties crr (Breslow-type ties) and finegray + coxph (Efron) differ by O(ties)
    m = FineGrayFitter().fit(RC, "time", "status", "a", ["x1", "x2"]).summary.set_index("covariate")
    r = ref("crr_a")
    assert np.abs(m["coef"] - r["coef"]).max() < 0.015  # observed 0.0107
    np.testing.assert_allclose(m["se"], r["se"], rtol=0.04)  # observed 2.8%
    # without ties the estimators coincide; SEs differ only by the variance estimator (~1e-3)
    nt = NOTIES.assign(code=NOTIES.code.replace({1: "a", 2: "b"}))
    m = FineGrayFitter().fit(nt, "time", "code", "a", ["z1", "z2"]).summary.set_index("covariate")
    np.testing.assert_allclose(m["coef"], ref("crr_noties")["coef"], rtol=RTOL)
    np.testing.assert_allclose(m["se"], ref("fg_noties_id")["se"], rtol=RTOL)
    np.testing.assert_allclose(m["se"], ref("crr_noties")["se"], rtol=2e-3)


def test_predict_cumulative_incidence_matches_r_survfit():
    cif = pd.read_csv(RES / "regression_fg_cif.csv")
    m = FineGrayFitter().fit(RC, "time", "status", "a", ["x1", "x2"])
    prof = pd.DataFrame({"x1": [0, 1, -0.5], "x2": [0, 1, 0]})
    times = np.sort(cif.time.unique())
    P = m.predict_cumulative_incidence(prof, times)
    assert P.shape == (len(times), 3)
    for p in range(3):
        np.testing.assert_allclose(P[p].to_numpy(), cif[cif.profile == p].cif.to_numpy(), rtol=RTOL)
    assert (np.diff(P.to_numpy(), axis=0) >= 0).all()
    np.testing.assert_array_equal(m.predict_cumulative_incidence(prof, [0]).to_numpy(), 0.0)


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("Fitter", [CauseSpecificCox, FineGrayFitter])
def test_bad_input_errors(Fitter):
    fit = lambda df, **kw: Fitter().fit(df, "time", "status", kw.pop("cause", "a"), kw.pop("cov", ["x1"]), **kw)  # noqa: E731
    with pytest.raises(DataValidationError, match=r"negative.*index \[3\]"):
        fit(RC.assign(time=RC.time.where(RC.index != 3, -1)))
    with pytest.raises(DataValidationError, match="'time' has 1 missing"):
        fit(RC.assign(time=RC.time.where(RC.index != 5)))
    with pytest.raises(DataValidationError, match="'x1' has 1 missing"):
        fit(RC.assign(x1=RC.x1.where(RC.index != 5)))
    with pytest.raises(DataValidationError, match=r"cause 'c' does not occur.*\['a', 'b'\]"):
        fit(RC, cause="c")
    with pytest.raises(DataValidationError, match="no events"):
        fit(RC.assign(status=np.nan))
    with pytest.raises(DataValidationError, match="'nope' is not a column"):
        fit(RC, cov=["nope"])
    with pytest.raises(DataValidationError, match="get_dummies"):
        fit(RC.assign(x1="a"))
    with pytest.raises(DataValidationError, match="constant"):
        fit(RC.assign(x1=1.0))
    with pytest.raises(NotFittedError):
        Fitter().summary
    assert "unfitted" in repr(Fitter())


def test_bad_counting_process_input():
    with pytest.raises(DataValidationError, match=r"'start' >= 'stop'"):
        CauseSpecificCox().fit(CP.assign(start=CP.stop), "stop", "status", "a", ["x1"], entry_col="start")
    with pytest.raises(DataValidationError, match="weights must be positive"):
        CauseSpecificCox().fit(CP.assign(w=0.0), "stop", "status", "a", ["x1"], entry_col="start",
                               weights_col="w")
    with pytest.raises(DataValidationError, match="cluster_col 'force' has 1 missing"):
        CauseSpecificCox().fit(CP.assign(force=CP.force.where(CP.index != 0)), "stop", "status", "a", ["x1"],
                               cluster_col="force")


@pytest.mark.parametrize("Fitter", [CauseSpecificCox, FineGrayFitter])
def test_perfect_separation_binary(Fitter):
    df = RC.assign(g=np.where(RC.status == "a", 1, (RC.index % 2)))
    with pytest.raises(ConvergenceError, match=r"perfect separation.*all events have g = 1.*Merge sparse"):
        Fitter().fit(df, "time", "status", "a", ["x1", "g"])


def test_perfect_separation_continuous():
    # each event happens to the case with the highest x still at risk -> monotone likelihood
    n = 40
    df = pd.DataFrame({"t": np.arange(1.0, n + 1), "e": "a", "x": -np.arange(1.0, n + 1)})
    with pytest.raises(ConvergenceError, match=r"perfect separation.* in x"):
        CauseSpecificCox().fit(df, "t", "e", "a", ["x"])


def test_collinear_covariates():
    with pytest.raises(ConvergenceError, match="collinear"):
        CauseSpecificCox().fit(RC.assign(x3=2 * RC.x1), "time", "status", "a", ["x1", "x3"])


def test_same_day_exits_duration_zero():
    rc0 = RC.copy()
    rc0.loc[:14, "time"] = 0.0
    assert_matches(CauseSpecificCox().fit(rc0, "time", "status", "a", ["x1", "x2"], cluster_col="force"), "cs_rc0_a")
    fg = FineGrayFitter().fit(rc0, "time", "status", "a", ["x1", "x2"])
    assert_matches(fg, "fg_rc0_a")
    assert fg.predict_cumulative_incidence(pd.DataFrame({"x1": [0.0], "x2": [0.0]}), [0]).iloc[0, 0] > 0
