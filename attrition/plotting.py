"""Shared plotting style: palette, stable colours per stage and exit reason, small Axes helpers.

Every figure in the project is drawn with one fixed style (``attrition/standard/matplotlibrc``) and
one colour per funnel stage and per exit reason, so "victim not supporting" is the same colour in
every figure. Importing this module does not import :mod:`matplotlib.pyplot` (nor matplotlib at
all); pyplot is imported inside the functions that need it.

Figures are written only through :func:`attrition.figures.save_figure`.
"""
from __future__ import annotations

from attrition.config import MATPLOTLIBRC
from attrition.standard import EXIT_REASONS, STAGE_LABELS, STAGES

__all__ = [
    "PALETTE", "GREY", "LIGHT_GREY", "STAGE_COLOURS", "REASON_COLOURS", "REASON_LABELS", "STAGE_LABELS",
    "use_style", "percent_axis", "stage_colours", "reason_colours", "mark_suppressed",
]

#: Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), in the order of the style's colour cycle:
#: blue, vermillion, bluish green, reddish purple, orange, sky blue, yellow, black.
PALETTE: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
)
#: Neutral greys for "not applicable"/"other" categories (distinguishable by lightness alone).
GREY = "#7F7F7F"
LIGHT_GREY = "#C8C8C8"

#: One colour per funnel stage (``attrition.standard.STAGES``), report to conviction.
STAGE_COLOURS: dict[str, str] = dict(zip(STAGES, (
    "#56B4E9",  # reported
    "#0072B2",  # recorded_stalking
    "#009E73",  # suspect_identified
    "#E69F00",  # charged
    "#D55E00",  # prosecuted
    "#332288",  # convicted (Tol indigo: distinct from "acquitted", black)
), strict=True))

#: One colour per exit reason (``attrition.standard.EXIT_REASONS``), the same in every figure.
REASON_COLOURS: dict[str, str] = {
    "not_recorded": LIGHT_GREY,
    "mischarged": "#CC79A7",
    "no_suspect": "#E69F00",
    "victim_not_supporting": "#D55E00",
    "evidential_victim_supports": "#0072B2",
    "public_interest": "#56B4E9",
    "out_of_court": "#009E73",
    "transferred": "#F0E442",
    "acquitted": "#000000",
    "other": GREY,
}
if set(REASON_COLOURS) != set(EXIT_REASONS):  # pragma: no cover - guards the data standard
    raise RuntimeError(
        "attrition.plotting.REASON_COLOURS is out of step with the exit reasons of the data standard: "
        f"missing {sorted(set(EXIT_REASONS) - set(REASON_COLOURS))}, "
        f"extra {sorted(set(REASON_COLOURS) - set(EXIT_REASONS))}"
    )
REASON_COLOURS = {r: REASON_COLOURS[r] for r in EXIT_REASONS}  # standard's order

#: Short legend labels for exit reasons.
REASON_LABELS: dict[str, str] = {
    "mischarged": "Recorded/convicted as another offence",
    "not_recorded": "Not recorded as a crime",
    "evidential_victim_supports": "Evidential difficulties, victim supports",
    "victim_not_supporting": "Victim does not support action",
    "no_suspect": "No suspect identified",
    "public_interest": "Not in the public interest",
    "out_of_court": "Out-of-court disposal",
    "transferred": "Transferred to another body",
    "acquitted": "Acquitted or dismissed",
    "other": "Other",
}


def use_style() -> None:
    """Apply the project's fixed matplotlib style (``attrition/standard/matplotlibrc``).

    Resets ``matplotlib.rcParams`` to matplotlib's defaults and then applies the file, exactly as
    setting ``MATPLOTLIBRC`` does before matplotlib is imported. The backend is never changed
    (matplotlib does not let style files set it), so this is safe in a Jupyter kernel.

    Examples
    --------
    >>> from attrition.plotting import use_style
    >>> use_style()
    >>> import matplotlib
    >>> matplotlib.rcParams["svg.hashsalt"]
    'attrition'
    """
    import matplotlib

    matplotlib.rc_file(MATPLOTLIBRC, use_default_template=True)


def _check_keys(keys, mapping: dict[str, str], what: str) -> list[str]:
    keys = list(keys)
    unknown = [k for k in keys if k not in mapping]
    if unknown:
        raise ValueError(f"unknown {what} {unknown!r}; expected some of {list(mapping)}")
    return [mapping[k] for k in keys]


def stage_colours(stages=STAGES) -> list[str]:
    """Colours of the given funnel stages (default: all, in funnel order).

    Raises
    ------
    ValueError
        If a stage is not one of ``attrition.standard.STAGES``.
    """
    return _check_keys(stages, STAGE_COLOURS, "stage(s)")


def reason_colours(reasons=tuple(EXIT_REASONS)) -> list[str]:
    """Colours of the given exit reasons (default: all, in the data standard's order).

    Raises
    ------
    ValueError
        If a reason is not one of ``attrition.standard.EXIT_REASONS``.
    """
    return _check_keys(reasons, REASON_COLOURS, "exit reason(s)")


def percent_axis(ax, axis: str = "y", *, xmax: float = 1.0, decimals: int = 0, limits: bool = True):
    """Format an axis holding proportions as percentages.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    axis : {"y", "x"}
    xmax : float, default 1.0
        The value shown as 100% (1.0 for proportions, 100 for percentages).
    decimals : int, default 0
        Decimals of the tick labels.
    limits : bool, default True
        Also set the axis limits to ``[0, xmax]``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, for chaining.
    """
    from matplotlib.ticker import PercentFormatter

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=xmax, decimals=decimals))
    if limits:
        (ax.set_ylim if axis == "y" else ax.set_xlim)(0, xmax)
    return ax


def mark_suppressed(ax, x, y=0.0, *, marker: str = "[c]", **kwargs):
    """Write the suppression marker at positions whose values were withheld by disclosure control.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array-like, shape (k,)
        Positions (data coordinates) of the suppressed values.
    y : float or array-like, shape (k,), default 0.0
        Heights at which to write the marker.
    marker : str, default "[c]"
        ONS convention for "confidential".
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.text` (defaults: centred, small, grey).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import numpy as np

    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "bottom")
    kwargs.setdefault("fontsize", "small")
    kwargs.setdefault("color", GREY)
    xs = np.atleast_1d(np.asarray(x))
    ys = np.broadcast_to(np.asarray(y, dtype=float), xs.shape)
    for xi, yi in zip(xs, ys):  # one text per suppressed cell: a handful
        ax.text(xi, yi, marker, **kwargs)
    return ax
