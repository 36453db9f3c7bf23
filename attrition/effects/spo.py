"""Effects of Stalking Protection Orders (SPOs) in force on charge and victim withdrawal.

The timeliness recommendation itself (interim within 48 hours, full application within 28 days of the need)
is answered by the target trials of :mod:`attrition.effects.trials`; this module estimates the effect of an
order *in force* (hazard ratios), the other panel of Fig09.

An SPO is a *time-varying* treatment: it comes into force some days into an investigation, only for
cases still open then, and far more often for high-risk cases. Comparing "ever SPO" with "never SPO"
therefore mixes two biases -- immortal time (a case must survive, un-closed, until its order is
granted) and confounding by indication. This module estimates the effect with four methods side by
side:

* :func:`naive_spo_comparison` -- ever vs never SPO, ignoring timing (shown only as the biased baseline);
* :func:`landmark_analysis` -- among cases still open at a landmark day, SPO by then vs not;
* :func:`spo_time_varying_cox` on :func:`spo_counting_process` -- cause-specific Cox models with the SPO
  as a time-varying covariate (Efron ties; :class:`attrition.survival.regression.CauseSpecificCox`);
* :func:`clone_censor_weight` -- sequential target-trial emulation by cloning, censoring and
  inverse-probability-of-censoring weighting, giving risk curves under two strategies.

:func:`spo_effect` runs them all and returns one tidy table (for
:func:`attrition.effects.plotting.forest_plot`) and the CCW risk curves (for
:func:`attrition.effects.plotting.plot_risk_curves`).

Definitions used throughout (they match :mod:`attrition.synthetic`, so its true parameters apply):

* **Eligibility / time zero**: suspect identified (``days_to_suspect_identified``); the police
  investigation (the competing exits) starts then. Day numbers count from that day.
* **SPO in force**: from the day *after* the first grant (``days_to_spo_interim_granted`` or
  ``days_to_spo_full_granted``, whichever is first); an exit on the grant day itself counts as
  unexposed (R ``survival`` tie order: events before entries). An SPO granted after the police
  outcome is irrelevant.
* **Outcomes** (cause-specific): ``charge`` = Home Office outcome 1 (charged/summonsed);
  ``withdrawal`` = outcome 16 (victim does not support action). All other police outcomes are
  competing exits; cases without a police outcome are censored at their follow-up (``duration``).

Known property of the synthetic data: :func:`attrition.synthetic.simulate` lets a case whose (interim)
SPO came into force *before* suspect identification exit at the post-SPO rates from the grant day, so a
few exit "before" their suspect is identified (``to_cases`` then moves the identification to the exit
day). Those cases inflate exits on day 1 among the exposed and pull the time-varying Cox HRs slightly
towards the null (clearly only when SPOs are frequent, e.g. small ``n_cases`` with the default
per-force SPO targets); the rare exits on an earlier day are excluded with a ``DataQualityWarning``.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import check_alpha, check_random_state, ci_labels
from ..exceptions import ConvergenceError, DataQualityWarning, DataValidationError

__all__ = [
    "spo_effect_on_data",
    "spo_counting_process",
    "spo_time_varying_cox",
    "naive_spo_comparison",
    "landmark_analysis",
    "clone_censor_weight",
    "true_ccw_risks",
    "spo_effect",
    "SPOEffect",
    "OUTCOME_CODES",
]

#: Home Office police outcome code of each modelled outcome.
OUTCOME_CODES = {"charge": 1, "withdrawal": 16}
_NAIVE_NOTE = "naive (biased: immortal time, confounding by indication)"
_GRANT_COLS = ("days_to_spo_interim_granted", "days_to_spo_full_granted")
_APPLY_COLS = ("days_to_spo_interim_applied", "days_to_spo_full_applied")
#: Comparison strategies of clone-censor-weight: no SPO in force by the end of the grace period, or never.
_CCW_CONTROLS = ("not_by_grace", "never")


# ------------------------------------------------------------------------------------------------
# input handling
# ------------------------------------------------------------------------------------------------
def _as_cases(events_or_cases) -> pd.DataFrame:
    if not isinstance(events_or_cases, pd.DataFrame):
        raise DataValidationError(
            f"expected an event log or a case table (pandas DataFrame), got {type(events_or_cases).__name__}"
        )
    df = events_or_cases
    if "event" in df.columns and "timestamp" in df.columns and "days_to_police_outcome" not in df.columns:
        from ..sources.events import to_cases

        return to_cases(df)
    return df


def _require(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{what} needs column(s) {missing} of the case table (attrition.data.to_cases); "
            f"available: {list(df.columns)[:30]}..."
        )


def _check_covariates(df: pd.DataFrame, covariates) -> list[str]:
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    _require(df, covariates, "covariates")
    for c in covariates:
        miss = df[c].isna().to_numpy()
        if miss.any():
            ids = list(df.loc[miss, "case_id"].head(5)) if "case_id" in df.columns else list(df.index[miss][:5])
            raise DataValidationError(
                f"covariate {c!r} is missing for {int(miss.sum())} case(s) (e.g. case_id {ids}). Impute it, add "
                "an explicit 'unknown' category, or drop those cases before estimating SPO effects."
            )
    return covariates


def _safe(s) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", str(s)).strip("_")


def _dummies(df: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Numeric design columns: numeric/bool covariates as is, categories as treatment dummies
    (first level = reference), named ``<column>_<level>`` (R-friendly)."""
    out = {}
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)
                                               and not isinstance(s.dtype, pd.CategoricalDtype)):
            out[_safe(c)] = s.astype(float).to_numpy()
            continue
        cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
        levels = [lv for lv in cat.cat.categories if (cat == lv).any()]
        for lv in levels[1:]:
            out[f"{_safe(c)}_{_safe(lv)}"] = (cat == lv).to_numpy(dtype=float)
    return pd.DataFrame(out, index=df.index)


@dataclass
class _Journey:
    """Police-stage follow-up of eligible cases (suspect identified), times in days since report."""

    cases: pd.DataFrame      # eligible rows of the case table
    suspect: np.ndarray      # day of suspect identification
    exit: np.ndarray         # day of police outcome, or of censoring
    cause: np.ndarray        # object: "charge" / "withdrawal" / "other" / None (censored)
    spo: np.ndarray          # day the SPO was granted (or applied), inf if never


