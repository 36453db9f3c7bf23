"""Tests of attrition.survival.MultiStateFitter against R etm 1.1 (Aalen-Johansen + Greenwood-type
variance) and survival 3.5 survfit (point estimates, rmean); references from
tests/results/survival_multistate.R. Also weights == expanded rows, closed forms, bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError, NotFittedError
from attrition.survival import MultiStateFitter, cumulative_incidence

RES = Path(__file__).parent / "results"
TOL = 1e-6
MGUS_TR = [("MGUS", "PCM"), ("MGUS", "death"), ("PCM", "death")]
POLICE_TR = [("reported", "suspect"), ("reported", "nfa"), ("suspect", "charged"), ("suspect", "nfa"),
             ("charged", "convicted"), ("charged", "dropped")]


@pytest.fixture(scope="module")
def mgus():
    return pd.read_csv(RES / "survival_ms_mgus2_data.csv")


@pytest.fixture(scope="module")
def synth():
    return pd.read_csv(RES / "survival_ms_synth_data.csv")


def _vs_etm(fitter, name):
    ref = pd.read_csv(RES / name)
    m = ref.merge(fitter.state_occupation_, on=["time", "state"], suffixes=("_r", ""))
    assert len(m) == len(ref) > 0
    np.testing.assert_allclose(m.probability, m.probability_r, atol=TOL, rtol=0)
    np.testing.assert_allclose(m.se, np.sqrt(m["var"]), atol=TOL, rtol=0)


def test_mgus2_illness_death_vs_etm(mgus):
    f = MultiStateFitter(MGUS_TR).fit(mgus, id_col="id")
    assert f.start_state_ == "MGUS" and f.absorbing_ == ["death"]
    _vs_etm(f, "survival_ms_mgus2_etm.csv")


def test_mgus2_vs_survfit_pstate_and_rmean(mgus):
    f = MultiStateFitter(MGUS_TR).fit(mgus, id_col="id")
    ref = pd.read_csv(RES / "survival_ms_mgus2_survfit.csv")
    occ = f.occupation_at(ref.time).pivot(index="time", columns="state", values="probability")
    for s in ["MGUS", "PCM", "death"]:
        np.testing.assert_allclose(occ[s].to_numpy(), ref[s].to_numpy(), atol=TOL)
    rm = pd.read_csv(RES / "survival_ms_mgus2_rmean.csv")
    got = f.expected_time_in_state(120).set_index("state").loc[rm.state, "expected_time"]
    np.testing.assert_allclose(got.to_numpy(), rm.rmean.to_numpy(), atol=TOL)


def test_delayed_entry_ties_vs_etm(synth):
    f = MultiStateFitter(POLICE_TR).fit(synth)
    _vs_etm(f, "survival_ms_synth_etm.csv")


def test_frequency_weights_vs_etm_expanded(synth):
    f = MultiStateFitter(POLICE_TR).fit(synth, weights="w")
    _vs_etm(f, "survival_ms_synth_etm_expanded.csv")


def test_weights_equal_expanded_rows_exactly(synth):
    ex = synth.loc[synth.index.repeat(synth.w)].reset_index(drop=True)
    a = MultiStateFitter(POLICE_TR).fit(synth, weights=synth.w.to_numpy())
    b = MultiStateFitter(POLICE_TR).fit(ex)
    pd.testing.assert_frame_equal(a.state_occupation_, b.state_occupation_, rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(a.transition_hazards_, b.transition_hazards_, rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(a.expected_time_in_state(200), b.expected_time_in_state(200), rtol=1e-12)


def test_probabilities_sum_to_one_and_ci_bounds(synth):
    f = MultiStateFitter(POLICE_TR, alpha=0.1).fit(synth)
    occ = f.state_occupation_
    np.testing.assert_allclose(occ.groupby("time").probability.sum(), 1.0, atol=1e-12)
    assert (occ["lower 90%"] >= 0).all() and (occ["upper 90%"] <= 1).all()
    assert set(f.summary.columns) >= {"time", "state", "probability", "se", "lower 90%", "upper 90%"}
    rm = f.expected_time_in_state(150)
    np.testing.assert_allclose(rm.expected_time.sum(), 150.0, atol=1e-9)


def test_competing_risks_structure_equals_cif():
    rng = np.random.default_rng(5)
    t = rng.integers(1, 40, 300).astype(float)
    ev = rng.choice(["open", "nfa", "charged"], 300)
    d = pd.DataFrame({"case_id": np.arange(300), "start": 0.0, "stop": t, "from_state": "reported",
                      "to_state": np.where(ev == "open", None, ev)})
    f = MultiStateFitter([("reported", "nfa"), ("reported", "charged")]).fit(d)
    cif = cumulative_incidence(t, ev, censor_code="open", include_survival=True)
    for cause, state in [("nfa", "nfa"), ("charged", "charged"), ("survival", "reported")]:
        c = cif[(cif.cause == cause) & (cif.n_event.groupby(cif.time).transform("sum") >= 0)]
        got = f.occupation_at(c.time)
        np.testing.assert_allclose(got[got.state == state].probability.to_numpy(), c.estimate.to_numpy(), atol=1e-14)
    # cause-specific hazards are Nelson-Aalen increments
    th = f.transition_hazards_
    first = th[(th["to"] == "nfa")].iloc[0]
    assert first.n_at_risk == np.sum(t >= first.time)
    assert first.n_events == np.sum((t == first.time) & (ev == "nfa"))


def test_rmean_se_matches_backward_delta_method(synth):
    """Var(int p) = sum_m Q_m' Sigma_m Q_m with Q_m = gap_m I + A_{m+1} Q_{m+1} (independent algorithm)."""
    f = MultiStateFitter(POLICE_TR).fit(synth)
    tau = 120.0
    times = f._times
    k_last = np.searchsorted(times, tau, side="right") - 1
    S = len(f.states_)
    gaps = np.diff(np.append(times[: k_last + 1], tau))  # length of each constant piece
    Q = gaps[k_last] * np.eye(S)
    var = np.zeros(S)
    for m in range(k_last, 0, -1):  # jump m (A index m-1) starts piece m
        var += np.einsum("js,jl,ls->s", Q, f._Sig[m - 1], Q)
        Q = gaps[m - 1] * np.eye(S) + f._A[m - 1] @ Q
    got = f.expected_time_in_state(tau).se.to_numpy()
    np.testing.assert_allclose(got, np.sqrt(var), rtol=1e-10)


