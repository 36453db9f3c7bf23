"""The case-file review beyond a perfect, random review: the reviewer's sensitivity and specificity
(Rogan-Gladen on each class's PPV), non-random review (selection odds ratio, Manski bounds) and review
planning (Neyman allocation, files for a target interval width), in closed form and by simulation."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from attrition.exceptions import StatisticalWarning
from attrition.mischarging import (
    MisclassificationCorrection, ReviewerAccuracy, allocate_review, plan_review, review_width_table,
)

REVIEW = pd.DataFrame({"recorded": ["stalking_s2a", "stalking_s2a", "harassment", "harassment", "other", "other"],
                       "true_stalking": [True, False, True, False, True, False], "n": [45, 5, 10, 40, 4, 46]})
COUNTS = {"stalking_s2a": 500, "harassment": 5000, "other": 2000}
Z = stats.norm.ppf(0.975)


@pytest.mark.parametrize("variance", ["delta", "posterior"])
def test_a_perfect_reviewer_reduces_to_the_existing_correction(variance):
    a = MisclassificationCorrection(variance=variance).fit(REVIEW)
    b = MisclassificationCorrection(variance=variance, reviewer=ReviewerAccuracy.known(1, 1)).fit(REVIEW)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.correct(COUNTS, downstream={"charged": 300}),
                                  b.correct(COUNTS, downstream={"charged": 300}))


def test_reviewer_error_rogan_gladen_closed_form():
    rv = ReviewerAccuracy.known(0.9, 0.95)
    mc = MisclassificationCorrection(variance="delta", finite_population=False, reviewer=rv).fit(REVIEW)
    # harassment: 10 of 50 flagged, r = 0.2 -> q = (0.2 + 0.95 - 1)/(0.9 + 0.95 - 1) = 0.15/0.85
    assert mc.summary.loc["harassment", "estimate"] == pytest.approx(0.15 / 0.85)
    assert mc.summary.loc["harassment", "flagged"] == pytest.approx(0.2)
    # other: r = 0.08 -> q = 0.03/0.85; stalking: r = 0.9 -> q = 0.85/0.85 = 1
    assert mc.summary.loc["other", "estimate"] == pytest.approx(0.03 / 0.85)
    assert mc.summary.loc["stalking", "estimate"] == pytest.approx(1.0)
    o = mc.correct(COUNTS).set_index("quantity")
    T = 500 * 1.0 + 5000 * 0.15 / 0.85 + 2000 * 0.03 / 0.85
    assert o.loc["true_stalking", "corrected"] == pytest.approx(T)
    # var = sum N^2 r(1 - r)/(m J^2), se and sp known
    var = (500**2 * 0.9 * 0.1 + 5000**2 * 0.2 * 0.8 + 2000**2 * 0.08 * 0.92) / 50 / 0.85**2
    assert o.loc["true_stalking", "se"] == pytest.approx(np.sqrt(var))
    # uncertain Se/Sp (double review): the shared terms (sum N dq/dSe)^2 var(Se) + (sum N dq/dSp)^2 var(Sp)
    dr = ReviewerAccuracy.from_double_review(89, 9, 189, 9, prior=(1, 1))  # Beta(90, 10), Beta(190, 10)
    se_m, sp_m = dr.mean()
    assert (se_m, sp_m) == (pytest.approx(0.9), pytest.approx(0.95))
    v_se, v_sp = 0.9 * 0.1 / 101, 0.95 * 0.05 / 201
    o2 = MisclassificationCorrection(variance="delta", finite_population=False, reviewer=dr).fit(REVIEW)
    o2 = o2.correct({"harassment": 5000, "other": 2000}).set_index("quantity")
    q = np.array([0.15, 0.03]) / 0.85
    N = np.array([5000, 2000])
    var2 = (5000**2 * 0.16 + 2000**2 * 0.08 * 0.92) / 50 / 0.85**2 \
        + (N * q / 0.85).sum() ** 2 * v_se + (N * (1 - q) / 0.85).sum() ** 2 * v_sp
    assert o2.loc["true_stalking", "se"] == pytest.approx(np.sqrt(var2))
    with pytest.raises(ValueError, match="better than chance"):
        ReviewerAccuracy.known(0.5, 0.5)
    with pytest.raises(ValueError, match="reweight"):
        MisclassificationCorrection(method="rogan-gladen", reviewer=rv)


@pytest.mark.slow
def test_reviewer_error_correction_is_unbiased_and_covers_in_simulation():
    """250 reviews of a population of 3 classes by a reviewer with Se 0.85, Sp 0.95 (known)."""
    rng = np.random.default_rng(5)
    N = np.array([4000, 3000, 1000])
    truth_q = np.array([0.12, 0.06, 0.9])
    T = (N * truth_q).sum()
    m = 150
    se_r, sp_r = 0.85, 0.95
    est, cover = [], []
    for _ in range(250):  # replications: each a handful of class-level draws and one delta-method correction
        true_pos = rng.binomial(m, truth_q)
        flagged = rng.binomial(true_pos, se_r) + rng.binomial(m - true_pos, 1 - sp_r)
        review = pd.DataFrame({"recorded": np.repeat(["harassment", "other", "stalking_s2a"], 2),
                               "true_stalking": np.tile([True, False], 3),
                               "n": np.column_stack([flagged, m - flagged]).reshape(-1)})
        mc = MisclassificationCorrection(variance="delta", finite_population=False,
                                         reviewer=ReviewerAccuracy.known(se_r, sp_r)).fit(review)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)  # a class flagged above the reviewer's Se: truncated
            o = mc.correct({"harassment": 4000, "other": 3000, "stalking_s2a": 1000}).set_index("quantity")
        est.append(o.loc["true_stalking", "corrected"])
        cover.append(o.loc["true_stalking", "lower 95%"] <= T <= o.loc["true_stalking", "upper 95%"])
    est = np.array(est)
    assert abs(est.mean() - T) < 3 * est.std() / np.sqrt(len(est)) + 0.01 * T  # truncation at 1 adds a little bias
    assert 0.92 <= np.mean(cover) <= 0.98  # MC error of a 95% coverage over 250 replications: 1.4 points


def test_selection_odds_closed_forms_and_bounds():
    mc = MisclassificationCorrection(variance="delta").fit(REVIEW)
    base = mc.correct(COUNTS).set_index("quantity").loc["true_stalking"]
    t = mc.selection_sensitivity(COUNTS, odds_ratios=(0.5, 1.0, 3.0)).set_index("odds_ratio")
    assert t.loc[1.0, "true_stalking"] == pytest.approx(base["corrected"])
    assert t.loc[1.0, "se"] == pytest.approx(base["se"])
    # psi = 3 in harassment: reviewed odds 10/40 = 0.25 -> unreviewed odds 1/12, q_u = 1/13
    exp = 45 + 450 * (0.9 / (0.9 + 3 * 0.1)) + 10 + 4950 / 13 + 4 + 1950 * (0.08 / (0.08 + 3 * 0.92))
    assert t.loc[3.0, "true_stalking"] == pytest.approx(exp)
    # Manski bounds: unreviewed files none / all stalking
    assert t.loc[np.inf, "true_stalking"] == pytest.approx(45 + 10 + 4)
    assert t.loc[0.0, "true_stalking"] == pytest.approx(45 + 10 + 4 + 450 + 4950 + 1950)
    assert t.loc[np.inf, "se"] == 0
    assert t.loc[0.5, "true_stalking"] > t.loc[1.0, "true_stalking"] > t.loc[3.0, "true_stalking"]


def test_selection_odds_recovers_the_truth_of_a_non_random_review():
    """Files drawn with odds ratio 3 towards stalking: psi = 3 is unbiased, the random-review correction is not."""
    rng = np.random.default_rng(8)
    N, q, m, psi = 6000, 0.1, 200, 3.0
    n_true = int(N * q)
    naive, fixed = [], []
    for _ in range(80):  # replications: weighted sampling without replacement of 200 files out of 6,000
        w = np.where(np.arange(N) < n_true, psi, 1.0)
        # Efraimidis-Spirakis weighted sampling without replacement (vectorised keys)
        pick = np.argsort(-rng.uniform(size=N) ** (1 / w))[:m]
        s = int((pick < n_true).sum())
        review = pd.DataFrame({"recorded": ["harassment", "harassment"], "true_stalking": [True, False],
                               "n": [s, m - s]})
        mc = MisclassificationCorrection(variance="delta").fit(review)
        naive.append(mc.correct({"harassment": N}).set_index("quantity").loc["true_stalking", "corrected"])
        fixed.append(mc.correct({"harassment": N}, selection_odds=psi).set_index("quantity").loc["true_stalking",
                                                                                                  "corrected"])
    # sampling m = 200 of 6,000 with weights is close to the odds-ratio model (non-central hypergeometric)
    assert abs(np.mean(fixed) - n_true) < 0.05 * n_true
    assert np.mean(naive) > 1.8 * n_true


def test_neyman_allocation_is_proportional_to_n_times_sd():
    N = pd.Series({"harassment": 1000, "malicious_communications": 2000, "other": 600})
    p = pd.Series({"harassment": 0.5, "malicious_communications": 0.1, "other": 0.5})
    # N sqrt(p(1-p)) = 500, 600, 300 -> 1,400 files split 500 : 600 : 300
    assert allocate_review(N, p, 1400).tolist() == [500, 600, 300]
    assert allocate_review(N, p, 1400, "proportional").tolist() == [389, 778, 233]
    assert allocate_review(N, p, 300, "equal").tolist() == [100, 100, 100]
    # a class the allocation would over-fill is reviewed in full, the rest re-allocated in Neyman proportions
    big = pd.Series({"harassment": 5000, "malicious_communications": 5000, "other": 100})
    pb = pd.Series({"harassment": 0.1, "malicious_communications": 0.1, "other": 0.5})
    a = allocate_review(big, pb, 6200)  # Neyman would give "other" 6,200 x 50/3,050 = 102 > 100 files
    assert a.tolist() == [3050, 3050, 100]


def test_planned_review_reaches_the_target_width_in_simulation():
    N = pd.Series({"harassment": 20_000, "malicious_communications": 8_000, "criminal_damage": 5_000, "other": 3_000})
    p = pd.Series({"harassment": 0.15, "malicious_communications": 0.1, "criminal_damage": 0.05, "other": 0.05})
    plan = plan_review(N, p, 0.2)
    T = float((N * p).sum())
    assert plan.attrs["half_width"] <= 0.2 * T
    assert plan.attrs["half_width"] > 0.19 * T  # rounding up the files costs little
    # Neyman's m = (sum N S)^2 / (h^2/z^2 + sum N S^2)
    S = np.sqrt(p * (1 - p))
    m_closed = float((N * S).sum() ** 2 / ((0.2 * T / Z) ** 2 + (N * S**2).sum()))
    assert plan.attrs["files"] == pytest.approx(m_closed, abs=len(N))
    # simulate 4,000 reviews of the planned size from populations with those PPVs
    rng = np.random.default_rng(2)
    good = (N * p).round().astype(np.int64).to_numpy()
    m = plan["files"].to_numpy()
    s = rng.hypergeometric(good, N.to_numpy() - good, m, size=(4000, len(N)))
    T_hat = (N.to_numpy() * s / m).sum(axis=1)
    width = Z * T_hat.std(ddof=1)
    mc_err = width / np.sqrt(2 * (len(T_hat) - 1))
    assert abs(width - plan.attrs["half_width"]) < 3 * mc_err
    assert width < 0.2 * T + 3 * mc_err
    # equal allocation needs more files for the same width
    assert plan_review(N, p, 0.2, allocation="equal").attrs["files"] > plan.attrs["files"]


def test_width_table_matches_the_issue_at_a_ppv_of_one_in_ten():
    """The methods review: at PPV 0.1 with 200 files the interval was about +-51% of the true count."""
    N = pd.Series({"harassment": 10_000, "malicious_communications": 10_000, "criminal_damage": 10_000,
                   "other": 10_000})
    p = pd.Series(0.1, index=N.index)
    t = review_width_table(N, p, files=(200, 800))
    # equal PPVs and sizes: every allocation is 50 per class; half-width z sqrt(sum N^2 (1-f) pq/m) / T
    exp = Z * np.sqrt(4 * 10_000**2 * (1 - 50 / 10_000) * 0.09 / 50) / 4000
    assert t.loc[200, "neyman"] == pytest.approx(exp) and t.loc[200, "equal"] == pytest.approx(exp)
    assert 0.4 < exp < 0.45  # about +-42% of the true count
    assert t.loc[800, "neyman"] == pytest.approx(exp / 2, rel=0.02)


def test_review_scenario_builds_classes_at_the_anticipated_ppv():
    from attrition.mischarging import review_scenario

    cases = pd.DataFrame({"recorded_offence": ["harassment"] * 30 + ["other"] * 4 + ["stalking_s2a"] * 10})
    ppv = pd.Series({"harassment": 0.15, "other": 0.05, "criminal_damage": 0.05})
    sc = review_scenario(cases, ppv)
    assert sc.index.tolist() == ["harassment"]  # "other" has 4 (withheld), criminal damage none
    assert sc.loc["harassment", ["stalking_reports", "records"]].tolist() == [30, 200]
    assert review_scenario(cases, ppv, min_count=1).loc["other", "records"] == 80


def test_synthetic_review_with_allocation_reviewer_error_and_double_review():
    from attrition.mischarging import synthetic_review
    from attrition.synthetic import simulate

    cases = simulate(n_cases=3_000, random_state=4).cases
    files = pd.Series({"harassment": 30, "malicious_communications": 20, "other": 10})
    bg = {"harassment": 5_000, "malicious_communications": 3_000, "other": 2_000}
    base = synthetic_review(cases, random_state=1, background=bg, allocation=files)
    n = base.review.groupby("recorded")["n"].sum()
    assert n.to_dict() == files.to_dict()  # the stalking class gets no file: not in the allocation
    # a perfect reviewer draws nothing extra: the same review as without the option
    same = synthetic_review(cases, random_state=1, background=bg, allocation=files, reviewer_error=(1.0, 1.0))
    pd.testing.assert_frame_equal(base.review, same.review)
    err = synthetic_review(cases, random_state=1, background=bg, allocation=files, reviewer_error=(0.8, 0.9),
                           double_review=40)
    assert err.review.groupby("recorded")["n"].sum().to_dict() == files.to_dict()
    dr = err.truth["double_review"]
    assert sum(dr.values()) == 40 and err.truth["reviewer_error"] == (0.8, 0.9)
    # flags: genuine files flagged at about 10%, so more flagged than truly stalking at these PPVs
    assert err.review.loc[err.review["true_stalking"], "n"].sum() > base.review.loc[base.review["true_stalking"], "n"].sum()
