"""Methods added for issue 17, against R (tests/results/survival_methods.R: survival 3.5-3, cmprsk 2.2) and
closed forms: Fine-Gray with weights / strata / Breslow ties, stratified Gray test, "log" confidence
intervals, rough edges (all-censored Gray test, boolean causes, tiny weights, label factorisation)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError
from attrition.survival import FineGrayFitter, cumulative_incidence, gray_test, kaplan_meier
from attrition.survival.cif import _factorize_objects

RES = Path(__file__).parent / "results"
RC = pd.read_csv(RES / "regression_data_rc.csv")  # status "a", "b" or NaN (censored)
TOL = 1e-6


@pytest.mark.parametrize("model, kw", [
    ("fg_w", {"weights_col": "w"}),
    ("fg_strata", {"strata_col": "g"}),
    ("fg_breslow", {"ties": "breslow"}),
])
def test_fine_gray_extensions_match_finegray_coxph(model, kw):
    r = pd.read_csv(RES / "survival_methods_fg.csv")
    r = r[r.model == model].set_index("covariate")
    m = FineGrayFitter().fit(RC.assign(g=RC.force % 3), "time", "status", "a", ["x1", "x2"], **kw)
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    np.testing.assert_allclose(s["naive se"], r.naive_se, rtol=TOL)
    np.testing.assert_allclose(m.log_likelihood_["a"], r.loglik.iloc[0], rtol=1e-9)
    assert s.robust.all()


def test_fine_gray_stratified_prediction_needs_stratum():
    m = FineGrayFitter().fit(RC.assign(g=RC.force % 3), "time", "status", "a", ["x1", "x2"], strata_col="g")
    prof = pd.DataFrame({"x1": [0.0], "x2": [0.0]})
    with pytest.raises(DataValidationError, match="stratified on 'g'"):
        m.predict_cumulative_incidence(prof, [30])
    p = [m.predict_cumulative_incidence(prof, [10, 90], stratum=s).to_numpy().ravel() for s in (0, 1, 2)]
    assert all(np.all(np.diff(q) >= 0) for q in p) and not np.allclose(p[0], p[1])


def test_fine_gray_integer_weights_equal_repeated_rows():
    # frequency weights: same coefficients as the repeated rows (the censoring KM is unweighted in R, so
    # only weights that are constant... -> compare with all weights 2: estimates unchanged, naive SE / sqrt 2)
    a = FineGrayFitter().fit(RC, "time", "status", "a", ["x1", "x2"]).summary
    b = FineGrayFitter().fit(RC.assign(two=2.0), "time", "status", "a", ["x1", "x2"], weights_col="two").summary
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-9)
    np.testing.assert_allclose(b["naive se"], a["naive se"] / np.sqrt(2), rtol=1e-9)


@pytest.mark.parametrize("rho", [0, 1])
def test_stratified_gray_matches_cuminc(rho):
    d = pd.read_csv(RES / "survival_gray_synth_data.csv")
    r = pd.read_csv(RES / "survival_methods_gray_strata.csv")
    r = r[r.rho == rho]
    ours = gray_test(d.time, d.status, d.group, strata=d.w, rho=rho)
    np.testing.assert_allclose(ours.statistic, r.statistic, rtol=1e-6)
    np.testing.assert_allclose(ours.p_value, r.p_value, rtol=1e-6)
    assert ours.df.tolist() == r.df.tolist()
    # strata change the answer (the unstratified statistic is different)
    assert not np.allclose(gray_test(d.time, d.status, d.group, rho=rho).statistic, r.statistic, rtol=1e-3)


def test_log_ci_matches_survfit():
    mg = pd.read_csv(RES / "survival_cif_mgus2_data.csv")
    r = pd.read_csv(RES / "survival_methods_logci.csv")
    ours = cumulative_incidence(mg.etime, mg.event, include_survival=True, conf_type="log", survival_label="survival")
    ours["cause"] = ours.cause.astype(str)
    m = r.merge(ours, on=["time", "cause"], suffixes=("_r", ""))
    assert len(m) == len(r)
    ok = m.estimate_r > 0
    np.testing.assert_allclose(m.estimate, m.estimate_r, atol=TOL)
    np.testing.assert_allclose(m["lower 95%"][ok], m.lower[ok], atol=TOL)
    np.testing.assert_allclose(m["upper 95%"][ok], m.upper[ok], atol=TOL)
    km = kaplan_meier(mg.etime, mg.event > 0, conf_type="log")  # booleans: True = event
    rk = r[r.cause == "survival"]
    np.testing.assert_allclose(km["upper 95%"], rk.upper.fillna(rk.estimate), atol=TOL)  # R: NaN once S = 0
    np.testing.assert_allclose(km["lower 95%"], rk.lower.fillna(rk.estimate), atol=TOL)
    with pytest.raises(ValueError, match="conf_type"):
        cumulative_incidence(mg.etime, mg.event, conf_type="arcsine")


def test_plain_ci_closed_form():
    out = cumulative_incidence([1, 2, 3, 4], [1, 0, 1, 0], conf_type="plain", alpha=0.1)
    z = 1.6448536269514722
    np.testing.assert_allclose(out["lower 90%"], np.clip(out.estimate - z * out.se, 0, 1))
    np.testing.assert_allclose(out["upper 90%"], np.clip(out.estimate + z * out.se, 0, 1))


def test_gray_all_censored_has_columns():
    out = gray_test([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert list(out.columns) == ["cause", "statistic", "df", "p_value"] and len(out) == 0


def test_boolean_causes_refused():
    with pytest.raises(DataValidationError, match="booleans"):
        cumulative_incidence([1, 2, 3], np.array([True, False, True]))
    with pytest.raises(DataValidationError, match="booleans"):
        cumulative_incidence([1, 2, 3], pd.Series([True, "nfa", 0], dtype=object))
    with pytest.raises(DataValidationError, match="booleans"):
        gray_test([1, 2, 3, 4], np.array([True, False, True, True]), ["a", "b", "a", "b"])
    # kaplan_meier reads booleans as event indicators: the same as 0/1
    a = kaplan_meier([1, 2, 3], np.array([True, False, True]))
    b = kaplan_meier([1, 2, 3], [1, 0, 1])
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("scale", [1e-13, 1e13])
def test_weights_of_any_scale_give_the_same_cif(scale):
    d = pd.read_csv(RES / "survival_cif_synth_data.csv")
    for kw in ({}, {"entry": d.entry}):  # sampling weights: the IJ se is scale-free too
        a = cumulative_incidence(d.time, d.status, weights=d.w, weight_type="sampling", **kw)
        b = cumulative_incidence(d.time, d.status, weights=d.w * scale, weight_type="sampling", **kw)
        np.testing.assert_allclose(b.estimate, a.estimate, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.se, a.se, rtol=1e-6, atol=1e-12)
        assert a.estimate.max() > 0.2


def test_label_factorisation_equals_pandas():
    rng = np.random.default_rng(0)
    shared = np.array(["nfa", "charged", 0, "withdrawn"], dtype=object)[rng.integers(0, 4, 5000)]
    # the same strings as distinct objects (e.g. built row by row) must merge with the shared ones
    fresh = np.array(["".join(["nf", "a"]) if v == "nfa" else v for v in shared], dtype=object)
    for vals in (shared, fresh, np.array([f"x{i}" for i in range(6000)], dtype=object)):
        pcodes, uniq, remap, missing = _factorize_objects(vals)
        codes = remap[pcodes]
        assert not missing
        ref_codes, ref_uniq = pd.factorize(vals, sort=True)
        assert uniq == list(ref_uniq)
        np.testing.assert_array_equal(codes, ref_codes)
    pcodes, uniq, remap, missing = _factorize_objects(np.array(["a", None, np.nan, "b"], dtype=object))
    assert remap[pcodes].tolist() == [0, -1, -1, 1] and uniq == ["a", "b"] and missing
    t = rng.integers(1, 50, 5000)
    a = cumulative_incidence(t, shared)
    b = cumulative_incidence(t, pd.Categorical(shared.astype(str), categories=["unused", "0", "withdrawn", "nfa",
                                                                                "charged"]), censor_code="0")
    c = cumulative_incidence(t, fresh)
    pd.testing.assert_frame_equal(a, c)
    np.testing.assert_allclose(a.estimate, b.estimate)
    assert b.cause.unique().tolist() == ["charged", "nfa", "withdrawn"]  # unused categories are not causes


# ---------------------------------------------------------------------------------------------- multi-state
MG_TR = [("MGUS", "PCM"), ("MGUS", "death"), ("PCM", "death")]
SYN_TR = [("reported", "suspect"), ("reported", "nfa"), ("suspect", "charged"), ("suspect", "nfa"),
          ("charged", "convicted"), ("charged", "dropped")]


def _ms(model):
    from attrition.survival import MultiStateFitter

    if model.startswith("mgus2"):
        return MultiStateFitter(MG_TR), pd.read_csv(RES / "survival_ms_mgus2_data.csv"), {"id_col": "id"}
    return MultiStateFitter(SYN_TR), pd.read_csv(RES / "survival_ms_synth_data.csv"), {}


@pytest.mark.parametrize("model, kw", [("mgus2", {}), ("synth", {}),
                                       ("synth_w", {"weights": "w", "weight_type": "sampling"})])
def test_multistate_ij_variance_matches_survfit(model, kw):
    ref = pd.read_csv(RES / "survival_methods_ms_ij.csv")
    ref = ref[ref.model == model]
    f, d, base = _ms(model)
    f.fit(d, variance="ij", **base, **kw)
    got = f.occupation_at(np.unique(ref.time))
    m = ref.merge(got, on=["time", "state"], suffixes=("_r", ""))
    assert len(m) == len(ref)
    np.testing.assert_allclose(m.probability, m.probability_r, atol=1e-10)
    np.testing.assert_allclose(m.se, m.se_r, atol=1e-10)
    # the Greenwood-type (etm) and IJ variances differ (IJ is not the Markov one)
    g = _ms(model)[0].fit(d, **base, **({"weights": "w"} if "weights" in kw else {})).occupation_at(np.unique(ref.time))
    assert np.max(np.abs(g.se.to_numpy() - got.se.to_numpy())) > 1e-4
    assert "infinitesimal-jackknife" in repr(f)


def test_multistate_ij_frequency_weights_equal_expanded_cases():
    f, d, _ = _ms("synth")
    a = f.fit(d, weights="w", variance="ij").state_occupation_
    ex = d.loc[d.index.repeat(d.w)].copy()
    ex["case_id"] = ex.case_id.astype(str) + "_" + ex.groupby(["case_id", "start"]).cumcount().astype(str)
    b = _ms("synth")[0].fit(ex, variance="ij").state_occupation_
    np.testing.assert_allclose(a.se, b.se, rtol=1e-10, atol=1e-14)


def test_multistate_ij_needs_contiguous_sojourns():
    f, d, _ = _ms("synth")
    gap = d.astype({"start": float})
    second = gap.duplicated("case_id")
    gap.loc[second.idxmax(), "start"] += 0.5
    with pytest.raises(DataValidationError, match="back to back"):
        f.fit(gap, variance="ij")


@pytest.mark.parametrize("model", ["mgus2", "synth"])
def test_multistate_cumulative_hazard_se_matches_survfit(model):
    ref = pd.read_csv(RES / "survival_methods_ms_cumhaz.csv")
    ref = ref[ref.model == model]
    f, d, base = _ms(model)
    th = f.fit(d, **base).transition_hazards_
    m = ref.merge(th, on=["time", "from", "to"], suffixes=("_r", ""))
    assert len(m) == len(ref) == len(th)
    np.testing.assert_allclose(m.cumulative_hazard, m.cumhaz, atol=1e-10)
    np.testing.assert_allclose(m.se, m.se_r, atol=1e-10)


def test_expected_time_in_state_several_horizons_matches_survfit_rmean():
    ref = pd.read_csv(RES / "survival_methods_ms_rmean.csv")
    f, d, base = _ms("mgus2")
    f.fit(d, **base)
    got = f.expected_time_in_state([240, 60, 120])
    assert got.horizon.tolist() == [240.0] * 3 + [60.0] * 3 + [120.0] * 3  # in the order given
    m = ref.merge(got, on=["horizon", "state"])
    assert len(m) == 9
    np.testing.assert_allclose(m.expected_time, m.rmean, rtol=1e-9)
    for tau in (60, 120, 240):  # one pass equals one call per horizon, se included
        one = f.expected_time_in_state(tau)
        pd.testing.assert_frame_equal(got[got.horizon == tau].reset_index(drop=True), one, rtol=1e-12)


def test_multistate_by_group_matches_survfit_strata():
    ref = pd.read_csv(RES / "survival_methods_ms_bygroup.csv")
    sex = pd.read_csv(RES / "survival_methods_ms_mgus2_sex.csv")
    f, d, base = _ms("mgus2")
    d = d.assign(sex=sex.sex.to_numpy())
    f.fit(d, groups="sex", variance="ij", **base)
    assert f.groups_ == ["F", "M"]
    got = f.occupation_at(np.unique(ref.time))
    m = ref.merge(got, on=["group", "time", "state"], suffixes=("_r", ""))
    assert len(m) == len(ref)
    np.testing.assert_allclose(m.probability, m.probability_r, atol=1e-10)
    np.testing.assert_allclose(m.se, m.se_r, atol=1e-10)
    assert set(f.state_occupation_.group) == {"F", "M"} and f.transition_hazards_.columns[0] == "group"
    rm = f.expected_time_in_state([60, 120])
    assert rm.groupby(["group", "horizon"]).expected_time.sum().round(9).tolist() == [60, 120, 60, 120]
    assert list(f.summary.columns[:2]) == ["group", "time"]


def test_fine_gray_delayed_entry_matches_finegray():
    d = pd.read_csv(RES / "survival_methods_fg_lt_data.csv")
    r = pd.read_csv(RES / "survival_methods_fg_lt.csv").set_index("covariate")
    ex = pd.read_csv(RES / "survival_methods_fg_lt_expanded.csv")
    assert (d.entry > 0).sum() > 50
    m = FineGrayFitter().fit(d, "time", "status", "a", ["x1", "x2"], entry_col="entry")
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    np.testing.assert_allclose(s["naive se"], r.naive_se, rtol=TOL)
    np.testing.assert_allclose(m.log_likelihood_["a"], r.loglik.iloc[0], rtol=1e-9)
    assert m.expanded_rows_ == len(ex) == 3321  # the rows R finegray creates (never built here)


def test_fine_gray_expanded_row_count_equals_r():
    ex = pd.read_csv(RES / "regression_fg_expanded.csv")
    assert FineGrayFitter().fit(RC, "time", "status", "a", ["x1", "x2"]).expanded_rows_ == len(ex) == 2959


def test_survival_rows_keep_one_type_per_column():
    # integer causes: the survival rows carry the censor code (the state "no exit yet"), column int64
    out = cumulative_incidence([1, 2, 3, 3, 5], [1, 2, 0, 1, 0], include_survival=True)
    assert out.cause.dtype == np.int64 and sorted(out.cause.unique()) == [0, 1, 2]
    assert out.attrs["survival_label"] == 0
    np.testing.assert_allclose(out[out.cause == 0].estimate, [0.8, 0.6, 0.4, 0.4])  # KM by hand: 4/5, 3/4, 2/3
    np.testing.assert_allclose(out[out.cause == 1].estimate, [0.2, 0.2, 0.4, 0.4])  # + 0.6 * 1/3 at t = 3
    # string causes: "survival", column object of str
    s = cumulative_incidence([1, 2, 3, 3, 5], ["a", "b", "open", "a", "open"], censor_code="open",
                             include_survival=True)
    assert s.cause.map(type).eq(str).all() and (s.cause == "survival").sum() == 4
    np.testing.assert_array_equal(s[s.cause == "survival"].estimate, out[out.cause == 0].estimate)
    # an explicit label wins; a label that is a cause is refused; a boolean label is refused
    lab = cumulative_incidence([1, 2, 3, 3, 5], [1, 2, 0, 1, 0], include_survival=True, survival_label=-1)
    assert lab.cause.dtype == np.int64 and (lab.cause == -1).sum() == 4
    with pytest.raises(DataValidationError, match="also a cause"):
        cumulative_incidence([1, 2, 3], [1, 2, 0], include_survival=True, survival_label=2)
    with pytest.raises(TypeError, match="survival_label"):
        cumulative_incidence([1, 2, 3], [1, 2, 0], include_survival=True, survival_label=True)
    # without survival rows, integer causes still make an int64 column
    assert cumulative_incidence([1, 2, 3], [1, 2, 0]).cause.dtype == np.int64


def test_missing_labels_are_reported_with_their_row():
    for ev in (pd.Series(["a", "b", None, "a"]), pd.Series(pd.Categorical(["a", None, "b", "a"])),
               np.array([f"x{i}" for i in range(4999)] + [None], dtype=object)):
        n = len(ev)
        i = int(np.flatnonzero(pd.isna(np.asarray(ev, dtype=object)))[0])
        with pytest.raises(DataValidationError, match=f"1 missing value.*first at row {i}"):
            cumulative_incidence(np.arange(1, n + 1), ev, censor_code="a")


def test_multistate_weights_of_any_scale_give_the_same_probabilities():
    f, d, _ = _ms("synth")
    a = f.fit(d, weights="w").state_occupation_
    b = _ms("synth")[0].fit(d.assign(w=d.w * 1e-13), weights="w").state_occupation_
    np.testing.assert_allclose(b.probability, a.probability, rtol=1e-9, atol=1e-12)
    c = _ms("synth")[0].fit(d.assign(w=d.w * 1e-13), weights="w", variance="ij", weight_type="sampling")
    e = _ms("synth")[0].fit(d, weights="w", variance="ij", weight_type="sampling")
    np.testing.assert_allclose(c.state_occupation_.se, e.state_occupation_.se, rtol=1e-6, atol=1e-12)
