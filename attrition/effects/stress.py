"""Show what breaks: every officer and SPO estimator in synthetic worlds with each adversarial switch on.

:func:`switch_study` simulates datasets with :func:`attrition.synthetic.simulate`, first with every
assumption the estimators rely on holding (``switch == "none"``), then with each adversarial switch of the
generator turned on (``officer_confounding``, ``escalation``, ``informative_censoring``,
``risk_missing_mnar``; see :mod:`attrition.synthetic`), fits every estimator of the dedicated-officer and
SPO questions as the report does, and tabulates the bias against the truth of each simulated world and
the coverage of the 95% intervals, with their Monte Carlo standard errors. It is a property of the
methods in the generator's world, never a finding about real cases.

:func:`load_switch_study` reads the committed table (``data/reference/adversarial_switches.csv``, made by
``tests/studies/adversarial_switches.py``), :func:`switch_table` formats it for a report and
:func:`plot_switch_study` draws the biases with their Monte Carlo error bars.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from ..config import REFERENCE_DIR
from ..exceptions import ConvergenceError, DataQualityWarning, DataValidationError, StatisticalWarning

__all__ = ["SWITCHES", "ESTIMANDS", "SWITCH_STUDY_PATH", "switch_study", "load_switch_study", "switch_table",
           "plot_switch_study"]

#: The adversarial switches of :func:`attrition.synthetic.simulate` and the strength each is studied at
#: (the values of ``tests/studies/spo_trial_coverage.py``), with what each breaks.
SWITCHES: dict[str, float] = {"officer_confounding": 2.0, "escalation": 1.0, "informative_censoring": 0.8,
                              "risk_missing_mnar": 0.5}

#: What each switch breaks, in words (for tables and reports).
SWITCH_BREAKS: dict[str, str] = {
    "none": "nothing (every assumption holds)",
    "officer_confounding": "no unmeasured confounding of officer adoption (a force-level quality no extract "
                           "records raises adoption, suspect identification and charging)",
    "escalation": "no time-varying confounding of SPO timing (breaches and risk upgrades bring applications "
                  "forward and raise victim withdrawal)",
    "informative_censoring": "censoring independent of the outcome (open cases near an outcome are left out "
                             "of the extract)",
    "risk_missing_mnar": "risk missing at random (high-risk assessments are missing most)",
}

#: The estimands, keyed as in the ``estimand`` column of :func:`switch_study`, in words. RR = risk ratio,
#: HR = hazard ratio, RD = risk difference; "officer" = a force-year with a dedicated stalking officer vs
#: without; the SPO trials as in :mod:`attrition.effects.trials` (by day 180 after time zero).
ESTIMANDS: dict[str, str] = {
    "officer RR, charged": "ratio of the probability a report is ever charged had every case been in a force-year "
                           "with a dedicated officer to that had none been, averaged over the simulated cases "
                           "(truth: officer_charged_rr)",
    "officer RR, convicted": "the same for a conviction for stalking (truth: officer_convicted_rr)",
    "officer HR, charge": "hazard ratio of a charge per day since the suspect was identified, officer vs none, "
                          "given the force's own charging level (truth: officer_hr_charge, the generator's "
                          "structural ratio; a force-averaged Cox estimate lies a little nearer 1)",
    "officer RD, charged, adopters": "risk difference of ever being charged, officer vs none, among the cases "
                                     "with an officer in forces that adopted one during the data (truth: "
                                     "officer_charged_rd_adopters; the difference-in-differences estimand)",
    "officer RD, convicted, adopters": "the same for a conviction for stalking (truth: officer_convicted_rd_adopters)",
    "SPO in force HR, charge": "hazard ratio of a charge while an SPO is in force vs not (truth: spo_hr_charge)",
    "SPO in force HR, withdrawal": "hazard ratio of victim withdrawal (HO 16) while an SPO is in force vs not "
                                   "(truth: spo_hr_withdrawal)",
    "full28 RR, charge": "risk of a charge by day 180 after the SPO need had every eligible case had a full "
                         "application within 28 days, divided by that had none (later or never) "
                         "(truth: attrition.effects.true_trial_risks of the same world)",
    "full28 RR, withdrawal": "the same for victim withdrawal (HO 16)",
    "interim48 RR, charge": "risk of a charge by day 180 after suspect identification or arrest had every "
                            "eligible high-risk case had an interim application within 2 days, divided by that "
                            "had none within 2 days (truth: true_trial_risks of the same world)",
    "interim48 RR, withdrawal": "the same for victim withdrawal (HO 16)",
    "interim48_need RR, charge": "risk of a charge by day 180 after the SPO need had every eligible high-risk "
                                 "case with a need had an interim application within 2 days of it, divided by "
                                 "that had none within 2 days (truth: true_trial_risks of the same world)",
    "interim48_need RR, withdrawal": "the same for victim withdrawal (HO 16)",
}

#: Where :func:`load_switch_study` finds the committed study table.
SWITCH_STUDY_PATH = REFERENCE_DIR / "adversarial_switches.csv"

_TRIALS = ("full28", "interim48", "interim48_need")


def _check_switches(switches, baseline: bool = True) -> list[tuple[str, float]]:
    """``[("none", 0.0), (name, value), ...]`` from ``None`` (every switch at :data:`SWITCHES`) or a dict."""
    if switches is None:
        switches = SWITCHES
    if not isinstance(switches, dict):
        raise TypeError(f"switches must be None or a dict of switch name -> value, got {type(switches).__name__}")
    out = [("none", 0.0)] if baseline else []
    for name, value in switches.items():
        if name not in SWITCHES:
            raise ValueError(f"unknown adversarial switch {name!r}; the switches are {sorted(SWITCHES)}")
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"switch {name} must be a positive number (0 is the baseline), got {value!r}")
        out.append((name, float(value)))
    return out


def _row(estimator, estimand, scale, truth, est=np.nan, lo=np.nan, hi=np.nan) -> dict:
    return {"estimator": estimator, "estimand": estimand, "scale": scale, "truth": float(truth),
            "estimate": float(est), "lower": float(lo), "upper": float(hi)}


_FAILS = (DataValidationError, ConvergenceError, np.linalg.LinAlgError)


def _officer_rows(data) -> list[dict]:
    """The officer estimators as the report runs them (Fig08): the frame and adjustment set of
    :func:`officer_design` (a missing risk becomes an 'unknown' level). An estimator that refuses the data
    gives a row without an estimate (counted in ``failed``)."""
    from .officer import officer_design, officer_did, officer_effect, officer_hazard_ratio

    rows = []
    names = {"adjusted": "g-computation, adjusted (GLM, CR2)", "naive (unadjusted)": "naive (crude, CR2)"}
    hnames = {"adjusted": "Cox, adjusted (Lin-Wei, t)", "naive (unadjusted)": "Cox, naive (Lin-Wei, t)"}
    did_name = "officer: difference in differences (TWFE, CR2)"
    for outcome in ("charged", "convicted"):
        frame, covs, _ = officer_design(data.cases, data.forces, outcome)
        if frame is None:
            return rows
        est_rr, truth = f"officer RR, {outcome}", data.truth[f"officer_{outcome}_rr"]
        try:
            est = officer_effect(frame, data.forces, outcome=outcome, method="glm_cluster", covariates=covs,
                                 random_state=0)  # no bootstrap with CR2: the seed is unused
            for _, r in est[est["measure"] == "risk_ratio"].iterrows():
                rows.append(_row(f"officer: {names[r['analysis']]}", est_rr, "log ratio", truth, r["estimate"],
                                 r["lower 95%"], r["upper 95%"]))
        except _FAILS:
            rows += [_row(f"officer: {n}", est_rr, "log ratio", truth) for n in names.values()]
        if outcome == "charged":
            truth = data.truth["officer_hr_charge"]
            try:
                hr = officer_hazard_ratio(frame, data.forces, covariates=covs)
                for _, r in hr.iterrows():
                    rows.append(_row(f"officer: {hnames[r['analysis']]}", "officer HR, charge", "log ratio", truth,
                                     r["estimate"], r["lower 95%"], r["upper 95%"]))
            except _FAILS:
                rows += [_row(f"officer: {n}", "officer HR, charge", "log ratio", truth) for n in hnames.values()]
        est_rd, truth = f"officer RD, {outcome}, adopters", data.truth[f"officer_{outcome}_rd_adopters"]
        try:
            did = officer_did(frame, data.forces, outcome, event_study=False,
                              covariates=[c for c in ("risk", "relationship") if c in covs])
            r = did[did["analysis"] == "did"].iloc[0]
            rows.append(_row(did_name, est_rd, "difference", truth, r["estimate"], r["lower 95%"], r["upper 95%"]))
        except _FAILS:
            rows.append(_row(did_name, est_rd, "difference", truth))
    return rows


def _spo_rows(data, seed: int, n_boot: int, trials) -> list[dict]:
    from .trials import spo_hazard_ratios

    rows = []
    try:
        hr = spo_hazard_ratios(data.cases, data.truth)
        for _, r in hr.iterrows():
            rows.append(_row("SPO: time-varying Cox", f"SPO in force HR, {r['outcome']}", "log ratio", r["truth"],
                             r["estimate"], r["lower 95%"], r["upper 95%"]))
    except _FAILS:
        rows += [_row("SPO: time-varying Cox", f"SPO in force HR, {o}", "log ratio", data.truth[f"spo_hr_{o}"])
                 for o in ("charge", "withdrawal")]
    return rows + _trial_rows(data, seed, n_boot, trials)


def _trial_rows(data, seed: int, n_boot: int, trials) -> list[dict]:
    from .trials import METHODS, SPOTargetTrial, true_trial_risks

    rows = []
    for trial in trials:
        truth = true_trial_risks(trial, data, random_state=seed)
        try:
            m = SPOTargetTrial(trial, n_boot=n_boot, random_state=seed + 1, n_jobs=1).fit(data.cases)
        except _FAILS:
            rows += [_row(f"SPO trial: {mth}", f"{trial} RR, {o}", "log ratio", truth.loc[o, "rr"])
                     for mth in METHODS for o in ("charge", "withdrawal")]
            continue
        s = m.summary[m.summary["measure"] == "RR"]
        for _, r in s.iterrows():
            rows.append(_row(f"SPO trial: {r['method']}", f"{trial} RR, {r['outcome']}", "log ratio",
                             truth.loc[r["outcome"], "rr"], r["estimate"], r["lower 95%"], r["upper 95%"]))
    return rows


def _one_world(switch: str, value: float, seed: int, n_cases, n_boot: int, trials,
               trials_only: bool = False) -> pd.DataFrame:
    """Every estimator on one simulated world (module level: joblib workers import it)."""
    from ..synthetic import simulate

    kw = {} if switch == "none" else {switch: value}
    rows = []
    with warnings.catch_warnings():
        # few exposed forces, staggered adoption, sparse cells: expected in every world, reported in the table
        warnings.simplefilter("ignore", StatisticalWarning)
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        data = simulate(n_cases=n_cases, random_state=seed, **kw)
        rows = (_trial_rows(data, seed, n_boot, trials) if trials_only
                else _officer_rows(data) + _spo_rows(data, seed, n_boot, trials))
    return pd.DataFrame(rows).assign(switch=switch, value=value, seed=seed)


def _summarise(res: pd.DataFrame, n_worlds: int) -> pd.DataFrame:
    res = res.copy()
    log = res["scale"] == "log ratio"
    with np.errstate(divide="ignore", invalid="ignore"):
        res["bias"] = np.where(log, np.log(res["estimate"]) - np.log(res["truth"]), res["estimate"] - res["truth"])
        res.loc[~np.isfinite(res["bias"]), "bias"] = np.nan
    has_ci = res["lower"].notna() & res["upper"].notna()
    res["covered"] = np.where(has_ci, (res["lower"] <= res["truth"]) & (res["truth"] <= res["upper"]), np.nan)
    g = res.groupby(["switch", "value", "estimator", "estimand", "scale"], sort=False)
    out = g.agg(truth=("truth", "mean"), estimate=("estimate", "mean"), bias=("bias", "mean"),
                bias_sd=("bias", "std"), reps=("bias", "count"), coverage=("covered", "mean"),
                coverage_reps=("covered", "count")).reset_index()
    out["bias_mc_se"] = out["bias_sd"] / np.sqrt(out["reps"])
    c, k = out["coverage"], out["coverage_reps"].where(out["coverage_reps"] > 0)
    out["coverage_mc_se"] = np.sqrt(c * (1 - c) / k)
    out["failed"] = n_worlds - out["reps"]
    cols = ["switch", "value", "estimator", "estimand", "scale", "truth", "estimate", "bias", "bias_mc_se",
            "coverage", "coverage_mc_se", "reps", "failed"]
    return out[cols]


def switch_study(switches: dict | None = None, *, reps: int, n_cases: int | None = None, n_boot: int = 100,
                 trials=_TRIALS, baseline: bool = True, random_state, n_jobs: int | None = 1,
                 return_replicates: bool = False, trials_only: bool = False):
    """Bias and coverage of every officer and SPO estimator with each adversarial switch of the generator on.

    For the baseline world (no switch) and each switch in turn, ``reps`` datasets are simulated with
    :func:`attrition.synthetic.simulate` (the same ``reps`` seeds in every setting: common random numbers,
    so the settings differ only through the switch), every estimator is fitted as the report fits it, and
    its estimate is compared with the truth of that simulated world.

    Estimators (``estimator`` column):

    * ``officer: g-computation, adjusted (GLM, CR2)`` and ``officer: naive (crude, CR2)`` --
      :func:`~attrition.effects.officer_effect` (``method="glm_cluster"``, adjustment set from
      :func:`~attrition.effects.officer_design`), risk ratios of being charged and convicted;
    * ``officer: Cox, adjusted / naive (Lin-Wei, t)`` -- :func:`~attrition.effects.officer_hazard_ratio`;
    * ``officer: difference in differences (TWFE, CR2)`` -- :func:`~attrition.effects.officer_did`;
    * ``SPO: time-varying Cox`` -- :func:`~attrition.effects.spo_hazard_ratios`;
    * ``SPO trial: <method>`` -- every method of :class:`~attrition.effects.SPOTargetTrial` (naive ever vs
      never, naive within vs not, baseline IPW with immortal time left, CCW without covariates, CCW with
      baseline covariates, CCW with time-varying covariates -- the primary one) for each trial in ``trials``,
      with percentile-bootstrap intervals (``n_boot`` replicates).

    Parameters
    ----------
    switches : dict of str -> float, optional
        Switches to turn on one at a time and their values (units as in :mod:`attrition.synthetic`).
        Default :data:`SWITCHES` (officer_confounding 2.0, escalation 1.0, informative_censoring 0.8,
        risk_missing_mnar 0.5). The baseline (``switch == "none"``) is included unless ``baseline=False``.
    reps : int
        Simulated datasets per setting (>= 1).
    n_cases : int, optional
        Reports per dataset (default: the national size, 360,000; below about 100,000 the interim48 trial
        has few cases applied for within 2 days and may not be emulated).
    n_boot : int, default 100
        Bootstrap replicates of the SPO target trials (0: no intervals, coverage NaN for them).
    trials : sequence of {"full28", "interim48", "interim48_need"}, default all
    baseline : bool, default True
        Include the baseline world (no switch). The dataset seeds depend only on ``random_state`` and
        ``reps``, so settings run in separate calls give the rows of one call.
    random_state : int, numpy.random.SeedSequence or numpy.random.Generator
        Parent seed of the datasets (required: the table must be reproducible).
    n_jobs : int, optional, default 1
        Workers (:func:`attrition._parallel.run_tasks`); the results do not depend on it.
    return_replicates : bool, default False
        Also return the per-dataset estimates.
    trials_only : bool, default False
        Only the SPO target trials (to add a trial to a study already run: the same seeds give the same
        datasets).

    Returns
    -------
    pandas.DataFrame
        One row per (setting, estimator, estimand): ``switch`` ("none" or the switch name), ``value``,
        ``estimator``, ``estimand`` (key of :data:`ESTIMANDS`, which states it in words), ``scale`` ("log
        ratio" for RR and HR, "difference" for RD), ``truth`` (mean over the datasets of each world's truth),
        ``estimate`` (mean estimate), ``bias`` (mean of log(estimate) - log(truth), or estimate - truth on
        the difference scale), ``bias_mc_se`` (its Monte Carlo SE, SD / sqrt(reps)), ``coverage`` (share of
        95% intervals containing that dataset's truth), ``coverage_mc_se`` (``sqrt(c (1 - c) / reps)``),
        ``reps`` (datasets with a finite estimate), ``failed`` (datasets where the estimator could not run
        or gave no finite estimate). ``attrs`` hold the settings, ``ESTIMANDS`` and ``SWITCH_BREAKS``.
        With ``return_replicates``, a tuple (table, per-dataset estimates).

    Raises
    ------
    ValueError
        Unknown switch, a non-positive value, ``reps < 1``, an unknown trial.

    Notes
    -----
    The truth is that of each simulated world: the officer risk ratios and adopter risk differences from
    the generator's exact long-run probabilities (``data.truth``), the hazard ratios its structural
    parameters, the trial risk ratios :func:`~attrition.effects.true_trial_risks` (both strategies simulated
    in the same world). The officer hazard ratio's truth is conditional on the force's charging level, so
    even the baseline shows a small bias towards 1 (non-collapsibility), and its intervals undercover
    (``tests/studies/officer_hr_coverage.py``). Coverage needs many datasets: with ``reps`` = 12 a coverage
    of 95% has a Monte Carlo SE of 6 points, so only gross failures are visible; biases are the sharper
    signal.

    Examples
    --------
    >>> from attrition.effects.stress import switch_study
    >>> switch_study({"officer_confounding": 2.0}, reps=2, n_cases=20_000, n_boot=0,
    ...              random_state=1)  # doctest: +SKIP
    """
    from .._parallel import run_tasks, spawn

    settings = _check_switches(switches, baseline)
    if not settings:
        raise ValueError("nothing to run: no switch and baseline=False")
    if not isinstance(reps, numbers.Integral) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    trials = [trials] if isinstance(trials, str) else list(trials)
    bad = [t for t in trials if t not in _TRIALS]
    if bad:
        raise ValueError(f"unknown trial(s) {bad}; the trials are {list(_TRIALS)}")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot!r}")
    if random_state is None:
        raise ValueError("switch_study needs random_state (an explicit seed: the table must be reproducible)")
    seeds = [int(g.integers(2**31 - 2)) for g in spawn(random_state, int(reps))]
    tasks = [(name, value, s, n_cases, int(n_boot), tuple(trials), bool(trials_only))
             for name, value in settings for s in seeds]
    res = pd.concat(run_tasks(_one_world, tasks, n_jobs=n_jobs), ignore_index=True)
    table = _summarise(res, int(reps))
    table.attrs.update({"reps": int(reps), "n_cases": n_cases, "n_boot": int(n_boot), "seeds": seeds,
                        "estimands": ESTIMANDS, "switch_breaks": SWITCH_BREAKS,
                        "note": "synthetic worlds (attrition.synthetic): a property of the methods, not a finding"})
    return (table, res) if return_replicates else table


def load_switch_study(path=None) -> pd.DataFrame:
    """The committed study table of :func:`switch_study` (``tests/studies/adversarial_switches.py``).

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Default :data:`SWITCH_STUDY_PATH` (``data/reference/adversarial_switches.csv``); its settings
        (reps, size, seeds, date) are in the sidecar ``adversarial_switches.csv.md``.

    Returns
    -------
    pandas.DataFrame
        The table; ``attrs["provenance"]`` is the line a figure of it should carry
        (:func:`attrition.figures.set_provenance`): these are synthetic worlds, whatever data a notebook runs on.

    Raises
    ------
    DataValidationError
        The file is missing or lacks a column of :func:`switch_study`'s table.
    """
    from pathlib import Path

    path = Path(path) if path is not None else SWITCH_STUDY_PATH
    if not path.exists():
        raise DataValidationError(f"{path}: no switch-study table; run tests/studies/adversarial_switches.py")
    table = pd.read_csv(path)
    need = ["switch", "value", "estimator", "estimand", "scale", "truth", "estimate", "bias", "bias_mc_se",
            "coverage", "coverage_mc_se", "reps"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise DataValidationError(f"{path}: columns {missing} missing (expected those of switch_study)")
    table.attrs["provenance"] = (f"Synthetic worlds of tests/studies/adversarial_switches.py ({path.name}, "
                                 f"{int(table['reps'].max())} simulated datasets per setting), not real cases")
    return table


def _select(table: pd.DataFrame, estimators, estimands, caller: str) -> pd.DataFrame:
    """Rows of the chosen estimators and estimands (all when ``None``); an empty selection is an error."""
    t = table
    if estimators is not None:
        t = t[t["estimator"].isin(list(estimators))]
    if estimands is not None:
        t = t[t["estimand"].isin(list(estimands))]
    if t.empty:
        raise DataValidationError(f"{caller}: no row left after selecting estimators / estimands")
    return t


def switch_table(table: pd.DataFrame, *, estimators=None, estimands=None, what: str = "bias") -> pd.DataFrame:
    """The study table as a report shows it: one row per (estimand, estimator), one column per setting.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`switch_study` or :func:`load_switch_study`.
    estimators, estimands : sequence of str, optional
        Keep only these (default all).
    what : {"bias", "coverage"}, default "bias"
        Cells "bias (MC SE)" to 3 decimals (log-ratio or difference scale, see ``scale``), or "coverage%
        (MC SE)" in whole percentage points.

    Returns
    -------
    pandas.DataFrame
        Index (estimand, estimator), columns "none" then each switch with its value (e.g.
        "escalation=1"), cells strings; the first column ``truth`` is the mean truth of the baseline.
    """
    if what not in ("bias", "coverage"):
        raise ValueError(f"what must be 'bias' or 'coverage', got {what!r}")
    t = _select(table, estimators, estimands, "switch_table")
    t = t.assign(setting=np.where(t["switch"] == "none", "none",
                                  t["switch"] + "=" + t["value"].map(lambda v: f"{v:g}")))
    if what == "bias":
        cell = t["bias"].map(lambda v: f"{v:+.3f}") + " (" + t["bias_mc_se"].map(lambda v: f"{v:.3f}") + ")"
    else:
        cell = ((100 * t["coverage"]).map(lambda v: "–" if np.isnan(v) else f"{v:.0f}%") + " ("
                + (100 * t["coverage_mc_se"]).map(lambda v: "–" if np.isnan(v) else f"{v:.0f}") + ")")
    t = t.assign(cell=cell)
    order = list(dict.fromkeys(t["setting"]))
    wide = t.pivot_table(index=["estimand", "estimator"], columns="setting", values="cell", aggfunc="first",
                         sort=False)
    wide = wide[[c for c in order if c in wide.columns]]
    base = t[t["switch"] == "none"].set_index(["estimand", "estimator"])["truth"]
    wide.insert(0, "truth", base.reindex(wide.index).map(lambda v: f"{v:.3g}"))
    wide.columns.name = None
    return wide


def plot_switch_study(table: pd.DataFrame, ax=None, *, estimators=None, estimands=None, z: float = 1.96):
    """Bias of each estimator in each setting, a dot with a +-``z`` Monte Carlo SE bar, zero marked.

    One row per (estimand, estimator), one colour per setting (baseline first). Log-ratio and difference
    biases (RD estimands) share the axis. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    from .plotting import _palette

    t = _select(table, estimators, estimands, "plot_switch_study")
    keys = list(dict.fromkeys(zip(t["estimand"], t["estimator"])))
    settings = list(dict.fromkeys(zip(t["switch"], t["value"])))
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.35 * len(keys) + 1.5))
    pos = {k: i for i, k in enumerate(keys)}
    colours = _palette()
    step = 0.7 / max(len(settings), 1)
    for j, (sw, val) in enumerate(settings):
        s = t[(t["switch"] == sw) & (t["value"] == val)]
        y = np.array([pos[k] for k in zip(s["estimand"], s["estimator"])]) - 0.35 + step * (j + 0.5)
        ax.errorbar(s["bias"], y, xerr=z * s["bias_mc_se"], fmt="o", ms=3.5, lw=1, capsize=0,
                    color=colours[j % len(colours)], label="no switch" if sw == "none" else f"{sw} = {val:g}")
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(keys)))
    # "officer RR, charged · g-computation, adjusted": the estimator without its family and inference
    ax.set_yticklabels([f"{a} · {b.split(': ', 1)[-1].split(' (')[0]}" for a, b in keys])
    ax.invert_yaxis()
    ax.set_xlabel(f"mean bias (log ratio; RD for differences), ±{z:g} Monte Carlo SE")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return ax
