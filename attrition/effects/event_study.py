"""Quarterly event study of adopting a dedicated stalking officer: effects by quarter since the officer started.

For forces that adopt an officer during the data, the difference in the outcome risk of cases reported in
each quarter before and after adoption, relative to the quarter just before (-1), net of what happened
in the same calendar quarter in the other forces. Leads (quarters before adoption) check the parallel
pre-trends the design relies on; lags trace the effect as the officer settles in.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import check_alpha, ci_labels
from ..exceptions import DataValidationError, StatisticalWarning
from .officer import _CR2, EXPOSURE, _check_rank, _cluster_blocks, _cluster_sum, _officer_frame, _warn_few, _within
from .propensity import _Design

__all__ = ["officer_event_study", "plot_event_study", "adoption_quarters"]

_FEW_ADOPTERS = 5


def _quarter(dates) -> np.ndarray:
    """Quarter number (April-June 2020 = 2020 * 4 + 0, ...): financial-year quarters counted continuously."""
    d = pd.to_datetime(pd.Series(dates))
    return (d.dt.year * 4 + (d.dt.month - 4) // 3).to_numpy()


def _quarter_label(q: int) -> str:
    y, k = divmod(int(q), 4)
    return f"{y}/{(y + 1) % 100:02d} Q{k + 1}"


def adoption_quarters(forces: pd.DataFrame, adoption_dates=None) -> pd.Series:
    """Quarter in which each force's officer started: the first quarter (April) of its first financial year
    with ``dedicated_stalking_officer``, or the quarter of ``adoption_dates[force]`` when given.

    Parameters
    ----------
    forces : pandas.DataFrame
        Force-year table.
    adoption_dates : dict or pandas.Series, optional
        Force name to the date its officer started (overrides the financial-year start).

    Returns
    -------
    pandas.Series
        Index force, values the quarter number (``year * 4 + quarter of the financial year - 1``; NaN for
        forces never with an officer).
    """
    fy = forces.assign(force=forces["force"].astype(str))
    on = fy[fy[EXPOSURE].astype(bool)]
    start = on.groupby("force")["financial_year"].min().astype(str).str[:4].astype(int) * 4
    out = pd.Series(np.nan, index=pd.Index(sorted(fy["force"].unique()), name="force"), name="adoption_quarter")
    out.loc[start.index] = start.astype(float)
    if adoption_dates is not None:
        ad = pd.Series(adoption_dates, dtype="object")
        unknown = sorted(set(ad.index.astype(str)) - set(out.index))
        if unknown:
            raise DataValidationError(f"adoption_dates names force(s) {unknown[:5]} absent from the forces table.")
        out.loc[ad.index.astype(str)] = _quarter(pd.to_datetime(ad.to_numpy())).astype(float)
    return out


def officer_event_study(
    cases: pd.DataFrame,
    forces: pd.DataFrame,
    outcome: str = "charged",
    *,
    covariates=("risk", "relationship"),
    window: tuple[int, int] | None = None,
    adoption_dates=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Quarterly event study of adopting a dedicated stalking officer (leads and lags, reference quarter -1).

    Linear probability model on cases with force and calendar-quarter fixed effects,
    :math:`Y_i = \\alpha_{f(i)} + \\gamma_{q(i)} + \\sum_{e \\ne -1} \\beta_e 1[q(i) - a_{f(i)} = e] +
    x_i'\\theta + \\varepsilon_i`, where :math:`q(i)` is the quarter the case was reported and :math:`a_f`
    the quarter the force's officer started (forces that never adopt during the data have no event-time
    terms and act as controls). :math:`\\beta_e` is a risk difference: the change in the risk of the
    outcome for cases reported :math:`e` quarters after the officer started (``e = 0``: the first quarter
    with an officer), relative to cases reported in the quarter before, net of the change over the same
    calendar quarters in the other forces. Standard errors are clustered by force with the bias-reduced
    CR2 sandwich and Bell-McCaffrey degrees of freedom per term (:func:`officer_did`'s variance).

    Parameters
    ----------
    cases : pandas.DataFrame, shape (n, ...)
        Case table with ``force``, ``report_date``, ``financial_year``, the outcome and the covariates.
    forces : pandas.DataFrame
        Force-year table with ``dedicated_stalking_officer``.
    outcome : {"charged", "convicted"} or str, default "charged"
    covariates : sequence of str, default ("risk", "relationship")
        Case-level covariates (force-level ones are absorbed by the force fixed effects).
    window : (int, int), optional
        First and last event quarter estimated separately; quarters outside are pooled into the end bins
        (labelled ``"<= lo"`` / ``">= hi"``). Default: every observed event quarter.
    adoption_dates : dict or pandas.Series, optional
        Force to the date its officer started, when known more precisely than the financial year.
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        One row per event quarter (the reference -1 included with estimate 0 and no interval):
        ``relative_quarter``, ``term``, ``kind`` ("lead", "reference", "lag"), ``estimate`` (risk
        difference), ``se``, CI columns, ``p``, ``df`` (Bell-McCaffrey), ``n_cases`` (cases of adopting
        forces in that event quarter), ``n_clusters``, ``n_adopting_clusters``. ``.attrs``:
        ``mean_lead`` (average of the leads, a one-number pre-trend check, with its SE, CI, p, df),
        ``mean_lag`` (average of the lags 0 ... last), ``adopting_forces``, ``time_origin``.

    Raises
    ------
    DataValidationError
        As :func:`~attrition.effects.officer_did`: no force adopting during the data, a force giving its
        officer up again, missing values.

    Warns
    -----
    StatisticalWarning
        Fewer than 5 adopting forces (the intervals then rest on a handful of forces: their df are small
        and the intervals wide); several adoption quarters (staggered adoption: see
        :func:`~attrition.effects.officer_did`'s caveat).

    Notes
    -----
    What is held fixed: the forces' case mix (``covariates``), every force's own level (force effects)
    and everything common to all forces in a calendar quarter (quarter effects), including the shorter
    follow-up of recent reports at the extraction date. The leads are the pre-trend check: if adopting
    forces were already on a different path, the leads drift away from 0. With a single adoption cohort
    the TWFE event study is the standard estimator; with staggered cohorts and effects varying over time
    it can be contaminated (Sun & Abraham 2021).

    References
    ----------
    Sun L, Abraham S (2021). Estimating dynamic treatment effects in event studies with heterogeneous
    treatment effects. Journal of Econometrics 225(2):175-199.
    Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance estimation and
    hypothesis testing in fixed effects models. Journal of Business & Economic Statistics 36(4):672-683.
    Freyaldenhoven S, Hansen C, Perez JP, Shapiro JM (2021). Visualization, identification, and estimation
    in the linear panel event-study design. NBER Working Paper 29170.

    Examples
    --------
    >>> es = officer_event_study(d.cases, d.forces, "charged")  # doctest: +SKIP
    >>> plot_event_study(es)  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    covariates = list(covariates)
    if window is not None:
        if (not isinstance(window, (tuple, list)) or len(window) != 2
                or not all(isinstance(w, numbers.Integral) for w in window) or not window[0] < -1 <= window[1]):
            raise ValueError(f"window must be two integers (lo, hi) with lo < -1 <= hi, got {window!r}")
    df, ycol, y, _, _ = _officer_frame(cases, forces, outcome, covariates, required=("report_date",), within_force=True)
    fy = forces.assign(force=forces["force"].astype(str), financial_year=forces["financial_year"].astype(str))
    fy = fy[fy["force"].isin(set(df["force"]))].sort_values(["force", "financial_year"])
    back = fy.groupby("force")[EXPOSURE].apply(lambda s: bool(np.any(np.diff(s.to_numpy(float)) < 0)))
    if back.any():
        raise DataValidationError(
            f"Force(s) {sorted(back[back].index)[:10]} have an officer and then no longer have one; the event "
            "study assumes adoption is permanent. Analyse those forces separately or drop them explicitly."
        )
    q = _quarter(df["report_date"])
    q0 = int(q.min())
    a = adoption_quarters(fy, adoption_dates).reindex(df["force"].unique())
    adopters = a[(a > q0)].dropna()
    if len(adopters) == 0:
        raise DataValidationError(
            "No force starts a dedicated officer after the first quarter of the data, so there is no event to "
            "study (every force has an officer throughout or never). Use officer_effect or "
            "officer_permutation_test for the comparison between forces."
        )
    n_ctrl = int(df["force"].nunique() - len(adopters))
    _warn_few(len(adopters), n_ctrl, "forces adopting an officer during the data", _FEW_ADOPTERS, small_sample="cr2")
    if adopters.nunique() > 1:
        warnings.warn(
            f"Staggered adoption: forces start officers in {adopters.nunique()} different quarters. TWFE event-study "
            "coefficients can mix effects of other event quarters when effects vary over time or by cohort (Sun & "
            "Abraham 2021).", StatisticalWarning, stacklevel=2)

    aq = df["force"].map(adopters).to_numpy(float)
    e = q - aq                       # NaN for forces not adopting during the data
    # always-exposed forces keep their exposure absorbed by their force effect: no event terms
    obs = np.unique(e[np.isfinite(e)]).astype(int)
    if -1 not in obs or obs.min() >= -1:
        raise DataValidationError(
            "The adopting forces have no reports in the quarter(s) before their officer started; the event study "
            "needs at least two pre-adoption quarters (the reference -1 and one lead)."
        )
    lo, hi = (int(obs.min()), int(obs.max())) if window is None else (int(window[0]), int(window[1]))
    ec = np.clip(e, lo, hi)
    terms = [k for k in range(lo, hi + 1) if k != -1 and np.any(ec == k)]
    E = np.column_stack([(ec == k).astype(float) for k in terms])
    codes, uniq = pd.factorize(df["force"], sort=True)
    G = len(uniq)
    quarters = np.unique(q)
    Q = (q[:, None] == quarters[None, 1:]).astype(float)
    design = _Design.build(df, covariates) if covariates else None
    Xcov = design.matrix(df, intercept=False) if design is not None else np.empty((len(df), 0))
    names = [f"event_quarter[{k}]" for k in terms] + [f"quarter[{_quarter_label(k)}]" for k in quarters[1:]] + (
        design.columns if design is not None else [])
    X = _within(np.column_stack([E, Q, Xcov]), codes, G)
    yw = _within(y, codes, G)
    _check_rank(X, names)
    XtX = X.T @ X
    XtX_inv = np.linalg.inv(XtX)
    beta = XtX_inv @ (X.T @ yw)
    resid = yw - X @ beta
    n, k = X.shape
    adj = _CR2(_cluster_blocks(X, np.ones(n), codes, G, 0.0), XtX)
    U = adj.adjust(_cluster_sum(codes, G, X * resid[:, None]))
    cov = XtX_inv @ (U.T @ U) @ XtX_inv
    m = len(terms)
    leads = [i for i, t in enumerate(terms) if t < -1]
    lags = [i for i, t in enumerate(terms) if t >= 0]
    C = np.zeros((k, m + 2))
    C[:m, :m] = np.eye(m)
    C[leads, m] = 1.0 / max(len(leads), 1)
    C[lags, m + 1] = 1.0 / max(len(lags), 1)
    dof = adj.df(C)
    est = C.T @ beta
    se = np.sqrt(np.einsum("ij,jk,ki->i", C.T, cov, C))
    lo_l, hi_l = ci_labels(alpha)
    qt = stats.t(dof).ppf(1 - alpha / 2)
    p = 2 * stats.t(dof).sf(np.abs(est / se))
    counts = pd.Series(ec[np.isfinite(ec)]).value_counts()

    def label(t):
        if window is not None and t == lo and np.any(e < lo):
            return f"<= {t}"
        if window is not None and t == hi and np.any(e > hi):
            return f">= {t}"
        return str(t)

    rows = [{"relative_quarter": t, "term": f"event_quarter[{label(t)}]", "kind": "lead" if t < -1 else "lag",
             "estimate": est[i], "se": se[i], lo_l: est[i] - qt[i] * se[i], hi_l: est[i] + qt[i] * se[i], "p": p[i],
             "df": dof[i], "n_cases": int(counts.get(float(t), 0))} for i, t in enumerate(terms)]
    rows.append({"relative_quarter": -1, "term": "event_quarter[-1]", "kind": "reference", "estimate": 0.0,
                 "se": np.nan, lo_l: np.nan, hi_l: np.nan, "p": np.nan, "df": np.nan,
                 "n_cases": int(counts.get(-1.0, 0))})
    out = pd.DataFrame(rows).sort_values("relative_quarter", ignore_index=True)
    out["n_clusters"] = G
    out["n_adopting_clusters"] = len(adopters)
    out["measure"] = "risk_difference"

    def summary(i, what):
        return {"what": what, "estimate": float(est[i]), "se": float(se[i]), lo_l: float(est[i] - qt[i] * se[i]),
                hi_l: float(est[i] + qt[i] * se[i]), "p": float(p[i]), "df": float(dof[i])}

    out.attrs.update({
        "outcome": ycol, "covariates": covariates, "alpha": alpha,
        "mean_lead": summary(m, "average of the leads (pre-trend check; 0 if parallel)") if leads else None,
        "mean_lag": summary(m + 1, "average of the lags (effect from the first quarter with an officer on)"),
        "adopting_forces": sorted(adopters.index),
        "adoption_quarters": {f: _quarter_label(v) for f, v in adopters.items()},
        "time_origin": "quarters since the officer started (0 = first quarter with an officer; reference -1)",
        "variance": "CR2 by force, Bell-McCaffrey df; force and calendar-quarter fixed effects (LPM)",
    })
    return out


def plot_event_study(table: pd.DataFrame, ax=None, *, scale: float = 100.0, **kwargs):
    """Event-study estimates by quarter since the officer started, with their intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`officer_event_study` result.
    ax : matplotlib.axes.Axes, optional
    scale : float, default 100
        Multiplier of the risk differences (100: percentage points).
    **kwargs
        Passed to ``ax.errorbar`` (defaults ``marker="o"``, ``capsize=3``, ``linestyle="none"``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import _ci_columns, _palette

    need = {"relative_quarter", "estimate", "kind"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns) or len(table) == 0:
        raise ValueError(f"table must be a non-empty officer_event_study() result with columns {sorted(need)}.")
    lo_c, hi_c = _ci_columns(table, None, None)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    pal = _palette()
    kwargs.setdefault("marker", "o")
    kwargs.setdefault("capsize", 3)
    kwargs.setdefault("linestyle", "none")
    t = table.sort_values("relative_quarter")
    for kind, colour in (("lead", pal[0]), ("lag", pal[1])):
        part = t[t["kind"] == kind]
        if len(part):
            yerr = np.vstack([part["estimate"] - part[lo_c], part[hi_c] - part["estimate"]]) * scale
            ax.errorbar(part["relative_quarter"], part["estimate"] * scale, yerr=yerr, color=colour,
                        label="before the officer" if kind == "lead" else "with the officer", **kwargs)
    ref = t[t["kind"] == "reference"]
    ax.plot(ref["relative_quarter"], ref["estimate"] * scale, marker="o", markerfacecolor="white", color="0.3",
            linestyle="none", label="reference quarter (-1)")
    ax.axhline(0.0, color="0.5", linewidth=1)
    ax.axvline(-0.5, color="0.5", linestyle="--", linewidth=1)
    ax.set_xlabel("Quarters since the officer started (0 = first quarter with an officer)")
    unit = "percentage points" if scale == 100 else ("risk difference" if scale == 1 else f"x {scale:g}")
    outcome = table.attrs.get("outcome", "outcome")
    ax.set_ylabel(f"Difference in risk of '{outcome}' ({unit})")
    ax.legend(frameon=False, fontsize="small")
    return ax
