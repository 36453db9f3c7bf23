"""Tests for attrition.mischarging: tables with known shares and Wilson CIs, the misclassification
correction in closed form, exactly under a census review, and its coverage on synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from attrition.exceptions import DataValidationError, DisclosureWarning, StatisticalWarning
from attrition.mischarging import (
    MisclassificationCorrection, correct_funnel, mischarging_table, plot_mischarging, synthetic_review,
)
from attrition.synthetic import simulate


@pytest.fixture(scope="module")
def synth():
    return simulate(n_cases=20_000, random_state=1)


def hand_cases():
    """Force A 2021/22: 10 reports, 4 stalking (3 s2a + 1 s4a), 3 harassment, 2 malcomms, 1 other;
    force B 2021/22: 5 reports, 5 stalking. Charged: A 4 (2 stalking, 2 harassment), B 0."""
    rec = (["stalking_s2a"] * 3 + ["stalking_s4a"] + ["harassment"] * 3 + ["malicious_communications"] * 2
           + ["other"] + ["stalking_s2a"] * 5)
    charged = [True, True, False, False, True, True, False, False, False, False] + [False] * 5
    ch_off = ["stalking_s2a", "stalking_s4a", None, None, "harassment", "harassment"] + [None] * 9
    return pd.DataFrame({
        "case_id": np.arange(1, 16), "force": ["A"] * 10 + ["B"] * 5, "financial_year": "2021/22",
        "recorded_offence": rec, "final_offence": ["stalking_s2a"] * 15, "charged": charged,
        "charged_offence": pd.Series(ch_off, dtype=object),
    })


def test_table_counts_shares_and_wilson():
    t = mischarging_table(hand_cases(), by="force")
    a = t[t["force"] == "A"].set_index("offence")
    assert a["n"].to_dict() == {"stalking": 4, "harassment": 3, "malicious_communications": 2, "criminal_damage": 0,
                                "other": 1}
    assert (a["total"] == 10).all()
    np.testing.assert_allclose(a["share"], a["n"] / 10)
    lo, hi = proportion_confint(a["n"].to_numpy(), 10, alpha=0.05, method="wilson")
    np.testing.assert_allclose(a["lower 95%"], lo, atol=1e-12)
    np.testing.assert_allclose(a["upper 95%"], hi, atol=1e-12)
    b = t[t["force"] == "B"].set_index("offence")
    assert b.loc["stalking", "share"] == 1.0 and b.loc["stalking", "upper 95%"] == 1.0
    assert b.loc["harassment", "n"] == 0 and b.loc["harassment", "lower 95%"] == 0.0
    assert len(t) == 10  # every class for every force, zeros included
    # alpha changes the labels and widths
    t90 = mischarging_table(hand_cases(), by="force", alpha=0.1)
    lo90, _ = proportion_confint(3, 10, alpha=0.1, method="wilson")
    assert t90.set_index(["force", "offence"]).loc[("A", "harassment"), "lower 90%"] == pytest.approx(lo90, abs=1e-12)


def test_charged_and_final_stages():
    t = mischarging_table(hand_cases(), by="force", stage=["final", "charged"])
    ch = t[(t["stage"] == "charged") & (t["force"] == "A")].set_index("offence")
    assert ch.loc["stalking", "n"] == 2 and ch.loc["harassment", "n"] == 2 and (ch["total"] == 4).all()
    chb = t[(t["stage"] == "charged") & (t["force"] == "B")]
    assert (chb["total"] == 0).all() and chb["share"].isna().all()  # no charges: share undefined
    fin = t[(t["stage"] == "final") & (t["force"] == "A")].set_index("offence")
    assert fin.loc["stalking", "share"] == 1.0


def test_national_synthetic_matches_direct_count(synth):
    c = synth.cases
    t = mischarging_table(c, by=None, stage="recorded").set_index("offence")
    assert t.loc["harassment", "n"] == (c["recorded_offence"] == "harassment").sum()
    assert t.loc["stalking", "n"] == c["recorded_offence"].isin(["stalking_s2a", "stalking_s4a"]).sum()
    assert t["n"].sum() == len(c)
    # the synthetic truth: about 1 - 0.55 of reports first recorded as a lesser offence, 60% of those harassment
    mis = 1 - t.loc["stalking", "share"]
    assert 0.35 < mis < 0.55
    assert t.loc["harassment", "n"] / (len(c) - t.loc["stalking", "n"]) == pytest.approx(0.60, abs=0.02)


def test_suppression():
    with pytest.warns(DisclosureWarning):
        t = mischarging_table(hand_cases(), by="force", suppress=True)
    a = t[t["force"] == "A"].set_index("offence")
    assert np.isnan(a.loc["harassment", "n"]) and np.isnan(a.loc["harassment", "share"])
    assert a.loc["criminal_damage", "n"] == 0  # true zeros are published
    assert t.attrs["disclosure"]["threshold"] == 10


def test_bad_input_names_the_row():
    c = hand_cases()
    c.loc[6, "recorded_offence"] = "stalkng"
    with pytest.raises(DataValidationError, match=r"stalkng.*case_id 7"):
        mischarging_table(c, by="force")
    c = hand_cases()
    c.loc[4, "charged_offence"] = None
    with pytest.raises(DataValidationError, match=r"case_id 5"):
        mischarging_table(c, by="force", stage="charged")
    with pytest.raises(DataValidationError, match="not in the case table"):
        mischarging_table(hand_cases(), by="region")
    with pytest.raises(ValueError, match="stage"):
        mischarging_table(hand_cases(), stage="convicted")


# ------------------------------------------------------------------------------------------------ correction
REVIEW = pd.DataFrame({"recorded": ["stalking_s2a", "stalking_s2a", "harassment", "harassment"],
                       "true_stalking": [True, False, True, False], "n": [48, 2, 30, 20]})
COUNTS = {"stalking_s2a": 500, "harassment": 1000}


def test_reweight_delta_closed_form():
    out = MisclassificationCorrection(variance="delta", finite_population=False).fit(REVIEW).correct(COUNTS)
    o = out.set_index("quantity")
    assert o.loc["true_stalking", "corrected"] == pytest.approx(500 * 0.96 + 1000 * 0.6)
    var = 500**2 * 0.96 * 0.04 / 50 + 1000**2 * 0.6 * 0.4 / 50
    assert o.loc["true_stalking", "se"] == pytest.approx(np.sqrt(var))
    assert o.loc["true_stalking", "upper 95%"] == pytest.approx(1080 + 1.959963985 * np.sqrt(var))
    assert o.loc["share_stalking", "corrected"] == pytest.approx(1080 / 1500)
    assert o.loc["share_stalking", "observed"] == pytest.approx(500 / 1500)
    assert o.loc["recording_sensitivity", "corrected"] == pytest.approx(480 / 1080)
    # finite-population correction (Cochran 5A: divisor m - 1, factor 1 - m/N)
    fpc = MisclassificationCorrection(variance="delta").fit(REVIEW).correct(COUNTS).set_index("quantity")
    var_f = 500**2 * (1 - 50 / 500) * 0.96 * 0.04 / 49 + 1000**2 * (1 - 50 / 1000) * 0.6 * 0.4 / 49
    assert fpc.loc["true_stalking", "se"] == pytest.approx(np.sqrt(var_f))


def test_posterior_agrees_with_delta_and_is_deterministic():
    mc = MisclassificationCorrection(random_state=3, finite_population=False).fit(REVIEW)
    p = mc.correct(COUNTS).set_index("quantity")
    d = MisclassificationCorrection(variance="delta", finite_population=False).fit(REVIEW).correct(COUNTS)
    d = d.set_index("quantity")
    assert p.loc["true_stalking", "se"] == pytest.approx(d.loc["true_stalking", "se"], rel=0.1)
    assert p.loc["true_stalking", "lower 95%"] == pytest.approx(d.loc["true_stalking", "lower 95%"], rel=0.02)
    again = MisclassificationCorrection(random_state=3, finite_population=False).fit(REVIEW).correct(COUNTS)
    pd.testing.assert_frame_equal(p.reset_index(), again)
    s = mc.summary
    assert s.loc["harassment", "estimate"] == pytest.approx(0.6)
    from scipy import stats
    assert s.loc["harassment", "upper 95%"] == pytest.approx(stats.beta(30.5, 20.5).ppf(0.975))


def test_all_or_none_stalking_class_interval_contains_estimate():
    """A class reviewed as 100% (or 0%) stalking: the modified Jeffreys interval (Brown, Cai & DasGupta 2001)
    ends at 1 (or 0), so it contains the estimate; corrected totals are extended to their point likewise."""
    from scipy import stats

    review = pd.DataFrame({"recorded": ["stalking_s2a", "harassment", "harassment", "malicious_communications"],
                           "true_stalking": [True, True, False, False], "n": [40, 30, 20, 25]})
    mc = MisclassificationCorrection(random_state=1).fit(review)
    s = mc.summary
    assert s.loc["stalking", "estimate"] == 1.0 and s.loc["stalking", "upper 95%"] == 1.0  # s.2A + s.4A
    assert s.loc["stalking", "lower 95%"] == pytest.approx(stats.beta(40.5, 0.5).ppf(0.025))
    assert s.loc["malicious_communications", "estimate"] == 0.0 and s.loc["malicious_communications", "lower 95%"] == 0.0
    assert s.loc["malicious_communications", "upper 95%"] == pytest.approx(stats.beta(0.5, 25.5).ppf(0.975))
    assert s.loc["harassment", "upper 95%"] == pytest.approx(stats.beta(30.5, 20.5).ppf(0.975))
    out = mc.correct({"stalking_s2a": 400, "harassment": 1000, "malicious_communications": 600}).set_index("quantity")
    for q in ("true_stalking", "recorded_as_stalking", "recording_sensitivity", "misrecorded_share"):
        r = out.loc[q]
        assert r["lower 95%"] <= r["corrected"] <= r["upper 95%"], (q, r.to_dict())
    # the reviewed 40 are stalking for certain; the 360 unreviewed s.2A records are predicted (beta-binomial)
    # as nearly all stalking: the interval ends exactly at the point estimate 400
    assert out.loc["recorded_as_stalking", "upper 95%"] == out.loc["recorded_as_stalking", "corrected"] == 400
    assert out.loc["recorded_as_stalking", "lower 95%"] < 400


def test_rogan_gladen_closed_form():
    review = pd.DataFrame({"recorded": ["stalking", "harassment", "stalking", "harassment"],
                           "true_stalking": [True, True, False, False], "n": [90, 10, 5, 95]})
    counts = pd.DataFrame({"offence": ["stalking", "harassment"], "n": [300, 700]})
    o = (MisclassificationCorrection(method="rogan-gladen", variance="delta").fit(review).correct(counts)
         .set_index("quantity"))
    pi = (0.3 + 0.95 - 1) / (0.9 + 0.95 - 1)
    assert o.loc["share_stalking", "corrected"] == pytest.approx(pi)
    var = (pi**2 * 0.9 * 0.1 / 100 + (1 - pi) ** 2 * 0.95 * 0.05 / 100) / 0.85**2
    assert o.loc["share_stalking", "se"] == pytest.approx(np.sqrt(var))
    assert o.loc["recorded_as_stalking", "corrected"] == pytest.approx(0.9 * pi * 1000)
    # an estimate outside [0, 1] is truncated with a warning
    with pytest.warns(StatisticalWarning, match="outside"):
        MisclassificationCorrection(method="rogan-gladen").fit(review).correct({"stalking": 10, "harassment": 990})


def test_census_review_is_exact(synth):
    sr = synthetic_review(synth.cases, n=10**7, random_state=0)  # reviews every record
    assert sr.review["n"].sum() == sr.truth["records"]
    o = correct_funnel(sr.counts, sr.review).set_index("quantity")
    assert o.loc["true_stalking", "corrected"] == sr.truth["true_stalking"] == len(synth.cases)
    assert o.loc["true_stalking", "lower 95%"] == o.loc["true_stalking", "upper 95%"] == len(synth.cases)
    assert o.loc["recording_sensitivity", "corrected"] == pytest.approx(sr.truth["recording_sensitivity"])
    srs = synthetic_review(synth.cases, n=10**7, random_state=0, design="srs",
                           background={"harassment": 5000, "stalking": 300})
    rg = correct_funnel(srs.counts, srs.review, method="rogan-gladen").set_index("quantity")
    assert rg.loc["share_stalking", "corrected"] == pytest.approx(srs.truth["share_stalking"], abs=1e-12)
    assert srs.truth["specificity"] == pytest.approx(1 - 300 / 5300)


def test_synthetic_review_covers_truth(synth):
    sr = synthetic_review(synth.cases, n=400, random_state=11)
    assert set(sr.review.columns) == {"recorded", "true_stalking", "n"} and sr.review["n"].sum() == 400
    assert sr.truth["ppv"]["stalking"] == 1.0 and sr.truth["ppv"]["harassment"] == pytest.approx(0.5, abs=1e-3)
    o = correct_funnel(sr.counts, sr.review).set_index("quantity")
    t = sr.truth
    assert o.loc["share_stalking", "lower 95%"] < t["share_stalking"] < o.loc["share_stalking", "upper 95%"]
    naive = o.loc["share_stalking", "observed"]
    assert naive < o.loc["share_stalking", "lower 95%"]  # the naive share is far off


def test_case_table_funnel_uses_funnelfitter(synth):
    from attrition.funnel import FunnelFitter

    review = pd.DataFrame({"recorded": ["stalking", "harassment", "malicious_communications", "criminal_damage",
                                        "other"], "true_stalking": True, "n": 40})
    o = correct_funnel(synth.cases, review).set_index("quantity")
    ff = FunnelFitter(stages=("reported", "charged", "convicted")).fit(synth.cases)
    p = float(ff.national_.loc["convicted", "p_reach"])
    # every record is stalking: corrected total = all reports, conviction per report = FunnelFitter's p_reach
    assert o.loc["true_stalking", "corrected"] == len(synth.cases)
    assert o.loc["convicted_per_report", "corrected"] == pytest.approx(p)


def test_correction_bad_input():
    zero = pd.DataFrame({"recorded": ["stalking", "harassment", "harassment"], "true_stalking": [True, True, False],
                         "n": [10, 0, 0]})
    with pytest.raises(DataValidationError, match=r"zero reviewed.*harassment"):
        MisclassificationCorrection().fit(zero)
    bad = REVIEW.assign(recorded=["stalking", "stalking", "harrasment", "harrasment"])
    with pytest.raises(DataValidationError, match="harrasment"):
        MisclassificationCorrection().fit(bad)
    with pytest.raises(DataValidationError, match=r"row 1"):
        MisclassificationCorrection().fit(REVIEW.assign(n=[48, -2, 30, 20]))
    with pytest.raises(DataValidationError, match="missing column"):
        MisclassificationCorrection().fit(REVIEW.drop(columns="n"))
    mc = MisclassificationCorrection().fit(REVIEW)
    with pytest.raises(DataValidationError, match="malicious_communications"):
        mc.correct({"stalking": 500, "harassment": 1000, "malicious_communications": 50})
    with pytest.raises(DataValidationError, match="more files than there are records"):
        mc.correct({"stalking": 10, "harassment": 1000})
    chance = pd.DataFrame({"recorded": ["stalking", "harassment", "stalking", "harassment"],
                           "true_stalking": [True, True, False, False], "n": [10, 10, 10, 10]})
    with pytest.raises(DataValidationError, match="no better than chance"):
        MisclassificationCorrection(method="rogan-gladen").fit(chance)
    with pytest.raises(DataValidationError, match="sensitivity"):
        MisclassificationCorrection(method="rogan-gladen").fit(REVIEW.assign(true_stalking=False))


def test_plot(synth):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = mischarging_table(synth.cases, by="financial_year")
    ax = plot_mischarging(t)
    assert len(ax.get_legend().get_texts()) == 4
    assert ax.get_xlabel() == "Financial year"
    ax2 = plot_mischarging(mischarging_table(synth.cases, by="force", stage="charged"))
    assert "charges" in ax2.get_xlabel()
    with pytest.raises(DataValidationError, match="pass x="):
        plot_mischarging(mischarging_table(synth.cases))
    plt.close("all")


@pytest.mark.slow
def test_coverage_of_corrected_share(synth):
    """50 independent reviews of one synthetic population: the 95% interval of the corrected share of
    stalking among all records covers the truth in at least 43 (P(<= 42 | 95%) < 0.01)."""
    covered = {"reweight": 0, "rogan-gladen": 0}
    for rep in range(50):
        sr = synthetic_review(synth.cases, n=300, random_state=1000 + rep, background=0.8)
        o = correct_funnel(sr.counts, sr.review, n_draws=2000, random_state=rep).set_index("quantity")
        covered["reweight"] += o.loc["share_stalking", "lower 95%"] <= sr.truth["share_stalking"] <= \
            o.loc["share_stalking", "upper 95%"]
        srs = synthetic_review(synth.cases, n=600, random_state=5000 + rep, design="srs",
                               background={"harassment": 6000, "malicious_communications": 2000, "stalking": 400})
        g = correct_funnel(srs.counts, srs.review, method="rogan-gladen", n_draws=2000,
                           random_state=rep).set_index("quantity")
        covered["rogan-gladen"] += g.loc["share_stalking", "lower 95%"] <= srs.truth["share_stalking"] <= \
            g.loc["share_stalking", "upper 95%"]
    assert covered["reweight"] >= 43, covered
    assert covered["rogan-gladen"] >= 43, covered


def test_case_table_by_year(synth):
    review = pd.DataFrame({"recorded": ["stalking", "harassment", "harassment", "malicious_communications",
                                        "criminal_damage", "other"],
                           "true_stalking": [True, True, False, True, True, True], "n": [40, 30, 10, 40, 40, 40]})
    out = correct_funnel(synth.cases, review, by="financial_year", variance="delta")
    assert list(out.columns[:2]) == ["financial_year", "quantity"]
    one = out[(out["financial_year"] == "2021/22")].set_index("quantity")
    sub = synth.cases[synth.cases["financial_year"] == "2021/22"]
    n_h = (sub["recorded_offence"] == "harassment").sum()
    assert one.loc["true_stalking", "corrected"] == pytest.approx(len(sub) - n_h * 0.25)
    with pytest.raises(ValueError, match="by= needs a case table"):
        correct_funnel({"stalking": 10}, review, by="force")
