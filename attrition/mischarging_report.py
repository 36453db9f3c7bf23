"""The funnel per 10,000 true stalking reports, once misrecorded stalking is accounted for (notebook 05).

:meth:`attrition.mischarging.MisclassificationCorrection.correct` (and :func:`~attrition.mischarging.correct_funnel`)
return the downstream funnel entries as ``<stage>_per_report`` rows, per record recorded as stalking
(``observed``) and per corrected stalking report (``corrected``, with the review's uncertainty).
:func:`corrected_funnel_per` turns those rows into a funnel per ``per`` reports (optionally next to the
truth of synthetic data) and :func:`plot_corrected_funnel` draws it.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .exceptions import DataValidationError

__all__ = ["corrected_funnel_per", "plot_corrected_funnel", "lesser_offence_shares"]

_SUFFIX = "_per_report"


def _ci_columns(table: pd.DataFrame) -> tuple[str, str]:
    lo = [c for c in table.columns if isinstance(c, str) and c.startswith("lower ") and c.endswith("%")]
    hi = [c for c in table.columns if isinstance(c, str) and c.startswith("upper ") and c.endswith("%")]
    if len(lo) != 1 or len(hi) != 1:
        raise DataValidationError(
            f"expected one 'lower NN%' and one 'upper NN%' column, found {lo + hi!r}; pass the output of "
            "MisclassificationCorrection.correct or correct_funnel"
        )
    return lo[0], hi[0]


def corrected_funnel_per(correction: pd.DataFrame, truth: dict | None = None, per: float = 10_000) -> pd.DataFrame:
    """The funnel per ``per`` stalking reports, observed and corrected for misrecording, with intervals.

    Parameters
    ----------
    correction : pandas.DataFrame, shape (k, 8)
        Output of :meth:`attrition.mischarging.MisclassificationCorrection.correct` or of
        :func:`attrition.mischarging.correct_funnel` without ``by`` (one row per quantity, each quantity
        once), with ``<stage>_per_report`` rows for the downstream stages.
    truth : dict of str to float, optional
        True probability per stalking report of reaching each downstream stage (synthetic data, e.g. the
        ``p_reach`` of :class:`attrition.funnel.FunnelFitter` on the case table). Every downstream stage of
        ``correction`` must have one.
    per : float, default 10_000
        Reports the funnel is expressed per.

    Returns
    -------
    pandas.DataFrame, shape (1 + n_stages, 4 or 5)
        Index ``stage``: ``"reported"`` (``per`` by definition) then the downstream stages in the order of
        ``correction``. Columns ``observed`` (per ``per`` records recorded as stalking, taking the recorded
        classification at face value), ``corrected`` (per ``per`` true stalking reports), the interval
        columns of ``correction`` (e.g. ``lower 95%``, ``upper 95%``; they carry the review's sampling
        uncertainty only, as in the correction) and, with ``truth``, ``truth``. ``attrs["per"]`` is ``per``.

    Raises
    ------
    DataValidationError
        ``correction`` is not a correction table (missing columns, no ``<stage>_per_report`` row, a
        quantity repeated, e.g. a ``by`` result) or ``truth`` lacks a stage.
    ValueError
        ``per`` is not a positive number.

    Notes
    -----
    Each value is the correction's per-report value times ``per``: the interval is the correction's
    interval scaled (posterior quantiles or delta-method normal interval, whichever ``variance`` the
    correction used). The downstream counts themselves are treated as fixed, as in the correction.

    Examples
    --------
    >>> import pandas as pd
    >>> from attrition.mischarging import MisclassificationCorrection
    >>> review = pd.DataFrame({"recorded": ["stalking_s2a", "stalking_s2a", "harassment", "harassment"],
    ...                        "true_stalking": [True, False, True, False], "n": [48, 2, 30, 20]})
    >>> mc = MisclassificationCorrection(variance="delta", finite_population=False).fit(review)
    >>> out = mc.correct({"stalking_s2a": 500, "harassment": 1000}, downstream={"charged": 108})
    >>> corrected_funnel_per(out).loc["charged", ["observed", "corrected"]].round(1).tolist()
    [2160.0, 1000.0]
    """
    if isinstance(per, bool) or not isinstance(per, numbers.Real) or not np.isfinite(per) or per <= 0:
        raise ValueError(f"per must be a positive number, got {per!r}")
    if not isinstance(correction, pd.DataFrame):
        raise DataValidationError(f"correction must be a pandas DataFrame, not {type(correction).__name__}")
    need = {"quantity", "observed", "corrected"}
    missing = sorted(need - set(correction.columns))
    if missing:
        raise DataValidationError(
            f"correction lacks column(s) {missing}; pass the output of MisclassificationCorrection.correct "
            "or correct_funnel"
        )
    lo, hi = _ci_columns(correction)
    q = correction["quantity"].astype(str)
    dup = q[q.duplicated()].unique().tolist()
    if dup:
        raise DataValidationError(
            f"correction has quantity {dup[0]!r} more than once (a correct_funnel(..., by=...) result?); "
            "pass one group's rows"
        )
    rows = correction.loc[q.str.endswith(_SUFFIX).to_numpy()]
    if rows.empty:
        raise DataValidationError(
            "correction has no '<stage>_per_report' rows: correct with downstream={stage: count} or pass a case table"
        )
    stages = [s[: -len(_SUFFIX)] for s in rows["quantity"].astype(str)]
    out = pd.DataFrame(
        {c: np.r_[1.0, rows[c].to_numpy(float)] * per for c in ("observed", "corrected", lo, hi)},
        index=pd.Index(["reported", *stages], name="stage"),
    )
    if truth is not None:
        lacking = [s for s in stages if s not in truth]
        if lacking:
            raise DataValidationError(f"truth has no value for stage(s) {lacking}; give one per downstream stage")
        out["truth"] = np.r_[1.0, [float(truth[s]) for s in stages]] * per
    out.attrs["per"] = float(per)
    return out


def plot_corrected_funnel(table: pd.DataFrame, ax=None, **kwargs):
    """Downstream funnel per report: observed, corrected (with its interval) and, if known, the truth.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`corrected_funnel_per`.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to the bar calls (e.g. ``width``, ``alpha``).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    DataValidationError
        If ``table`` is not the output of :func:`corrected_funnel_per`.
    """
    import matplotlib.pyplot as plt

    from .plotting import GREY, PALETTE
    from .standard import STAGE_LABELS

    if not isinstance(table, pd.DataFrame) or not {"observed", "corrected"} <= set(table.columns):
        raise DataValidationError("plot_corrected_funnel needs the output of corrected_funnel_per")
    lo, hi = _ci_columns(table)
    t = table.drop(index="reported", errors="ignore")
    if t.empty:
        raise DataValidationError("the table has no downstream stage to plot")
    per = float(table.attrs.get("per", 10_000))
    if ax is None:
        _, ax = plt.subplots()
    series = [("observed", "Observed (per record recorded as stalking)", GREY)]
    series.append(("corrected", f"Corrected (per true stalking report), {lo[6:]} interval", PALETTE[0]))
    if "truth" in t.columns:
        series.append(("truth", "Truth (synthetic data)", PALETTE[2]))
    kwargs.setdefault("width", 0.8 / len(series))
    width = kwargs["width"]
    pos = np.arange(len(t))
    for j, (col, label, colour) in enumerate(series):  # two or three series
        kw = dict(kwargs)
        kw.setdefault("color", colour)
        y = t[col].to_numpy(float)
        err = None
        if col == "corrected":
            err = np.vstack([y - t[lo].to_numpy(float), t[hi].to_numpy(float) - y])
        ax.bar(pos + (j - (len(series) - 1) / 2) * width, y, yerr=err, label=label, capsize=4,
               error_kw={"elinewidth": 1.0, "ecolor": "#000000"}, **kw)
    ax.set_xticks(pos, [STAGE_LABELS.get(s, s.replace("_", " ").capitalize()) for s in t.index])
    ax.set_ylabel(f"Per {per:,.0f} stalking reports")
    ax.set_ylim(bottom=0)
    ax.set_title("The funnel once misrecorded stalking is counted")
    ax.legend(frameon=False)
    return ax


def lesser_offence_shares(table: pd.DataFrame, lesser=None) -> pd.DataFrame:
    """The share of stalking reports recorded (or charged) as each lesser offence, as text for publication.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`attrition.mischarging.mischarging_table` with ``suppress=True`` (withheld counts NaN).
    lesser : list of str, optional
        The lesser offence classes to show, in order (default ``attrition.mischarging.LESSER_OFFENCES``).

    Returns
    -------
    pandas.DataFrame of str
        One row per (group..., stage): ``denominator``, ``any lesser`` (one minus the share recorded as
        stalking) with its Wilson interval, and each lesser class's share. ``[c]`` where disclosure control
        withholds it: a withheld count, a share computed from one, and "any lesser" whenever the number of
        reports recorded as a lesser offence (denominator minus stalking) is 1-9.
    """
    from .config import DISCLOSURE_THRESHOLD
    from .disclosure import MARKER
    from .mischarging import LESSER_OFFENCES

    meta = table.attrs.get("disclosure")
    if meta is None:
        raise DataValidationError("lesser_offence_shares needs mischarging_table(..., suppress=True)")
    lesser = list(LESSER_OFFENCES if lesser is None else lesser)
    lo_name, hi_name = _ci_columns(table)
    keys = [c for c in table.columns if c not in ("offence", "n", "total", "share", lo_name, hi_name, "suppressed")]
    keys = keys[keys.index("stage"):] + keys[:keys.index("stage")]  # stage first, then the groups
    st = table[table["offence"] == "stalking"].set_index(keys)
    n_lesser = st["total"] - st["n"]
    hide = st["n"].isna() | st["total"].isna() | ((n_lesser >= 1) & (n_lesser < DISCLOSURE_THRESHOLD))

    def text(values, fmt, hidden):
        return pd.Series(np.where(hidden, MARKER, [fmt.format(v) if pd.notna(v) else "[x]" for v in values]),
                         index=st.index, dtype=object)

    out = pd.DataFrame({
        "denominator": text(st["total"], "{:.0f}", st["total"].isna()),
        "any lesser": text(1 - st["share"], "{:.3f}", hide),
        lo_name: text(1 - st[hi_name], "{:.3f}", hide),
        hi_name: text(1 - st[lo_name], "{:.3f}", hide),
    })
    for offence in lesser:
        part = table[table["offence"] == offence].set_index(keys).reindex(st.index)
        out[offence] = text(part["share"], "{:.3f}", part["n"].isna() | part["total"].isna())
    return out