def test_boolean_dataframe_transitions_and_determinism(synth):
    states = ["reported", "suspect", "nfa", "charged", "convicted", "dropped"]
    mat = pd.DataFrame(False, index=states, columns=states)
    for a, b in POLICE_TR:
        mat.loc[a, b] = True
    a = MultiStateFitter(mat).fit(synth)
    b = MultiStateFitter(POLICE_TR).fit(synth.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(a.state_occupation_, b.state_occupation_, rtol=1e-12, atol=1e-15)
    assert repr(a).startswith("<attrition.MultiStateFitter: fitted on")


def test_not_allowed_transition_names_row_and_case(synth):
    bad = synth.copy()
    i = int(np.flatnonzero(bad.to_state.eq("charged"))[0])
    bad.loc[i, "to_state"] = "convicted"  # suspect -> convicted skips charging
    with pytest.raises(DataValidationError, match=rf"'suspect' -> 'convicted' at row {i} \(case {bad.case_id[i]}\)"):
        MultiStateFitter(POLICE_TR).fit(bad)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.assign(stop=d.start), "stop.*<=.*start"),
        (lambda d: d.assign(from_state=d.from_state.replace("suspect", "arrested")), "'arrested' not in the transition"),
        (lambda d: d.assign(to_state=d.to_state.replace("nfa", "NFA")), "'NFA' not in the transition"),
        (lambda d: d.drop(columns="stop"), "no column 'stop'"),
        (lambda d: d.iloc[:0], "empty"),
        (lambda d: d.assign(start=d.start.where(d.index != 4)), "start.*missing.*row 4"),
    ],
)
def test_bad_input(synth, change, match):
    with pytest.raises(DataValidationError, match=match):
        MultiStateFitter(POLICE_TR).fit(change(synth))


def test_bad_weights_and_start_state(synth):
    with pytest.raises(DataValidationError, match="no weights column 'wt'"):
        MultiStateFitter(POLICE_TR).fit(synth, weights="wt")
    with pytest.raises(DataValidationError, match="weights must be >= 0"):
        MultiStateFitter(POLICE_TR).fit(synth, weights=-synth.w)
    with pytest.raises(DataValidationError, match="start_state"):
        MultiStateFitter(POLICE_TR).fit(synth, start_state="arrested")
    with pytest.raises(DataValidationError, match="possible starting states"):
        MultiStateFitter([("a", "c"), ("b", "c")]).fit(
            pd.DataFrame({"case_id": [1], "start": [0], "stop": [1], "from_state": ["a"], "to_state": ["c"]}))
    with pytest.raises(ValueError, match="to itself"):
        MultiStateFitter([("a", "a")])
    with pytest.raises(NotFittedError):
        MultiStateFitter(POLICE_TR).summary


def test_plot_state_occupation(synth):
    import matplotlib.pyplot as plt

    from attrition.survival import plot_state_occupation

    f = MultiStateFitter(POLICE_TR).fit(synth)
    ax = plot_state_occupation(f)
    assert ax.get_xlabel() == "Days since report" and ax.get_ylim() == (0, 1)
    top = max(p.get_paths()[0].vertices[:, 1].max() for p in ax.collections)
    np.testing.assert_allclose(top, 1.0, atol=1e-12)  # stacked occupation sums to 1
    ax2 = plot_state_occupation(f.state_occupation_, stacked=False, states=["charged", "convicted"])
    assert len(ax2.lines) == 2
    plt.close("all")
