"""Plots for causal-effect results: forest plot, Love plot, risk curves under each strategy.

pyplot is imported inside each function, so importing :mod:`attrition.effects` does not import it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError

__all__ = ["forest_plot", "love_plot", "plot_risk_curves"]

_OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
_RATIO_NAMES = ("ratio", "rr", "or", "hr")


def _palette() -> list[str]:
    try:
        from ..plotting import PALETTE  # type: ignore[attr-defined]

        return list(PALETTE)
    except (ImportError, AttributeError):
        return list(_OKABE_ITO)


def _ci_columns(df: pd.DataFrame, lower, upper) -> tuple[str, str]:
    if lower is None:
        cands = [c for c in df.columns if str(c).startswith("lower")]
        if len(cands) != 1:
            raise DataValidationError(f"Give lower= : expected exactly one 'lower ...' column, found {cands}.")
        lower = cands[0]
    if upper is None:
        cands = [c for c in df.columns if str(c).startswith("upper")]
        if len(cands) != 1:
            raise DataValidationError(f"Give upper= : expected exactly one 'upper ...' column, found {cands}.")
        upper = cands[0]
    for c in (lower, upper):
        if c not in df.columns:
            raise DataValidationError(f"Column '{c}' not found; columns are {list(df.columns)}.")
    return lower, upper


def _is_ratio(name) -> bool:
    s = str(name).lower()
    return s in _RATIO_NAMES or "ratio" in s


def forest_plot(
    estimates_df: pd.DataFrame,
    ax=None,
    *,
    estimate: str = "estimate",
    lower: str | None = None,
    upper: str | None = None,
    label: str | None = None,
    null: float | None = None,
    log: bool | None = None,
    truth: str | None = None,
    **kwargs,
):
    """Point estimates with confidence intervals, one row per method (e.g. crude, IPW, AIPW).

    Parameters
    ----------
    estimates_df : pandas.DataFrame, shape (m, ...)
        One row per estimate, drawn top to bottom in order. Needs ``estimate`` and the CI columns.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if None.
    estimate : str, default "estimate"
        Column of point estimates.
    lower, upper : str, optional
        CI columns; default the unique columns starting with ``"lower"`` / ``"upper"``.
    label : str, optional
        Column with row labels; default the index (joined with ``method`` if that column exists and the
        index is not already unique by itself).
    null : float, optional
        Reference line; default 1 for ratio measures, 0 otherwise.
    log : bool, optional
        Log-scale x axis; default True for ratio measures. A measure is a ratio if ``null == 1`` or the
        ``measure`` column / index names a ratio (``risk_ratio``, ``odds_ratio``, ``RR``, ``HR``...).
    truth : str, optional
        Column of true values (synthetic data): drawn as an open diamond on each row beside its estimate,
        labelled "truth (synthetic)" in a legend; rows with a missing truth get none.
    **kwargs
        Passed to ``ax.errorbar`` (defaults: ``fmt="o"``, colour ``PALETTE[0]``, ``capsize=3``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> table = pd.concat([crude.loc[["risk_ratio"]], ipw.loc[["risk_ratio"]]])  # doctest: +SKIP
    >>> forest_plot(table.set_index("method"))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if not isinstance(estimates_df, pd.DataFrame) or len(estimates_df) == 0:
        raise DataValidationError("estimates_df must be a non-empty DataFrame with one row per estimate.")
    if estimate not in estimates_df.columns:
        raise DataValidationError(f"Column '{estimate}' not found; columns are {list(estimates_df.columns)}.")
    lower, upper = _ci_columns(estimates_df, lower, upper)
    df = estimates_df
    if label is not None:
        labels = df[label].astype(str).tolist()
    elif "method" in df.columns and not df.index.is_unique:
        labels = [f"{m}: {i}" for m, i in zip(df["method"], df.index)]
    else:
        labels = [str(i) for i in df.index]
    if log is None:
        names = list(df["measure"]) if "measure" in df.columns else list(df.index)
        log = null == 1 if null is not None else all(_is_ratio(n) for n in names)
    if null is None:
        null = 1.0 if log else 0.0

    est = df[estimate].to_numpy(float)
    lo, hi = df[lower].to_numpy(float), df[upper].to_numpy(float)
    tru = df[truth].to_numpy(float) if truth is not None else np.full(len(df), np.nan)
    if log and (np.any(est <= 0) or np.any(lo <= 0)):
        raise DataValidationError("A log-scale forest plot needs positive estimates and limits; set log=False.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 * len(df) + 1.2))
    y = np.arange(len(df))[::-1]
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("color", _palette()[0])
    kwargs.setdefault("capsize", 3)
    ax.errorbar(est, y, xerr=np.vstack([est - lo, hi - est]), **kwargs)
    ax.axvline(null, color="0.4", linestyle="--", linewidth=1)
    has_truth = np.isfinite(tru)
    if has_truth.any():
        ax.scatter(tru[has_truth], y[has_truth] - 0.22, marker="D", s=28, facecolors="none",
                   edgecolors=_palette()[1], linewidths=1.3, zorder=3, label="truth (synthetic)")
        ax.legend(loc="best", fontsize=8, frameon=False)
    if log:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ax.set_xscale("log")
        # plain numbers at readable ratios across the whole range (0.8, 1, 1.25, 1.5, 2, ...), not powers of ten
        left = min(lo.min(), null, np.nanmin(tru, initial=np.inf)) / 1.08
        right = max(hi.max(), null, np.nanmax(tru, initial=-np.inf)) * 1.08
        ax.set_xlim(left, right)
        ax.xaxis.set_major_locator(FixedLocator(_log_ticks(left, right)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.7, len(df) - 0.3)
    ax.set_xlabel(f"{estimate} ({lower[len('lower'):].strip() or 'CI'} CI)")
    return ax


_NICE_RATIOS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
                         2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100])


def _log_ticks(left: float, right: float, most: int = 8) -> np.ndarray:
    """Readable ratio ticks inside ``[left, right]``: at most ``most``, always 1 when in range, spread evenly in log."""
    inside = _NICE_RATIOS[(_NICE_RATIOS >= left) & (_NICE_RATIOS <= right)]
    if len(inside) <= most:
        return inside
    pos = np.log(inside)
    targets = np.linspace(pos[0], pos[-1], most)
    keep = np.unique(np.abs(pos[:, None] - targets[None, :]).argmin(axis=0))
    ticks = inside[keep]
    if left <= 1 <= right and 1 not in ticks:
        ticks = np.sort(np.r_[ticks[np.abs(np.log(ticks)).argmin() != np.arange(len(ticks))], 1.0])
    return ticks


def love_plot(balance_df: pd.DataFrame, ax=None, threshold: float = 0.1, *, absolute: bool = True, **kwargs):
    """Love plot: standardised mean difference of each covariate, before and after weighting.

    Parameters
    ----------
    balance_df : pandas.DataFrame
        Output of :func:`~attrition.effects.balance_table` (columns ``covariate``, ``sample``, ``smd``).
    ax : matplotlib.axes.Axes, optional
    threshold : float, default 0.1
        Dashed reference line(s) at this |SMD|; None for none.
    absolute : bool, default True
        Plot |SMD| (the usual Love plot) rather than signed SMD.
    **kwargs
        Passed to ``ax.scatter`` for every sample (defaults: ``s=30``, ``zorder=3``).

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Ahmed A, Husten L, Love TE et al. (2006). Heart failure, chronic diuretic use, and increase in
    mortality and hospitalization. European Heart Journal 27(12):1431-1439 (the "Love plot").
    """
    import matplotlib.pyplot as plt

    need = {"covariate", "sample", "smd"}
    if not isinstance(balance_df, pd.DataFrame) or not need <= set(balance_df.columns):
        raise DataValidationError(f"balance_df must be a balance_table() result with columns {sorted(need)}.")
    covs = list(dict.fromkeys(balance_df["covariate"]))
    y_of = {c: i for i, c in enumerate(covs[::-1])}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.3 * len(covs) + 1.2))
    markers = ["o", "s", "^", "D"]
    kwargs.setdefault("s", 30)
    kwargs.setdefault("zorder", 3)
    for k, (sample, part) in enumerate(balance_df.groupby("sample", sort=False)):
        x = part["smd"].abs() if absolute else part["smd"]
        kw = {"marker": markers[k % len(markers)], "color": _palette()[k % 8], **kwargs}
        ax.scatter(x, part["covariate"].map(y_of), label=str(sample), **kw)
    if threshold is not None:
        ax.axvline(threshold, color="0.4", linestyle="--", linewidth=1)
        if not absolute:
            ax.axvline(-threshold, color="0.4", linestyle="--", linewidth=1)
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_yticks(range(len(covs)))
    ax.set_yticklabels(covs[::-1])
    ax.set_xlabel("absolute standardised mean difference" if absolute else "standardised mean difference")
    ax.legend(frameon=False)
    return ax


