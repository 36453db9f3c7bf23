"""Breaches of protective orders as recurrent events.

Works on the event log (``case_id``, ``event``, ``timestamp``; rows with ``event ==
"order_breach"`` are breaches) and the case table of :func:`attrition.data.to_cases`
(``case_id``, ``report_date``, ``duration`` = days of follow-up, ``n_breaches``,
``ever_recorded_stalking``). Each case is followed from its report (day 0) for ``duration`` days
(while it is open) or, with ``as_of=``, to the extraction date; a breach counts if it falls in
``[0, follow-up]`` days.

* :func:`breach_rate` -- breaches per 100 case-years, exact Poisson and cluster-robust CIs;
* :func:`time_to_breach` -- probability of a k-th breach by time t (Kaplan--Meier type);
* :func:`repeat_breach_recording` -- share of cases with repeated breaches recorded as stalking;
* :func:`mean_cumulative_function`, :func:`time_to_kth_event` -- the same ideas for any recurrent
  events given as generic (id, time, event) rows (robust Lawless--Nadeau / IJ standard errors).

Repeated breaching is a course of conduct: by the second breach a separate stalking offence
should normally have been recorded, which is what :func:`repeat_breach_recording` audits.
Everything is vectorised over cases (groupby / bincount); only the handful of groups in ``by``
is looped over inside pandas.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import check_alpha, ci_labels, wilson_interval
from ..exceptions import DataQualityWarning, DataValidationError

__all__ = ["breach_rate", "time_to_breach", "repeat_breach_recording", "kth_breach_times", "exact_poisson_ci",
           "wilson_ci", "BREACH_EVENT", "mean_cumulative_function", "time_to_kth_event"]

#: Event name of a breach in the event log.
BREACH_EVENT = "order_breach"
_DAYS_PER_YEAR = 365.25
_DAY = np.timedelta64(1, "D")


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _need(df, name: str, cols) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"{name} must be a pandas DataFrame, not {type(df).__name__}.")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{name} lacks column(s) {missing}; it has {list(df.columns)}. "
            + ("Build the case table with attrition.data.to_cases(events)." if name == "cases" else "")
        )


def _by_list(by, cases) -> list:
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    _need(cases, "cases", by)
    for c in by:
        if cases[c].isna().any():
            bad = cases.loc[cases[c].isna(), "case_id"].head(5).tolist() if "case_id" in cases else []
            raise DataValidationError(
                f"by column {c!r} has {int(cases[c].isna().sum())} missing value(s) (e.g. case_id {bad}); "
                "fill them (e.g. 'unknown') so no case is dropped from its group."
            )
    return by


def _check_cases(cases, extra=()) -> None:
    _need(cases, "cases", ["case_id", "report_date", "duration", *extra])
    dup = cases["case_id"].duplicated()
    if dup.any():
        raise DataValidationError(
            f"cases has {int(dup.sum())} duplicated case_id(s) (e.g. {cases.loc[dup, 'case_id'].head(5).tolist()}); "
            "the case table needs one row per case."
        )
    d = pd.to_numeric(cases["duration"], errors="coerce")
    bad = d.isna() | ~np.isfinite(d.fillna(0)) | (d < 0)
    if bad.any():
        raise DataValidationError(
            f"cases.duration has {int(bad.sum())} missing, infinite or negative value(s) (e.g. case_id "
            f"{cases.loc[bad, 'case_id'].head(5).tolist()}); follow-up must be >= 0 days."
        )
    if not pd.api.types.is_datetime64_any_dtype(cases["report_date"]):
        raise DataValidationError(f"cases.report_date must be datetime64, got {cases['report_date'].dtype}; "
                                  "use pd.to_datetime(...).")
    if cases["report_date"].isna().any():
        bad = cases["report_date"].isna()
        raise DataValidationError(
            f"cases.report_date is missing for {int(bad.sum())} case(s) (e.g. case_id "
            f"{cases.loc[bad, 'case_id'].head(5).tolist()})."
        )


def _follow_up(cases, as_of) -> np.ndarray:
    """Follow-up days per case (n,): ``duration``, or report to ``as_of`` if given."""
    if as_of is None:
        return pd.to_numeric(cases["duration"]).to_numpy(dtype=float)
    try:
        end = pd.Timestamp(as_of)
    except (TypeError, ValueError) as err:
        raise DataValidationError(f"as_of must be a date, got {as_of!r} ({err}).") from None
    days = (end.to_datetime64() - cases["report_date"].to_numpy()) / _DAY
    if (days < 0).any():
        bad = days < 0
        raise DataValidationError(
            f"{int(bad.sum())} case(s) are reported after as_of={end.date()} (e.g. case_id "
            f"{cases.loc[bad, 'case_id'].head(5).tolist()}); use the extraction date of the data."
        )
    return days


def _breach_days(events, cases, outside: str, follow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breaches of the cases in ``cases`` within follow-up: (case position (m,), day since report (m,)).

    Sorted by case position then day (stable).
    """
    _need(events, "events", ["case_id", "event", "timestamp"])
    if outside not in ("warn", "drop"):
        raise ValueError(f"outside must be 'warn' or 'drop', got {outside!r}")
    br = events.loc[events["event"] == BREACH_EVENT, ["case_id", "timestamp"]]
    if not pd.api.types.is_datetime64_any_dtype(br["timestamp"]):
        raise DataValidationError(f"events.timestamp must be datetime64, got {events['timestamp'].dtype}.")
    if br["timestamp"].isna().any():
        bad = br["timestamp"].isna()
        raise DataValidationError(
            f"{int(bad.sum())} order_breach event(s) have no timestamp (e.g. case_id "
            f"{br.loc[bad, 'case_id'].head(5).tolist()})."
        )
    # events of cases not in `cases` are not part of this analysis (lets users pass a subset of cases)
    pos = pd.Index(cases["case_id"]).get_indexer(br["case_id"])
    keep = pos >= 0
    pos = pos[keep]
    ts = br["timestamp"].to_numpy()[keep]
    report = cases["report_date"].to_numpy()[pos]
    day = (ts - report) / _DAY
    dur = follow[pos]
    before = day < 0
    if before.any():
        ids = cases["case_id"].to_numpy()[pos[before]][:5].tolist()
        raise DataValidationError(
            f"{int(before.sum())} breach(es) are dated before the case's report_date (e.g. case_id {ids}); "
            "a breach cannot precede the report. Fix the timestamps or the report dates."
        )
    after = day > dur
    if after.any() and outside == "warn":
        ids = cases["case_id"].to_numpy()[pos[after]][:5].tolist()
        warnings.warn(
            f"{int(after.sum())} breach(es) fall after the end of their case's follow-up (e.g. case_id {ids}) and "
            "are not counted, so numerator and exposure match. Orders outlive the case: to follow every case to "
            "the extraction date pass as_of=cases.attrs['as_of']; or pass outside='drop' to silence this.",
            DataQualityWarning,
            stacklevel=3,
        )
    pos, day = pos[~after], day[~after]
    order = np.lexsort((day, pos))
    return pos[order], day[order]


