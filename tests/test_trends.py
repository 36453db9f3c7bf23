"""Tests for attrition.trends: exact rate-ratio intervals vs R poisson.test, hand-built year-on-year
changes, the funnel by year vs per-year FunnelFitter fits, and imputation of missing forces vs the truth."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from attrition.exceptions import DataValidationError
from attrition.synthetic import simulate
from attrition.trends import (
    _exact_p, funnel_by_year, impute_missing_forces, plot_report_trends, poisson_ratio_interval, report_change,
    report_counts,
)

RESULTS = Path(__file__).parent / "results"


@pytest.fixture(scope="module")
def synth():
    return simulate(n_cases=20_000, random_state=1)


def test_poisson_ratio_vs_r():
    ref = pd.read_csv(RESULTS / "trends_poisson.csv")  # tests/results/trends_poisson.R
    lo, hi = poisson_ratio_interval(ref["b"], ref["a"])
    np.testing.assert_allclose(lo, ref["lower"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(hi, ref["upper"], rtol=1e-6)
    np.testing.assert_allclose(_exact_p(ref["b"], ref["a"]), ref["p_value"], rtol=1e-6)
    # and scipy's exact binomial test agrees
    for b, a, p in ref[["b", "a", "p_value"]].itertuples(index=False):
        assert stats.binomtest(int(b), int(a + b), 0.5).pvalue == pytest.approx(p, rel=1e-6)
    lo0, hi0 = poisson_ratio_interval(5, 0)
    assert np.isinf(hi0) and lo0 > 0


def hand_cases(n_by_force_year):
    rows = []
    for (force, fy), n in n_by_force_year.items():
        rows += [{"force": force, "financial_year": fy}] * n
    df = pd.DataFrame(rows)
    df.insert(0, "case_id", np.arange(1, len(df) + 1))
    return df


COUNTS = {("A", "2021/22"): 100, ("A", "2022/23"): 90, ("B", "2021/22"): 50, ("B", "2022/23"): 60,
          ("C", "2021/22"): 20, ("C", "2022/23"): 10, ("D", "2021/22"): 30, ("D", "2022/23"): 30,
          ("A", "2020/21"): 80, ("B", "2020/21"): 40, ("C", "2020/21"): 20, ("D", "2020/21"): 25}


def test_report_change_hand_built():
    cases = hand_cases(COUNTS)
    forces = pd.DataFrame({"force": list("ABCD"), "pcc_committed": [True, True, True, False]})
    rc = report_change(cases, forces, subset="pcc_committed",
                       subset_label="forces whose PCC committed to increasing reports")
    bf = rc.by_force.set_index("force")
    assert rc.from_year == "2021/22" and rc.to_year == "2022/23"
    assert bf["n_from"].tolist() == [100, 50, 20, 30] and bf["n_to"].tolist() == [90, 60, 10, 30]
    np.testing.assert_allclose(bf["pct_change"], [-10, 20, -50, 0])
    assert bf["decreased"].tolist() == [True, False, True, False]
    lo, hi = poisson_ratio_interval(90, 100)
    assert bf.loc["A", "lower 95%"] == pytest.approx(float(lo)) and bf.loc["A", "upper 95%"] == pytest.approx(float(hi))
    s = rc.summary.set_index("group")
    sub = s.loc["forces whose PCC committed to increasing reports"]
    assert sub["n_forces"] == 3 and sub["n_decreased"] == 2
    wl, wh = proportion_confint(2, 3, method="wilson")
    assert sub["lower 95%"] == pytest.approx(wl) and sub["upper 95%"] == pytest.approx(wh)
    assert sub["statement"].startswith("67% of forces whose PCC committed to increasing reports (2 of 3) recorded a decrease")
    assert s.loc["all forces", "n_decreased"] == 2 and s.loc["all forces", "rate_ratio"] == pytest.approx(190 / 200)
    # a list subset and explicit years
    rc2 = report_change(cases, from_year="2020/21", to_year="2022/23", subset=["A", "C"])
    assert rc2.summary.set_index("group").loc["forces in the subset", "n_decreased"] == 1  # A 80->90, C 20->10
    assert "67%" in str(rc)


def test_report_change_errors():
    cases = hand_cases(COUNTS)
    with pytest.raises(DataValidationError, match=r"2019/20.*holds \['2020/21', '2021/22', '2022/23'\]"):
        report_change(cases, from_year="2019/20", to_year="2022/23")
    forces = pd.DataFrame({"force": list("ABCDE")})
    with pytest.raises(DataValidationError, match=r"\['E'\] have zero reports in 2021/22"):
        report_change(cases, forces)
    with pytest.raises(DataValidationError, match=r"\['Z'\]"):
        report_change(cases, subset=["A", "Z"])
    with pytest.raises(DataValidationError, match="not in the forces table"):
        report_change(cases, pd.DataFrame({"force": list("ABC")}))
    bad = cases.copy()
    bad.loc[3, "financial_year"] = None
    with pytest.raises(DataValidationError, match=r"financial_year.*row 3 \(case_id 4\)"):
        report_change(bad)
    with pytest.raises(DataValidationError, match="boolean"):
        report_change(cases, pd.DataFrame({"force": list("ABCD"), "flag": [1, 0, 1, 0]}), subset="flag")


def test_report_counts_exact_intervals():
    out = report_counts(hand_cases(COUNTS), by=None)
    assert out["n"].tolist() == [165, 200, 190]
    lo = stats.chi2.ppf(0.025, 2 * 200) / 2
    hi = stats.chi2.ppf(0.975, 2 * 201) / 2
    row = out.set_index("financial_year").loc["2021/22"]
    assert row["lower 95%"] == pytest.approx(lo) and row["upper 95%"] == pytest.approx(hi)


def test_funnel_by_year_matches_per_year_fits(synth):
    from attrition.funnel import FunnelFitter

    fb = funnel_by_year(synth.cases)
    assert list(pd.unique(fb["financial_year"])) == ["2020/21", "2021/22", "2022/23"]
    for fy in ("2020/21", "2022/23"):
        one = FunnelFitter().fit(synth.cases[synth.cases["financial_year"] == fy]).summary.droplevel("group")
        mine = fb[fb["financial_year"] == fy].set_index("stage")
        np.testing.assert_allclose(mine["p_reach"], one["p_reach"], rtol=1e-10)
        np.testing.assert_allclose(mine["entered"], one["entered"])
    first = fb[(fb["financial_year"] == "2020/21") & (fb["stage"] == "recorded_stalking")]
    sub = synth.cases[synth.cases["financial_year"] == "2020/21"]
    assert float(first["entered"].iloc[0]) == sub["ever_recorded_stalking"].sum()


def test_impute_closed_form_poisson_intercept():
    fv = pd.DataFrame({"force": list("ABCDEF"), "y": [10, 20, 30, 40, np.nan, np.nan], "size": [1.0] * 6})
    res = impute_missing_forces(fv, value="y", covariates=[], family="poisson", random_state=1)
    nat = res.national.set_index("scenario")
    assert nat.loc["observed only", "total"] == 100
    assert nat.loc["model (MAR)", "total"] == pytest.approx(100 + 2 * 25)  # Poisson MLE: mean of observed
    assert nat.loc["missing at min observed rate", "total"] == 120
    assert nat.loc["missing at max observed rate", "total"] == 180
    assert nat.loc["MNAR x 2", "total"] == pytest.approx(200)
    assert nat.loc["model (MAR)", "lower 95%"] < 150 < nat.loc["model (MAR)", "upper 95%"]
    bf = res.by_force.set_index("force")
    assert bf.loc["E", "predicted"] == pytest.approx(25) and not bf.loc["E", "observed"]
    # with an exposure: rate per unit exposure is pooled
    fv2 = fv.assign(reports=[100, 100, 100, 100, 200, 50])
    r2 = impute_missing_forces(fv2, value="y", covariates=[], exposure="reports", family="poisson", per=1000)
    assert r2.national.set_index("scenario").loc["model (MAR)", "total"] == pytest.approx(100 + 0.25 * 250)
    assert r2.by_force.set_index("force").loc["E", "rate"] == pytest.approx(250)


def test_impute_covers_synthetic_truth(synth):
    last = synth.forces[synth.forces["financial_year"] == "2022/23"]
    truth = last["spo_applications"].sum()
    res = impute_missing_forces(last, value="spo_applications", observed="foi_responded", covariates=["log_size"])
    nat = res.national.set_index("scenario")
    assert nat.loc["observed only", "n_imputed"] == 16 and nat.loc["observed only", "n_observed"] == 27
    assert nat.loc["model (MAR)", "lower 95%"] <= truth <= nat.loc["model (MAR)", "upper 95%"]
    assert nat.loc["missing at min observed rate", "total"] <= truth <= nat.loc["missing at max observed rate", "total"]
    assert "negbin" in nat.loc["model (MAR)", "handling"]
    again = impute_missing_forces(last, value="spo_applications", observed="foi_responded", covariates=["log_size"])
    pd.testing.assert_frame_equal(res.national, again.national)


@pytest.mark.slow
def test_impute_coverage_over_datasets():
    """Ten synthetic countries (different seeds): the 95% prediction interval of the national total
    covers the full total in at least 8."""
    hits = 0
    for seed in range(10):
        d = simulate(n_cases=2_000, random_state=100 + seed)
        last = d.forces[d.forces["financial_year"] == d.forces["financial_year"].max()]
        r = impute_missing_forces(last, value="spo_applications", observed="foi_responded", n_sim=2000)
        row = r.national.set_index("scenario").loc["model (MAR)"]
        hits += row["lower 95%"] <= last["spo_applications"].sum() <= row["upper 95%"]
    assert hits >= 8, hits


def test_impute_errors(synth):
    fv = pd.DataFrame({"force": list("ABCDEF"), "y": [10, 20, 30, 40, np.nan, np.nan],
                       "reports": [100, 0, 100, 100, 100, 100], "region": list("xxyyyz")})
    with pytest.raises(DataValidationError, match=r"'B' has 0.*zero reports"):
        impute_missing_forces(fv, value="y", covariates=[], exposure="reports", family="poisson")
    with pytest.raises(DataValidationError, match=r"\['z'\] occur only among missing forces \['F'\]"):
        impute_missing_forces(fv, value="y", covariates=["region"], family="poisson")
    with pytest.raises(DataValidationError, match="twice"):
        impute_missing_forces(synth.forces, value="spo_applications", observed="foi_responded")
    with pytest.raises(DataValidationError, match="too few"):
        impute_missing_forces(fv.iloc[[0, 4]], value="y", covariates=[], family="poisson")
    with pytest.raises(DataValidationError, match=r"'A' has -1"):
        impute_missing_forces(fv.assign(y=[-1, 20, 30, 40, np.nan, np.nan]), value="y", covariates=[])


def test_plot_report_trends(synth):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_report_trends(report_counts(synth.cases, by="force"))
    assert len(ax.get_lines()) == 8 and ax.get_ylabel() == "Stalking reports"
    ax = plot_report_trends(funnel_by_year(synth.cases))
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "Convicted of stalking"
    ax = plot_report_trends(report_counts(synth.cases, by=None))
    assert len(ax.get_lines()) == 1
    plt.close("all")


def test_spo_applications_counts_and_bands(hand_events):
    from attrition.data import validate_events
    from attrition.trends import spo_applications

    ev = validate_events(hand_events, today="2022-07-01").valid
    out = spo_applications(ev).set_index(["force", "financial_year"])
    # C1 (Kent, 2021/22) interim; C5 and C6 (Kent, 2021/22) full applications in Feb/Mar 2022
    assert out.loc[("Kent", "2021/22"), "applications"] == 3
    assert out.loc[("Essex", "2021/22"), "applications"] == 0
    assert str(out.loc[("Kent", "2021/22"), "band"]) == "10 or fewer"
    assert len(out) == 4 * out.reset_index()["financial_year"].nunique()


def test_spo_applications_match_synthetic_force_table(small_synthetic):
    from attrition.trends import spo_applications

    out = spo_applications(small_synthetic.events, forces=small_synthetic.forces["force"].unique())
    merged = small_synthetic.forces.merge(out, on=["force", "financial_year"])
    assert (merged["spo_applications"] == merged["applications"]).all() and len(merged) == len(small_synthetic.forces)


def test_plot_spo_applications_marks_suppressed():
    import warnings

    from attrition.disclosure import suppress_small_counts
    from attrition.exceptions import DisclosureWarning
    from attrition.trends import plot_spo_applications

    t = pd.DataFrame({"force": ["A", "B", "C"], "applications": [40, 3, 12]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        s = suppress_small_counts(t, ["applications"], secondary=False)
    ax = plot_spo_applications(s)
    assert [round(p.get_height()) for p in ax.patches] == [40, 12, 0]
    assert [tx.get_text() for tx in ax.texts if tx.get_text() == "[c]"] == ["[c]"]
