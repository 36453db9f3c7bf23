"""Near-tied times (R's ``timefix`` / ``survival::aeqSurv``) in every estimator, and R's default SE of a
Cox model with non-integer case weights. Reference values: tests/results/survival_timefix.R (survival 3.5-3,
cmprsk 2.2, etm 1.1); times are stored with 17 significant digits so the near ties survive the CSV."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError
from attrition.survival import CauseSpecificCox, FineGrayFitter, MultiStateFitter, cumulative_incidence, gray_test
from attrition.survival._ties import TIMEFIX_TOLERANCE, aeq_times

RES = Path(__file__).parent / "results"
TOL = 1e-6


@pytest.fixture(scope="module")
def d():
    return pd.read_csv(RES / "survival_timefix_data.csv", float_precision="round_trip")


def _cox_ref(model):
    r = pd.read_csv(RES / "survival_timefix_cox.csv", float_precision="round_trip")
    return r[r.model == model].set_index("covariate")


def test_data_have_near_ties(d):
    # the two ways of computing years give distinct floats that R merges: 217 -> 208 distinct times
    both = np.concatenate([d.time, d.entry])
    assert np.unique(d.time).size == 217 and np.unique(d.time_fixed).size == 208
    e, t = aeq_times(d.entry.to_numpy(), d.time.to_numpy())
    np.testing.assert_array_equal(t, d.time_fixed)
    np.testing.assert_array_equal(e, d.entry_fixed)
    assert np.unique(both).size > np.unique(np.concatenate([t, e])).size


def test_aeq_rule_closed_forms():
    t = np.array([0.3, 0.1 + 0.2, 1.0, 1.0 + 1e-9, 1.0 + 2e-9, 2.0])
    (f,) = aeq_times(t)
    np.testing.assert_array_equal(f, [0.3, 0.3, 1.0, 1.0, 1.0, 2.0])  # a run of ties goes to its smallest value
    (g,) = aeq_times(t, timefix=False)
    assert g is t
    # relative rule: large times 1e9 apart by 1 (1 / mean|y| < tol) are tied
    (h,) = aeq_times(np.array([1e9, 1e9 + 1.0, 3e9]))
    np.testing.assert_array_equal(h, [1e9, 1e9, 3e9])
    assert TIMEFIX_TOLERANCE == np.sqrt(np.finfo(float).eps)
    # integer days are returned untouched (same object)
    days = np.arange(1000, dtype=float)
    assert aeq_times(days)[0] is days
    with pytest.raises(DataValidationError, match="effective length 0"):
        aeq_times(np.array([0.0, 0.3]), np.array([1.0, 0.1 + 0.2]))  # (0.3, 0.30000000000000004]


@pytest.mark.parametrize("model, kw", [("rc", {}), ("lt", {"entry": "entry"}), ("w", {"weights": "w"})])
def test_cif_matches_survfit_timefix(d, model, kw):
    ref = pd.read_csv(RES / "survival_timefix_cif.csv", float_precision="round_trip")
    ref = ref[ref.model == model]
    args = {k: d[v] for k, v in kw.items()}
    ours = cumulative_incidence(d.time, d.status, weight_type="sampling" if model == "w" else "frequency", **args)
    ours["cause"] = ours["cause"].astype(str)
    ref = ref.assign(cause=ref.cause.astype(str))
    m = ref.merge(ours, on=["time", "cause"], suffixes=("_r", ""))
    assert len(m) == len(ref) == len(ours)
    np.testing.assert_allclose(m.estimate, m.estimate_r, atol=TOL, rtol=0)
    np.testing.assert_allclose(m.se, m.se_r, atol=TOL, rtol=0)
    if model != "w":  # R's n.risk is unweighted
        np.testing.assert_allclose(m.at_risk, m.at_risk_r, atol=1e-9)


def test_cif_without_timefix_differs(d):
    a = cumulative_incidence(d.time, d.status)
    b = cumulative_incidence(d.time, d.status, timefix=False)
    assert a.time.nunique() < b.time.nunique() == np.unique(d.time).size
    # the merge moves events across censorings: the curves differ by 0.007 (R: the same 0.00708)
    a1, b1 = a[a.cause == 1], b[b.cause == 1]
    b_at_a = b1.estimate.to_numpy()[np.searchsorted(b1.time.to_numpy(), a1.time.to_numpy(), side="right") - 1]
    np.testing.assert_allclose(np.max(np.abs(b_at_a - a1.estimate.to_numpy())), 0.007084477, atol=1e-8)


def test_gray_matches_cuminc_on_merged_times(d):
    ref = pd.read_csv(RES / "survival_timefix_gray.csv", float_precision="round_trip")
    ours = gray_test(d.time, d.status, d.grp)
    np.testing.assert_allclose(ours.statistic, ref.statistic, rtol=1e-6)
    np.testing.assert_allclose(ours.p_value, ref.p_value, rtol=1e-6)
    off = gray_test(d.time, d.status, d.grp, timefix=False)
    assert not np.allclose(off.statistic, ref.statistic, rtol=1e-6)


def test_multistate_matches_etm_on_merged_times(d):
    ref = pd.read_csv(RES / "survival_timefix_etm.csv", float_precision="round_trip")
    ms = pd.DataFrame({"case_id": d.id, "start": d.entry, "stop": d.time, "from_state": "0",
                       "to_state": d.status.map({0: None, 1: "1", 2: "2"})})
    f = MultiStateFitter([("0", "1"), ("0", "2")]).fit(ms)
    occ = f.state_occupation_
    m = ref.assign(state=ref.state.astype(str)).merge(occ, on=["time", "state"])
    assert len(m) == len(ref)
    np.testing.assert_allclose(m.probability_y, m.probability_x, atol=TOL)
    np.testing.assert_allclose(m.se, np.sqrt(m["var"]), atol=TOL)


@pytest.mark.parametrize("model, kw, cols", [
    ("cs_rc", {}, "time"),
    ("cs_lt", {"entry_col": "entry"}, "time"),
    ("cs_rc_nofix", {"timefix": False}, "time"),
    ("cs_rc_breslow", {"ties": "breslow"}, "time"),
])
def test_cox_timefix_matches_coxph(d, model, kw, cols):
    r = _cox_ref(model)
    df = d.assign(ev=np.where(d.status == 1, "a", None))
    m = CauseSpecificCox().fit(df, cols, "ev", "a", ["x1", "x2"], **kw)
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    np.testing.assert_allclose(m.log_likelihood_["a"], r.loglik.iloc[0], rtol=1e-9)
    assert not s.robust.any()


@pytest.mark.parametrize("model, kw", [
    ("cs_rc_w", {"weights_col": "w"}),
    ("cs_lt_w", {"weights_col": "w", "entry_col": "entry"}),
    ("cs_rc_wi", {"weights_col": "wi"}),
])
def test_weighted_cox_se_as_r(d, model, kw):
    # non-integer weights: robust SE by default (R coxph); integer weights: model-based (frequency weights)
    r = _cox_ref(model)
    df = d.assign(ev=np.where(d.status == 1, "a", None), wi=1 + d.id % 3)
    m = CauseSpecificCox().fit(df, "time", "ev", "a", ["x1", "x2"], **kw)
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    np.testing.assert_allclose(s["naive se"], r.naive_se, rtol=TOL)
    assert (s.robust == r.robust).all()
    assert ("non-integer weights" in repr(m)) == bool(r.robust.iloc[0])
    if model == "cs_rc_w":  # opting out gives the model-based SE
        m2 = CauseSpecificCox().fit(df, "time", "ev", "a", ["x1", "x2"], robust=False, **kw)
        np.testing.assert_allclose(m2.summary.set_index("covariate").loc[r.index, "se"], r.naive_se, rtol=TOL)


def test_cox_negative_entry_and_zero_weights(d):
    # R accepts negative entry times; zero-weight rows are dropped (R coxph refuses them: reference without them)
    r = _cox_ref("cs_lt_neg_wz")
    df = d.assign(ev=np.where(d.status == 1, "a", None), e2=d.entry - 0.5, wz=np.where(d.id % 7 == 0, 0.0, d.w))
    m = CauseSpecificCox().fit(df, "time", "ev", "a", ["x1", "x2"], entry_col="e2", weights_col="wz")
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    assert s.n.iloc[0] == int((df.wz > 0).sum())


def test_fine_gray_timefix_matches_finegray(d):
    r = _cox_ref("fg_id")
    df = d.assign(ev=d.status.map({0: None, 1: "a", 2: "b"}))
    m = FineGrayFitter().fit(df, "time", "ev", "a", ["x1", "x2"])
    s = m.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s.coef, r.coef, rtol=TOL)
    np.testing.assert_allclose(s.se, r.se, rtol=TOL)
    np.testing.assert_allclose(s["naive se"], r.naive_se, rtol=TOL)


def test_integer_exit_near_tied_with_an_entry_is_merged_as_r():
    # R aeqSurv merges the exit 5 of row 1 with the entry 5 - 1e-10 of row 0 (survfit: n.risk 2, pstate 0.5;
    # timefix = FALSE: n.risk 3): then row 0 is not at risk at
    # row 1's exit (entries come after exits), as if both were the same time
    d = cumulative_incidence(np.array([10, 5, 8]), [1, 1, 0], entry=[5 - 1e-10, 0, 0])
    first = d[d.cause == 1].iloc[0]
    assert first.at_risk == 2 and first.estimate == pytest.approx(0.5)
    off = cumulative_incidence(np.array([10, 5, 8]), [1, 1, 0], entry=[5 - 1e-10, 0, 0], timefix=False)
    assert off[off.cause == 1].iloc[0].at_risk == 3