def _group_codes(cases, by):
    if not by:
        return np.zeros(len(cases), dtype=np.int64), None
    codes, uniques = pd.MultiIndex.from_frame(cases[by]).factorize(sort=True) if len(by) > 1 else \
        pd.factorize(cases[by[0]], sort=True)
    if len(by) > 1:
        keys = pd.DataFrame(list(uniques), columns=by)
    else:
        keys = pd.DataFrame({by[0]: uniques})
    return codes, keys


# --------------------------------------------------------------------------------------------
# rates
# --------------------------------------------------------------------------------------------
def exact_poisson_ci(count, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence limits for a Poisson count.

    Parameters
    ----------
    count : array_like of int, shape (m,)
    alpha : float

    Returns
    -------
    lower, upper : ndarray, shape (m,)
        ``chi2.ppf(alpha/2, 2k)/2`` (0 when ``k = 0``) and ``chi2.ppf(1-alpha/2, 2k+2)/2``.

    References
    ----------
    Garwood F. (1936). Fiducial limits for the Poisson distribution. Biometrika 28, 437-442.
    """
    k = np.asarray(count, dtype=float)
    alpha = check_alpha(alpha)
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return lower, upper


def breach_rate(events: pd.DataFrame, cases: pd.DataFrame, by=None, *, as_of=None, alpha: float = 0.05,
                outside: str = "warn") -> pd.DataFrame:
    """Breaches per 100 case-years of follow-up, with exact Poisson and cluster-robust CIs.

    Parameters
    ----------
    events : pandas.DataFrame, shape (n_events, >= 3)
        Event log with ``case_id``, ``event``, ``timestamp``; ``event == "order_breach"`` rows count.
        Events of cases not in ``cases`` are ignored, so a subset of cases can be analysed.
    cases : pandas.DataFrame, shape (n_cases, ...)
        Case table with ``case_id``, ``report_date``, ``duration`` (follow-up days) and the ``by`` columns.
    by : str or list of str, optional
        Case-table columns to tabulate by (e.g. ``"force"``).
    as_of : date-like, optional
        End of follow-up for every case (the extraction date, ``cases.attrs["as_of"]``). Default: each
        case is followed for ``duration`` days, i.e. while it is open. Orders (and breaches) outlive
        the case, so ``as_of`` gives the breach rate over the whole observation period.
    alpha : float, default 0.05
    outside : {"warn", "drop"}, default "warn"
        Breaches after the end of follow-up are not counted (the exposure stops there);
        ``"warn"`` issues a :class:`DataQualityWarning` saying how many.

    Returns
    -------
    pandas.DataFrame, one row per group
        ``by`` columns, ``cases``, ``breaches``, ``case_years`` (sum of follow-up days / 365.25),
        ``rate`` (breaches per 100 case-years), ``lower 95%``/``upper 95%`` (exact Poisson CI) and
        ``robust lower 95%``/``robust upper 95%`` (cluster-robust Wald CI on the log rate; NaN when a
        group has no breaches, where only the exact interval exists).

    Raises
    ------
    DataValidationError
        Missing columns, duplicated case ids, missing/negative durations, breaches before report,
        a group with no follow-up time.

    Notes
    -----
    The exact interval assumes breaches follow a Poisson process with one common rate (Garwood 1936).
    Breaches cluster within cases (a few cases breach repeatedly), which this ignores; the robust
    interval allows for it: it is the sandwich variance of the intercept of a Poisson GLM with
    offset ``log(duration)`` clustered on case, ``var(log rate) = G/(G-1) sum_i (y_i - rate T_i)^2 /
    (sum_i y_i)^2`` with ``G`` cases (statsmodels ``GLM(..., cov_type="cluster")`` with its default
    small-sample factor).

    References
    ----------
    Garwood F. (1936). Biometrika 28, 437-442.
    Cameron A.C., Miller D.L. (2015). A practitioner's guide to cluster-robust inference.
    J. Human Resources 50, 317-372.
    """
    alpha = check_alpha(alpha)
    _check_cases(cases)
    by = _by_list(by, cases)
    follow = _follow_up(cases, as_of)
    pos, _ = _breach_days(events, cases, outside, follow)
    n = len(cases)
    y = np.bincount(pos, minlength=n).astype(float)
    T = follow / _DAYS_PER_YEAR
    g, keys = _group_codes(cases, by)
    G = int(g.max()) + 1 if n else 0
    sums = {name: np.bincount(g, v, minlength=G) for name, v in
            {"n": np.ones(n), "y": y, "T": T, "yy": y * y, "yT": y * T, "TT": T * T}.items()}
    if (sums["T"] <= 0).any():
        bad = np.flatnonzero(sums["T"] <= 0)[:5]
        which = keys.iloc[bad].to_dict("records") if keys is not None else "all cases"
        raise DataValidationError(f"no follow-up time (all durations 0) in group(s) {which}: a rate needs exposure.")
    lam = sums["y"] / sums["T"]
    lo_e, hi_e = exact_poisson_ci(sums["y"], alpha)
    ssq = sums["yy"] - 2 * lam * sums["yT"] + lam ** 2 * sums["TT"]
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(sums["y"] > 0, np.sqrt(sums["n"] / (sums["n"] - 1) * np.maximum(ssq, 0)) / sums["y"],
                          np.nan)
        se_log = np.where(sums["n"] > 1, se_log, np.nan)
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = ci_labels(alpha)
    out = pd.DataFrame({
        "cases": sums["n"].astype(np.int64),
        "breaches": sums["y"].astype(np.int64),
        "case_years": sums["T"],
        "rate": 100 * lam,
        lo: 100 * lo_e / sums["T"],
        hi: 100 * hi_e / sums["T"],
        f"robust {lo}": 100 * lam * np.exp(-z * se_log),
        f"robust {hi}": 100 * lam * np.exp(z * se_log),
    })
    if keys is not None:
        out = pd.concat([keys.reset_index(drop=True), out], axis=1)
    return out


# --------------------------------------------------------------------------------------------
# time to the k-th breach
# --------------------------------------------------------------------------------------------
def kth_breach_times(events: pd.DataFrame, cases: pd.DataFrame, k: int = 2, *, as_of=None,
                     outside: str = "warn") -> pd.DataFrame:
    """Per case, the day of the k-th breach within follow-up, or censoring at the end of follow-up.

    Parameters as :func:`time_to_breach`.

    Returns
    -------
    pandas.DataFrame, shape (n_cases, 3)
        ``case_id``, ``time`` (days since report), ``event`` (1 = k-th breach at ``time``, 0 = censored).
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_cases(cases)
    follow = _follow_up(cases, as_of)
    pos, day = _breach_days(events, cases, outside, follow)
    n = len(cases)
    first = np.searchsorted(pos, np.arange(n))  # start of each case's block
    counts = np.bincount(pos, minlength=n)
    has = counts >= k
    time = follow.copy()
    time[has] = day[first[has] + k - 1]
    return pd.DataFrame({"case_id": cases["case_id"].to_numpy(), "time": time, "event": has.astype(np.int64)})


def time_to_breach(events: pd.DataFrame, cases: pd.DataFrame, k: int = 2, *, by=None, as_of=None,
                   alpha: float = 0.05, outside: str = "warn") -> pd.DataFrame:
    """Probability of a k-th breach within t days of the report (Kaplan--Meier type).

    The time to the k-th breach is observed for cases with at least ``k`` breaches within follow-up
    and right-censored at the end of follow-up otherwise; ``1 - KM`` (the Aalen--Johansen estimate
    with a single cause, :func:`attrition.survival.cif.cumulative_incidence`) is the probability of
    a k-th breach by ``t`` had every case been followed that long.

    Parameters
    ----------
    events, cases : pandas.DataFrame
        As :func:`breach_rate`.
    k : int, default 2
        Which breach. ``k = 2`` is the point where a course of conduct -- and so a separate stalking
        offence -- should be recorded.
    by : str or list of str, optional
        Case-table column(s) to estimate within.
    as_of : date-like, optional
        As :func:`breach_rate`: follow every case to this date instead of for ``duration`` days.
    alpha : float, default 0.05
    outside : {"warn", "drop"}
        As :func:`breach_rate`.

    Returns
    -------
    pandas.DataFrame
        One row per (group, distinct time): ``by`` columns, ``time`` (days), ``estimate``
        (probability of a k-th breach by ``time``), ``se``, ``lower 95%``, ``upper 95%``,
        ``at_risk``, ``n_event``.

    Notes
    -----
    Ties: R survival's order (breaches before censorings at the same day); no jitter. Variance:
    infinitesimal jackknife, equal to Greenwood's formula here; log(-log) CIs. Without ``as_of``,
    closure of a case ends its follow-up and is treated as independent censoring, so the estimate is
    the breach risk while the case is open; with ``as_of`` it is the risk over the observation period.

    References
    ----------
    Kaplan E.L., Meier P. (1958). Nonparametric estimation from incomplete observations. JASA 53, 457-481.
    Cook R.J., Lawless J.F. (2007). The Statistical Analysis of Recurrent Events. Springer.
    """
    from .cif import cumulative_incidence

    alpha = check_alpha(alpha)
    tt = kth_breach_times(events, cases, k, as_of=as_of, outside=outside)
    by = _by_list(by, cases)
    groups = None
    if by:
        groups = cases[by[0]].to_numpy() if len(by) == 1 else pd.MultiIndex.from_frame(cases[by]).to_numpy()
    out = cumulative_incidence(tt["time"].to_numpy(), tt["event"].to_numpy(), groups=groups, alpha=alpha,
                               causes=[1], censor_code=0)
    out = out.drop(columns="cause")
    if by:
        labels = out.pop("group")
        keys = pd.DataFrame(labels.tolist() if len(by) > 1 else {by[0]: labels.to_numpy()}, columns=by)
        out = pd.concat([keys, out], axis=1)
    return out


# --------------------------------------------------------------------------------------------
# recording of repeated breaches as stalking
# --------------------------------------------------------------------------------------------
def wilson_ci(successes, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (NaN where ``n == 0``); see
    :func:`attrition._utils.wilson_interval`."""
    return wilson_interval(successes, n, check_alpha(alpha))


def repeat_breach_recording(cases: pd.DataFrame, by=None, *, min_breaches: int = 2,
                            alpha: float = 0.05) -> pd.DataFrame:
    """Share of cases with ``min_breaches``+ breaches that were ever recorded as stalking.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table with ``n_breaches`` (int) and ``ever_recorded_stalking`` (bool), plus ``by`` columns.
    by : str or list of str, optional
        E.g. ``"force"``. Every group present in ``cases`` gets a row.
    min_breaches : int, default 2
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame, one row per group
        ``by`` columns, ``cases`` (with ``>= min_breaches`` breaches), ``recorded_stalking``, ``share``,
        ``lower 95%``, ``upper 95%`` (Wilson score interval). ``share`` and the CI are NaN for a group
        with no qualifying case.

    Raises
    ------
    DataValidationError
        Missing columns, negative/missing ``n_breaches``, missing ``ever_recorded_stalking``.

    Notes
    -----
    Two or more breaches of a protective order are a course of conduct; where the conduct is
    fixated, obsessive, unwanted and repeated it should be recorded as stalking (Home Office Counting
    Rules). The Wilson interval keeps good coverage for small forces and shares near 0 or 1.

    References
    ----------
    Wilson E.B. (1927). JASA 22, 209-212.
    """
    alpha = check_alpha(alpha)
    _need(cases, "cases", ["n_breaches", "ever_recorded_stalking"])
    if not isinstance(min_breaches, (int, np.integer)) or min_breaches < 1:
        raise ValueError(f"min_breaches must be a positive integer, got {min_breaches!r}")
    nb = pd.to_numeric(cases["n_breaches"], errors="coerce")
    bad = nb.isna() | (nb < 0)
    if bad.any():
        raise DataValidationError(
            f"cases.n_breaches has {int(bad.sum())} missing or negative value(s) (e.g. rows "
            f"{list(cases.index[bad][:5])})."
        )
    rec = cases["ever_recorded_stalking"]
    if rec.isna().any():
        raise DataValidationError(
            f"cases.ever_recorded_stalking is missing for {int(rec.isna().sum())} case(s) (e.g. rows "
            f"{list(cases.index[rec.isna()][:5])}); it must be True/False."
        )
    by = _by_list(by, cases)
    g, keys = _group_codes(cases, by)
    G = int(g.max()) + 1 if len(cases) else 1
    elig = (nb >= min_breaches).to_numpy()
    n = np.bincount(g, elig.astype(float), minlength=G)
    x = np.bincount(g, (elig & rec.to_numpy(dtype=bool)).astype(float), minlength=G)
    lo_v, hi_v = wilson_ci(x, n, alpha)
    lo, hi = ci_labels(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = x / n
    out = pd.DataFrame({"cases": n.astype(np.int64), "recorded_stalking": x.astype(np.int64), "share": share,
                        lo: lo_v, hi: hi_v})
    if keys is not None:
        out = pd.concat([keys.reset_index(drop=True), out], axis=1)
    return out


# --------------------------------------------------------------------------------------------
# generic recurrent-event data: (id, time, event)
# --------------------------------------------------------------------------------------------
def _generic_recurrent(data, id_col, time_col, event_col, timefix):
    """Validated arrays of generic recurrent-event data: (id codes, ids, times, event flags, end of follow-up
    per id (m,), m)."""
    from ._ties import aeq_times
    from .cif import _as_float_array

    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    for role, col in (("id_col", id_col), ("time_col", time_col), ("event_col", event_col)):
        if col not in data.columns:
            raise DataValidationError(f"{role} {col!r} is not a column of data; columns are {list(data.columns)}")
    if len(data) == 0:
        raise DataValidationError("data has no rows")
    if data[id_col].isna().any():
        raise DataValidationError(f"{id_col!r} has missing values: every row needs a subject id")
    t = _as_float_array(data[time_col], f"column {time_col!r}")
    ev_raw = data[event_col]
    if ev_raw.isna().any():
        raise DataValidationError(f"{event_col!r} has missing values: use 1 for an event, 0 for end of follow-up")
    ev = ev_raw.to_numpy()
    if ev.dtype.kind == "b":
        ev = ev.astype(np.int64)
    ev = pd.to_numeric(pd.Series(ev), errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isin(ev, (0.0, 1.0))):
        raise DataValidationError(f"{event_col!r} must be 0 (end of follow-up) or 1 (an event) in every row")
    ev = ev == 1.0
    if (t < 0).any() or (t[ev] <= 0).any():
        raise DataValidationError(f"{time_col!r}: follow-up starts at 0, so times must be >= 0 and events > 0")
    (t,) = aeq_times(t, timefix=timefix)
    codes, ids = pd.factorize(data[id_col])
    m = len(ids)
    end = pd.Series(t).groupby(codes).max().to_numpy()  # end of follow-up: the last time of the id
    return codes, ids, t, ev, end, m


def _mcf_core(codes, t, ev, end, m):
    """MCF and its infinitesimal-jackknife variance for one group (see mean_cumulative_function)."""
    grid, inv = np.unique(t[ev], return_inverse=True)
    T = grid.shape[0]
    if T == 0:
        return grid, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    d = np.bincount(inv, minlength=T).astype(float)
    endsort = np.sort(end)
    Y = (m - np.searchsorted(endsort, grid, side="left")).astype(float)  # subjects followed to >= t
    dL = d / Y
    L = np.cumsum(dL)
    B = np.cumsum(dL / Y)
    # sum_i E_i(t)^2, E_i(t) = sum over i's events <= t of 1 / Y: increments at each (id, time) of events
    ec, ek = codes[ev], inv
    pair = pd.DataFrame({"id": ec, "k": ek}).value_counts(sort=False).reset_index()
    pair = pair.sort_values(["id", "k"], kind="stable")
    pid, pk, cnt = pair["id"].to_numpy(), pair["k"].to_numpy(), pair["count"].to_numpy(dtype=float)
    delta = cnt / Y[pk]
    E_after = pd.Series(delta).groupby(pid).cumsum().to_numpy()
    E_before = E_after - delta
    SE2 = np.cumsum(np.bincount(pk, 2 * E_before * delta + delta * delta, minlength=T))
    E_tot = np.bincount(pid, delta, minlength=m)  # E_i at its end of follow-up
    kc = np.searchsorted(grid, end, side="right") - 1  # last event time <= end
    Bc = np.where(kc >= 0, B[np.maximum(kc, 0)], 0.0)
    gone = np.searchsorted(grid, end, side="right")  # first grid time after the end: i has left
    FE = np.cumsum(np.bincount(gone, E_tot, minlength=T + 1)[:T])
    FEB = np.cumsum(np.bincount(gone, E_tot * Bc, minlength=T + 1)[:T])
    FBB = np.cumsum(np.bincount(gone, Bc * Bc, minlength=T + 1)[:T])
    var = SE2 - 2 * (B * (L - FE) + FEB) + Y * B * B + FBB
    return grid, L, np.sqrt(np.clip(var, 0, None)), Y, d


def mean_cumulative_function(data: pd.DataFrame, *, id_col: str = "id", time_col: str = "time",
                             event_col: str = "event", groups=None, alpha: float = 0.05,
                             timefix=True) -> pd.DataFrame:
    r"""Mean cumulative number of events per subject (Nelson--Aalen of recurrent events), any event type.

    Generic recurrent-event data, not only breaches of orders: repeat victimisation, repeat calls, repeat
    missing episodes.

    Parameters
    ----------
    data : pandas.DataFrame, shape (n_rows, >= 3)
        One row per event (``event_col`` = 1) and at least one row per subject marking the end of its
        follow-up (``event_col`` = 0, or its last event). Follow-up starts at time 0 for every subject and
        ends at the subject's largest ``time_col``; events at that time count.
    id_col, time_col, event_col : str
        Subject id, time (e.g. days since report, > 0 for events), 1 = event / 0 = end of follow-up.
    groups : str, optional
        Column (constant within a subject): one curve per group, with a ``group`` column.
    alpha : float, default 0.05
    timefix : bool or float, default True
        Merge near-tied times first (R ``aeqSurv``'s rule; see :func:`cumulative_incidence`).

    Returns
    -------
    pandas.DataFrame
        ``time`` (each event time), ``mcf`` (expected number of events per subject by ``time``),
        ``se``, ``lower``/``upper`` (log-transformed, ``mcf exp(-/+ z se / mcf)``), ``at_risk``
        (subjects still followed at ``time``), ``n_events``.

    Notes
    -----
    :math:`\hat\mu(t)=\sum_{s\le t} dN(s)/Y(s)` (Nelson 1988). The standard error is the robust one of
    Lawless & Nadeau (1995), i.e. the infinitesimal jackknife with each subject one cluster, as R
    ``survfit(Surv(start, stop, event) ~ 1, id = id)`` reports in ``std.chaz``; it does not assume the
    events are Poisson. :math:`\sum_i U_i(t)^2` is expanded into cumulative sums over event times (O(n
    log n), no n x T matrix).

    References
    ----------
    Nelson W. (1988). Graphical analysis of system repair data. J. Quality Technology 20, 24-35.
    Lawless J.F., Nadeau C. (1995). Some simple robust methods for the analysis of recurrent events.
    Technometrics 37, 158-168.
    """
    alpha = check_alpha(alpha)
    codes, ids, t, ev, end, m = _generic_recurrent(data, id_col, time_col, event_col, timefix)
    lo_name, hi_name = ci_labels(alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    if groups is None:
        jobs = [(None, np.arange(len(t)))]
    else:
        if groups not in data.columns:
            raise DataValidationError(f"groups {groups!r} is not a column of data")
        g = data[groups].to_numpy()
        if pd.Series(g).groupby(codes).nunique().max() > 1:
            raise DataValidationError(f"{groups!r} must be constant within each subject")
        gc, gl = pd.factorize(pd.Series(g), sort=True)
        jobs = [(lab, np.flatnonzero(gc == j)) for j, lab in enumerate(gl)]  # loop over groups only
    parts = []
    for label, rows in jobs:
        sub_codes, _ = pd.factorize(codes[rows])
        sub_end = pd.Series(t[rows]).groupby(sub_codes).max().to_numpy()
        grid, L, se, Y, d = _mcf_core(sub_codes, t[rows], ev[rows], sub_end, len(sub_end))
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(L > 0, z * se / L, 0.0)
        part = pd.DataFrame({"time": grid, "mcf": L, "se": se, lo_name: L * np.exp(-u), hi_name: L * np.exp(u),
                             "at_risk": Y, "n_events": d})
        if label is not None:
            part.insert(0, "group", label)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def time_to_kth_event(data: pd.DataFrame, k: int = 2, *, id_col: str = "id", time_col: str = "time",
                      event_col: str = "event", alpha: float = 0.05, timefix=True) -> pd.DataFrame:
    """Probability of a k-th event by time t, from generic (id, time, event) data (Kaplan--Meier type).

    Each subject contributes the time of its k-th event, or is censored at the end of its follow-up (its
    largest time); ``1 - KM`` is the probability (:func:`~attrition.survival.kaplan_meier`, IJ = Greenwood
    standard errors). Data as :func:`mean_cumulative_function`.

    Returns
    -------
    pandas.DataFrame
        ``time``, ``probability``, ``se``, CI columns (log-log), ``at_risk``, ``n_events``.
    """
    from .cif import kaplan_meier

    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    codes, ids, t, ev, end, m = _generic_recurrent(data, id_col, time_col, event_col, timefix)
    ec, et = codes[ev], t[ev]
    o = np.lexsort((et, ec))
    ec, et = ec[o], et[o]
    rank = np.arange(len(ec)) - np.searchsorted(ec, ec, side="left")  # 0-based event number within subject
    hit = rank == k - 1
    time = end.copy()
    status = np.zeros(m, dtype=np.int64)
    time[ec[hit]] = et[hit]
    status[ec[hit]] = 1
    km = kaplan_meier(time, status, alpha=alpha, timefix=False)
    lo_name, hi_name = ci_labels(alpha)
    return pd.DataFrame({"time": km["time"], "probability": 1 - km["estimate"], "se": km["se"],
                         lo_name: 1 - km[hi_name], hi_name: 1 - km[lo_name], "at_risk": km["at_risk"],
                         "n_events": km["n_event"]})