def plot_risk_curves(curves_df: pd.DataFrame, ax=None, *, step: bool = True, band_alpha: float = 0.2, **kwargs):
    """Risk (cumulative incidence) over time under each strategy, with confidence bands.

    Parameters
    ----------
    curves_df : pandas.DataFrame
        Long table with columns ``time``, ``strategy``, ``risk``, ``lower``, ``upper`` (one row per
        strategy and time, sorted by time within strategy or not).
    ax : matplotlib.axes.Axes, optional
    step : bool, default True
        Draw right-continuous step functions (as for Kaplan–Meier / Aalen–Johansen estimates); False
        for straight lines.
    band_alpha : float, default 0.2
        Opacity of the CI bands.
    **kwargs
        Passed to ``ax.plot`` for every strategy (default ``linewidth=1.5``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    need = ["time", "strategy", "risk", "lower", "upper"]
    if not isinstance(curves_df, pd.DataFrame) or not set(need) <= set(curves_df.columns):
        have = list(curves_df.columns) if isinstance(curves_df, pd.DataFrame) else type(curves_df).__name__
        raise DataValidationError(f"curves_df needs columns {need}; it has {have}.")
    if curves_df[need].isna().any().any():
        bad = curves_df[need].isna().sum()
        raise DataValidationError(f"curves_df has missing values: {bad[bad > 0].to_dict()}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    kwargs.setdefault("linewidth", 1.5)
    pal = _palette()
    for k, (strategy, part) in enumerate(curves_df.groupby("strategy", sort=False)):
        part = part.sort_values("time", kind="stable")
        colour = pal[k % len(pal)]
        kw = {"color": colour, "drawstyle": "steps-post" if step else "default", **kwargs}
        ax.plot(part["time"], part["risk"], label=str(strategy), **kw)
        ax.fill_between(
            part["time"], part["lower"], part["upper"], color=colour, alpha=band_alpha, linewidth=0,
            step="post" if step else None,
        )
    ax.set_xlabel("time")
    ax.set_ylabel("risk")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    return ax


def plot_spo_effects(hazard_ratios: pd.DataFrame | None, risk_ratios: pd.DataFrame, axes=None):
    """Fig09: hazard ratios and risk ratios of SPOs on separate panels, each estimate beside its truth.

    Parameters
    ----------
    hazard_ratios : pandas.DataFrame or None
        Rows with ``label``, ``estimate``, CI columns and optionally ``truth`` (e.g. the time-varying Cox
        hazard ratios of an SPO in force); None draws the risk-ratio panel only.
    risk_ratios : pandas.DataFrame
        The same columns (e.g. :func:`attrition.effects.trials.trial_effects_table`).
    axes : sequence of two matplotlib Axes, optional

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    panels = []
    for xlabel, rows in (("Hazard ratio (95% CI, log scale)", hazard_ratios),
                         ("Risk ratio at the horizon (95% CI, log scale)", risk_ratios)):
        if rows is None or not len(rows):
            continue
        lo, hi = _ci_columns(rows, None, None)
        vals = rows[["estimate", lo, hi]].to_numpy(float)
        ok = np.isfinite(vals).all(axis=1) & (vals > 0).all(axis=1)  # a ratio of a zero risk has no log
        if ok.any():
            panels.append((xlabel, rows[ok], list(rows.loc[~ok, "label"])))
    if not panels:
        raise DataValidationError("no hazard or risk ratio with a positive estimate and interval to draw")
    if axes is None:
        heights = [len(p[1]) for p in panels]
        _, axes = plt.subplots(len(panels), 1, figsize=(8, 0.42 * sum(heights) + 1.6 * len(panels)),
                               gridspec_kw={"height_ratios": heights}, squeeze=False)
        axes = axes[:, 0]
    for ax, (xlabel, rows, dropped) in zip(axes, panels):
        has_truth = "truth" in rows.columns and rows["truth"].notna().any()
        forest_plot(rows.set_index("label"), ax=ax, null=1.0, truth="truth" if has_truth else None)
        ax.set_xlabel(xlabel + ("\nnot estimable on these data (a zero or undefined risk or rate): " + "; ".join(dropped)
                                if dropped else ""))
    return np.asarray(axes)


