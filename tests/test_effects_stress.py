"""attrition.effects.stress: the adversarial-switch study (tests/studies/adversarial_switches.py runs it at
national size; here two small worlds per setting, seconds)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attrition.effects.stress import (ESTIMANDS, SWITCH_STUDY_PATH, load_switch_study, plot_switch_study,
                                      switch_study, switch_table)
from attrition.exceptions import DataValidationError

OFFICER = "officer: g-computation, adjusted (GLM, CR2)"
DID = "officer: difference in differences (TWFE, CR2)"


@pytest.fixture(scope="module")
def study():
    table, reps = switch_study({"officer_confounding": 2.0}, reps=2, n_cases=20_000, n_boot=5, trials=("full28",),
                               random_state=7, return_replicates=True)
    return table, reps


def _row(table, switch, estimator, estimand):
    r = table[(table["switch"] == switch) & (table["estimator"] == estimator) & (table["estimand"] == estimand)]
    assert len(r) == 1
    return r.iloc[0]


def test_structure(study):
    table, reps = study
    assert list(table.columns) == ["switch", "value", "estimator", "estimand", "scale", "truth", "estimate", "bias",
                                   "bias_mc_se", "coverage", "coverage_mc_se", "reps", "failed"]
    assert set(table["switch"]) == {"none", "officer_confounding"}
    assert set(table["estimand"]) <= set(ESTIMANDS)
    # every officer and SPO estimator, in both settings: 2 RR x 2 + HR x 2 + DiD x 2 + SPO HR x 2 + 6 methods x 2
    assert table.groupby("switch").size().to_dict() == {"none": 22, "officer_confounding": 22}
    assert (table["reps"] + table["failed"] == 2).all()
    # the summary is the mean over the datasets, bias on the stated scale, MC SEs as documented
    r = _row(table, "none", OFFICER, "officer RR, charged")
    one = reps[(reps["switch"] == "none") & (reps["estimator"] == OFFICER) & (reps["estimand"] == "officer RR, charged")]
    b = np.log(one["estimate"]) - np.log(one["truth"])
    assert r["bias"] == pytest.approx(b.mean())
    assert r["bias_mc_se"] == pytest.approx(b.std(ddof=1) / np.sqrt(2))
    c = r["coverage"]
    assert r["coverage_mc_se"] == pytest.approx(np.sqrt(c * (1 - c) / 2))
    d = _row(table, "none", DID, "officer RD, charged, adopters")
    assert d["scale"] == "difference" and d["bias"] == pytest.approx(d["estimate"] - d["truth"])
    # SPO trial intervals exist with n_boot > 0: coverage is a share
    spo = table[table["estimator"].str.startswith("SPO trial")]
    assert spo["coverage"].between(0, 1).all()


def test_officer_confounding_biases_adjusted_rr_but_not_did(study):
    """A force-level confounder of adoption (officer_confounding=2) biases the case-mix-adjusted officer RR
    upward; the difference in differences (force fixed effects absorb it) is not moved by it. Same seeds in
    both settings: at 20,000 reports the adjusted log-RR bias of a charge went from -0.154 to +0.491."""
    table, _ = study
    base = _row(table, "none", OFFICER, "officer RR, charged")["bias"]
    conf = _row(table, "officer_confounding", OFFICER, "officer RR, charged")["bias"]
    assert base == pytest.approx(-0.154, abs=0.002)
    assert conf == pytest.approx(0.491, abs=0.002)
    assert conf - base > 0.4
    for sw in ("none", "officer_confounding"):
        assert abs(_row(table, sw, DID, "officer RD, charged, adopters")["bias"]) < 0.03
    # the truth does not depend on the switch (the confounder changes who adopts, not the effect)
    t0 = _row(table, "none", OFFICER, "officer RR, charged")["truth"]
    assert _row(table, "officer_confounding", OFFICER, "officer RR, charged")["truth"] == pytest.approx(t0, rel=0.01)


def test_deterministic_whatever_workers_and_split(study):
    """Settings run alone on 2 workers give the rows of the joint sequential call."""
    table, _ = study
    alone = switch_study({"officer_confounding": 2.0}, reps=2, n_cases=20_000, n_boot=5, trials=("full28",),
                         baseline=False, random_state=7, n_jobs=2)
    joint = table[table["switch"] == "officer_confounding"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, joint)


def test_an_estimator_that_refuses_the_data_is_counted_not_hidden(monkeypatch):
    import attrition.effects.officer as officer

    def refuse(*args, **kwargs):
        raise DataValidationError("no")

    monkeypatch.setattr(officer, "officer_did", refuse)
    t = switch_study({}, reps=1, n_cases=20_000, n_boot=0, trials=(), random_state=7)
    did = t[t["estimator"] == DID]
    assert len(did) == 2 and (did["failed"] == 1).all() and (did["reps"] == 0).all() and did["bias"].isna().all()
    assert (t.loc[t["estimator"] != DID, "failed"] == 0).all()


def test_bad_input():
    with pytest.raises(ValueError, match="unknown adversarial switch"):
        switch_study({"confounding": 1.0}, reps=1, random_state=1)
    with pytest.raises(ValueError, match="positive"):
        switch_study({"escalation": 0.0}, reps=1, random_state=1)
    with pytest.raises(ValueError, match="reps"):
        switch_study(None, reps=0, random_state=1)
    with pytest.raises(ValueError, match="random_state"):
        switch_study(None, reps=1, random_state=None)
    with pytest.raises(ValueError, match="trial"):
        switch_study(None, reps=1, trials=("full14",), random_state=1)


def test_table_load_and_plot(study, tmp_path):
    table, _ = study
    path = tmp_path / "s.csv"
    table.to_csv(path, index=False)
    back = load_switch_study(path)
    assert back.attrs["provenance"].startswith("Synthetic worlds") and "2 simulated datasets" in back.attrs["provenance"]
    wide = switch_table(back, estimators=[OFFICER, DID])
    assert list(wide.columns) == ["truth", "none", "officer_confounding=2"]
    cell = wide.loc[("officer RR, charged", OFFICER), "officer_confounding=2"]
    assert cell.startswith("+0.491 (")
    cov = switch_table(back, what="coverage")
    assert cov.iloc[0, 1].endswith(")") and "%" in cov.iloc[0, 1]
    ax = plot_switch_study(back, estimators=[OFFICER, DID])
    assert len(ax.get_yticks()) == 4
    with pytest.raises(DataValidationError, match="no switch-study table"):
        load_switch_study(tmp_path / "none.csv")
    table.drop(columns="bias").to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="bias"):
        load_switch_study(path)


@pytest.mark.skipif(not SWITCH_STUDY_PATH.exists(), reason="the committed study table is absent")
def test_committed_table_readable():
    t = load_switch_study()
    assert set(t["switch"]) >= {"none", "officer_confounding", "escalation", "informative_censoring",
                                "risk_missing_mnar"}
    assert (t["reps"] >= 10).all()
