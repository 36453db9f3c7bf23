"""Tests of attrition.funnel.FunnelFitter: exact hand-built funnels, weights, censoring (vs the
Aalen-Johansen estimator), decomposition, pooling by force, counterfactuals, bad input, coverage."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from attrition.data import to_cases
from attrition.exceptions import DataValidationError, NotFittedError, StatisticalWarning
from attrition.funnel import FunnelFitter, stage_counts_to_rows, wilson_interval
from attrition.standard import EXIT_REASONS, STAGES
from attrition.survival import cumulative_incidence

# (stage_reached, status, exit_reason, count): 100 reports -> 60 -> 45 -> 9 -> 6 -> 3
HAND = [
    ("reported", "exited", "mischarged", 30),
    ("reported", "exited", "not_recorded", 10),
    ("recorded_stalking", "exited", "no_suspect", 10),
    ("recorded_stalking", "exited", "victim_not_supporting", 5),
    ("suspect_identified", "exited", "victim_not_supporting", 20),
    ("suspect_identified", "exited", "evidential_victim_supports", 16),
    ("charged", "exited", "victim_not_supporting", 3),
    ("prosecuted", "exited", "acquitted", 2),
    ("prosecuted", "exited", "mischarged", 1),
    ("convicted", "convicted", None, 3),
]


def _agg(rows=HAND, extra=None):
    df = pd.DataFrame(rows, columns=["stage_reached", "status", "exit_reason", "count"])
    if extra:
        for k, v in extra.items():
            df[k] = v
    df["stage_reached"] = pd.Categorical(df["stage_reached"], categories=list(STAGES), ordered=True)
    df["status"] = pd.Categorical(df["status"], categories=["open", "exited", "convicted"])
    df["exit_reason"] = pd.Categorical(df["exit_reason"], categories=list(EXIT_REASONS))
    return df


def _expand(agg):
    out = agg.loc[agg.index.repeat(agg["count"].astype(int))].drop(columns="count").reset_index(drop=True)
    out.insert(0, "case_id", np.arange(len(out)))
    return out


def _wilson(x, n, alpha=0.05):
    return proportion_confint(x, n, alpha=alpha, method="wilson")


# --------------------------------------------------------------------------------------------- exact
def test_hand_built_funnel_exact():
    f = FunnelFitter().fit(_expand(_agg()))
    s = f.summary.loc["all"]
    np.testing.assert_array_equal(s["entered"], [100, 60, 45, 9, 6, 3])
    np.testing.assert_array_equal(s["converted"].iloc[:5], [60, 45, 9, 6, 3])
    np.testing.assert_array_equal(s["exited"], [40, 15, 36, 3, 3, 0])
    np.testing.assert_array_equal(s["open"], 0)
    x = np.array([60, 45, 9, 6, 3])
    n = np.array([100, 60, 45, 9, 6])
    np.testing.assert_allclose(s["p_convert"].iloc[:5], x / n, rtol=1e-15)
    np.testing.assert_allclose(s["se"].iloc[:5], np.sqrt(x / n * (1 - x / n) / n), rtol=1e-12)
    lo, hi = _wilson(x, n)
    np.testing.assert_allclose(s["lower 95%"].iloc[:5], lo, rtol=1e-12)
    np.testing.assert_allclose(s["upper 95%"].iloc[:5], hi, rtol=1e-12)
    assert np.isnan(s["p_convert"].iloc[5])
    # reach probabilities and the end-to-end: without censoring the delta-method/n_eff Wilson interval is
    # exactly the Wilson interval of (reached / reports)
    np.testing.assert_allclose(s["p_reach"], np.array([100, 60, 45, 9, 6, 3]) / 100, rtol=1e-12)
    lo, hi = _wilson(np.array([60, 45, 9, 6, 3]), 100)
    np.testing.assert_allclose(s["p_reach lower 95%"].iloc[1:], lo, rtol=1e-9)
    np.testing.assert_allclose(s["p_reach upper 95%"].iloc[1:], hi, rtol=1e-9)
    e = f.end_to_end_.loc["all"]
    assert e["estimate"] == pytest.approx(0.03, rel=1e-14)
    assert e["se"] == pytest.approx(np.sqrt(0.03 * 0.97 / 100), rel=1e-12)
    lo, hi = _wilson(3, 100)
    assert e["lower 95%"] == pytest.approx(lo, rel=1e-9)
    assert e["upper 95%"] == pytest.approx(hi, rel=1e-9)
    # exit reasons: per-entrant probability and share of the stage's exits, each with Wilson CIs
    ex = f.exit_summary_.loc[("all", "suspect_identified")]
    row = ex.loc["victim_not_supporting"]
    assert row["n"] == 20 and row["p_exit"] == pytest.approx(20 / 45) and row["share"] == pytest.approx(20 / 36)
    assert row["se"] == pytest.approx(np.sqrt(20 / 36 * 16 / 36 / 36))
    lo, hi = _wilson(20, 45)
    assert (row["p_exit lower 95%"], row["p_exit upper 95%"]) == pytest.approx((lo, hi), rel=1e-12)
    lo, hi = _wilson(20, 36)
    assert (row["lower 95%"], row["upper 95%"]) == pytest.approx((lo, hi), rel=1e-12)
    assert ex.loc["no_suspect", "n"] == 0 and ex.loc["no_suspect", "p_exit"] == 0
    assert ex.loc["no_suspect", "lower 95%"] == 0 and ex.loc["no_suspect", "upper 95%"] == pytest.approx(_wilson(0, 36)[1])
    # shares add to one, probabilities to 1 - p_convert
    g = f.exit_summary_.groupby(level=["group", "stage"], observed=True)
    np.testing.assert_allclose(g["share"].sum().to_numpy(), 1.0)
    np.testing.assert_allclose(g["p_exit"].sum().to_numpy() + x / n, 1.0)
    assert (f.method_["method"] == "proportion").all()
    assert "100 rows" in repr(f)


def test_wilson_interval_matches_statsmodels():
    x = np.array([0, 1, 5, 17, 50, 99, 100])
    lo, hi = wilson_interval(x, 100, alpha=0.1)
    rlo, rhi = _wilson(x, 100, alpha=0.1)
    np.testing.assert_allclose(lo, rlo, atol=1e-14)
    np.testing.assert_allclose(hi, rhi, atol=1e-14)


def test_alpha_names_and_widths():
    f = FunnelFitter(alpha=0.1).fit(_expand(_agg()))
    assert "lower 90%" in f.summary.columns and "upper 90%" in f.end_to_end_.columns
    lo, hi = _wilson(9, 45, alpha=0.1)
    assert f.summary.loc[("all", "suspect_identified"), "lower 90%"] == pytest.approx(lo, rel=1e-12)


def test_weights_equal_expanded_rows_exactly():
    agg = _agg()
    a = FunnelFitter().fit(agg, weights="count")
    b = FunnelFitter().fit(_expand(agg))
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.exit_summary_, b.exit_summary_)
    pd.testing.assert_frame_equal(a.end_to_end_, b.end_to_end_)
    pd.testing.assert_frame_equal(a.decompose(), b.decompose())
    assert "aggregated rows (100 cases)" in repr(a)


def test_stage_counts_round_trip():
    counts = pd.DataFrame({
        "stage": list(STAGES), "entered": [100, 60, 45, 9, 6, 3],
        "mischarged": [30, 0, 0, 0, 1, 0], "not_recorded": [10, 0, 0, 0, 0, 0],
        "no_suspect": [0, 10, 0, 0, 0, 0], "victim_not_supporting": [0, 5, 20, 3, 0, 0],
        "evidential_victim_supports": [0, 0, 16, 0, 0, 0], "acquitted": [0, 0, 0, 0, 2, 0],
    })
    a = FunnelFitter().fit(stage_counts_to_rows(counts), weights="count")
    b = FunnelFitter().fit(_expand(_agg()))
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.exit_summary_, b.exit_summary_)


def test_collapsed_stages():
    f = FunnelFitter(stages=("reported", "charged", "convicted")).fit(_agg(), weights="count")
    s = f.summary.loc["all"]
    assert list(s.index) == ["reported", "charged", "convicted"]
    np.testing.assert_allclose(s["p_convert"].iloc[:2], [9 / 100, 3 / 9])
    ex = f.exit_summary_.loc[("all", "reported")]
    assert ex.loc["victim_not_supporting", "n"] == 25  # 5 + 20 exits before charge
    with pytest.raises(ValueError, match="subsequence"):
        FunnelFitter(stages=("charged", "convicted"))


# --------------------------------------------------------------------------------------------- censoring
@pytest.fixture(scope="module")
def censored():
    """Synthetic data extracted early, so that many cases are still open."""
    from attrition.synthetic import simulate

    d = simulate(n_cases=20_000, random_state=4)
    cases = to_cases(d.events, as_of="2022-06-30")
    assert (cases["status"] == "open").sum() > 500
    return cases


def _stage_data(cases, k):
    """Time in stage k (from entry) and outcome: 1 = converted, reason label = exit, 0 = open."""
    s = cases["stage_index"].to_numpy()
    rows = s >= k
    c = cases.loc[rows]
    entry = np.zeros(len(c)) if k == 0 else c[f"days_to_{STAGES[k]}"].to_numpy()
    conv = c["stage_index"].to_numpy() > k
    t_end = np.where(conv, c[f"days_to_{STAGES[k + 1]}"].to_numpy(), c["duration"].to_numpy())
    t = np.maximum(t_end - entry, 0)
    reason = c["exit_reason"].astype(object).to_numpy()
    ev = np.where(conv, "converted", np.where(c["status"].to_numpy() == "exited", reason, "censored")).astype(object)
    return t, ev


def test_open_cases_long_run_equals_cumulative_incidence(censored):
    f = FunnelFitter().fit(censored)
    assert (f.method_["method"] == "aalen-johansen").sum() >= 3
    for k in range(len(STAGES) - 1):
        t, ev = _stage_data(censored, k)
        cif = cumulative_incidence(t, ev, censor_code="censored")
        last = cif.groupby("cause").tail(1).set_index("cause")
        row = f.summary.loc[("all", STAGES[k])]
        assert row["p_convert"] == pytest.approx(last.loc["converted", "estimate"], abs=1e-12)
        assert row["se"] == pytest.approx(last.loc["converted", "se"], abs=1e-12)
        ex = f.exit_summary_.loc[("all", STAGES[k])]
        for r in last.index.drop("converted"):
            assert ex.loc[r, "p_exit"] == pytest.approx(last.loc[r, "estimate"], abs=1e-12)
            assert ex.loc[r, "p_exit_se"] == pytest.approx(last.loc[r, "se"], abs=1e-12)
        assert row["p_convert"] + ex["p_exit"].sum() == pytest.approx(1.0, abs=1e-12)
        # open cases are censored, not losses: the estimate exceeds converted / entered where cases are open
        if row["open"] > 0:
            assert row["p_convert"] >= row["converted"] / row["entered"] - 1e-12
            # n_eff Wilson interval
            n_eff = row["p_convert"] * (1 - row["p_convert"]) / row["se"] ** 2
            lo, hi = _wilson(row["p_convert"] * n_eff, n_eff)
            assert (row["lower 95%"], row["upper 95%"]) == pytest.approx((lo, hi), rel=1e-9)


def test_without_open_cases_aj_reduces_to_proportions(small_synthetic):
    cases = small_synthetic.cases
    cases = cases[cases["status"] != "open"]
    f = FunnelFitter().fit(cases)
    assert (f.method_["method"] == "proportion").all()
    for k in range(len(STAGES) - 1):
        t, ev = _stage_data(cases, k)
        last = cumulative_incidence(t, ev, censor_code="censored").groupby("cause").tail(1).set_index("cause")
        row = f.summary.loc[("all", STAGES[k])]
        assert last.loc["converted", "estimate"] == pytest.approx(row["converted"] / row["entered"], abs=1e-12)
        assert row["p_convert"] == pytest.approx(last.loc["converted", "estimate"], abs=1e-12)
        assert row["se"] == pytest.approx(last.loc["converted", "se"], rel=1e-9)


def test_censored_weights_equal_expanded(censored):
    keys = ["force", "stage_reached", "status", "exit_reason", "duration"] + [f"days_to_{s}" for s in STAGES[1:]]
    agg = censored[keys].copy()
    agg["count"] = 1
    agg = agg.groupby(keys, observed=True, dropna=False, sort=False)["count"].sum().reset_index()
    assert len(agg) < len(censored) and agg["count"].max() > 1
    a = FunnelFitter().fit(agg, by="force", weights="count")
    b = FunnelFitter().fit(censored, by="force")
    pd.testing.assert_frame_equal(a.summary, b.summary, rtol=1e-10)
    pd.testing.assert_frame_equal(a.exit_summary_, b.exit_summary_, rtol=1e-10)
    pd.testing.assert_frame_equal(a.pooled_, b.pooled_, rtol=1e-8)


def test_open_cases_without_times_warn_and_use_closed_cases():
    rows = HAND + [("suspect_identified", "open", None, 5)]
    with pytest.warns(StatisticalWarning, match="closed cases only"):
        f = FunnelFitter().fit(_agg(rows), weights="count")
    row = f.summary.loc[("all", "suspect_identified")]
    assert row["entered"] == 50 and row["open"] == 5
    assert row["p_convert"] == pytest.approx(9 / 45)
    assert f.method_.loc[("all", "suspect_identified"), "method"] == "closed-only"


# --------------------------------------------------------------------------------------------- decomposition
@pytest.mark.parametrize("data", ["hand", "censored"])
def test_decomposition_sums_to_total_loss(data, censored):
    if data == "hand":
        f = FunnelFitter().fit(_agg(), weights="count")
    else:
        f = FunnelFitter().fit(censored, by="force")
    dec = f.decompose()
    tot = dec["contribution"].groupby(level="group", sort=False).sum()
    e2e = f.end_to_end_["estimate"]
    if data == "censored":
        e2e = pd.concat([e2e, pd.Series({"all": f.national_end_to_end_["estimate"]})])
    np.testing.assert_allclose(tot.loc[e2e.index], 1 - e2e, atol=1e-12)
    share = dec["share_of_loss"].groupby(level="group", sort=False).sum()
    np.testing.assert_allclose(share, 1.0, atol=1e-12)
    assert (dec["lower 95%"] <= dec["contribution"] + 1e-15).all()
    assert (dec["upper 95%"] >= dec["contribution"] - 1e-15).all()
    if data == "hand":
        # lost at "suspect_identified" for victim withdrawal: P(reach) * P(exit | reached) = 0.45 * 20/45
        assert dec.loc[("all", "suspect_identified", "victim_not_supporting"), "contribution"] == pytest.approx(0.20)


# --------------------------------------------------------------------------------------------- counterfactuals
def test_counterfactual_closed_form():
    f = FunnelFitter().fit(_agg(), weights="count")
    cf = f.counterfactual("charged", rate=1.0)
    row = cf.loc["all"]
    # 10,000 x 0.6 x 0.75 x 0.2 x (1 - 6/9) x 0.5
    assert row["extra"] == pytest.approx(10_000 * 0.6 * 0.75 * 0.2 * (1 - 6 / 9) * 0.5)
    assert row["now"] == pytest.approx(300.0)
    assert row["lower 95%"] < row["extra"] < row["upper 95%"]
    same = f.counterfactual("suspect_identified", rate=0.2)
    assert same.loc["all", "extra"] == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="quantile needs"):
        f.counterfactual("charged")


# --------------------------------------------------------------------------------------------- forces
@pytest.fixture(scope="module")
def by_force(small_synthetic):
    return FunnelFitter().fit(small_synthetic.cases, by="force")


def test_by_force_counts_add_up_to_national(by_force, small_synthetic):
    f = by_force
    assert len(f.groups_) == 43
    tot = f.summary[["entered", "exited", "open"]].groupby(level="stage", observed=True, sort=False).sum()
    np.testing.assert_allclose(tot.to_numpy(), f.national_[["entered", "exited", "open"]].to_numpy())
    nat = FunnelFitter().fit(small_synthetic.cases)
    pd.testing.assert_frame_equal(nat.summary.loc["all"], f.national_)
    assert f.pooled_.shape[0] == 43 * 5
    pe = f.pooled_end_to_end_
    assert (pe["lower 95%"] < pe["pooled"]).all() and (pe["pooled"] < pe["upper 95%"]).all()
    again = FunnelFitter().fit(small_synthetic.cases, by="force")
    pd.testing.assert_frame_equal(again.pooled_end_to_end_, pe)


def test_small_force_is_shrunk_toward_national(small_synthetic):
    cases = small_synthetic.cases
    small = cases["force"] == "Kent"
    kent = cases[small].sample(40, random_state=0)
    data = pd.concat([cases[~small], kent])
    # the closed-form shrinkage weight is that of empirical Bayes (the default is now full Bayes, whose
    # posterior mean is a mixture over the prior's parameters: checked in tests/test_force_comparisons.py)
    f = FunnelFitter(pooling="eb").fit(data, by="force")
    row = f.pooled_.loc[("Kent", "reported")]
    nat = f.national_.loc["reported", "p_convert"]
    assert row["n"] == 40
    # 0.60 on this seed (forces differ in recording, also through how they record repeat breaches)
    assert row["weight"] < 0.65
    prior = f.priors_["reported"]
    # posterior mean = weight * raw + (1 - weight) * prior mean, prior mean ~ national rate
    assert row["pooled"] == pytest.approx(row["weight"] * row["raw"] + (1 - row["weight"]) * prior.mean, rel=1e-10)
    assert prior.mean == pytest.approx(nat, abs=0.03)
    assert abs(row["pooled"] - prior.mean) < 0.6 * abs(row["raw"] - prior.mean)
    rep = f.pooled_.xs("reported", level="stage")
    assert (rep.loc[rep["n"] > 200, "weight"] > row["weight"]).all()  # forces with more reports move less
    # at the charge decision (~20 Kent cases enter) the prior dominates
    assert f.pooled_.loc[("Kent", "suspect_identified"), "weight"] < 0.3


def test_credible_differences_and_counterfactual_by_force(by_force):
    f = by_force
    d = f.credible_differences("suspect_identified")
    t = f.pooled_.xs("suspect_identified", level="stage")
    nat = f.national_.loc["suspect_identified", "p_convert"]
    expected = t.index[(t["lower 95%"] > nat) | (t["upper 95%"] < nat)]
    assert set(d.index) == set(expected)
    assert "n" in d.columns and len(d) > 0
    cf = f.counterfactual("suspect_identified")  # best quartile of pooled rates
    q75 = np.quantile(t["pooled"], 0.75)
    assert cf["rate_counterfactual"].iloc[0] == pytest.approx(q75)
    assert "all" in cf.index and len(cf) == 44
    assert cf.loc["all", "extra"] > 0
    best = t["pooled"].idxmax()
    cf2 = f.counterfactual("suspect_identified", from_force=best)
    assert cf2.loc[best, "extra"] == pytest.approx(
        10_000 * cf2.loc[best, "now"] / 10_000 * (t.loc[best, "pooled"] / cf2.loc[best, "rate_now"] - 1), rel=1e-9)


def test_plots(by_force):
    import matplotlib.pyplot as plt

    ax = by_force.plot()
    assert ax.get_ylabel().startswith("Expected number per 10,000")
    assert "funnel" in ax.get_title(loc="left") + ax.get_title()  # the project style puts titles on the left
    assert len(ax.patches) > 6
    ax = by_force.plot(group="Kent")
    assert "Kent" in ax.get_title(loc="left") + ax.get_title()
    ax = by_force.caterpillar_plot(stage="suspect_identified")
    assert len(ax.get_yticklabels()) == 43
    plt.close("all")


def test_default_dataset_reproduces_published_national_figures():
    from attrition.data import load_default

    f = FunnelFitter().fit(load_default().cases)
    s = f.summary.loc["all"]
    # published: 5,948 of 118,411 recorded stalking offences charged (~5%; Home Office counts recorded offences)
    assert 0.04 < s.loc["charged", "p_reach"] / s.loc["recorded_stalking", "p_reach"] < 0.06
    e = f.end_to_end_.loc["all", "estimate"]
    assert 0.014 < e < 0.020  # ~1.7% of reports end in a conviction for stalking


# --------------------------------------------------------------------------------------------- bad input
def _bad_cases():
    return _expand(_agg())


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.drop(columns="status"), r"lacks required column\(s\) \['status'\]"),
    (lambda d: d.assign(exit_reason=d["exit_reason"].cat.add_categories("lost").where(d.index != 3, "lost")),
     r"unknown exit_reason 'lost' at row 3"),
    (lambda d: d.assign(status=d["status"].astype(object).where(d.index != 5, "closed")), "status must be one of"),
    (lambda d: d.assign(exit_reason=d["exit_reason"].where(d.index != 7, None)), "exit_reason is missing at row 7"),
    (lambda d: d.assign(stage_reached=d["stage_reached"].astype(object).where(d.index != 2, "arrested")),
     "outside"),
])
def test_bad_case_rows(mutate, match):
    with pytest.raises(DataValidationError, match=match):
        FunnelFitter().fit(mutate(_bad_cases()))


def test_bad_aggregated_counts():
    agg = _agg()
    neg = agg.copy()
    neg.loc[4, "count"] = -2
    with pytest.raises(DataValidationError, match="row 4"):
        FunnelFitter().fit(neg, weights="count")
    zero = _agg(extra={"force": "Kent"})
    extra = zero.iloc[[0]].assign(force="Dorset", count=0)
    with pytest.raises(DataValidationError, match="'Dorset' has zero reports"):
        FunnelFitter().fit(pd.concat([zero, extra], ignore_index=True), by="force", weights="count")
    with pytest.raises(DataValidationError, match="lacks required column"):
        FunnelFitter().fit(agg, weights="n")


def test_bad_stage_counts():
    good = pd.DataFrame({"stage": list(STAGES), "entered": [100, 60, 45, 9, 6, 3],
                         "other": [40, 15, 36, 3, 3, 0]})
    stage_counts_to_rows(good)
    up = good.assign(entered=[100, 60, 45, 50, 6, 3])
    with pytest.raises(DataValidationError, match="larger than the previous stage at row 3"):
        stage_counts_to_rows(up)
    with pytest.raises(DataValidationError, match="do not balance at row 1"):
        stage_counts_to_rows(good.assign(other=[40, 14, 36, 3, 3, 0]))
    with pytest.raises(DataValidationError, match="unknown column"):
        stage_counts_to_rows(good.rename(columns={"other": "lost"}))
    with pytest.raises(DataValidationError, match="non-negative counts; row 2"):
        stage_counts_to_rows(good.assign(other=[40, 15, -36, 3, 3, 0]))
    with pytest.raises(DataValidationError, match="zero reports"):
        stage_counts_to_rows(good.assign(entered=0, other=0))
    with pytest.raises(DataValidationError, match="no row for stage 'convicted'"):
        stage_counts_to_rows(good.iloc[:5])


def test_not_fitted():
    with pytest.raises(NotFittedError):
        FunnelFitter().summary  # noqa: B018
    assert "unfitted" in repr(FunnelFitter())


# --------------------------------------------------------------------------------------------- coverage
@pytest.mark.slow
def test_ci_coverage_on_synthetic_subsamples():
    """95% intervals of the five stage conversions and the end-to-end probability cover the large-sample
    value 93-97% of the time on repeated samples of 3,000 reports from a synthetic population."""
    from attrition.synthetic import simulate

    pop = simulate(n_cases=150_000, random_state=11).cases
    truth_fit = FunnelFitter().fit(pop)
    truth = np.r_[truth_fit.summary.loc["all", "p_convert"].to_numpy()[:5], truth_fit.end_to_end_["estimate"].iloc[0]]
    rng = np.random.default_rng(2024)
    hits, total = 0, 0
    for _ in range(150):  # replications
        idx = rng.choice(len(pop), size=3000, replace=False)
        f = FunnelFitter().fit(pop.iloc[idx])
        s = f.summary.loc["all"]
        lo = np.r_[s["lower 95%"].to_numpy()[:5], f.end_to_end_["lower 95%"].iloc[0]]
        hi = np.r_[s["upper 95%"].to_numpy()[:5], f.end_to_end_["upper 95%"].iloc[0]]
        ok = np.isfinite(lo)
        hits += int(np.sum((lo <= truth) & (truth <= hi) & ok))
        total += int(ok.sum())
    coverage = hits / total
    assert 0.93 <= coverage <= 0.97, coverage


@pytest.mark.slow
def test_ci_coverage_with_open_cases():
    """With ~5% of cases still open (early extraction), the Aalen-Johansen stage estimates and their
    n_eff-Wilson intervals cover the full-follow-up value of the same cases (observed 0.95-0.97)."""
    from attrition.synthetic import simulate

    d = simulate(n_cases=100_000, random_state=11)
    early = to_cases(d.events, as_of="2022-09-30")
    assert 0.03 < (early["status"] == "open").mean() < 0.10
    full = d.cases.set_index("case_id").loc[early["case_id"]].reset_index()
    truth = FunnelFitter().fit(full).summary.loc["all", "p_convert"].to_numpy()[:5]
    rng = np.random.default_rng(7)
    hits, total = 0, 0
    for _ in range(120):  # replications
        f = FunnelFitter().fit(early.iloc[rng.choice(len(early), size=3000, replace=False)])
        assert (f.method_["method"] == "aalen-johansen").sum() >= 2
        s = f.summary.loc["all"]
        lo, hi = s["lower 95%"].to_numpy()[:5], s["upper 95%"].to_numpy()[:5]
        hits += int(np.sum((lo <= truth) & (truth <= hi)))
        total += 5
    coverage = hits / total
    assert 0.93 <= coverage <= 0.98, coverage


def test_pooling_when_nobody_reaches_a_stage():
    rows = [r for r in HAND if r[0] in ("reported", "recorded_stalking", "suspect_identified")]
    a = _agg(rows, extra={"force": "Kent"})
    b = _agg(rows, extra={"force": "Essex"})
    with pytest.warns(StatisticalWarning, match=r"no group has cases entering stage\(s\) \['charged', 'prosecuted'\]"):
        f = FunnelFitter().fit(pd.concat([a, b], ignore_index=True), by="force", weights="count")
    assert f.end_to_end_["estimate"].tolist() == [0.0, 0.0]
    assert f.end_to_end_["upper 95%"].gt(0).all()  # Wilson upper bound on 0 of 85 reports
    assert f.pooled_.loc[("Kent", "charged"), "pooled"] == pytest.approx(0.5)


def test_public_cumulative_incidence_path_gives_the_same_numbers(censored, monkeypatch):
    fast = FunnelFitter().fit(censored)
    import attrition.funnel as funnel_module

    # force the public cumulative_incidence path (instead of its engine)
    monkeypatch.setattr(funnel_module, "_aj_last_core", lambda: funnel_module._public_last)
    slow = FunnelFitter().fit(censored)
    pd.testing.assert_frame_equal(fast.summary, slow.summary, rtol=1e-12)
    pd.testing.assert_frame_equal(fast.exit_summary_, slow.exit_summary_, rtol=1e-12)


def test_plot_decomposition_bars_equal_decompose():
    from attrition.synthetic import simulate

    cases = simulate(n_cases=20_000, random_state=4).cases
    f = FunnelFitter().fit(cases)
    ax = f.plot_decomposition(top=None, withhold_below=None)  # disclosure control tested in test_disclosure*
    heights = sorted(round(p.get_width(), 6) for p in ax.patches)
    dec = f.decompose()
    expected = sorted(round(1e4 * v, 6) for v in dec["contribution"] if v > 0)
    assert heights == expected
    assert "10,000" in ax.get_xlabel()


def test_counterfactual_interval_keeps_its_sign_on_small_data():
    """A fixed target rate above today's: extra convictions are positive, and so is the whole interval (log scale);
    on a large sample it matches the normal delta-method interval."""
    from attrition.synthetic import simulate

    small = simulate(n_cases=600, random_state=5).cases
    cf = FunnelFitter().fit(small).counterfactual("suspect_identified", rate=0.12).iloc[0]
    assert cf["extra"] > 0 and cf["lower 95%"] > 0 and cf["upper 95%"] > cf["extra"]
    # log-scale interval: lower * upper = extra^2
    assert cf["lower 95%"] * cf["upper 95%"] == pytest.approx(cf["extra"] ** 2, rel=1e-9)
    # below today's rate: negative, and the interval stays below zero
    low = FunnelFitter().fit(small).counterfactual("suspect_identified", rate=0.001).iloc[0]
    assert low["extra"] < 0 and low["upper 95%"] < 0


def test_withhold_funnel_pools_small_segments_and_hides_small_stages():
    from attrition.funnel import _withhold_funnel

    entered = np.array([883, 686, 582, 42, 33, 20])
    exits = np.array([[197, 100, 540, 9, 12],   # one reason ...
                      [0, 4, 0, 0, 1]])         # ... and still open
    shown, hidden = _withhold_funnel(entered, exits, 10)
    # 42 - 33 = 9 left at "charged": the bars of stages 4 and 5 would reveal it
    assert shown.tolist() == [True, True, True, True, False, False]
    # stage 2: a lone small segment (4) is pooled with the smallest other (100), never shown alone
    assert hidden[:, 1].tolist() == [True, True]
    assert not hidden[:, [0, 2]].any()
    assert hidden[:, 3].tolist() == [True, False] and hidden[:, 4].tolist() == [True, True]
    # a true zero stays shown
    shown0, _ = _withhold_funnel(np.array([100, 50, 0]), np.array([[50, 50]]), 10)
    assert shown0.all()


def test_published_funnel_plot_withholds_small_counts():
    from attrition.synthetic import simulate

    cases = simulate(n_cases=800, random_state=2).cases
    ax = FunnelFitter().fit(cases).plot(withhold_below=10)
    labels = [t.get_text() for t in ax.texts]
    fit = FunnelFitter().fit(cases)
    entered = fit.summary["entered"].to_numpy()
    # every stage label is either the per-10,000 value or [c]; a stage entered by 1-9 cases is [c]
    assert all(lab == "[c]" for lab, n in zip(labels, entered) if 0 < n < 10)
    assert any("Withheld" in str(h.get_label()) for h in ax.containers) or "[c]" in labels


def test_published_counts_withhold_small_raw_rate_counts_with_secondary():
    from attrition.synthetic import simulate

    fit = FunnelFitter().fit(simulate(n_cases=6000, random_state=8).cases, by="force")
    raw = fit.published_counts("suspect_identified")
    counts = fit.summary.xs("suspect_identified", level="stage")[["converted", "exited"]].fillna(0).round()
    small = ((counts > 0) & (counts < 10)).any(axis=1).to_numpy()
    assert small.any()
    # every group with a small count is withheld, and never alone in its column (secondary suppression)
    assert raw.loc[small, "suppressed"].all()
    for c in ("converted", "exited"):
        assert raw[c].isna().sum() != 1
    shown = raw.loc[~raw["suppressed"], "converted"]
    assert ((shown == 0) | (shown >= 10)).all()


def test_funnel_plot_late_panel_shows_the_published_per_10000_values():
    """The enlarged panel of the late stages draws exactly the funnel's per-10,000 reach and its CI."""
    import matplotlib.pyplot as plt

    from attrition.synthetic import simulate

    cases = simulate(n_cases=20_000, random_state=4).cases
    f = FunnelFitter().fit(cases)
    ax = f.plot(late_from="charged")
    late = ax.figure.axes[1]
    s = f.summary.loc["all"].loc[["charged", "prosecuted", "convicted"]]
    expected = 1e4 * s["p_reach"].to_numpy()
    heights = np.array([p.get_height() for p in late.containers[0]])  # the "reached" bars
    np.testing.assert_allclose(heights, expected, rtol=1e-12)
    assert [t.get_text() for t in late.get_xticklabels()] == ["Charged", "Prosecuted", "Convicted of stalking"]
    # the bar labels carry the value and its CI, as published
    texts = [t.get_text() for t in late.texts]
    for v, lo, hi in zip(expected, 1e4 * s["p_reach lower 95%"], 1e4 * s["p_reach upper 95%"]):
        assert f"{v:,.0f}\n({lo:,.0f}–{hi:,.0f})" in texts
    # the CI bars span the interval and are drawn on a scale where they are visible (> 2% of the axis)
    segs = late.collections[0].get_segments()
    lengths = np.array([abs(sg[1][1] - sg[0][1]) for sg in segs])
    np.testing.assert_allclose(lengths, 1e4 * (s["p_reach upper 95%"] - s["p_reach lower 95%"]).to_numpy(), rtol=1e-9)
    assert (lengths / late.get_ylim()[1] > 0.02).all()
    # the exits stacked in the late panel are the losses after charge only: the tallest stack is the charged bar
    from matplotlib.container import BarContainer

    bars = [c for c in late.containers if isinstance(c, BarContainer)]
    tops = [p.get_y() + p.get_height() for c in bars[1:] for p in c]
    assert max(tops) == pytest.approx(expected[0], rel=1e-9)
    with pytest.raises(ValueError, match="late_from"):
        f.plot(late_from="reported")
    plt.close("all")
