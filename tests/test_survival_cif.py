"""Tests of attrition.survival.cumulative_incidence / kaplan_meier against R survival 3.5 (survfit,
infinitesimal-jackknife variance; reference values made by tests/results/survival_cif.R), closed
forms, weights equivalence, determinism, simulation coverage and bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError
from attrition.survival import cumulative_incidence, kaplan_meier

RES = Path(__file__).parent / "results"
TOL = 1e-6


def _merge(ours, ref, keys=("time", "cause")):
    ours = ours.copy()
    ref = ref.copy()
    ours["cause"] = ours["cause"].astype(str)
    ref["cause"] = ref["cause"].astype(str)
    m = ref.merge(ours, on=list(keys), suffixes=("_r", ""))
    assert len(m) == len(ref) > 0
    return m


def _check(m, ci=True, at_risk=True):
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], atol=TOL, rtol=0)
    # R's KM std.err is NaN once S = 0 (se of log S); ours is 0 there
    dead = m["se_r"].isna() & (m["estimate_r"] == 0)
    assert (m.loc[dead, "se"] == 0).all()
    np.testing.assert_allclose(m["se"][~dead], m["se_r"][~dead], atol=TOL, rtol=0)
    if ci:
        np.testing.assert_allclose(m["lower 95%"], m["lower"].fillna(m["estimate_r"]), atol=TOL, rtol=0)
        np.testing.assert_allclose(m["upper 95%"], m["upper"].fillna(m["estimate_r"]), atol=TOL, rtol=0)
    if at_risk:
        np.testing.assert_allclose(m["at_risk"], m["at_risk_r"], atol=1e-9)


@pytest.fixture(scope="module")
def mgus2():
    return pd.read_csv(RES / "survival_cif_mgus2_data.csv")


@pytest.fixture(scope="module")
def synth():
    return pd.read_csv(RES / "survival_cif_synth_data.csv")


def test_mgus2_vs_survfit(mgus2):
    ref = pd.read_csv(RES / "survival_cif_mgus2_ref.csv")
    ours = cumulative_incidence(mgus2.etime, mgus2.event)
    assert list(ours.columns) == ["time", "cause", "estimate", "se", "lower 95%", "upper 95%", "at_risk", "n_event"]
    _check(_merge(ours, ref[ref.group.isna()].drop(columns="group")))


def test_mgus2_groups_vs_survfit(mgus2):
    ref = pd.read_csv(RES / "survival_cif_mgus2_ref.csv")
    ours = cumulative_incidence(mgus2.etime, mgus2.event, groups=mgus2.sex)
    assert set(ours.group) == {"F", "M"}
    _check(_merge(ours, ref[ref.group.notna()], keys=("time", "cause", "group")))


def test_kaplan_meier_greenwood_vs_survfit(mgus2):
    ref = pd.read_csv(RES / "survival_cif_mgus2_km.csv")
    ref["cause"] = "survival"
    ours = kaplan_meier(mgus2.etime, mgus2.event)
    _check(_merge(ours, ref))


def test_left_truncation_vs_survfit(synth):
    ref = pd.read_csv(RES / "survival_cif_synth_lt_ref.csv").drop(columns="group")
    _check(_merge(cumulative_incidence(synth.time, synth.status, entry=synth.entry), ref))
    km = pd.read_csv(RES / "survival_cif_synth_km_lt_ref.csv")
    km["cause"] = "survival"
    _check(_merge(kaplan_meier(synth.time, synth.status, entry=synth.entry), km), ci=False)


def test_sampling_weights_vs_survfit(synth):
    ref = pd.read_csv(RES / "survival_cif_synth_w_ref.csv").drop(columns="group")
    ours = cumulative_incidence(synth.time, synth.status, weights=synth.w, weight_type="sampling")
    _check(_merge(ours, ref), at_risk=False)  # R's n.risk is unweighted, ours weighted
    ref = pd.read_csv(RES / "survival_cif_synth_ltw_ref.csv").drop(columns="group")
    ours = cumulative_incidence(synth.time, synth.status, weights=synth.w, entry=synth.entry, weight_type="sampling")
    _check(_merge(ours, ref), at_risk=False)


def test_frequency_weights_vs_survfit_expanded(synth):
    ref = pd.read_csv(RES / "survival_cif_synth_ltfreq_ref.csv").drop(columns="group")
    ours = cumulative_incidence(synth.time, synth.status, weights=synth.wi, entry=synth.entry)
    _check(_merge(ours, ref))


@pytest.mark.parametrize("with_entry", [False, True])
def test_frequency_weights_equal_expanded_rows(synth, with_entry):
    ex = synth.loc[synth.index.repeat(synth.wi)]
    kw = {"entry": synth.entry} if with_entry else {}
    kx = {"entry": ex.entry} if with_entry else {}
    a = cumulative_incidence(synth.time, synth.status, weights=synth.wi, include_survival=True, **kw)
    b = cumulative_incidence(ex.time, ex.status, include_survival=True, **kx)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12, atol=1e-14)


def test_single_cause_is_one_minus_km(mgus2):
    ev = (mgus2.event > 0).astype(int)
    cif = cumulative_incidence(mgus2.etime, ev, include_survival=True)
    f = cif[cif.cause == 1].reset_index(drop=True)
    s = cif[cif.cause == 0].reset_index(drop=True)  # integer causes: survival rows labelled with censor_code
    np.testing.assert_allclose(f.estimate, 1 - s.estimate, atol=1e-14)
    np.testing.assert_allclose(f.se, s.se, atol=1e-14)
    ref = pd.read_csv(RES / "survival_cif_mgus2_km.csv")
    np.testing.assert_allclose(f.estimate, 1 - ref.estimate, atol=TOL)
    ok = ref.se.notna()  # R: NaN where S = 0
    assert ok.sum() >= len(ref) - 1
    np.testing.assert_allclose(f.se[ok], ref.se[ok], atol=TOL)


def test_no_censoring_gives_empirical_proportions():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 30, 500)
    ev = rng.choice(["charged", "nfa", "withdrawn"], 500)
    out = cumulative_incidence(t, ev, censor_code="censored")
    for cause in ["charged", "nfa", "withdrawn"]:
        got = out[out.cause == cause].set_index("time")["estimate"]
        want = pd.Series([np.mean((t <= u) & (ev == cause)) for u in got.index], index=got.index)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-14)
    last = out.groupby("cause").estimate.last()
    np.testing.assert_allclose(last.sum(), 1.0, atol=1e-14)


def test_hand_computed_small_example():
    out = cumulative_incidence([1, 2, 2, 3, 5], [1, 2, 0, 1, 0])
    f1 = out[out.cause == 1].estimate.to_numpy()
    # S: 4/5 after t=1, then (4/5)(3/4)=3/5 after t=2; F1(3) = 1/5 + (3/5)(1/2)
    np.testing.assert_allclose(f1, [0.2, 0.2, 0.5, 0.5], atol=1e-15)
    assert out[out.cause == 2].n_event.tolist() == [0, 1, 0, 0]
    assert out[out.cause == 2].at_risk.tolist() == [5, 4, 2, 1]


def test_determinism_and_row_order(synth):
    perm = np.random.default_rng(0).permutation(len(synth))
    p = synth.iloc[perm]
    a = cumulative_incidence(synth.time, synth.status, entry=synth.entry, weights=synth.w)
    b = cumulative_incidence(p.time, p.status, entry=p.entry, weights=p.w)
    c = cumulative_incidence(synth.time, synth.status, entry=synth.entry, weights=synth.w)
    pd.testing.assert_frame_equal(a, c)  # bit-identical on repeat
    pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=1e-14)


def test_float_times_and_string_causes_match_integer_path(synth):
    lab = synth.status.map({0: "open", 1: "a", 2: "b", 3: "c"})
    a = cumulative_incidence(synth.time + 0.5, lab, censor_code="open", entry=synth.entry + 0.5)
    b = cumulative_incidence(synth.time, synth.status, entry=synth.entry)
    np.testing.assert_allclose(a.estimate, b.estimate, atol=1e-14)
    np.testing.assert_allclose(a.se, b.se, atol=1e-14)
    assert a.cause.unique().tolist() == ["a", "b", "c"]
    c = cumulative_incidence(synth.time + 0.5, synth.status, entry=synth.entry + 0.5)  # float times, int codes
    pd.testing.assert_frame_equal(c.drop(columns="time"), b.drop(columns="time"), rtol=1e-13, atol=1e-15)
    d = cumulative_incidence(synth.time + 0.5, synth.status + 10, censor_code=10)  # codes not starting at 0
    e = cumulative_incidence(synth.time, synth.status)
    np.testing.assert_allclose(d.se, e.se, atol=1e-15)
    assert d.cause.unique().tolist() == [11, 12, 13]


def test_causes_order_and_unobserved_cause():
    out = cumulative_incidence([1, 2, 3], [2, 1, 0], causes=[2, 1, 9])
    assert out.cause.unique().tolist() == [2, 1, 9]
    assert (out[out.cause == 9].estimate == 0).all()


def test_ci_inside_unit_interval_and_alpha_labels(mgus2):
    out = cumulative_incidence(mgus2.etime, mgus2.event, alpha=0.1, include_survival=True)
    assert "lower 90%" in out and "upper 90%" in out
    assert (out["lower 90%"] >= 0).all() and (out["upper 90%"] <= 1).all()
    assert (out["lower 90%"] <= out.estimate + 1e-15).all() and (out["upper 90%"] >= out.estimate - 1e-15).all()


def test_everyone_exits_at_last_time():
    # S drops to 0 at the last time: no NaN/inf, CIFs sum to 1 there
    out = cumulative_incidence([1, 2, 3, 3], [1, 0, 1, 2], include_survival=True)
    assert np.isfinite(out[["estimate", "se", "lower 95%", "upper 95%"]].to_numpy()).all()
    last = out[out.time == 3]
    np.testing.assert_allclose(last[last.cause != 0].estimate.sum(), 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"durations": [1, -2, 3], "events": [1, 0, 1]}, "negative.*row 1"),
        ({"durations": [1, np.nan, 3], "events": [1, 0, 1]}, "durations.*missing.*row 1"),
        ({"durations": [], "events": []}, "empty"),
        ({"durations": [1, 2, 3], "events": [1, None, 1]}, "events.*missing.*row 1"),
        ({"durations": [1, 2, 3], "events": [1, 0, 5], "causes": [1, 2]}, r"\[5\].*row 2"),
        ({"durations": [1, 2, 3], "events": [1, 0, 1], "entry": [0, 2, 1]}, "entry.*row 1"),
        ({"durations": [1, 2, 3], "events": [1, 0, 1], "weights": [1, -1, 1]}, "weights.*row 1"),
        ({"durations": [1, 2, 3], "events": [1, 0]}, "events has 2 values"),
        ({"durations": [1, 2], "events": ["x", "y"]}, "censor_code"),
        ({"durations": [1, 2], "events": [1, 0], "groups": ["a", None]}, "groups.*row 1"),
    ],
)
def test_bad_input(kwargs, match):
    d = kwargs.pop("durations")
    ev = kwargs.pop("events")
    with pytest.raises(DataValidationError, match=match):
        cumulative_incidence(d, ev, **kwargs)


@pytest.mark.slow
def test_ci_coverage_simulation():
    """95% CIs of F1(t0) cover the truth 93-97% of the time (constant cause-specific hazards)."""
    rng = np.random.default_rng(20240611)
    lam1, lam2, t0, n, reps = 0.05, 0.03, 10.0, 300, 1000
    lam = lam1 + lam2
    truth = lam1 / lam * (1 - np.exp(-lam * t0))
    hits = 0
    for _ in range(reps):
        x = rng.exponential(1 / lam, n)
        cause = np.where(rng.random(n) < lam1 / lam, 1, 2)
        c = rng.uniform(0, 30, n)
        t = np.minimum(x, c)
        ev = np.where(x <= c, cause, 0)
        out = cumulative_incidence(t, ev, causes=[1, 2])
        f = out[(out.cause == 1) & (out.time <= t0)].iloc[-1]
        hits += f["lower 95%"] <= truth <= f["upper 95%"]
    assert 0.93 <= hits / reps <= 0.97


def test_plot_cumulative_incidence(mgus2):
    import matplotlib.pyplot as plt

    from attrition.survival import plot_cumulative_incidence

    cif = cumulative_incidence(mgus2.etime, mgus2.event, groups=mgus2.sex, include_survival=True)
    ax = plot_cumulative_incidence(cif, group="F", labels={1: "progression", 2: "death"}, withhold_below=None)
    assert ax.get_xlabel() == "Days since report"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["progression", "death"]
    # top of the stack at the end = 1 - KM
    top = max(p.get_paths()[0].vertices[:, 1].max() for p in ax.collections)
    km = cif[(cif.cause == 0) & (cif.group == "F")].estimate.iloc[-1]
    np.testing.assert_allclose(top, 1 - km, atol=1e-12)
    # by default (disclosure control) the curves stop where < 10 are at risk: the top is the estimate there
    ax1 = plot_cumulative_incidence(cif, group="F")
    f = cif[(cif.group == "F") & (cif.cause != "survival")]
    last = f.loc[f.at_risk >= 10, "time"].max()
    shown = max(p.get_paths()[0].vertices[:, 0].max() for p in ax1.collections)
    assert shown == last < f.time.max()
    ax2 = plot_cumulative_incidence(cif, stacked=False, group="M", time_label="Months since diagnosis")
    assert ax2.get_xlabel() == "Months since diagnosis" and len(ax2.lines) == 2
    with pytest.raises(ValueError, match="several groups"):
        plot_cumulative_incidence(cif)
    plt.close("all")


def test_import_does_not_import_pyplot():
    import subprocess
    import sys

    code = "import sys, attrition.survival; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_partial_colour_dict_keeps_project_colours():
    # a dict overrides only the names it gives; the rest keep the project's stable colours (regression test)
    from attrition.plotting import REASON_COLOURS, STAGE_COLOURS
    from attrition.survival.plotting import _colours

    got = _colours(["convicted", "victim_not_supporting", "other"], {"convicted": "#123456"})
    assert got == ["#123456", REASON_COLOURS["victim_not_supporting"], REASON_COLOURS["other"]]
    assert STAGE_COLOURS["convicted"] != REASON_COLOURS["acquitted"]
