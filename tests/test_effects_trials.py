"""SPO target trials (attrition.effects.trials): eligibility from hand-built logs, the weights and the
weighted Aalen-Johansen against closed forms / the survival engine, coverage of the truth in a world with
known truth (tests/_trial_world.py, truth stored in tests/results/trial_world_truth.csv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from _trial_world import world_cases
from attrition.effects import trials as TT
from attrition.effects.trials import SPOTargetTrial, confounding_bias_table
from attrition.exceptions import DataValidationError
from attrition.sources.events import to_cases
from _journeys import journey

TRUTH = pd.read_csv(Path(__file__).parent / "results" / "trial_world_truth.csv")


def _truth(escalation: bool) -> pd.DataFrame:
    return TRUTH[TRUTH["escalation"] == escalation].set_index("outcome")


def _log():
    rows = []
    # eligible for full28: need day 5 after suspect day 2, full application day 10, charged day 40
    rows += journey("A", "Kent", ("reported", "2021-05-01", {"risk": "high"}), ("recorded", "2021-05-01", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2021-05-03"), ("spo_need_identified", "2021-05-06"),
                    ("spo_full_applied", "2021-05-11"), ("police_outcome", "2021-06-10", {"outcome_code": 1}))
    # need before the suspect: not eligible for full28
    rows += journey("B", "Kent", ("reported", "2021-05-01", {"risk": "medium"}), ("recorded", "2021-05-01", {"offence": "stalking_s2a"}),
                    ("spo_need_identified", "2021-05-04"), ("suspect_identified", "2021-05-07"),
                    ("police_outcome", "2021-06-10", {"outcome_code": 16}))
    # interim application before the need: not eligible for full28; eligible for interim48 (high risk)
    rows += journey("C", "Essex", ("reported", "2021-05-01", {"risk": "high"}), ("recorded", "2021-05-01", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2021-05-02"), ("spo_interim_applied", "2021-05-03"),
                    ("spo_need_identified", "2021-05-05"), ("police_outcome", "2021-07-01", {"outcome_code": 16}))
    # eligible for full28, never applied, withdrawal on day 17 after the need
    rows += journey("D", "Essex", ("reported", "2021-05-01", {"risk": "standard"}), ("recorded", "2021-05-01", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2021-05-02"), ("spo_need_identified", "2021-05-04"),
                    ("police_outcome", "2021-05-21", {"outcome_code": 16}))
    # high risk, arrested (day 3) before the suspect is recorded (day 6): time zero = arrest; still open
    rows += journey("E", "Essex", ("reported", "2021-05-01", {"risk": "high"}), ("recorded", "2021-05-01", {"offence": "stalking_s2a"}),
                    ("arrested", "2021-05-04"), ("suspect_identified", "2021-05-07"), ("spo_interim_applied", "2021-05-09"))
    ev = pd.DataFrame(rows)
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    return to_cases(ev, as_of="2021-09-30")


def test_eligibility_time_zero_and_application_day_from_a_hand_built_log():
    cases = _log()
    D = TT._trial_data(cases, "full28", 28, 180, [], [])
    assert list(D.cases["case_id"]) == ["A", "D"]
    assert D.n_excluded["need without a suspect identified before it"] == 1
    assert D.n_excluded["interim application on or before the need day"] == 1
    assert_allclose(D.A, [5, np.inf])
    assert list(D.T) == [35, 17] and list(D.s) == [1, 2]
    D = TT._trial_data(cases, "interim48", 2, 180, [], [])
    assert list(D.cases["case_id"]) == ["A", "C", "E"]
    assert_allclose(D.A, [np.inf, 1, 5])     # C: day 1 after its suspect; E: day 5 after its arrest
    # E has no outcome: censored at the end of follow-up (as_of 2021-09-30 = day 149 after the arrest)
    assert list(D.T) == [38, 60, 149] and list(D.s) == [1, 2, 0]


def test_aalen_johansen_with_unit_weights_matches_the_survival_engine():
    from attrition.survival import cumulative_incidence

    rng = np.random.default_rng(3)
    n, H = 400, 60
    T = rng.integers(0, 80, n)
    s = rng.integers(0, 4, n)
    s = np.where(T > H, 0, s)
    T = np.minimum(T, H)
    F = TT._aj(T, s, np.ones(n), np.ones((n, 5)), np.ones(n), H)
    ref = cumulative_incidence(T + 0.5, s, causes=[1, 2, 3])   # day k's exits at k + 0.5, after day k's entries
    for j in (1, 2):
        r = ref[ref["cause"] == j].set_index("time")["estimate"]
        assert_allclose(F[j - 1, (r.index - 0.5).astype(int)], r.to_numpy(), rtol=1e-12)


def test_within_arm_weight_is_one_over_the_probability_of_an_application_within_grace():
    cases = world_cases(3000, random_state=5, escalation=False)
    D = TT._trial_data(cases, "full28", 28, 180, ["risk"], [])
    lp, alpha = TT._hazard(D, np.ones(len(D.T)), 28, True, False)
    w_in, post_in, w_not, post_not = TT._arm_weights(D, lp, alpha, 28)
    p_by_g = 1 - np.prod(1 - 1 / (1 + np.exp(-(lp + alpha))), axis=1)
    early = D.A <= 28
    assert_allclose(post_in[early], 1 / p_by_g[early], rtol=1e-10)
    assert np.all(post_in[~early] == 0) and np.all(post_not[early] == 0)
    late = ~early & (D.T > 28)
    assert_allclose(post_not[late], 1 / (1 - p_by_g[late]), rtol=1e-10)
    # hand check of one standard-risk case's weight: P(application by day 28) = 1 - (1 - h)^29 for a flat hazard
    assert 0.30 < p_by_g[~(D.Xb[:, 0] > 0)].mean() < 0.75


def test_the_trial_covers_its_truth_and_the_naive_comparisons_do_not():
    cases = world_cases(4000, random_state=11, escalation=False)
    m = SPOTargetTrial("full28", covariates=("risk", "force"), time_varying=(), n_boot=100, random_state=2).fit(cases)
    truth = _truth(False)
    tab = m.bias_table(truth)
    print(tab.drop(columns="bias left").round(3).to_string())
    prim = tab.loc["CCW, baseline covariates"]
    for o in ("charge", "withdrawal"):
        assert prim[f"{o} lower 95%"] < truth.loc[o, "rr"] < prim[f"{o} upper 95%"]
    assert_allclose(prim[["charge RR", "withdrawal RR"]].to_numpy(float), [1.1751, 0.8399], atol=5e-4)
    # the naive "ever vs never" comparison is far off (immortal time + confounding)
    naive = tab.loc["naive: ever vs never applied"]
    assert naive["charge bias"] > 0.15 and naive["withdrawal bias"] < -0.25
    assert m.summary.attrs["estimand"].startswith("Among cases with a recognised SPO need")


def test_escalation_biases_baseline_weights_and_time_varying_weights_remove_it():
    cases = world_cases(40_000, random_state=4, escalation=True)
    m = SPOTargetTrial("full28", covariates=("risk", "force"), n_boot=0).fit(cases)
    tab = m.bias_table(_truth(True))
    print(tab.drop(columns="bias left").round(4).to_string())
    b_base = tab.loc["CCW, baseline covariates", "withdrawal bias"]
    b_tv = tab.loc["CCW, time-varying covariates", "withdrawal bias"]
    # one dataset of 40,000 needs (log-RR SE about 0.015): baseline weights miss the breaches that drive both
    # the applications and withdrawal; the replication study (tests/studies/spo_trial_coverage.py) gives the
    # mean biases with their Monte Carlo error
    assert_allclose([b_base, b_tv], [0.0667, 0.0204], atol=5e-4)
    assert b_base > 3 * abs(b_tv)
    assert m.primary_ == "CCW, time-varying covariates"


def test_on_data_refuses_a_trial_whose_risks_rest_on_fewer_than_10_outcomes():
    """followers_ counts the cases that followed each strategy and their outcomes by the horizon (checked
    against a direct count); spo_trial_on_data refuses a trial when any is under 10 (its risks would rest on,
    and let a reader work out, a count of 1-9) and accepts it at 150 cases, where every count is >= 10."""
    small = world_cases(100, random_state=5, escalation=False)
    m = SPOTargetTrial("full28", covariates=("risk",), n_boot=0).fit(small)
    t0 = small["days_to_spo_need_identified"]
    applied = np.floor(small["days_to_spo_full_applied"] - t0)
    exit_day = np.floor(small["days_to_police_outcome"].fillna(small["duration"]) - t0)
    within = (applied <= 28) & (applied <= exit_day)       # an application after the exit is none
    by = (exit_day <= 180) & small["days_to_police_outcome"].notna()
    assert m.followers_.loc["within", "cases"] == within.sum() == 52
    assert m.followers_.loc["within", "charge"] == (within & by & (small["outcome_code"] == 1)).sum() == 8
    assert m.followers_.loc["not_within", "charge"] == (~within & by & (small["outcome_code"] == 1)).sum() == 4
    model, notes = TT.spo_trial_on_data(small, "full28", covariates=("risk",), n_boot=0)
    assert model is None and notes[-1].startswith("fewer than 10 cases that followed 'within' had a charge")
    model, notes = TT.spo_trial_on_data(world_cases(150, random_state=5, escalation=False), "full28",
                                        covariates=("risk",), n_boot=0)
    assert model is not None and model.followers_.drop(columns="cases").min().min() == 10


def test_no_case_within_grace_is_a_clear_error():
    cases = world_cases(300, random_state=1, escalation=False)
    cases["days_to_spo_full_applied"] = np.nan
    with pytest.raises(DataValidationError, match="0 of 300 eligible cases had an application within 28"):
        SPOTargetTrial("full28", n_boot=0).fit(cases)


def test_confounding_bias_table_closed_form():
    t = confounding_bias_table(2.0, rr_ud=[3.0], p1=[0.5], p0=[0.1]).iloc[0]
    assert_allclose(t["bias_factor"], 2.0 / 1.2)               # (1 + 0.5 * 2) / (1 + 0.1 * 2)
    assert_allclose(t["rr_adjusted"], 1.2)
    assert_allclose(t["bounding_factor"], 15 / 7)             # RR_EU = 5: 3 * 5 / (3 + 5 - 1)
    assert_allclose(t["rr_bound"], 2.0 * 7 / 15)
    assert not t["crosses_null"]
    assert confounding_bias_table(1.1, rr_ud=[3.0], p1=[0.5], p0=[0.1]).iloc[0]["crosses_null"]


@pytest.fixture(scope="module")
def world21():
    """attrition.synthetic at a third of the national size (seed 21)."""
    from attrition.synthetic import simulate

    return simulate(n_cases=120_000, random_state=21)


@pytest.mark.slow
def test_full28_on_the_generator_covers_the_strategy_truth(world21):
    """attrition.synthetic at a third of the national size (one seed): the primary estimate's interval holds the
    truth simulated by strategy_risks in the same world."""
    data = world21
    m = SPOTargetTrial("full28", n_boot=60, random_state=3).fit(data.cases)
    truth = TT.true_trial_risks("full28", data, random_state=21)
    est = m.estimate().set_index(["outcome", "measure"])
    print(m.bias_table(truth).drop(columns="bias left").round(3).to_string())
    for o in ("charge", "withdrawal"):
        assert est.loc[(o, "RR"), "lower 95%"] < truth.loc[o, "rr"] < est.loc[(o, "RR"), "upper 95%"]
    assert m.n_eligible_ == 2219
    # truth: charge RR 1.1182, withdrawal RR 0.9402 (this world)
    assert_allclose(est.loc[[("charge", "RR"), ("withdrawal", "RR")], "estimate"], [1.0760, 0.9101], atol=5e-4)


@pytest.mark.slow
def test_interim48_need_on_the_generator_covers_the_strategy_truth(world21):
    """The need-based interim trial in the same world: eligible high-risk cases with a need, about half applied
    for within 2 days; the intervals hold the simulated truth (100-world study: 94% / 93%)."""
    m = SPOTargetTrial("interim48_need", n_boot=60, random_state=3).fit(world21.cases)
    truth = TT.true_trial_risks("interim48_need", world21, random_state=21)
    est = m.estimate().set_index(["outcome", "measure"])
    for o in ("charge", "withdrawal"):
        assert est.loc[(o, "RR"), "lower 95%"] < truth.loc[o, "rr"] < est.loc[(o, "RR"), "upper 95%"]
    assert (m.n_eligible_, m.n_within_) == (1505, 799)
    # truth: charge RR 1.3260, withdrawal RR 0.8657 (this world)
    assert_allclose(truth["rr"], [1.3260, 0.8657], atol=5e-5)
    assert_allclose(est.loc[[("charge", "RR"), ("withdrawal", "RR")], "estimate"], [1.3423, 0.8447], atol=5e-4)


@pytest.mark.slow
def test_positivity_flags_the_interim48_cases_nobody_could_have_applied_for_so_early(world21):
    """interim48: an interim application needs a recognised SPO need, and most high-risk cases have none within
    2 days, so with the need in the hazard model their fitted chance of following "within" is practically 0;
    full28 (time zero at the need) has no such case. Without covariates the chance of an application by day 2
    is the same for everyone: 1 - prod(1 - applications / at risk) over days 0-2, counted directly (exact
    without the ridge)."""
    cases = world21.cases
    m = SPOTargetTrial("interim48", n_boot=0).fit(cases)
    pos = m.positivity_.set_index("method")
    tv = pos.loc["CCW, time-varying covariates"]
    assert (tv["n_eligible"], tv["within: p < 0.001"]) == (10305, 9171)   # 89% outside the data's support
    assert tv["smallest p within, applied"] > 0.05                          # the appliers are well inside it
    assert any(n.startswith("positivity: 89%") for n in m.notes_)
    D = TT._trial_data(cases, "interim48", 2, 180, [], [])
    at_risk = np.array([np.sum((D.A >= k) & (D.T >= k)) for k in range(3)])
    applied = np.array([np.sum(D.A == k) for k in range(3)])
    p_by_2 = 1 - np.prod(1 - applied / at_risk)
    assert pos.loc["CCW, no covariates", "within: p < 0.001"] == 0
    unpenalised = SPOTargetTrial("interim48", n_boot=0, ridge=0.0).fit(cases).positivity_.set_index("method")
    assert_allclose(unpenalised.loc["CCW, no covariates", "median p within"], p_by_2, rtol=1e-8)
    # the default ridge (0.1 pseudo-observations a coefficient) moves it by under 1%
    assert_allclose(pos.loc["CCW, no covariates", "median p within"], p_by_2, rtol=1e-2)
    full = SPOTargetTrial("full28", n_boot=0).fit(cases)
    assert (full.positivity_["within: p < 0.001"] == 0).all() and not any("positivity" in n for n in full.notes_)


def test_fig09_draws_each_truth_beside_its_estimate_on_separate_hr_and_rr_panels():
    import matplotlib.pyplot as plt

    from attrition.effects import plot_spo_effects

    hr = pd.DataFrame({"label": ["SPO in force: charge"], "estimate": [1.8], "lower 95%": [1.5],
                       "upper 95%": [2.1], "truth": [1.5]})
    rr = pd.DataFrame({"label": ["full28, charge: CCW", "full28, charge: naive"], "estimate": [1.3, 2.0],
                       "lower 95%": [1.1, 1.6], "upper 95%": [1.6, 2.4], "truth": [1.25, np.nan]})
    axes = plot_spo_effects(hr, rr)
    assert len(axes) == 2 and axes[0].get_xscale() == axes[1].get_xscale() == "log"
    truth_points = [c.get_offsets() for c in axes[1].collections if c.get_label() == "truth (synthetic)"]
    assert_allclose(truth_points[0], [[1.25, 1 - 0.22]])          # the first row (drawn at y = 1), not the NaN one
    assert [t.get_text() for t in axes[0].get_xticklabels()][:1] != ["$\\mathdefault{10^{0}}$"]
    plt.close(axes[0].figure)


def test_fig09_leaves_out_ratios_without_a_log_and_says_so():
    """A two-force extract can give a zero risk in one arm: that ratio is left out, named under its panel."""
    import matplotlib.pyplot as plt

    from attrition.effects.plotting import plot_spo_effects

    rr = pd.DataFrame({"label": ["a", "b"], "estimate": [1.2, 0.0], "lower 95%": [0.9, 0.0],
                       "upper 95%": [1.6, np.nan]})
    axes = plot_spo_effects(None, rr)
    assert len(axes) == 1 and [t.get_text() for t in axes[0].get_yticklabels()] == ["a"]
    assert "not estimable on these data" in axes[0].get_xlabel() and axes[0].get_xlabel().endswith(": b")
    with pytest.raises(DataValidationError, match="no hazard or risk ratio"):
        plot_spo_effects(None, rr.iloc[[1]])
    plt.close("all")


def test_spo_hazard_ratios_keep_risk_when_some_assessments_are_missing():
    """Missing risk is a level of its own, not a reason to drop risk from the model: with 13% of risk
    assessments missing not at random (risk_missing_mnar=0.5), dropping risk gave a charge HR of 2.13
    (95% CI 1.85-2.44) against the structural 1.5; keeping it, 1.62 (1.40-1.88), which holds the truth."""
    from attrition.effects.spo import spo_time_varying_cox
    from attrition.effects.trials import spo_hazard_ratios
    from attrition.synthetic import simulate

    d = simulate(n_cases=120_000, random_state=5, risk_missing_mnar=0.5)
    assert 0.10 < d.cases["risk"].isna().mean() < 0.16
    hr = spo_hazard_ratios(d.cases, d.truth).set_index("outcome")
    assert_allclose(hr.loc["charge", "estimate"], 1.622927, rtol=1e-5)
    for o in ("charge", "withdrawal"):
        assert hr.loc[o, "lower 95%"] < hr.loc[o, "truth"] < hr.loc[o, "upper 95%"]
    dropped = spo_time_varying_cox(d.cases, covariates=("financial_year",), strata="force", cluster="force")
    assert dropped.set_index("outcome").loc["charge", "lower 95%"] > 1.5   # what leaving risk out gave
