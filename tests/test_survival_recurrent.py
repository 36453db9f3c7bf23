"""Tests of attrition.survival.recurrent on hand-built event logs with closed-form answers."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from attrition.exceptions import DataQualityWarning, DataValidationError
from attrition.survival.recurrent import (
    breach_rate,
    exact_poisson_ci,
    kth_breach_times,
    repeat_breach_recording,
    time_to_breach,
    wilson_ci,
)

D0 = pd.Timestamp("2024-01-01")


def hand_log():
    """Seven cases; breach days since report (150 for D is after its follow-up of 100 days)."""
    spec = {  # case: (report offset days, duration days, breach days, force)
        "A": (0, 365.25, [10, 20, 30], "X"),
        "B": (0, 730.5, [100], "X"),
        "C": (31, 182.625, [], "Y"),
        "D": (60, 100.0, [50, 150], "Y"),
        "E": (4, 40.0, [5, 5], "X"),
        "F": (9, 20.0, [3, 20], "Y"),
        "G": (9, 20.0, [], "Y"),
    }
    cases = pd.DataFrame({
        "case_id": list(spec),
        "report_date": [D0 + pd.Timedelta(days=v[0]) for v in spec.values()],
        "duration": [v[1] for v in spec.values()],
        "force": [v[3] for v in spec.values()],
    })
    rows = [(c, "reported", D0 + pd.Timedelta(days=v[0])) for c, v in spec.items()]
    rows += [(c, "order_breach", D0 + pd.Timedelta(days=v[0] + d)) for c, v in spec.items() for d in v[2]]
    rows += [("Z", "order_breach", D0)]  # a case not in the table: ignored
    events = pd.DataFrame(rows, columns=["case_id", "event", "timestamp"]).sample(frac=1, random_state=1)
    return events, cases


def test_exact_poisson_ci_known_values():
    # Garwood limits from R 4.2 poisson.test(k)$conf.int (qgamma-based, an independent implementation)
    lo, hi = exact_poisson_ci([0, 1, 5, 10])
    np.testing.assert_allclose(lo, [0.0, 0.02531780798, 1.62348639, 4.795388696], rtol=1e-8)
    np.testing.assert_allclose(hi, [3.688879454, 5.57164339094, 11.66833208, 18.390356042], rtol=1e-8)
    lo90, hi90 = exact_poisson_ci([3], alpha=0.1)
    np.testing.assert_allclose([lo90[0], hi90[0]], [0.8176914472, 7.7536565279], rtol=1e-8)


def test_breach_rate_hand_log():
    events, cases = hand_log()
    with pytest.warns(DataQualityWarning, match=r"1 breach\(es\) fall after.*\['D'\]"):
        r = breach_rate(events, cases)
    days = 365.25 + 730.5 + 182.625 + 100 + 40 + 20 + 20
    assert r.loc[0, "breaches"] == 3 + 1 + 0 + 1 + 2 + 2 + 0 and r.loc[0, "cases"] == 7
    np.testing.assert_allclose(r.loc[0, "case_years"], days / 365.25, rtol=1e-12)
    np.testing.assert_allclose(r.loc[0, "rate"], 100 * 9 / (days / 365.25), rtol=1e-12)
    lo, hi = exact_poisson_ci([9])
    np.testing.assert_allclose(r.loc[0, ["lower 95%", "upper 95%"]].to_numpy(float),
                               100 * np.r_[lo, hi] / (days / 365.25), rtol=1e-12)
    # closed-form robust interval
    y = np.array([3, 1, 0, 1, 2, 2, 0.0])
    T = np.array([365.25, 730.5, 182.625, 100, 40, 20, 20]) / 365.25
    lam = y.sum() / T.sum()
    se = np.sqrt(7 / 6 * ((y - lam * T) ** 2).sum()) / y.sum()
    np.testing.assert_allclose(r.loc[0, ["robust lower 95%", "robust upper 95%"]].to_numpy(float),
                               100 * lam * np.exp(np.r_[-1, 1] * stats.norm.ppf(0.975) * se), rtol=1e-12)


def test_breach_rate_robust_matches_statsmodels_cluster_glm():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n = 300
    cases = pd.DataFrame({"case_id": np.arange(n), "report_date": D0 + pd.to_timedelta(rng.integers(0, 300, n), "D"),
                          "duration": rng.integers(5, 400, n).astype(float), "force": rng.choice(["P", "Q"], n)})
    nb = rng.negative_binomial(1, 0.6, n)  # over-dispersed counts
    cid = np.repeat(cases.case_id.to_numpy(), nb)
    day = np.floor(rng.uniform(0, 1, nb.sum()) * cases.duration.to_numpy()[cid])
    events = pd.DataFrame({"case_id": cid, "event": "order_breach",
                           "timestamp": cases.report_date.to_numpy()[cid] + day * np.timedelta64(1, "D")})
    r = breach_rate(events, cases, by="force").set_index("force")
    for f in ("P", "Q"):
        sub = cases.force.to_numpy() == f
        y, T = nb[sub], cases.duration.to_numpy()[sub] / 365.25
        res = sm.GLM(y, np.ones((sub.sum(), 1)), family=sm.families.Poisson(), offset=np.log(T)).fit(
            cov_type="cluster", cov_kwds={"groups": np.arange(sub.sum())})
        ci = 100 * np.exp(res.conf_int()[0])
        np.testing.assert_allclose(r.loc[f, ["robust lower 95%", "robust upper 95%"]].to_numpy(float), ci, rtol=1e-6)
        np.testing.assert_allclose(r.loc[f, "rate"], 100 * np.exp(res.params[0]), rtol=1e-8)
        assert r.loc[f, "breaches"] == y.sum()
    # over-dispersion: the robust interval is wider than the exact Poisson one
    assert ((r["robust upper 95%"] - r["robust lower 95%"]) > (r["upper 95%"] - r["lower 95%"])).all()


def test_breach_rate_by_and_zero_breaches():
    events, cases = hand_log()
    r = breach_rate(events, cases, by="force", outside="drop", alpha=0.1)
    assert list(r.force) == ["X", "Y"] and list(r.breaches) == [6, 3] and list(r.cases) == [3, 4]
    assert "lower 90%" in r.columns
    r0 = breach_rate(events[events.case_id == "none"], cases, outside="drop")
    assert r0.loc[0, "breaches"] == 0 and r0.loc[0, "lower 95%"] == 0.0
    np.testing.assert_allclose(r0.loc[0, "upper 95%"], 100 * 3.6888794 / r0.loc[0, "case_years"], rtol=1e-6)
    assert np.isnan(r0.loc[0, "robust upper 95%"])  # documented: no robust CI without breaches


def test_kth_breach_times_and_time_to_breach_closed_form():
    events, cases = hand_log()
    tt = kth_breach_times(events, cases, k=2, outside="drop")
    assert tt.set_index("case_id")["time"].to_dict() == {"A": 20, "B": 730.5, "C": 182.625, "D": 100, "E": 5,
                                                         "F": 20, "G": 20}
    assert tt.event.tolist() == [1, 0, 0, 0, 1, 1, 0]
    km = time_to_breach(events, cases, k=2, outside="drop").set_index("time")
    # KM: t=5: 1 of 7 -> S = 6/7; t=20: 2 of 6 at risk (G censored at 20 stays at risk) -> S = 4/7
    np.testing.assert_allclose(km.loc[5, "estimate"], 1 / 7, rtol=1e-12)
    np.testing.assert_allclose(km.loc[20, "estimate"], 3 / 7, rtol=1e-12)
    np.testing.assert_allclose(km.loc[730.5, "estimate"], 3 / 7, rtol=1e-12)
    assert km.loc[20, "at_risk"] == 6 and km.loc[20, "n_event"] == 2
    np.testing.assert_allclose(km.loc[20, "se"], (4 / 7) * np.sqrt(1 / 42 + 2 / 24), rtol=1e-10)  # Greenwood
    k3 = kth_breach_times(events, cases, k=3, outside="drop")
    assert k3.event.tolist() == [1, 0, 0, 0, 0, 0, 0] and k3.time[0] == 30
    by = time_to_breach(events, cases, k=2, by="force", outside="drop")
    assert list(by.columns[:2]) == ["force", "time"]
    x = by[by.force == "X"].set_index("time")
    np.testing.assert_allclose(x.loc[[5, 20], "estimate"], [1 / 3, 2 / 3], rtol=1e-12)


def test_kth_breach_vectorised_equals_loop():
    rng = np.random.default_rng(11)
    n = 200
    cases = pd.DataFrame({"case_id": rng.permutation(n) + 1000, "report_date": D0 + pd.to_timedelta(
        rng.integers(0, 100, n), "D"), "duration": rng.integers(0, 200, n).astype(float)})
    nb = rng.poisson(1.5, n)
    cid = np.repeat(np.arange(n), nb)
    day = rng.integers(0, 200, nb.sum())
    events = pd.DataFrame({"case_id": cases.case_id.to_numpy()[cid], "event": "order_breach",
                           "timestamp": cases.report_date.to_numpy()[cid] + day * np.timedelta64(1, "D")})
    with pytest.warns(DataQualityWarning):
        tt = kth_breach_times(events, cases, k=2)
    for i in range(n):  # loop in the test only
        d = np.sort(day[(cid == i) & (day <= cases.duration[i])])
        exp = (d[1], 1) if len(d) >= 2 else (cases.duration[i], 0)
        assert (tt.time[i], tt.event[i]) == exp


def test_repeat_breach_recording_wilson():
    cases = pd.DataFrame({
        "force": ["X"] * 6 + ["Y"] * 2,
        "n_breaches": [2, 3, 5, 2, 1, 0, 1, 0],
        "ever_recorded_stalking": [True, False, False, False, True, False, True, False],
    })
    r = repeat_breach_recording(cases, by="force").set_index("force")
    assert r.loc["X", "cases"] == 4 and r.loc["X", "recorded_stalking"] == 1 and r.loc["X", "share"] == 0.25
    from statsmodels.stats.proportion import proportion_confint

    np.testing.assert_allclose(r.loc["X", ["lower 95%", "upper 95%"]].to_numpy(float),
                               proportion_confint(1, 4, method="wilson"), rtol=1e-10)
    # R: prop.test(1, 4, correct = FALSE)$conf.int (the Wilson interval)
    np.testing.assert_allclose(r.loc["X", ["lower 95%", "upper 95%"]].to_numpy(float),
                               [0.04558726081, 0.69935815742], rtol=1e-8)
    assert r.loc["Y", "cases"] == 0 and np.isnan(r.loc["Y", "share"])  # documented NaN: no qualifying case
    overall = repeat_breach_recording(cases, min_breaches=1)
    assert overall.loc[0, "cases"] == 6 and overall.loc[0, "recorded_stalking"] == 3
    lo, hi = wilson_ci([0, 5], [5, 5])  # R prop.test(0, 5, correct = FALSE): (0, 0.4344824648)
    np.testing.assert_allclose(lo, [0, 1 - 0.4344824648], atol=1e-9)
    np.testing.assert_allclose(hi, [0.4344824648, 1], atol=1e-9)


def test_bad_input():
    events, cases = hand_log()
    with pytest.raises(DataValidationError, match="before the case's report_date.*'A'"):
        breach_rate(pd.concat([events, pd.DataFrame({"case_id": ["A"], "event": ["order_breach"],
                                                     "timestamp": [D0 - pd.Timedelta(days=1)]})]), cases,
                    outside="drop")
    with pytest.raises(DataValidationError, match="negative.*'C'"):
        breach_rate(events, cases.assign(duration=np.where(cases.case_id == "C", -1.0, cases.duration)))
    with pytest.raises(DataValidationError, match="missing.*'B'"):
        breach_rate(events, cases.assign(duration=np.where(cases.case_id == "B", np.nan, cases.duration)))
    with pytest.raises(DataValidationError, match="duplicated case_id"):
        breach_rate(events, pd.concat([cases, cases.iloc[:1]]))
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['duration'\]"):
        breach_rate(events, cases.drop(columns="duration"))
    with pytest.raises(DataValidationError, match="'force' has 1 missing"):
        breach_rate(events, cases.assign(force=cases.force.where(cases.case_id != "A")), by="force", outside="drop")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        time_to_breach(events, cases, k=0)
    with pytest.raises(DataValidationError, match="n_breaches has 1 missing or negative"):
        repeat_breach_recording(pd.DataFrame({"n_breaches": [2, -1], "ever_recorded_stalking": [True, False]}))
    with pytest.raises(DataValidationError, match="ever_recorded_stalking is missing"):
        repeat_breach_recording(pd.DataFrame({"n_breaches": [2, 1], "ever_recorded_stalking": [True, None]}))


def test_follow_up_to_as_of():
    events, cases = hand_log()
    as_of = D0 + pd.Timedelta(days=400)
    r = breach_rate(events, cases, as_of=as_of)  # no warning: D's breach at day 150 is now inside
    follow = 400.0 - np.array([0, 0, 31, 60, 4, 9, 9])
    assert r.loc[0, "breaches"] == 10
    np.testing.assert_allclose(r.loc[0, "case_years"], follow.sum() / 365.25, rtol=1e-12)
    tt = kth_breach_times(events, cases, k=2, as_of=as_of).set_index("case_id")
    assert tt.loc["D", "time"] == 150 and tt.loc["D", "event"] == 1
    assert tt.loc["B", "time"] == 400 and tt.loc["B", "event"] == 0
    with pytest.raises(DataValidationError, match="reported after as_of"):
        breach_rate(events, cases, as_of=D0 + pd.Timedelta(days=30))


def test_agrees_with_case_table_of_synthetic_data():
    from attrition.synthetic import simulate

    sim = simulate(n_cases=1500, random_state=2)
    cases = sim.cases
    as_of = cases.attrs["as_of"]
    for k, col in ((1, "days_to_first_breach"), (2, "days_to_second_breach")):
        tt = kth_breach_times(sim.events, cases, k, as_of=as_of)
        seen = cases[col].notna().to_numpy()
        np.testing.assert_array_equal(tt["event"].to_numpy(), seen.astype(int))
        np.testing.assert_array_equal(tt["time"].to_numpy()[seen], cases[col].to_numpy()[seen])
    r = breach_rate(sim.events, cases, as_of=as_of)
    assert r.loc[0, "breaches"] == cases["n_breaches"].sum()
