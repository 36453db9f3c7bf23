"""Published figures recomputed from a case table."""
import pytest

from attrition.data import to_cases, validate_events
from attrition.headlines import headline_figures


def test_headline_figures_on_hand_built_cases(hand_events):
    cases = to_cases(validate_events(hand_events, today="2022-07-01").valid, as_of="2022-07-01")
    h = headline_figures(cases, financial_year="2021/22")
    # 2021/22 (Apr 2021-Mar 2022) reports: C1-C6; charged C1, C5, C6; HO 15: C3; convicted of stalking: C1
    assert h.loc["charge_rate_reports", ["cases", "reports"]].tolist() == [3, 6]
    assert h.loc["evidential_drop_victim_supports_share", "cases"] == 1
    assert h.loc["conviction_rate_reports", "estimate"] == pytest.approx(1 / 6)
    assert h.loc["charge_rate_reports", "published"] == 0.05
    with pytest.raises(ValueError, match="years present"):
        headline_figures(cases, financial_year="2030/31")


def test_reconcile_headlines_takes_each_headline_to_the_funnel(small_synthetic):
    import numpy as np

    from attrition.funnel import FunnelFitter
    from attrition.headlines import reconcile_headlines

    cases = small_synthetic.cases
    funnel = FunnelFitter().fit(cases)
    r = reconcile_headlines(cases, funnel, financial_year="2021/22")
    assert r.attrs["check"] < 1e-12  # the steps add up to the funnel estimate
    head = headline_figures(cases, financial_year="2021/22")
    first = r[r["step"] == "headline"].set_index("key")["share"]
    np.testing.assert_allclose(first, head.loc[first.index, "estimate"], atol=1e-15)
    ev = r[r["key"] == "evidential_drop_victim_supports_share"].set_index("what")
    est = ev.loc[ev["step"] == "funnel estimate", "share"].iloc[0]
    dec = funnel.decompose().droplevel("group").loc[("suspect_identified", "evidential_victim_supports"), "contribution"]
    assert est == pytest.approx(dec, abs=1e-15)
    # HO 15 reports of the cohort never recorded or charged as stalking: the funnel loses them at "reported"
    year = cases["financial_year"] == "2021/22"
    ho15 = cases["outcome_code"].eq(15).fillna(False)
    never = cases["stage_index"] == 0
    n_mis = int((year & ho15 & never).sum())
    assert n_mis > 100
    row = ev.loc["headline only: never recorded or charged as stalking (lost at 'reported' as mischarged)"]
    assert row["cases"] == n_mis and row["share"] == pytest.approx(-n_mis / year.sum())
    with pytest.raises(ValueError, match="all stages"):
        reconcile_headlines(cases, FunnelFitter(stages=("reported", "charged", "convicted")).fit(cases))


def test_reconcile_headlines_never_shows_a_small_destination(small_synthetic):
    from attrition.funnel import FunnelFitter
    from attrition.headlines import reconcile_headlines

    cases = small_synthetic.cases
    r = reconcile_headlines(cases, FunnelFitter().fit(cases), financial_year="2021/22", min_cases=10)
    only = r[r["step"] == "headline only"]
    assert (only["cases"] >= 10).all()
    # the pooled rows still add up: headline - headline only + funnel only = funnel definition on the cohort
    for key, part in r.groupby("key"):
        s = part.set_index("step")
        total = s.loc["headline", "cases"] - part.loc[part["step"] == "headline only", "cases"].sum() \
            + s.loc["funnel only", "cases"]
        assert total == s.loc["funnel definition, cohort", "cases"]


def test_reconcile_headlines_withholds_a_block_resting_on_a_small_count(small_synthetic):
    import numpy as np

    from attrition.funnel import FunnelFitter
    from attrition.headlines import reconcile_headlines

    cases = small_synthetic.cases.iloc[:400].reset_index(drop=True)
    r = reconcile_headlines(cases, FunnelFitter().fit(cases), financial_year="2021/22", min_cases=10)
    shown = r.loc[~r["withheld"], "cases"].dropna()
    assert not ((shown > 0) & (shown < 10)).any()
    # 400 reports hold only a handful of charges and convictions: those blocks are withheld but their headline
    # rows (if 10 or more) and every intermediate step
    assert r["withheld"].any()
    w = r[r["withheld"]]
    assert w["share"].isna().all() and w["cases"].isna().all()
    blocked = r.groupby("key")["withheld"].any()
    for key in blocked[blocked].index:
        mid = r[(r["key"] == key) & ~r["step"].isin(["headline", "funnel estimate"])]
        assert mid["withheld"].all()
    assert np.isfinite(r.loc[~r["withheld"], "share"]).all()
