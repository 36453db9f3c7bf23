"""Shapley attribution of the funnel's loss (attrition.decomposition, FunnelFitter.shapley), the stage-order
accounting beside it, and what a counterfactual recovers (decompose()['recoverable'])."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from attrition.decomposition import shapley_values, stage_attributions
from attrition.funnel import FunnelFitter
from attrition.standard import EXIT_REASONS, STAGES

# (stage_reached, status, exit_reason, count): 100 reports -> 60 -> 45 -> 9 -> 6 -> 3 (as tests/test_funnel.py)
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
P_HAND = np.array([0.6, 0.75, 0.2, 6 / 9, 0.5])


def _agg(rows=HAND):
    df = pd.DataFrame(rows, columns=["stage_reached", "status", "exit_reason", "count"])
    df["stage_reached"] = pd.Categorical(df["stage_reached"], categories=list(STAGES), ordered=True)
    df["status"] = pd.Categorical(df["status"], categories=["open", "exited", "convicted"])
    df["exit_reason"] = pd.Categorical(df["exit_reason"], categories=list(EXIT_REASONS))
    return df


def _brute_force(p, b):
    """Shapley values by averaging marginal contributions over all K! orders."""
    K = len(p)

    def v(S):
        return np.prod([b[j] if j in S else p[j] for j in range(K)])

    acc = np.zeros(K)
    perms = list(itertools.permutations(range(K)))
    for order in perms:
        S = set()
        for k in order:
            acc[k] += v(S | {k}) - v(S)
            S.add(k)
    return acc / len(perms)


def test_shapley_equals_the_average_over_all_orders_and_sums_to_the_total():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 6)
    b = np.where(rng.uniform(size=6) < 0.5, 1.0, rng.uniform(0.05, 0.95, 6))
    phi = shapley_values(p, b)[0]
    np.testing.assert_allclose(phi, _brute_force(p, b), atol=1e-15)
    assert phi.sum() == pytest.approx(b.prod() - p.prod(), abs=1e-15)


def test_shapley_is_order_invariant_symmetric_and_gives_a_null_stage_nothing():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.1, 0.9, 5)
    b = np.ones(5)
    phi = shapley_values(p, b)[0]
    perm = rng.permutation(5)
    np.testing.assert_allclose(shapley_values(p[perm], b[perm])[0], phi[perm], atol=1e-15)
    # two identical stages get identical values; a stage already at its benchmark gets zero
    q = np.array([0.3, 0.3, 0.7, 0.5])
    bq = np.array([1.0, 1.0, 1.0, 0.5])
    out = shapley_values(q, bq)[0]
    assert out[0] == pytest.approx(out[1], abs=1e-15)
    assert out[3] == pytest.approx(0.0, abs=1e-15)


def test_two_stage_closed_form():
    p1, p2, b1, b2 = 0.4, 0.25, 0.9, 0.6
    phi = shapley_values([p1, p2], [b1, b2])[0]
    # phi_1 = (b1 - p1)(p2 + b2)/2, phi_2 = (b2 - p2)(p1 + b1)/2
    np.testing.assert_allclose(phi, [(b1 - p1) * (p2 + b2) / 2, (b2 - p2) * (p1 + b1) / 2], atol=1e-15)
    att = stage_attributions([p1, p2], [b1, b2])
    np.testing.assert_allclose(att["one_at_a_time"][0], [(b1 - p1) * p2, (b2 - p2) * p1], atol=1e-15)
    # sequential, last stage first: stage 2 at p1 (b2 - p2), then stage 1 at (b1 - p1) b2
    np.testing.assert_allclose(att["sequential"][0], [(b1 - p1) * b2, p1 * (b2 - p2)], atol=1e-15)


def test_funnel_shapley_on_the_hand_built_funnel():
    f = FunnelFitter().fit(_agg(), weights="count")
    sh = f.shapley(per=1).droplevel("group")
    np.testing.assert_allclose(sh["observed"], P_HAND, atol=1e-12)
    np.testing.assert_allclose(sh["shapley"], _brute_force(P_HAND, np.ones(5)), atol=1e-12)
    assert sh["shapley"].sum() == pytest.approx(0.97, abs=1e-12)
    assert sh.attrs["total"]["all"] == pytest.approx(0.97)
    # the stage-order accounting kept beside it: equals decompose()'s contributions per stage
    dec = f.decompose().droplevel("group")["contribution"].groupby(level="stage", observed=True).sum()
    np.testing.assert_allclose(sh["sequential"], dec.loc[list(STAGES[:-1])], atol=1e-12)
    assert sh.loc["reported", "sequential"] == pytest.approx(0.40)
    # one at a time: recording every report as stalking, the rest held at observed: 0.4 x 0.05 = 0.02
    assert sh.loc["reported", "one_at_a_time"] == pytest.approx(0.4 * 0.75 * 0.2 * (6 / 9) * 0.5)
    # by reason: the stage's Shapley value split in proportion to its exits (30 mischarged : 10 not recorded)
    br = f.shapley(per=1, by_reason=True).droplevel("group")
    assert br.loc[("reported", "mischarged"), "shapley"] == pytest.approx(0.75 * sh.loc["reported", "shapley"])
    np.testing.assert_allclose(br["shapley"].sum(), 0.97, atol=1e-12)
    with pytest.raises(ValueError, match="best_quartile"):
        f.shapley(benchmark="best_quartile")
    custom = f.shapley(rates={"suspect_identified": 0.3}, per=1)  # other stages perfect
    assert custom.attrs["total"]["all"] == pytest.approx(0.3 - 0.03)


def test_recoverable_loss_counts_only_what_the_counterfactual_recovers():
    f = FunnelFitter().fit(_agg(), weights="count")
    dec = f.decompose().droplevel("group")
    # 30 of 100 reports never recorded as stalking: had they been, 0.75 x 0.2 x 2/3 x 0.5 = 5% convicted
    assert dec.loc[("reported", "mischarged"), "contribution"] == pytest.approx(0.30)
    assert dec.loc[("reported", "mischarged"), "recoverable"] == pytest.approx(0.30 * 0.05)
    # acquittals at the last step are recovered in full
    assert dec.loc[("prosecuted", "acquitted"), "recoverable"] == pytest.approx(0.02)
    assert "held_fixed" in dec.attrs and "later stage" in dec.attrs["held_fixed"]
    cf = f.counterfactual("charged", rate=1.0)
    assert "other stage" in cf.attrs["held_fixed"]


def test_shapley_delta_se_matches_the_spread_over_simulated_funnels():
    """The delta-method se of the Shapley values against their sd over 200 simulated datasets."""
    rng = np.random.default_rng(11)
    p = np.array([0.7, 0.3, 0.6])
    n0, reps = 2_000, 200
    est, ses = [], []
    for _ in range(reps):  # replications of a small aggregated funnel (each a handful of rows)
        n1 = rng.binomial(n0, p[0])
        n2 = rng.binomial(n1, p[1])
        n3 = rng.binomial(n2, p[2])
        rows = [("reported", "exited", "mischarged", n0 - n1), ("recorded_stalking", "exited", "no_suspect", n1 - n2),
                ("suspect_identified", "exited", "victim_not_supporting", n2 - n3), ("charged", "exited", "victim_not_supporting", n3)]
        f = FunnelFitter(stages=("reported", "recorded_stalking", "suspect_identified", "charged"))
        sh = f.fit(_agg_stages(rows), weights="count").shapley(per=1)
        est.append(sh["shapley"].to_numpy())
        ses.append(sh["shapley_se"].to_numpy())
    sd = np.std(est, axis=0, ddof=1)
    mean_se = np.mean(ses, axis=0)
    # Monte Carlo error of an sd from 200 replications is 5% (300 replications: sd 0.0062, 0.0108, 0.0134;
    # mean delta se 0.0060, 0.0111, 0.0138)
    np.testing.assert_allclose(mean_se, sd, rtol=0.15)
    np.testing.assert_allclose(np.mean(est, axis=0), _brute_force(p, np.ones(3)), atol=3 * sd.max() / np.sqrt(reps))


def _agg_stages(rows):
    df = pd.DataFrame(rows, columns=["stage_reached", "status", "exit_reason", "count"])
    df = df[df["count"] > 0]
    # "charged" is the last kept stage here: a case that reached it counts as having reached the end
    df["stage_reached"] = pd.Categorical(df["stage_reached"], categories=list(STAGES), ordered=True)
    df["status"] = pd.Categorical(df["status"], categories=["open", "exited", "convicted"])
    df["exit_reason"] = pd.Categorical(df["exit_reason"], categories=list(EXIT_REASONS))
    return df


def test_a_stage_nobody_entered_gets_no_share():
    """Force B: 10 reports, 6 recorded, 4 with a suspect, none charged: 'charged' and 'prosecuted' never entered."""
    a = _agg()
    a["force"] = "A"
    b = _agg([("reported", "exited", "mischarged", 4), ("recorded_stalking", "exited", "no_suspect", 2),
              ("suspect_identified", "exited", "victim_not_supporting", 4)])
    b["force"] = "B"
    rows = pd.concat([a, b], ignore_index=True)
    f = FunnelFitter().fit(rows, by="force", weights="count", pool=False)
    sh = f.shapley(per=1, by_reason=True)
    tot = sh.groupby(level="group")["shapley"].sum()
    np.testing.assert_allclose(tot.loc[["A", "B", "all"]], [sh.attrs["total"][g] for g in ("A", "B", "all")], atol=1e-12)
    st = f.shapley(per=1, group="B").droplevel("group")
    assert st.loc[["charged", "prosecuted"], "shapley"].tolist() == [0.0, 0.0]
    assert st["observed"].isna().tolist() == [False, False, False, True, True]
    # B: 0.6 x 2/3 x 0 -> the loss is 1 and it is shared by the three stages that have rates
    np.testing.assert_allclose(st["shapley"].iloc[:3], _brute_force(np.array([0.6, 2 / 3, 0.0]), np.ones(3)), atol=1e-12)
