"""Near-tied times: merge times closer than a tolerance, the rule of R ``survival::aeqSurv``.

Floating-point times that should be equal often are not: ``0.1 + 0.2`` vs ``0.3``, or days / 365.25
summed in a different order. R ``survival`` merges such values before every fit (``timefix = TRUE`` in
``coxph``, ``survfit`` and ``finegray``); so do all estimators of :mod:`attrition.survival`, so that
"ties as R survival" holds for near ties as well as for exactly equal times.

The rule (``aeqSurv``, survival 3.5): take the sorted distinct finite values ``y`` of all time columns
together (entry and exit); two neighbours are tied when ``y[i+1] - y[i] <= tol`` or
``(y[i+1] - y[i]) / mean(|y|) <= tol``, with ``tol = sqrt(machine epsilon) ~ 1.49e-8``; each run of tied
neighbours is replaced by its smallest value. A (start, stop] interval that collapses to length zero is
an error (R: "aeqSurv exception, an interval has effective length 0").
"""
from __future__ import annotations

import numpy as np

from ..exceptions import DataValidationError

__all__ = ["TIMEFIX_TOLERANCE", "timefix_tolerance", "aeq_times"]

TIMEFIX_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def timefix_tolerance(timefix) -> float:
    """Tolerance from a ``timefix`` argument: ``True`` -> R's default, ``False``/``0`` -> off (0.0),
    a positive float -> that tolerance."""
    if timefix is True:
        return TIMEFIX_TOLERANCE
    if timefix is False or timefix is None:
        return 0.0
    try:
        tol = float(timefix)
    except (TypeError, ValueError):
        raise ValueError(f"timefix must be True, False or a non-negative tolerance, got {timefix!r}") from None
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"timefix must be True, False or a non-negative tolerance, got {timefix!r}")
    return tol


def _abs_max_and_integer(a: np.ndarray) -> tuple[float, bool]:
    """(max |finite value|, whether every finite value is an integer) in few passes, chunked (no big temps)."""
    if a.dtype.kind in "iub":
        return float(max(abs(int(a.min())), abs(int(a.max())))), True
    mn, mx = float(a.min()), float(a.max())
    if not (np.isfinite(mn) and np.isfinite(mx)):
        a = a[np.isfinite(a)]
        if not a.size:
            return 0.0, True
        mn, mx = float(a.min()), float(a.max())
    big = max(abs(mn), abs(mx))
    if big >= 2.0**62:
        return big, False
    step = 1 << 16
    buf = np.empty(min(step, a.shape[0]), dtype=np.int64)
    for i in range(0, a.shape[0], step):  # chunks of rows (cache-sized), not a loop over rows
        c = a[i:i + step]
        b = buf[:c.shape[0]]
        np.copyto(b, c, casting="unsafe")
        if not np.array_equal(b, c):
            return big, False
    return big, True


def aeq_times(*arrays, timefix=True):
    """Merge near-tied values across ``arrays`` (entry and exit times) as R ``aeqSurv``.

    Parameters
    ----------
    *arrays : numpy.ndarray, shape (n,) each
        Time columns (e.g. ``entry``, ``exit``); ``None`` entries are passed through. Non-finite
        values (e.g. ``-inf`` for "no entry") are left alone and ignored by the rule.
    timefix : bool or float, default True
        ``True``: R's tolerance ``sqrt(eps)``; ``False``: return the arrays unchanged; a float: that
        tolerance.

    Returns
    -------
    tuple of numpy.ndarray
        The arrays with every run of near-tied values replaced by its smallest value (the same
        objects when nothing is tied). When two arrays are given, they are read as (entry, exit):
        a row whose interval collapses to zero length raises :class:`DataValidationError`.

    Notes
    -----
    Integer-valued times (e.g. days) are never near-tied unless they exceed ``1 / tol`` (about
    6.7e7) on average, so they are recognised by one cheap pass and not sorted.
    """
    tol = timefix_tolerance(timefix)
    present = [a for a in arrays if a is not None and a.size]
    if tol == 0 or not present:
        return arrays
    if tol < 1:
        checks = [_abs_max_and_integer(a) for a in present]
        big = max(c[0] for c in checks)
        if big * tol < 1 and all(c[1] for c in checks):
            return arrays  # distinct integers differ by >= 1 > tol, and by > tol * mean|y| since mean|y| <= big
    allv = np.concatenate([np.asarray(a, dtype=float).ravel() for a in present])
    y = np.unique(allv[np.isfinite(allv)])
    if y.size < 2:
        return arrays
    dy = np.diff(y)
    scale = float(np.mean(np.abs(y)))
    tied = (dy <= tol) | (dy / scale <= tol if scale > 0 else np.zeros(dy.shape, bool))
    if not tied.any():
        return arrays
    cuts = y[np.concatenate(([True], ~tied))]

    def fix(a):
        if a is None or not a.size:
            return a
        a = np.asarray(a, dtype=float)
        out = a.copy()
        ok = np.isfinite(a)
        out[ok] = cuts[np.searchsorted(cuts, a[ok], side="right") - 1]
        return out

    fixed = tuple(fix(a) for a in arrays)
    if len(arrays) == 2 and arrays[0] is not None and arrays[1] is not None:
        zero = (fixed[0] >= fixed[1]) & (arrays[0] < arrays[1])
        if zero.any():
            i = int(np.flatnonzero(zero)[0])
            raise DataValidationError(
                f"{int(zero.sum())} interval(s) have effective length 0 after merging near-tied times (first at "
                f"row {i}: entry={arrays[0][i]!r}, exit={arrays[1][i]!r}, closer than the timefix tolerance "
                f"{tol:g}); R aeqSurv stops here too. Round the times, or pass timefix=False."
            )
    return fixed
