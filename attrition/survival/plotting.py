"""Plots of cumulative incidence (why cases leave, and when) and state occupation.

Importing this module does not import :mod:`matplotlib.pyplot`; it is imported inside each function.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from attrition.config import DISCLOSURE_THRESHOLD
from attrition.disclosure import publish_curve, publish_occupation

__all__ = ["plot_cumulative_incidence", "plot_exits_and_outcome", "plot_state_occupation"]



def _colours(names, colors=None):
    """A colour per name: the user's list, else the user's dict over the project's stable reason/stage
    colours (a dict only overrides the names it gives), else Okabe-Ito in order."""
    if colors is not None and not isinstance(colors, dict):
        return list(colors)
    from attrition import plotting as _p

    known = {**_p.STAGE_COLOURS, **_p.REASON_COLOURS, "exited": _p.LIGHT_GREY, **(colors or {})}
    out, k = [], 0
    for n in names:
        if n in known:
            out.append(known[n])
        else:
            out.append(_p.PALETTE[k % len(_p.PALETTE)])
            k += 1
    return out


def _labels(names, labels=None):
    """A label per name: the user's dict over the project's stage/reason labels, else the name."""
    from attrition import plotting as _p

    known = {**_p.STAGE_LABELS, **_p.REASON_LABELS, "exited": "Exited (any reason)", **(labels or {})}
    return [known.get(n, str(n).replace("_", " ")) for n in names]


def _curves(df, key, value, names):
    """Wide step-function table (time x name) starting at time 0 with value 0 (or given)."""
    wide = df.pivot_table(index="time", columns=key, values=value, aggfunc="first", observed=True)
    wide = wide.reindex(columns=names).sort_index().ffill().fillna(0.0)
    return wide


def _stack_or_lines(ax, times, wide, lower, upper, names, colours, labels, stacked, ci, kwargs):
    t = np.concatenate(([min(0.0, float(times[0]))], times))
    if stacked:
        base = np.zeros(t.shape[0])
        for name, col, lab in zip(names, colours, labels, strict=True):
            y = np.concatenate(([0.0], wide[name].to_numpy()))
            top = base + y
            ax.fill_between(t, base, top, step="post", color=col, label=lab, linewidth=0,
                            alpha=kwargs.get("alpha", 0.9))
            base = top
    else:
        for name, col, lab in zip(names, colours, labels, strict=True):
            y = wide[name].to_numpy()
            y0 = float(kwargs.get("_start", {}).get(name, 0.0))
            ax.step(t, np.concatenate(([y0], y)), where="post", color=col, label=lab,
                    linewidth=kwargs.get("linewidth", 1.8))
            if ci and lower is not None:
                lo = np.concatenate(([y0], lower[name].to_numpy()))
                hi = np.concatenate(([y0], upper[name].to_numpy()))
                ax.fill_between(t, lo, hi, step="post", color=col, alpha=kwargs.get("ci_alpha", 0.2), linewidth=0)


def plot_cumulative_incidence(
    cif_df: pd.DataFrame,
    ax=None,
    stacked: bool = True,
    *,
    causes=None,
    group=None,
    ci: bool = True,
    time_label: str = "Days since report",
    labels: dict | None = None,
    colors=None,
    withhold_below: int | None = DISCLOSURE_THRESHOLD,
    **kwargs,
):
    """Cumulative incidence of each exit reason over time (stacked areas, or lines with CIs).

    Parameters
    ----------
    cif_df : pandas.DataFrame
        Output of :func:`attrition.survival.cumulative_incidence` (``time``, ``cause``,
        ``estimate`` and CI columns; ``group`` if grouped). Its overall-survival rows (cause
        ``cif_df.attrs["survival_label"]``, or ``"survival"``) are ignored.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    stacked : bool, default True
        Stack the causes (the top edge is the proportion of cases that have left). CIs are drawn
        only when ``stacked=False`` (stacked pointwise CIs are not meaningful).
    causes : sequence, optional
        Causes to draw, in stacking order (default: all, in table order).
    group : optional
        Which group to draw when ``cif_df`` has a ``group`` column with several groups.
    ci : bool, default True
        Shade pointwise confidence intervals (unstacked only).
    time_label : str, default "Days since report"
        x-axis label (state the units).
    labels : dict, optional
        Legend label per cause (defaults: the project's exit-reason labels where they apply).
    colors : dict or list, optional
        Colour per cause (defaults: the project's exit-reason colours, else Okabe–Ito).
    withhold_below : int or None, default ``attrition.config.DISCLOSURE_THRESHOLD`` (10)
        Disclosure control of the curves (:func:`attrition.disclosure.publish_curve`): each curve stops
        where fewer than this many cases are at risk, and a step is drawn only once this many events of
        its cause have happened since the last drawn step. Needs the ``at_risk`` and ``n_event`` columns
        (else, or with ``None``, the table is drawn as given). What is drawn is recorded on the figure for
        the sidecar of :func:`attrition.figures.save_figure`.
    **kwargs
        ``alpha`` (areas), ``linewidth``, ``ci_alpha``, ``title``, ``ylabel``, ``legend`` (bool).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    label = cif_df.attrs.get("survival_label", "survival")
    df = cif_df[~cif_df["cause"].isin([label])]
    if "group" in df.columns:
        groups = pd.unique(df["group"])
        if group is None and len(groups) > 1:
            raise ValueError(f"cif_df has several groups {list(groups)}; pass group=... (one Axes per group)")
        if group is not None:
            if group not in set(groups):
                raise ValueError(f"group {group!r} is not in cif_df; groups are {list(groups)}")
            df = df[df["group"] == group]
    if df.empty:
        raise ValueError("cif_df has no cause rows to plot")
    names = list(pd.unique(df["cause"])) if causes is None else list(causes)
    counted = {"n_event", "at_risk"} <= set(df.columns)
    if withhold_below is not None and counted and (df.attrs.get("disclosure") or {}).get("rule") != "curve":
        df = publish_curve(df[df["cause"].isin(names)], by="cause", threshold=withhold_below)
    lo_col = next((c for c in df.columns if str(c).startswith("lower ")), None)
    hi_col = next((c for c in df.columns if str(c).startswith("upper ")), None)
    wide = _curves(df, "cause", "estimate", names)
    lower = _curves(df, "cause", lo_col, names) if (lo_col and not stacked) else None
    upper = _curves(df, "cause", hi_col, names) if (hi_col and not stacked) else None
    if ax is None:
        _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
    _stack_or_lines(ax, wide.index.to_numpy(float), wide, lower, upper, names, _colours(names, colors),
                    _labels(names, labels), stacked, ci, kwargs)
    if counted:
        from attrition.figures import record_published

        record_published(ax.figure, df, kind="curve", events="n_event", at_risk="at_risk",
                         label=f"cumulative incidence{'' if group is None else f' ({group})'}")
    ax.set_xlabel(time_label)
    ax.set_ylabel(kwargs.get("ylabel") or ("Cumulative proportion of cases that left" if stacked
                                           else "Cumulative incidence"))
    ax.set_ylim(0, 1) if stacked else ax.set_ylim(bottom=0)  # lines keep autoscaling their top
    ax.set_xlim(left=min(0.0, float(wide.index.min())))
    if kwargs.get("title"):
        ax.set_title(kwargs["title"])
    if kwargs.get("legend", True):
        ax.legend(title=kwargs.get("legend_title", "Exit reason"), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)
    return ax


def plot_exits_and_outcome(
    cif_df: pd.DataFrame,
    axes=None,
    *,
    outcome="convicted",
    causes=None,
    horizon: float | None = None,
    time_label: str = "Days since report",
    labels: dict | None = None,
    title: str | None = None,
):
    """Two panels from one competing-risks fit: the exits (attrition) stacked by reason, and the wanted outcome.

    The outcome (e.g. a conviction for stalking) is a way of finishing the journey, not a way of dropping
    out of it: it is drawn on its own panel, as a line with its pointwise confidence band on its own
    scale, and is not part of the stacked "left" areas, whose top edge is the proportion of reports
    that have left without it.

    Parameters
    ----------
    cif_df : pandas.DataFrame
        Output of :func:`attrition.survival.cumulative_incidence` with ``outcome`` among its causes (one
        group).
    axes : sequence of two matplotlib.axes.Axes, optional
        Exits, then outcome; a new figure (exits wide, outcome narrow, legend at the right) if omitted.
    outcome : scalar, default "convicted"
        The cause drawn on the second panel.
    causes : sequence, optional
        Exit causes in stacking order (default: every other cause, largest at the horizon first).
    horizon : float, optional
        Last time shown (default: the last time in ``cif_df``).
    time_label : str, default "Days since report"
        x-axis label of both panels: say the time origin.
    labels : dict, optional
        Legend label per cause (defaults: the project's exit-reason labels).
    title : str, optional
        Figure title.

    Returns
    -------
    numpy.ndarray of two matplotlib.axes.Axes
        The exits panel and the outcome panel.
    """
    import matplotlib.pyplot as plt

    df = cif_df[cif_df["cause"].astype(str) != "survival"]
    if outcome not in set(df["cause"]):
        raise ValueError(f"outcome {outcome!r} is not a cause of cif_df; causes are {list(pd.unique(df['cause']))}")
    if horizon is not None:
        df = df[df["time"] <= horizon]
    if causes is None:
        last = df.groupby("cause", observed=True)["estimate"].last().drop(outcome)
        causes = last.sort_values(ascending=False, kind="stable").index.tolist()
    if outcome in set(causes):
        raise ValueError(f"the outcome {outcome!r} must not be stacked among the exits")
    new = axes is None
    if new:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1.7, 1], layout="constrained")
    else:
        fig = axes[0].figure
    ax, out = axes
    plot_cumulative_incidence(df, ax=ax, causes=causes, labels=labels, time_label=time_label, legend=False,
                              ylabel="Proportion of reports that left\n(without a stalking conviction)")
    ax.set_title("Left the journey, by reason", loc="left")
    plot_cumulative_incidence(df, ax=out, stacked=False, causes=[outcome], labels=labels, time_label=time_label,
                              legend=False, ylabel="Cumulative incidence (95% CI)")
    lab = _labels([outcome], labels)[0]
    out.set_title(lab, loc="left")
    from matplotlib.ticker import MaxNLocator

    from attrition.plotting import percent_axis

    percent_axis(ax, decimals=0)
    percent_axis(out, decimals=1, limits=False)
    out.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))  # 0.5%, 1.0%, ...: no rounded ticks
    part = df[df["cause"] == outcome]
    hi_col = next((c for c in df.columns if str(c).startswith("upper ")), "estimate")
    out.set_ylim(0, 1.25 * float(part[hi_col].max()) or 1.0)
    end = float(df["time"].max()) if horizon is None else float(horizon)
    for a in axes:
        a.set_xlim(0, end)
    handles, labs = ax.get_legend_handles_labels()  # top of the stack first, as drawn
    (fig if new else out).legend(handles[::-1], labs[::-1], title="Left without a stalking conviction",
                                 frameon=False, fontsize="small", title_fontsize="small",
                                 **({"loc": "outside right upper"} if new else
                                    {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}))
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    return np.asarray(axes)