def plot_trial_risk_curves(fits: dict, axes=None):
    """Fig10: cumulative risk of charge and victim withdrawal under each strategy of each SPO target trial.

    Parameters
    ----------
    fits : dict of str -> attrition.effects.trials.SPOTargetTrial
        Fitted trials by name (one row of panels each; charge left, withdrawal right).
    axes : 2-D array of matplotlib Axes, shape (len(fits), 2), optional

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (len(fits), 2)
        The x axis of each row is labelled with its trial's time origin.
    """
    import matplotlib.pyplot as plt

    from .trials import TRIALS

    if axes is None:
        _, axes = plt.subplots(len(fits), 2, figsize=(11, 3.6 * len(fits)), squeeze=False)
    axes = np.asarray(axes).reshape(len(fits), 2)
    for row, (trial, m) in zip(axes, fits.items()):
        origin = TRIALS[trial]["time_zero"]
        for ax, outcome, title in zip(row, ["charge", "withdrawal"], ["Charged", "Victim withdrew (HO 16)"]):
            plot_risk_curves(m.risk_curves_[m.risk_curves_["outcome"] == outcome], ax=ax)
            ax.set(title=f"{trial}: {title}", xlabel=origin[0].upper() + origin[1:], ylabel="Cumulative risk")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
    return axes