def _journey(cases: pd.DataFrame, exposure: str = "granted") -> _Journey:
    if exposure not in ("granted", "applied"):
        raise ValueError(f"exposure must be 'granted' or 'applied', got {exposure!r}")
    cols = _GRANT_COLS if exposure == "granted" else _APPLY_COLS
    _require(cases, ["case_id", "days_to_suspect_identified", "days_to_police_outcome", "outcome_code", "duration",
                     *cols], "SPO effect estimation")
    el = cases[cases["days_to_suspect_identified"].notna()]
    if len(el) == 0:
        raise DataValidationError("no case has a suspect identified (days_to_suspect_identified): nobody is "
                                  "at risk of charge, so SPO effects cannot be estimated.")
    s = el["days_to_suspect_identified"].to_numpy(float)
    po = el["days_to_police_outcome"].to_numpy(float)
    closed = ~np.isnan(po)
    exit_ = np.where(closed, po, el["duration"].to_numpy(float))
    if (~np.isfinite(exit_)).any():
        bad = ~np.isfinite(exit_)
        raise DataValidationError(
            f"{int(bad.sum())} case(s) have neither a police outcome nor a follow-up duration "
            f"(e.g. case_id {list(el['case_id'][bad].head(5))}); fix or drop them."
        )
    bad = exit_ < s
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} case(s) have their police outcome before suspect identification (e.g. case_id "
            f"{list(el['case_id'][bad].head(5))}); they were never at risk after time zero and are excluded "
            "from the SPO analyses. Check the dates of those cases.",
            DataQualityWarning, stacklevel=3,
        )
        el, s, po, closed, exit_ = el[~bad], s[~bad], po[~bad], closed[~bad], exit_[~bad]
    code = el["outcome_code"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(code[closed]).any():
        b = closed & np.isnan(code)
        raise DataValidationError(f"{int(b.sum())} case(s) have a police outcome date but no outcome_code "
                                  f"(e.g. case_id {list(el['case_id'][b].head(5))}).")
    cause = np.full(len(el), None, dtype=object)
    cause[closed] = "other"
    cause[closed & (code == OUTCOME_CODES["charge"])] = "charge"
    cause[closed & (code == OUTCOME_CODES["withdrawal"])] = "withdrawal"
    spo = np.fmin(el[cols[0]].to_numpy(float), el[cols[1]].to_numpy(float))
    spo = np.where(np.isnan(spo), np.inf, spo)
    # an order first in force after the exit day is irrelevant (in force from the day after the grant)
    spo = np.where(spo < exit_, spo, np.inf)
    return _Journey(cases=el, suspect=s, exit=exit_, cause=cause, spo=spo)


def _check_treatment_variation(treated: np.ndarray, what: str) -> None:
    n1 = int(np.sum(treated))
    if n1 == 0:
        raise DataValidationError(
            f"no eligible case has an SPO in force before its police outcome ({what}); the SPO effect is not "
            "estimable. Check the days_to_spo_*_granted columns, widen the data (more forces/years) or report "
            "descriptive counts only."
        )
    if n1 == len(treated):
        raise DataValidationError(
            f"every eligible case has an SPO in force ({what}): there is no comparison group. "
            "Include cases without an SPO."
        )


def _control_sample(treated_ever: np.ndarray, max_cases, rng) -> np.ndarray:
    """Weights of an exposure-stratified subsample: all ever-treated cases, a simple random sample of the
    others (weight 1/fraction); 0 = not sampled."""
    n = len(treated_ever)
    w = np.ones(n)
    if max_cases is None or n <= max_cases:
        return w
    n1 = int(treated_ever.sum())
    n0 = n - n1
    k = max(int(max_cases) - n1, min(n0, 1000))
    if k >= n0:
        return w
    ctrl = np.flatnonzero(~treated_ever)
    keep = rng.choice(ctrl, size=k, replace=False)
    w[ctrl] = 0.0
    w[keep] = n0 / k
    return w


# ------------------------------------------------------------------------------------------------
# (b) counting process + time-varying Cox
# ------------------------------------------------------------------------------------------------
def spo_counting_process(cases, *, covariates=("risk", "financial_year"), exposure: str = "granted") -> pd.DataFrame:
    """Counting-process (start, stop] table with the SPO as a time-varying covariate.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table (:func:`attrition.data.to_cases`) or event log (converted with ``to_cases``).
    covariates : sequence of str, default ("risk", "financial_year")
        Baseline covariates; categorical ones are dummy-coded (first level = reference) into columns
        ``<column>_<level>``. Missing values are an error.
    exposure : {"granted", "applied"}, default "granted"
        ``"granted"``: the SPO is in force from the day after the first interim/full grant (the
        definition of :mod:`attrition.synthetic`, so its ``spo_hr_*`` are the true hazard ratios).
        ``"applied"``: from the day after the first application (an intention-to-protect analysis;
        no known truth).

    Returns
    -------
    pandas.DataFrame, shape (m, 7 + p)
        One row per (case, interval): ``case_id``, ``start``, ``stop`` (day numbers since suspect
        identification: the identification day is day 1, so ``stop = exit_day - suspect_day + 1``),
        ``spo`` (0/1, constant on the interval), ``event`` ("charge", "withdrawal", "other" or missing
        = censored; only on the case's last interval), ``charge`` and ``withdrawal`` (0/1 indicators)
        and the design columns. Cases whose SPO was granted before suspect identification are
        exposed from day 1; cases with an SPO switch get two rows.

    Raises
    ------
    DataValidationError
        Missing columns, no suspect-identified cases, missing covariates, exits before suspect
        identification, police outcomes without a code.
    """
    cases = _as_cases(cases)
    J = _journey(cases, exposure)
    covariates = _check_covariates(J.cases, covariates)
    X = _dummies(J.cases, covariates).reset_index(drop=True)
    stop = J.exit - J.suspect + 1.0
    switch = J.spo - J.suspect + 1.0          # exposed on (switch, stop]
    split = (switch > 0) & (switch < stop)
    base_spo = (switch <= 0).astype(float)
    ids = J.cases["case_id"].to_numpy()
    first = pd.DataFrame({"case_id": ids, "start": 0.0, "stop": np.where(split, switch, stop), "spo": base_spo,
                          "event": np.where(split, None, J.cause)})
    second = pd.DataFrame({"case_id": ids[split], "start": switch[split], "stop": stop[split], "spo": 1.0,
                           "event": J.cause[split]})
    out = pd.concat([pd.concat([first, X], axis=1), pd.concat([second, X[split].reset_index(drop=True)], axis=1)],
                    ignore_index=True)
    out = out.sort_values(["case_id", "start"], kind="stable").reset_index(drop=True)
    out["charge"] = (out["event"] == "charge").astype(np.int8)
    out["withdrawal"] = (out["event"] == "withdrawal").astype(np.int8)
    cols = ["case_id", "start", "stop", "spo", "event", "charge", "withdrawal", *X.columns]
    return out[cols]


def _cox_rows(df, outcomes, covs, *, entry_col, duration_col, weights, cluster_col, method, alpha, note,
              hr_name="spo", extra=None, strata_col=None):
    """Fit a cause-specific Cox per outcome; tidy rows for the ``spo`` coefficient."""
    from ..survival.regression import CauseSpecificCox

    lo, hi = ci_labels(alpha)
    rows = []
    data = df.copy()
    wcol = None
    if weights is not None and not np.all(weights == 1.0):
        keep = weights > 0
        data = data[keep].copy()
        data["_w"] = weights[keep]
        wcol = "_w"
    for outcome in outcomes:
        if int((data["event"] == outcome).sum()) == 0:
            raise DataValidationError(f"no {outcome} events among the eligible cases: the {method} model of "
                                      f"{outcome} cannot be fitted.")
        ev_exposed = int(((data["event"] == outcome) & (data[hr_name] > 0)).sum())
        if ev_exposed == 0:
            raise ConvergenceError(
                f"{method}: no {outcome} happens while an SPO is in force, so the hazard ratio is 0 (perfect "
                "separation) and has no finite estimate. Report the counts instead, or pool more data."
            )
        m = CauseSpecificCox(alpha=alpha).fit(data, duration_col, "event", outcome, [hr_name, *covs],
                                              entry_col=entry_col, cluster_col=cluster_col, weights_col=wcol,
                                              strata_col=strata_col)
        r = m.summary.iloc[0]
        rows.append({"method": method, "outcome": outcome, "measure": "HR", "estimate": float(r["exp(coef)"]),
                     "log_estimate": float(r["coef"]), "se": float(r["se"]), lo: float(r[lo]), hi: float(r[hi]),
                     "n": int(r["n"]), "events": int(r["events"]), "events_exposed": ev_exposed, "note": note,
                     **(extra or {})})
    return rows


def spo_time_varying_cox(data, *, outcomes=("charge", "withdrawal"), covariates=None, cluster: str = "case_id",
                         strata: str | None = "force", exposure: str = "granted", max_cases: int | None = None,
                         random_state=None, alpha: float = 0.05) -> pd.DataFrame:
    """Cause-specific Cox models of charge and victim withdrawal with the SPO as a time-varying covariate.

    ``h_k(t | x, spo(t)) = h_k0(t) exp(beta_k spo(t) + x' gamma_k)``, time ``t`` in days since suspect
    identification, one model per outcome (other exits censored; Prentice et al. 1978). Because
    follow-up before the grant counts as unexposed, there is no immortal-time bias (Mantel & Byar
    1974; Suissa 2008).

    Parameters
    ----------
    data : pandas.DataFrame
        A case table / event log, or a table already made by :func:`spo_counting_process` (recognised by
        its ``start``/``stop``/``spo``/``event`` columns; then ``covariates`` name its design columns and
        default to all of them).
    outcomes : sequence of {"charge", "withdrawal"}
    covariates : sequence of str, optional
        Adjustment set. For a case table, columns to dummy-code (default ``("risk", "financial_year")``);
        for a counting-process table, its numeric design columns (default: all of them except the
        ``cluster`` and ``strata`` columns).
    cluster : str, default "case_id"
        Cluster of the robust variance: the case (valid for split rows and subsample weights), or a
        coarser unit of the case table such as ``"force"`` -- recommended when force effects are not
        adjusted for, since unmeasured force-level differences in charging then make cases of a force
        correlated (and forces differ in how often they use SPOs).
    strata : str or None, default "force"
        Stratify the Cox models on this column of the case table (or of the counting-process table):
        each force gets its own baseline hazard of charge / withdrawal, so force differences in
        charging and in SPO use cannot confound the SPO hazard ratio, without estimating 42 force
        effects (dummies hit separation in forces with few events). ``None`` = one common baseline.
    exposure : {"granted", "applied"}
    max_cases : int, optional
        For speed on national data: keep every case ever given an SPO and a simple random sample of the
        rest, weighted by the inverse sampling fraction (an exposure-stratified subcohort; weighted partial
        likelihood, Borgan et al. 2000). ``None`` (default) uses all cases. The robust standard errors
        treat the sampling weights as fixed, so they leave out the variance from sampling the controls:
        in simulation, subsampled intervals covered the true hazard ratio in only about 88-90% of
        datasets against 93-95% with all cases. Subsample only for exploration.
    random_state : None, int or numpy.random.Generator
        For the subsample.
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``method`` ("time-varying Cox"), ``outcome``, ``measure`` ("HR"),
        ``estimate`` (hazard ratio of the SPO), ``log_estimate``, ``se`` (of the log HR), CI columns,
        ``n`` (rows), ``events``, ``events_exposed``, ``note``, ``e_value`` and ``e_value_ci``.

    Notes
    -----
    Efron ties (as R ``coxph``); fitted with :class:`~attrition.survival.regression.CauseSpecificCox`
    (lifelines Newton--Raphson polished to R precision). Variance: cluster-robust sandwich (Lin & Wei
    1989; R ``coxph(..., cluster = <cluster>)``), valid with split rows and with the subsample weights.
    Coverage study (``tests/studies/spo_cox_coverage.py``): 400 datasets of 40,000 cases from
    :mod:`attrition.synthetic` at the national SPO prevalence (about 23 exposed charge and 74 exposed
    withdrawal events each), adjusted for ``risk``, stratified on force, all cases. Mean log-HR error:
    charge -0.019 (Monte Carlo SE 0.011; median error +0.003), withdrawal -0.004 (0.006), so no detectable
    bias. 95% CIs covered the true HR in 378/400 (charge) and 375/400 (withdrawal) datasets with the SE
    clustered on force (spo_effect's default; 94.1% pooled, MC SE 0.8%), 383 and 383 clustered on the
    case, 385 and 386 with the model-based SE. Smaller studies had suggested under-coverage (88-92% over
    100-150 datasets, and with a weighted control subsample the robust SEs miss the sampling variance:
    see ``max_cases``); the 400-dataset study shows the earlier shortfall was mostly Monte Carlo error.
    E-values (VanderWeele & Ding 2017) treat an outcome as rare if fewer than 15% of the analysed rows
    have it (charge); otherwise the common-outcome HR conversion is used (withdrawal).

    References
    ----------
    Prentice RL et al. (1978). The analysis of failure times in the presence of competing risks.
    Biometrics 34:541-554.
    Mantel N, Byar DP (1974). Evaluation of response-time data involving transient states. JASA 69:81-86.
    Suissa S (2008). Immortal time bias in pharmacoepidemiology. Am J Epidemiol 167:492-499.
    Lin DY, Wei LJ (1989). The robust inference for the Cox proportional hazards model. JASA 84:1074-1078.
    Borgan O, Langholz B, Samuelsen SO, Goldstein L, Pogoda J (2000). Exposure stratified case-cohort
    designs. Lifetime Data Analysis 6:39-58.
    """
    alpha = check_alpha(alpha)
    _check_outcomes(outcomes)
    std = {"case_id", "start", "stop", "spo", "event", "charge", "withdrawal", cluster, strata}
    if isinstance(data, pd.DataFrame) and {"start", "stop", "spo", "event"} <= set(data.columns):
        cp = data
        covs = [c for c in cp.columns if c not in std] if covariates is None else list(covariates)
        _require(cp, [*covs, cluster], "covariates and cluster")
        _check_treatment_variation(cp["spo"].to_numpy() > 0, "time-varying Cox")
        if strata is not None:
            _require_strata(cp, strata)
    else:
        covariates = ("risk", "financial_year") if covariates is None else covariates
        cases = _as_cases(data)
        cp = spo_counting_process(cases, covariates=covariates, exposure=exposure)
        covs = [c for c in cp.columns if c not in std]
        _check_treatment_variation(cp["spo"].to_numpy() > 0, "time-varying Cox")
        if cluster != "case_id":
            _require(cases, [cluster], "cluster")
        if strata is not None:
            _require_strata(cases, strata)
        by_case = cases.drop_duplicates("case_id").set_index("case_id")
        for col in dict.fromkeys(c for c in (cluster, strata) if c not in ("case_id", None)):
            cp[col] = cp["case_id"].map(by_case[col]).to_numpy()
    treated = cp.groupby("case_id", sort=False)["spo"].transform("max").to_numpy() > 0
    w = None
    if max_cases is not None:
        first = ~cp["case_id"].duplicated().to_numpy()
        rng = check_random_state(random_state)
        wc = _control_sample(treated[first], max_cases, rng)
        w = pd.Series(wc, index=cp["case_id"].to_numpy()[first]).reindex(cp["case_id"].to_numpy()).to_numpy()
    note = ("SPO in force from the day after the grant; time since suspect identification; "
            f"adjusted for {covs}" + (f", stratified on {strata}" if strata is not None else "")
            + f"; robust SE clustered on {'case' if cluster == 'case_id' else cluster}")
    if w is not None and not np.all(w == 1):
        note += "; exposure-stratified subsample, weighted"
    rows = _cox_rows(cp, outcomes, covs, entry_col="start", duration_col="stop", weights=w,
                     cluster_col=cluster, method="time-varying Cox", alpha=alpha, note=note, strata_col=strata)
    return _add_e_values(pd.DataFrame(rows), alpha)


def _require_strata(df: pd.DataFrame, strata: str) -> None:
    if strata not in df.columns:
        raise DataValidationError(
            f"strata={strata!r} is not a column of the data (available: {list(df.columns)[:30]}...). Give the "
            "column to stratify the Cox models on, or strata=None for one common baseline hazard."
        )


def _check_outcomes(outcomes) -> None:
    bad = [o for o in outcomes if o not in OUTCOME_CODES]
    if bad or not len(outcomes):
        raise ValueError(f"outcomes must be a non-empty subset of {list(OUTCOME_CODES)}, got {list(outcomes)!r}")


def _add_e_values(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    from .sensitivity import e_value

    lo, hi = ci_labels(alpha)
    ev, evci = [], []
    for _, r in df.iterrows():  # one row per estimate (a handful)
        measure = {"HR": "HR", "OR": "OR", "RR": "RR"}.get(r["measure"])
        if measure is None or not np.isfinite(r["estimate"]) or r["estimate"] <= 0:
            ev.append(np.nan)
            evci.append(np.nan)
            continue
        # rare outcome (< 15% by the end of follow-up, VanderWeele 2017): charge yes, withdrawal no
        rare = bool(r.get("events", np.nan) / r["n"] < 0.15) if r.get("n", 0) else True
        e = e_value(r["estimate"], r[lo], r[hi], measure=measure, rare=rare)
        ev.append(float(e.loc["E-value", "point"]))
        lim = e.loc["E-value", ["lower", "upper"]].dropna()
        evci.append(float(lim.iloc[0]) if len(lim) else np.nan)
    return df.assign(e_value=ev, e_value_ci=evci)


# ------------------------------------------------------------------------------------------------
# (d) naive comparison
# ------------------------------------------------------------------------------------------------
def naive_spo_comparison(cases, *, outcomes=("charge", "withdrawal"), exposure: str = "granted",
                         max_cases: int | None = None, random_state=None, alpha: float = 0.05) -> pd.DataFrame:
    """The naive comparison: *ever* SPO vs never, ignoring when it came and who got it.

    Shown only as the biased baseline ("naive (biased: immortal time, confounding by indication)").
    Two rows per outcome: the crude risk ratio of ever having the outcome (``measure = "RR"``,
    log-scale Wald CI, Katz et al. 1978) and the crude Cox hazard ratio with the ever-SPO flag fixed
    at suspect identification (``measure = "HR"``, robust SE). "Ever SPO" = an order granted (or
    applied, with ``exposure="applied"``) before the police outcome.

    Parameters and returns as :func:`spo_time_varying_cox` (no covariates: crude by design).

    Notes
    -----
    In :mod:`attrition.synthetic` both biases are visible: the SPO group is guaranteed to stay open until
    its grant (immortal time: every exit hazard looks lower, so the "ever SPO" HR is pulled below the
    truth for charge *and* withdrawal), and high-risk cases get SPOs far more often and are charged more
    (confounding by indication: the crude RR of being charged is pulled above the truth).

    References
    ----------
    Suissa S (2008). Immortal time bias in pharmacoepidemiology. Am J Epidemiol 167:492-499.
    Katz D, Baptista J, Azen SP, Pike MC (1978). Obtaining confidence intervals for the risk ratio in
    cohort studies. Biometrics 34:469-474.
    """
    alpha = check_alpha(alpha)
    _check_outcomes(outcomes)
    J = _journey(_as_cases(cases), exposure)
    ever = np.isfinite(J.spo)
    _check_treatment_variation(ever, "naive comparison")
    lo, hi = ci_labels(alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for outcome in outcomes:
        y = J.cause == outcome
        a, n1 = float(y[ever].sum()), float(ever.sum())
        b, n0 = float(y[~ever].sum()), float((~ever).sum())
        if a == 0 or b == 0:
            raise ConvergenceError(f"naive comparison: no {outcome} among the {'SPO' if a == 0 else 'non-SPO'} "
                                   "cases, so the risk ratio is 0 or infinite. Report the counts instead.")
        rr = (a / n1) / (b / n0)
        se = np.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n0)
        rows.append({"method": "naive ever-SPO", "outcome": outcome, "measure": "RR", "estimate": rr,
                     "log_estimate": np.log(rr), "se": se, lo: rr * np.exp(-z * se), hi: rr * np.exp(z * se),
                     "n": int(n1 + n0), "events": int(a + b), "events_exposed": int(a), "note": _NAIVE_NOTE})
    df = pd.DataFrame({"case_id": J.cases["case_id"].to_numpy(), "start": 0.0,
                       "stop": J.exit - J.suspect + 1.0, "spo": ever.astype(float), "event": J.cause})
    w = None
    if max_cases is not None:
        w = _control_sample(ever, max_cases, check_random_state(random_state))
    rows += _cox_rows(df, outcomes, [], entry_col=None, duration_col="stop", weights=w, cluster_col="case_id",
                      method="naive ever-SPO", alpha=alpha, note=_NAIVE_NOTE)
    return _add_e_values(pd.DataFrame(rows), alpha)


# ------------------------------------------------------------------------------------------------
# (a) landmark analysis
# ------------------------------------------------------------------------------------------------
def landmark_analysis(cases, landmarks=(14, 28, 56), *, outcomes=("charge", "withdrawal"),
                      covariates=("risk", "financial_year"), model: str = "cox", strata: str | None = "force",
                      exposure: str = "granted", max_cases: int | None = None, random_state=None,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Landmark analysis: among cases still open at day ``L`` after report, SPO by ``L`` vs not.

    At each landmark ``L`` (days since report) the analysis set is the cases with a suspect identified by
    ``L`` and no police outcome by ``L`` (still followed after ``L``). Exposure is fixed at the landmark:
    an SPO granted on or before day ``L`` (so in force for all of the follow-up after it). Later SPOs are
    ignored (they dilute the comparison slightly towards the null), which is the price of avoiding
    immortal time (Anderson, Cain & Gelber 1983; Dafni 2011).

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table or event log.
    landmarks : sequence of int, default (14, 28, 56)
    outcomes : sequence of {"charge", "withdrawal"}
    covariates : sequence of str
        Adjustment set (dummy-coded).
    model : {"cox", "logistic"}, default "cox"
        ``"cox"``: cause-specific Cox model of time from the landmark (HR, robust SE clustered on case).
        ``"logistic"``: logistic regression of the outcome ever happening after the landmark (OR,
        model-based SE; statsmodels GLM).
    strata : str or None, default "force"
        Cox model only: stratify on this case-table column (own baseline hazard per force), as
        :func:`spo_time_varying_cox`. ``None`` = one baseline. The logistic model does not use it (add
        the column to ``covariates`` to adjust for it there).
    exposure, max_cases, random_state, alpha
        As :func:`spo_time_varying_cox`.

    Returns
    -------
    pandas.DataFrame
        One row per (landmark, outcome): ``method`` ("landmark day L"), ``outcome``, ``measure``
        ("HR"/"OR"), ``estimate``, ``log_estimate``, ``se``, CI columns, ``n``, ``events``,
        ``events_exposed``, ``n_exposed``, ``landmark``, ``note``, E-values.

    Raises
    ------
    DataValidationError
        A landmark with no (or only) SPO cases still open; missing covariates; bad landmarks.

    References
    ----------
    Anderson JR, Cain KC, Gelber RD (1983). Analysis of survival by tumor response. J Clin Oncol 1:710-719.
    Dafni U (2011). Landmark analysis at the 25-year landmark point. Circ Cardiovasc Qual Outcomes 4:363-371.
    """
    alpha = check_alpha(alpha)
    _check_outcomes(outcomes)
    if model not in ("cox", "logistic"):
        raise ValueError(f"model must be 'cox' or 'logistic', got {model!r}")
    lms = np.asarray(list(landmarks), dtype=float)
    if lms.size == 0 or np.any(~np.isfinite(lms)) or np.any(lms < 0):
        raise ValueError(f"landmarks must be non-negative numbers of days, got {list(landmarks)!r}")
    J = _journey(_as_cases(cases), exposure)
    covariates = _check_covariates(J.cases, covariates)
    X = _dummies(J.cases, covariates).reset_index(drop=True)
    strata = strata if model == "cox" else None
    if strata is not None:
        _require_strata(J.cases, strata)
        S = J.cases[strata].to_numpy()
    rng = check_random_state(random_state)
    lo, hi = ci_labels(alpha)
    ids = J.cases["case_id"].to_numpy()
    out = []
    for L in lms:  # a handful of landmarks
        at = (J.suspect <= L) & (J.exit > L)
        spo_L = (J.spo <= L) & at
        label = f"landmark day {L:g}"
        if not at.any():
            raise DataValidationError(f"{label}: no case is still open with a suspect identified; drop this landmark.")
        try:
            _check_treatment_variation(spo_L[at], label)
        except DataValidationError as err:
            raise DataValidationError(f"{err} Choose later landmarks (SPOs take time) or drop {L:g}.") from None
        covs = [c for c in X.columns if np.ptp(X.loc[at, c].to_numpy()) > 0]
        sub = pd.concat([pd.DataFrame({"case_id": ids[at], "stop": J.exit[at] - L, "spo": spo_L[at].astype(float),
                                       "event": J.cause[at]}), X.loc[at, covs].reset_index(drop=True)], axis=1)
        note = (f"cases open at day {L:g} after report, SPO granted by then vs not; adjusted for {covs}")
        if strata is not None:
            sub["_strata"] = S[at]
            note += f", stratified on {strata}"
        if model == "cox":
            w = None if max_cases is None else _control_sample(spo_L[at], max_cases, rng)
            if w is not None and not np.all(w == 1):
                note += "; exposure-stratified subsample, weighted"
            rows = _cox_rows(sub, outcomes, covs, entry_col=None, duration_col="stop", weights=w,
                             cluster_col="case_id", method=label, alpha=alpha, note=note + "; robust SE",
                             extra={"landmark": L, "n_exposed": int(spo_L[at].sum())},
                             strata_col=None if strata is None else "_strata")
        else:
            rows = [_landmark_logit(sub, o, covs, alpha, label, note, L) for o in outcomes]
        out += rows
    return _add_e_values(pd.DataFrame(out), alpha)


def _landmark_logit(sub, outcome, covs, alpha, label, note, L) -> dict:
    import statsmodels.api as sm

    y = (sub["event"] == outcome).to_numpy(float)
    x = sub["spo"].to_numpy()
    for v in (0.0, 1.0):
        ys = y[x == v]
        if ys.min() == ys.max():
            raise ConvergenceError(
                f"{label}: every {'SPO' if v else 'non-SPO'} case has the same {outcome} outcome (perfect "
                "separation); the odds ratio is not finite. Use model='cox' or report counts.")
    Xd = np.column_stack([np.ones(len(sub)), x, sub[covs].to_numpy(float)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fit = sm.GLM(y, Xd, family=sm.families.Binomial()).fit()
        except Exception as err:  # statsmodels separation / convergence problems
            raise ConvergenceError(f"{label}: logistic model of {outcome} failed ({err}); merge sparse "
                                   "covariate levels or use model='cox'.") from None
    b, se = float(fit.params[1]), float(fit.bse[1])
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = ci_labels(alpha)
    return {"method": label, "outcome": outcome, "measure": "OR", "estimate": np.exp(b), "log_estimate": b,
            "se": se, lo: np.exp(b - z * se), hi: np.exp(b + z * se), "n": len(sub), "events": int(y.sum()),
            "events_exposed": int(y[x == 1].sum()), "landmark": L, "n_exposed": int(x.sum()),
            "note": note + "; outcome ever after the landmark (logistic)"}


# ------------------------------------------------------------------------------------------------
# (c) clone-censor-weight
# ------------------------------------------------------------------------------------------------
_CAUSE_CODE = {None: 0, "charge": 1, "withdrawal": 2, "other": 3}
# piecewise-constant day bins of the SPO-grant hazard (days since suspect identification)
_DAY_BREAKS = (0, 1, 4, 8, 15, 29, 57, 92, 183, 366)


def _cell_design(levels: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    return _dummies(levels, covariates).to_numpy(float) if covariates else np.zeros((len(levels), 0))


def _binomial_fit(y: np.ndarray, n: np.ndarray, X: np.ndarray, levels=()) -> np.ndarray:
    """Fitted probabilities of a binomial GLM on aggregated rows (successes ``y`` of ``n`` trials).

    Rows of a covariate level (``levels``: label arrays, one per covariate, shape (rows,)) or of a 0/1
    design column with no successes at all get probability 0 (the MLE limit) and are dropped before
    fitting, so the fit has no separation."""
    import statsmodels.api as sm

    p = np.zeros(len(y))
    use = n > 0
    for lab in levels:  # a handful of covariates
        tot = pd.Series(y[use]).groupby(lab[use]).sum()
        use &= ~np.isin(lab, tot.index[tot == 0].to_numpy())
    X = X[:, np.abs(X[use]).sum(axis=0) > 0] if use.any() else X
    # a 0/1 column whose rows all have zero successes: those rows have p = 0 (MLE limit)
    changed = True
    while changed:
        changed = False
        for j in range(X.shape[1]):  # loop over design columns (a handful)
            on = use & (X[:, j] != 0)
            if on.any() and y[on].sum() == 0 and np.all(np.isin(X[on, j], (0.0, 1.0))):
                use &= ~on
                changed = True
        X = X[:, np.abs(X[use]).sum(axis=0) > 0] if use.any() else X[:, :0]
    if not use.any() or y[use].sum() == 0:
        return p
    Xu = X[use]
    # drop columns that are linear combinations of others (e.g. a level present in no remaining row)
    rank_cols = []
    for j in range(Xu.shape[1]):
        trial = Xu[:, rank_cols + [j]]
        if np.linalg.matrix_rank(trial) == len(rank_cols) + 1:
            rank_cols.append(j)
    Xu = Xu[:, rank_cols]
    endog = np.column_stack([y[use], n[use] - y[use]])
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) in the deviance of saturated cells
        warnings.simplefilter("error", ConvergenceWarning)
        # statsmodels flags a saturated grouped-binomial fit (fitted = observed proportions) as "perfect
        # prediction"; true separation (a level with no successes) was removed above
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            fit = sm.GLM(endog, Xu, family=sm.families.Binomial()).fit()
            fitted = fit.predict(Xu)
        except (ConvergenceWarning, np.linalg.LinAlgError, ValueError) as err:
            raise ConvergenceError(
                f"censoring-weight model failed ({type(err).__name__}: {err}); use fewer or coarser "
                "ccw_covariates."
            ) from None
    if not np.all(np.isfinite(fitted)):
        raise ConvergenceError("censoring-weight model gave non-finite probabilities; use fewer or coarser "
                               "ccw_covariates.")
    p[use] = fitted
    return p


@dataclass
class _CCWData:
    cell: np.ndarray      # (n,) cell index of each case
    n_cells: int
    Xc: np.ndarray        # (n_cells, q) design of the cells
    T: np.ndarray         # (n,) int days since suspect identification (truncated at horizon)
    s: np.ndarray         # (n,) 0 censored, 1 charge, 2 withdrawal, 3 other
    G: np.ndarray         # (n,) SPO in force from day G + 1 (inf if not before the exit)
    grace: int
    horizon: int
    cell_labels: pd.DataFrame


def _ccw_data(J: _Journey, covariates, grace: int, horizon: int) -> _CCWData:
    T = np.floor(J.exit - J.suspect).astype(np.int64)
    codes = np.array([_CAUSE_CODE[c] for c in ("charge", "withdrawal", "other")])
    codes = np.select([J.cause == "charge", J.cause == "withdrawal", J.cause == "other"], codes, 0).astype(np.int64)
    over = T > horizon
    T = np.where(over, horizon, T)
    codes = np.where(over, 0, codes)
    G = np.floor(J.spo - J.suspect)
    G = np.where(G < T, G, np.inf)
    if covariates:
        keys = J.cases[covariates].astype(str).reset_index(drop=True)
        labels = keys.drop_duplicates().sort_values(covariates).reset_index(drop=True)
        cell = keys.merge(labels.reset_index(), on=covariates, how="left")["index"].to_numpy()
        for c in covariates:  # keep the original category order for the reference level
            if isinstance(J.cases[c].dtype, pd.CategoricalDtype):
                labels[c] = pd.Categorical(labels[c], categories=[str(v) for v in J.cases[c].cat.categories])
        Xc = _cell_design(labels, covariates)
    else:
        cell = np.zeros(len(T), np.int64)
        labels = pd.DataFrame(index=[0])
        Xc = np.zeros((1, 0))
    return _CCWData(cell=np.asarray(cell, np.int64), n_cells=len(labels), Xc=Xc, T=T, s=codes, G=G,
                    grace=int(grace), horizon=int(horizon), cell_labels=labels)


def _day_bins(horizon: int) -> np.ndarray:
    """Bin index of days -1 (baseline: SPO already in force at time zero), 0, ..., horizon - 1."""
    br = np.array([b for b in _DAY_BREAKS if b < horizon] + [horizon])
    days = np.arange(horizon)
    return np.concatenate([[0], 1 + np.searchsorted(br, days, side="right") - 1])


def _check_control(control: str) -> None:
    if control not in _CCW_CONTROLS:
        raise ValueError(f"control must be one of {_CCW_CONTROLS} (the comparison strategy), got {control!r}")


def _ccw_curves(D: _CCWData, m: np.ndarray, *, strict: bool, control: str):
    """Weighted Aalen-Johansen risk curves (2 arms x 2 causes x (horizon + 1) days) for multiplicities m.
    ``control``: "never" (no SPO during follow-up) or "not_by_grace" (no SPO in force by day g)."""
    C, H, g = D.n_cells, D.horizon, D.grace
    T, s, G, cell = D.T, D.s, D.G, D.cell
    # ---- arm "SPO by day g": P(SPO in force by g | cell, open after g)
    after = T > g
    treatedA = G < g
    nA = np.bincount(cell[after], weights=m[after], minlength=C)
    yA = np.bincount(cell[after & treatedA], weights=m[after & treatedA], minlength=C)
    empty = []  # covariate levels open after g with nobody treated by g: positivity fails
    for col in D.cell_labels.columns:  # loop over a handful of covariates
        lv = D.cell_labels[col].astype(str).to_numpy()
        tot, tr = pd.Series(nA).groupby(lv).sum(), pd.Series(yA).groupby(lv).sum()
        empty += [f"{col}={v}" for v in tot.index[(tot > 0) & (tr == 0)]]
    if yA.sum() == 0:
        empty.append("all cases")
    pA = _binomial_fit(yA, nA, np.column_stack([np.ones(C), D.Xc])) if not empty else np.zeros(C)
    if empty or np.any((nA > 0) & (pA < 1e-8)):
        if strict:
            raise DataValidationError(
                f"positivity fails for the 'SPO by day {g}' strategy: among cases still open after day {g}, none "
                f"with {empty or 'some covariate pattern'} had an SPO by then, so nobody can stand in for them. Use "
                "fewer/coarser ccw_covariates (e.g. ('risk',)), a longer grace period, or more data."
            )
        return None
    WA = np.ones((C, H + 1))
    WA[:, g + 1:] = np.where(pA > 0, 1.0 / np.where(pA > 0, pA, 1.0), 0.0)[:, None]
    TA = np.where(after & ~treatedA, g, T)
    sA = np.where(after & ~treatedA, 0, s)
    # ---- arm "no SPO": daily hazard of the SPO coming into force (pooled logistic, aggregated)
    bins = _day_bins(H)                         # (H + 1,) for day index -1..H-1
    nb = bins.max() + 1
    base_dev = G < 0
    keepB = ~base_dev
    last = np.minimum(np.minimum(T - 1, np.where(np.isfinite(G), G, H)), H - 1).astype(np.int64)
    ok = keepB & (last >= 0)
    grid = np.bincount(cell[ok] * H + last[ok], weights=m[ok], minlength=C * H).reshape(C, H)
    at_risk = grid[:, ::-1].cumsum(axis=1)[:, ::-1]                  # at risk of deviating on day j
    dev = keepB & np.isfinite(G)
    ydev = np.bincount(cell[dev] * H + G[dev].astype(np.int64), weights=m[dev], minlength=C * H).reshape(C, H)
    n0 = np.bincount(cell, weights=m, minlength=C)
    y0 = np.bincount(cell[base_dev], weights=m[base_dev], minlength=C)
    Ntab = np.column_stack([n0, at_risk]).reshape(-1)                # (C * (H + 1),) day -1..H-1
    Ytab = np.column_stack([y0, ydev]).reshape(-1)
    bin_of = np.tile(bins, C)
    Xb = np.column_stack([np.eye(nb)[bin_of], np.repeat(D.Xc, H + 1, axis=0)])
    lev = [np.repeat(D.cell_labels[c].astype(str).to_numpy(), H + 1) for c in D.cell_labels.columns]
    lam = _binomial_fit(Ytab, Ntab, Xb, lev).reshape(C, H + 1)
    if control == "not_by_grace":  # only an SPO in force by day g (granted on day < g) is a deviation
        lam = np.where(np.arange(-1, H)[None, :] < g, lam, 0.0)
    surv = np.cumprod(1.0 - lam, axis=1)                             # P(no deviation through day j)
    with np.errstate(divide="ignore"):
        WB = np.where(surv > 0, 1.0 / np.where(surv > 0, surv, 1.0), 0.0)   # weight at day k uses days < k
    devB = np.isfinite(G) & (G < T) & ((G < g) if control == "not_by_grace" else True)
    TB = np.where(devB, G, T).astype(np.int64)
    sB = np.where(devB, 0, s)
    out = np.zeros((2, 2, H + 1))
    for a, (Ta, sa, Wa, keep) in enumerate(((TA, sA, WA, np.ones(len(T), bool)), (TB, sB, WB, keepB))):
        out[a] = _aggregated_aj(Ta[keep], sa[keep], cell[keep], m[keep], Wa, C, H)
    return out, {"p_spo_by_grace": pA, "hazard_spo": lam, "weights_spo": WA, "weights_never": WB}


def _aggregated_aj(T, s, cell, m, W, C, H) -> np.ndarray:
    """Weighted Aalen-Johansen CIFs of causes 1 and 2 on days 0..H, weights depending on (cell, day) only.

    With ``N_ck`` at risk and ``D_ckj`` exits from cause j in cell c on day k, the weighted numbers are
    ``Y_k = sum_c W_ck N_ck`` and ``D_kj = sum_c W_ck D_ckj``; then ``S_k = prod_{i<=k} (1 - sum_j D_ij/Y_i)`` and
    ``F_j(k) = sum_{i<=k} S_{i-1} D_ij / Y_i``. This is exactly :func:`attrition.survival.cumulative_incidence`
    on the person-day rows ``(k-1, k]`` with row weights ``W[cell, k]`` (checked in the tests), in O(n + C H).
    """
    K = 4
    ex = np.bincount((cell * (H + 1) + T) * K + s, weights=m, minlength=C * (H + 1) * K).reshape(C, H + 1, K)
    N = ex.sum(axis=2)[:, ::-1].cumsum(axis=1)[:, ::-1]            # at risk at day k (T >= k)
    Y = (W * N).sum(axis=0)                                        # (H + 1,)
    D = (W[:, :, None] * ex[:, :, 1:]).sum(axis=0)                 # (H + 1, 3)
    h = np.zeros_like(D)
    np.divide(D, Y[:, None], out=h, where=Y[:, None] > 0)
    S = np.cumprod(1.0 - h.sum(axis=1))
    Sprev = np.concatenate(([1.0], S[:-1]))
    F = np.cumsum(Sprev[:, None] * h, axis=0)
    return F[:, :2].T


def clone_censor_weight(cases, *, grace: int = 28, horizon: int = 180, covariates=("risk",),
                        control: str = "not_by_grace", n_boot: int = 200, random_state=None,
                        cluster: str | None = None, max_cases: int | None = None, exposure: str = "granted",
                        alpha: float = 0.05, progress: bool = False):
    """Sequential target-trial emulation by clone-censor-weight: SPO within ``grace`` days vs not (or never).

    Eligibility and time zero: suspect identified (day 0 = the identification day). Every eligible case
    is cloned into two arms and each clone is censored when its own history deviates from its arm's
    strategy:

    * **"SPO by day g"**: the SPO comes into force by day ``grace`` (its natural timing before that); a
      clone still open with no SPO at the end of day ``grace`` is censored then. After ``grace`` the
      clones that had an SPO are weighted by ``1 / P(SPO by day g | covariates, open after g)`` (a
      logistic model), so they stand in for those censored (Maringe et al. 2020). In a model whose
      hazards depend on the SPO only through whether it is in force (as :mod:`attrition.synthetic`),
      this is the risk had every SPO come into force at ``min(natural time, grace)``.
    * **"no SPO by day g"** (``control="not_by_grace"``, the default; the comparison of the timeliness
      recommendation): no SPO in force by day ``grace``; a clone is censored on the day its SPO is granted
      if that is before day ``grace`` (at time zero if it was already in force), and follows its natural
      course after ``grace`` (a later SPO is allowed). **"no SPO"** (``control="never"``): no SPO in
      force during follow-up; a clone is censored on the day its SPO is granted, whenever that is. Weights
      ``1 / prod_j (1 - lambda_j(x))`` over the days ``j`` on which a grant would be a deviation, from a
      pooled logistic model of the daily hazard ``lambda_j`` of an SPO grant among open, untreated cases,
      with piecewise-constant day terms (bins at days 0, 1-3, 4-7, 8-14, 15-28, 29-56, ...) plus a baseline
      term for orders already in force at time zero (Robins & Finkelstein 2000; Hernan & Robins 2016).
      The "no SPO by day g" arm stands for a population in which the orders of the first ``grace`` days
      did not happen and later ones follow the course seen in cases like them (same covariates) without
      an early order.

    Risks are weighted Aalen--Johansen cumulative incidences (competing exits). Weights depend only on
    the covariate cell and the day, so the estimator is computed on (cell, day) counts; it equals
    :func:`attrition.survival.cumulative_incidence` on person-day rows with those weights.

    Coverage (``tests/studies/spo_landmark_ccw_coverage.py``; percentile bootstrap, 200 replicates): at
    215,000 simulated cases (about 150,000 eligible, the size :func:`spo_effect` uses on national data)
    the 95% intervals covered the true risks, RD and RR in 92-94% of 100 datasets, without bias. With
    fewer cases the SPO arm of a rare covariate cell (standard risk: few SPOs, weights of several
    hundred) can have no outcome after the grace period; the bootstrap then cannot vary it and the
    interval misses (charge: 90.5% coverage at 100,000 cases, 82.5% at 40,000). The function warns when
    that happens.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table or event log.
    grace : int, default 28
        Grace period (days since suspect identification) of the "SPO by day g" strategy.
    horizon : int, default 180
        Follow-up end (days); risks are reported at ``horizon`` and curves on days 0..horizon.
    covariates : sequence of str, default ("risk",)
        Categorical covariates of the censoring models (all combinations form cells). Adding
        ``"force"`` removes force confounding but needs SPOs in every force (positivity).
    control : {"not_by_grace", "never"}, default "not_by_grace"
        Comparison strategy: no SPO in force by day ``grace`` (later ones allowed), or no SPO at all.
    n_boot : int, default 200
        Bootstrap replicates (cases resampled with replacement, or whole clusters with ``cluster``);
        weights are re-estimated in every replicate. 0 gives point estimates only.
    random_state : None, int or numpy.random.Generator
    cluster : str, optional
        Column to resample whole clusters (e.g. ``"force"``).
    max_cases : int, optional
        Use a simple random sample of this many eligible cases (speed on national data).
    exposure : {"granted", "applied"}
    alpha : float, default 0.05
    progress : bool, default False
        Show a tqdm bar of the bootstrap replicates on stderr (never changes a number: the resamples are
        drawn before the loop).

    Returns
    -------
    estimates : pandas.DataFrame
        Per outcome ("charge", "withdrawal"): rows with ``measure`` "risk (SPO by day g)",
        "risk (no SPO by day g)" (or "risk (no SPO)" with ``control="never"``), "RD" and "RR" at
        ``horizon``; ``estimate``, ``se`` (bootstrap SD), percentile
        bootstrap CI, ``method`` ("clone-censor-weight"), ``note``, and E-values of the RR row.
    curves : pandas.DataFrame
        ``time`` (days since suspect identification), ``strategy``, ``outcome``, ``risk``, ``lower``,
        ``upper`` (pointwise percentile bootstrap band) -- ready for ``plot_risk_curves`` (one outcome
        at a time).

    Raises
    ------
    DataValidationError
        No or only SPO cases; positivity failure (a covariate cell open after the grace period with no
        SPO by then); ``horizon <= grace``.

    References
    ----------
    Hernan MA, Robins JM (2016). Using big data to emulate a target trial when a randomized trial is not
    available. Am J Epidemiol 183:758-764.
    Maringe C, Benitez Majano S, Exarchakou A, et al. (2020). Reflection on modern methods: trial
    emulation in the presence of immortal-time bias. Int J Epidemiol 49:1719-1729.
    Robins JM, Finkelstein DM (2000). Correcting for noncompliance and dependent censoring in an AIDS
    clinical trial with inverse probability of censoring weighted (IPCW) log-rank tests. Biometrics
    56:779-788.
    """
    alpha = check_alpha(alpha)
    grace, horizon = int(grace), int(horizon)
    _check_control(control)
    if grace < 0 or horizon <= grace:
        raise ValueError(f"need 0 <= grace < horizon, got grace={grace}, horizon={horizon}")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    rng = check_random_state(random_state)
    J = _journey(_as_cases(cases), exposure)
    covariates = _check_covariates(J.cases, covariates)
    if cluster is not None:
        _check_covariates(J.cases, [cluster])
    if max_cases is not None and len(J.spo) > max_cases:
        keep = np.sort(rng.choice(len(J.spo), size=int(max_cases), replace=False))
        J = _Journey(cases=J.cases.iloc[keep], suspect=J.suspect[keep], exit=J.exit[keep], cause=J.cause[keep],
                     spo=J.spo[keep])
    D = _ccw_data(J, covariates, grace, horizon)
    _check_treatment_variation(np.isfinite(D.G) & (D.G < horizon), "clone-censor-weight")
    n = len(D.T)
    est, info = _ccw_curves(D, np.ones(n), strict=True, control=control)
    boots = []
    n_failed = 0
    if int(n_boot) > 0:
        if cluster is None:
            draws = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_boot)).astype(float)
        else:
            cl, uniq = pd.factorize(J.cases[cluster], sort=True)
            k = len(uniq)
            cdraw = rng.multinomial(k, np.full(k, 1.0 / k), size=int(n_boot)).astype(float)
            draws = cdraw[:, cl]
        replicates = range(int(n_boot))
        if progress:  # a text bar on stderr (tqdm.auto would need ipywidgets in notebooks)
            from tqdm import tqdm

            replicates = tqdm(replicates, desc="clone-censor-weight bootstrap", leave=False)
        for b in replicates:  # bootstrap replicates (each fully vectorised)
            try:
                r = _ccw_curves(D, draws[b], strict=False, control=control)
            except ConvergenceError:
                r = None
            if r is None:
                n_failed += 1
            else:
                boots.append(r[0])
    boots = np.asarray(boots) if boots else np.zeros((0, 2, 2, horizon + 1))
    lo_name, hi_name = ci_labels(alpha)
    qlo, qhi = alpha / 2, 1 - alpha / 2
    strat = [f"SPO by day {grace}", f"no SPO by day {grace}" if control == "not_by_grace" else "no SPO"]
    wmax = float(info["weights_spo"].max())
    note = (f"eligible: suspect identified (n={n}); time zero = identification day; censoring models on "
            f"{covariates or 'nothing'}; largest weight in the SPO arm {wmax:.0f}; {len(boots)} bootstrap "
            "replicates")
    if n_failed:
        note += f" ({n_failed} dropped: positivity or convergence failed in the resample)"
    # After the grace period the SPO arm of a covariate cell is its clones with an SPO by then, weighted by
    # 1 / P(SPO by g | cell). If none of them has an outcome, that cell's risk after g is 0 in every bootstrap
    # replicate, so the interval is too short and usually lies below the truth (in simulation at national SPO
    # prevalence: every such dataset missed; 93% coverage in the others).
    trA = (D.T > grace) & (D.G < grace)
    open_after = np.bincount(D.cell[D.T > grace], minlength=D.n_cells) > 0
    sparse = []
    for j, outcome in enumerate(("charge", "withdrawal")):
        ev = np.bincount(D.cell[trA & (D.s == j + 1)], minlength=D.n_cells)
        cells = [", ".join(f"{c}={v}" for c, v in row.items()) or "all cases"
                 for (_, row), e, o in zip(D.cell_labels.iterrows(), ev, open_after) if o and e == 0]
        if cells:
            sparse.append(f"{outcome} ({'; '.join(cells)})")
    if sparse:
        msg = ("no outcome after the grace period among the SPO-by-day-g clones of " + " and ".join(sparse)
               + ": the bootstrap cannot vary those cells, so the SPO-arm intervals are too short")
        note += "; " + msg
        warnings.warn(f"clone_censor_weight: {msg}. Use more data, fewer ccw_covariates or a shorter grace period.",
                      DataQualityWarning, stacklevel=2)
    rows, curves = [], []
    for j, outcome in enumerate(("charge", "withdrawal")):
        r1, r0 = est[0, j, horizon], est[1, j, horizon]
        b1, b0 = boots[:, 0, j, horizon], boots[:, 1, j, horizon]
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = {f"risk ({strat[0]})": (r1, b1), f"risk ({strat[1]})": (r0, b0), "RD": (r1 - r0, b1 - b0),
                    "RR": (r1 / r0 if r0 > 0 else np.nan, np.where(b0 > 0, b1 / np.where(b0 > 0, b0, 1), np.nan))}
        for measure, (e, bb) in vals.items():
            bb = bb[np.isfinite(bb)]
            rows.append({"method": "clone-censor-weight", "outcome": outcome, "measure": measure, "estimate": e,
                         "log_estimate": np.log(e) if measure == "RR" and e > 0 else np.nan,
                         "se": float(np.std(bb, ddof=1)) if len(bb) > 1 else np.nan,
                         lo_name: float(np.quantile(bb, qlo)) if len(bb) > 1 else np.nan,
                         hi_name: float(np.quantile(bb, qhi)) if len(bb) > 1 else np.nan,
                         "n": n, "horizon": horizon, "note": note})
        for a in range(2):
            band = boots[:, a, j, :]
            curves.append(pd.DataFrame({
                "time": np.arange(horizon + 1), "strategy": strat[a], "outcome": outcome, "risk": est[a, j],
                "lower": np.quantile(band, qlo, axis=0) if len(band) > 1 else est[a, j],
                "upper": np.quantile(band, qhi, axis=0) if len(band) > 1 else est[a, j]}))
    return _add_e_values(pd.DataFrame(rows), alpha), pd.concat(curves, ignore_index=True)


def true_ccw_risks(case_truth: pd.DataFrame, truth: dict, *, grace: int = 28, horizon: int = 180,
                   case_ids=None, control: str = "not_by_grace", cells=("risk",)) -> pd.DataFrame:
    """True risks of charge and withdrawal under the two CCW strategies, from the simulation's structure.

    For every case with a suspect, the police stage of :mod:`attrition.synthetic` is a competing-risks
    model with constant cause-specific hazards ``r0`` that switch to ``r1`` (charge x ``spo_hr_charge``,
    withdrawal x ``spo_hr_withdrawal``) when the SPO comes into force at ``d`` days after suspect
    identification, so

    ``P_k(t) = r0_k/R0 (1 - exp(-R0 min(t, d))) + 1{t > d} exp(-R0 d) r1_k/R1 (1 - exp(-R1 (t - d)))``.

    "SPO by day g": ``d = min(natural in-force day, g + 0.5)``; "no SPO": ``d = inf``. Evaluated at
    ``t = horizon + 0.5`` (observed day counts floor both dates, so an exit on day ``horizon`` happens
    on average half a day later; likewise the estimator's switch at the end of day ``g``) and averaged
    over ``case_ids`` (default: every case with a suspect).

    "No SPO by day g" (``control="not_by_grace"``) does not fix ``d`` for a case whose natural order
    came by day g; the clone-censor-weight estimand replaces such a case by the cases of its covariate
    cell without an early order, on their natural course. Its truth is therefore
    ``sum_c P(c) mean{P_k(t; d_i) : i in c, natural d_i > g}`` over the cells ``c`` of ``cells``
    (the estimator's ``covariates``): the value the estimator targets when those covariates capture
    the confounding of the early orders.

    Parameters
    ----------
    case_truth : pandas.DataFrame
        ``SyntheticData.case_truth``.
    truth : dict
        ``SyntheticData.truth`` (for ``spo_hr_charge`` and ``spo_hr_withdrawal``).
    grace, horizon : int
    case_ids : array-like, optional
        Cases to average over (e.g. the eligible cases of the analysed data).
    control : {"never", "not_by_grace"}, default "not_by_grace"
        Comparison strategy, as in :func:`clone_censor_weight`.
    cells : sequence of str, default ("risk",)
        Columns of ``case_truth`` forming the cells of the "not_by_grace" truth.

    Returns
    -------
    pandas.DataFrame
        Index ``["charge", "withdrawal"]``; columns ``risk_spo``, ``risk_never`` (the comparison
        strategy's risk, whichever ``control``), ``rd``, ``rr``.

    Notes
    -----
    ``case_truth.spo_in_force_day`` is infinite for the few cases whose need was identified but whose
    application came after the police outcome; for them the switch is taken at ``g`` (an approximation
    with a negligible effect on the average).
    """
    ct = case_truth
    if case_ids is not None:
        ct = ct[ct["case_id"].isin(np.asarray(case_ids))]
    ct = ct[ct["suspect"].to_numpy(bool)]
    causes = ["charge", "ho15", "ho16", "ho21", "ho8", "ho17", "ho20"]
    r0 = ct[[f"hazard_{c}" for c in causes]].to_numpy(float)
    r1 = r0.copy()
    r1[:, 0] *= truth["spo_hr_charge"]
    r1[:, 2] *= truth["spo_hr_withdrawal"]
    R0, R1 = r0.sum(1), r1.sum(1)
    _check_control(control)
    t = horizon + 0.5
    d_nat = ct["spo_in_force_day"].to_numpy(float) - ct["suspect_day"].to_numpy(float)
    late = d_nat > grace
    if control == "not_by_grace":
        cell = pd.MultiIndex.from_frame(ct[list(cells)]).factorize()[0] if cells else np.zeros(len(ct), np.int64)
        n_cell = np.bincount(cell)
        n_late = np.bincount(cell[late], minlength=len(n_cell))
        if (n_late == 0).any():
            bad = ct[list(cells)].iloc[np.flatnonzero(np.isin(cell, np.flatnonzero(n_late == 0)))[:1]]
            raise DataValidationError(
                f"every case of the cell {', '.join(f'{k}={v}' for k, v in bad.iloc[0].items())} has its SPO in "
                f"force by day {grace}: no case stands in for it under 'no SPO by day {grace}', so that truth is "
                "undefined (a positivity failure); use coarser cells or control='never'."
            )
        # each case of a cell counts P(c) / #(late cases of c), spread over the late cases
        w_ctrl = np.where(late, (n_cell / np.maximum(n_late, 1))[cell], 0.0)
        d_ctrl = np.where(late, d_nat, np.inf)
    else:
        w_ctrl, d_ctrl = np.ones(len(ct)), np.full(len(ct), np.inf)
    out = {}
    for name, d, w in (("risk_spo", np.clip(np.minimum(d_nat, grace + 0.5), 0, None), np.ones(len(ct))),
                       ("risk_never", d_ctrl, w_ctrl)):
        dd = np.minimum(d, t)
        first = np.exp(-R0 * dd)
        p = {}
        for k, label in ((0, "charge"), (2, "withdrawal")):
            pk = r0[:, k] / R0 * (1 - first)
            post = np.where(t > d, first * r1[:, k] / R1 * (1 - np.exp(-R1 * np.clip(t - d, 0, None))), 0.0)
            p[label] = float(np.sum(w * (pk + post)) / np.sum(w))
        out[name] = p
    df = pd.DataFrame(out)
    df["rd"] = df["risk_spo"] - df["risk_never"]
    df["rr"] = df["risk_spo"] / df["risk_never"]
    return df


# ------------------------------------------------------------------------------------------------
# all together
# ------------------------------------------------------------------------------------------------
class SPOEffect(tuple):
    """``(estimates, risk_curves)`` returned by :func:`spo_effect` (unpack it or use the attributes)."""

    def __new__(cls, estimates: pd.DataFrame, risk_curves: pd.DataFrame):
        return super().__new__(cls, (estimates, risk_curves))

    @property
    def estimates(self) -> pd.DataFrame:
        return self[0]

    @property
    def risk_curves(self) -> pd.DataFrame:
        return self[1]


def spo_effect(events_or_cases, *, outcomes=("charge", "withdrawal"), covariates=("risk", "financial_year"),
               landmarks=(14, 28, 56), grace: int = 28, horizon: int = 180, ccw_covariates=("risk",),
               ccw_control: str = "not_by_grace", n_boot: int = 200, random_state=None,
               cox_cluster: str | None = "force",
               cox_strata: str | None = "force",
               max_cox_cases: int | None = None,
               max_ccw_cases: int | None = 150_000, exposure: str = "granted", alpha: float = 0.05,
               progress: bool = False) -> SPOEffect:
    """Effect of an SPO on charge and victim withdrawal by four methods, side by side.

    Runs :func:`naive_spo_comparison` (labelled biased), :func:`landmark_analysis`,
    :func:`spo_time_varying_cox` and :func:`clone_censor_weight` on the same cases.

    Parameters
    ----------
    events_or_cases : pandas.DataFrame
        Event log (converted with :func:`attrition.data.to_cases`) or case table.
    outcomes : sequence of {"charge", "withdrawal"}
    covariates : sequence of str
        Adjustment set of the landmark and time-varying Cox models.
    landmarks : sequence of int
        Landmark days after report.
    grace, horizon, ccw_covariates, n_boot
        See :func:`clone_censor_weight`.
    ccw_control : {"not_by_grace", "never"}, default "not_by_grace"
        Comparison strategy of clone-censor-weight (its ``control``): no SPO in force by day ``grace``,
        or no SPO at all.
    random_state : None, int or numpy.random.Generator
        Seeds the subsamples and the bootstrap (the same seed gives identical output).
    cox_cluster : str or None, default "force"
        Cluster of the time-varying Cox robust variance (see :func:`spo_time_varying_cox`); falls back to
        the case when the column is absent or None.
    cox_strata : str or None, default "force"
        Stratification of the landmark and time-varying Cox models (see :func:`spo_time_varying_cox`);
        unstratified when the column is absent or None (the ``note`` column says which).
    max_cox_cases : int or None, default None
        Exposure-stratified subsample for the Cox models (all SPO cases kept; others sampled and
        weighted); ``None`` = all cases (about 10 s per model set on the 360,000-case national data). The
        subsampled standard errors leave out the sampling of controls and are too small (see
        :func:`spo_time_varying_cox`).
    max_ccw_cases : int or None, default 150_000
        Random subsample of eligible cases for clone-censor-weight.
    exposure : {"granted", "applied"}
    alpha : float
    progress : bool, default False
        Show a tqdm bar of the clone-censor-weight bootstrap on stderr (no number changes).

    Returns
    -------
    SPOEffect
        ``(estimates, risk_curves)``. ``estimates``: tidy, one row per (method, outcome, measure) with
        ``estimate``, ``se``, CI columns, ``note``, E-values for HR/OR/RR rows -- filter a measure and
        pass it to :func:`~attrition.effects.plotting.forest_plot` (``label="method"``).
        ``risk_curves``: CCW curves, for :func:`~attrition.effects.plotting.plot_risk_curves` after
        selecting one ``outcome``.

    Examples
    --------
    >>> from attrition.synthetic import simulate
    >>> d = simulate(n_cases=100_000, random_state=1)  # doctest: +SKIP
    >>> est, curves = spo_effect(d.cases, n_boot=50, random_state=1)  # doctest: +SKIP
    >>> est.query("measure == 'HR'")[["method", "outcome", "estimate"]]  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    rng = check_random_state(random_state)
    seeds = rng.spawn(4)
    cases = _as_cases(events_or_cases)
    strata = cox_strata if cox_strata in cases.columns else None
    parts = [
        naive_spo_comparison(cases, outcomes=outcomes, exposure=exposure, max_cases=max_cox_cases,
                             random_state=seeds[0], alpha=alpha),
        landmark_analysis(cases, landmarks, outcomes=outcomes, covariates=covariates, exposure=exposure,
                          strata=strata, max_cases=max_cox_cases, random_state=seeds[1], alpha=alpha),
        spo_time_varying_cox(cases, outcomes=outcomes, covariates=covariates, exposure=exposure, strata=strata,
                             cluster=cox_cluster if cox_cluster in cases.columns else "case_id",
                             max_cases=max_cox_cases, random_state=seeds[2], alpha=alpha),
    ]
    ccw, curves = clone_censor_weight(cases, grace=grace, horizon=horizon, covariates=ccw_covariates,
                                      control=ccw_control, n_boot=n_boot, random_state=seeds[3],
                                      max_cases=max_ccw_cases, exposure=exposure, alpha=alpha, progress=progress)
    parts.append(ccw[ccw["outcome"].isin(list(outcomes))])
    curves = curves[curves["outcome"].isin(list(outcomes))].reset_index(drop=True)
    lo, hi = ci_labels(alpha)
    est = pd.concat(parts, ignore_index=True)
    first = ["method", "outcome", "measure", "estimate", "se", lo, hi, "note"]
    est = est[first + [c for c in est.columns if c not in first]]
    return SPOEffect(est, curves)


def spo_effect_on_data(cases: pd.DataFrame, *, min_clusters: int = 20, **kwargs):
    """:func:`spo_effect` as a careful analyst runs it on whatever extract is at hand, saying what changed.

    The full adjustment set first (``risk``, ``financial_year``; ``risk`` in the clone--censor--weight
    models); covariates absent from the data or constant in it are left out; if a model still cannot be
    fitted because a covariate separates an outcome (an error naming it), the covariates are dropped one at a
    time (``risk`` first) and the fit is tried again; an error that names no covariate (e.g. no charge while
    an SPO is in force) ends the attempts. With fewer than
    ``min_clusters`` forces, standard errors are not clustered by force (too few clusters for a sandwich).

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table.
    min_clusters : int, default 20
    **kwargs
        Passed to :func:`spo_effect` (e.g. ``random_state``, ``n_boot``); ``covariates``,
        ``ccw_covariates`` and ``cox_cluster`` are chosen here.

    Returns
    -------
    result : SPOEffect or None
        None when even the unadjusted models cannot be fitted (the last error is in ``notes``).
    notes : list of str
        What was left out or changed, one sentence each, for the notebook to print.
    """
    from ..design import usable_covariates
    from ..exceptions import ConvergenceError

    notes = []
    _, kept, why = usable_covariates(cases, ["risk", "financial_year"], min_cases=1)
    notes += why
    n_forces = int(cases["force"].nunique())
    cluster = "force" if n_forces >= min_clusters else None
    if cluster is None:
        notes.append(f"{n_forces} force(s) only: Cox standard errors are not clustered by force")
    attempts = [kept[i:] for i in range(len(kept) + 1)]  # risk first, then financial_year, then none
    last = None
    for covs in attempts:
        try:
            result = spo_effect(cases, covariates=tuple(covs), ccw_covariates=tuple(c for c in covs if c == "risk"),
                                cox_cluster=cluster, **kwargs)
        except (ConvergenceError, DataValidationError) as err:
            last = str(err).splitlines()[0]
            blamed = [c for c in covs if c in last]
            if not blamed:  # not a covariate's fault (e.g. no event among SPO cases): fewer covariates won't help
                break
            notes.append(f"`{blamed[0]}` left out of the SPO models: {last}")
            continue
        return result, notes
    notes.append(f"the SPO models cannot be fitted on these data: {last}")
    return None, notes