def plot_state_occupation(
    fitter_or_df,
    ax=None,
    stacked: bool = True,
    *,
    states=None,
    ci: bool = True,
    time_label: str = "Days since report",
    labels: dict | None = None,
    colors=None,
    withhold_below: int | None = DISCLOSURE_THRESHOLD,
    **kwargs,
):
    """Probability of being in each state over time, from a fitted :class:`MultiStateFitter`.

    Parameters
    ----------
    fitter_or_df : MultiStateFitter or pandas.DataFrame
        A fitted ``MultiStateFitter`` or its ``state_occupation_`` table (``time``, ``state``,
        ``probability`` and CI columns).
    ax : matplotlib.axes.Axes, optional
    stacked : bool, default True
        Stacked areas (they sum to 1 at every time); with ``False``, lines with pointwise CIs.
    states : sequence, optional
        States to draw, in stacking order (default: all, in the fitter's order).
    ci : bool, default True
        Shade CIs (unstacked only).
    time_label : str, default "Days since report"
    labels, colors, **kwargs
        As in :func:`plot_cumulative_incidence` (defaults: the project's stage colours/labels).
    withhold_below : int or None, default ``attrition.config.DISCLOSURE_THRESHOLD`` (10)
        With a fitter: disclosure control (:func:`attrition.disclosure.publish_occupation`): only times where
        every state holds 0 or at least this many cases, and every state changed by 0 or at least this
        many since the last drawn time, are drawn. ``None``, or a table: drawn as given.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if isinstance(fitter_or_df, pd.DataFrame):
        df = fitter_or_df
        start = None
    else:
        fitter_or_df._check_fitted()
        df = fitter_or_df.state_occupation_
        start = fitter_or_df.start_state_
        if withhold_below is not None:
            df = publish_occupation(fitter_or_df, threshold=withhold_below)

    names = list(pd.unique(df["state"])) if states is None else list(states)
    lo_col = next((c for c in df.columns if str(c).startswith("lower ")), None)
    hi_col = next((c for c in df.columns if str(c).startswith("upper ")), None)
    wide = _curves(df, "state", "probability", names)
    lower = _curves(df, "state", lo_col, names) if (lo_col and not stacked) else None
    upper = _curves(df, "state", hi_col, names) if (hi_col and not stacked) else None
    if start is None:  # the first time point holds the starting distribution
        first = wide.iloc[0]
    else:
        first = pd.Series({s: float(s == start) for s in names})
    times = wide.index.to_numpy(float)
    if ax is None:
        _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
    if (df.attrs.get("disclosure") or {}).get("rule") == "occupation":
        from attrition.figures import record_published

        record_published(ax.figure, df, kind="curve", count_cols=["implied_cases"], label="state occupation")
    colours, labs = _colours(names, colors), _labels(names, labels)
    if stacked:
        base = np.zeros(times.shape[0])
        for name, col, lab in zip(names, colours, labs, strict=True):
            top = base + wide[name].to_numpy()
            ax.fill_between(times, base, top, step="post", color=col, label=lab, linewidth=0,
                            alpha=kwargs.get("alpha", 0.9))
            base = top
    else:
        kwargs["_start"] = first.to_dict()
        _stack_or_lines(ax, times, wide, lower, upper, names, colours, labs, False, ci, kwargs)
    ax.set_xlabel(time_label)
    ax.set_ylabel("Probability of being in state")
    ax.set_ylim(0, 1) if stacked else ax.set_ylim(bottom=0)  # lines keep autoscaling their top
    ax.set_xlim(left=min(0.0, float(times.min())))
    if kwargs.get("title"):
        ax.set_title(kwargs["title"])
    if kwargs.get("legend", True):
        ax.legend(title=kwargs.get("legend_title", "State"), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)
    return ax
