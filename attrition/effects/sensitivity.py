"""Sensitivity analysis for unmeasured confounding: E-values and negative-control outcomes."""
from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError

__all__ = ["e_value", "negative_control_check"]

_MEASURES = ("RR", "HR", "OR", "RD")


def _threshold(rr: float, true: float = 1.0) -> float:
    """E-value of a risk ratio ``rr`` against a true value ``true`` (EValue package's ``threshold``)."""
    if rr <= 1:
        rr, true = 1.0 / rr, 1.0 / true
    if true <= rr:
        return (rr + math.sqrt(rr * (rr - true))) / true
    ratio = true / rr
    return ratio + math.sqrt(ratio * (ratio - 1))


def _to_rr(x: float | None, measure: str, rare: bool, baseline_risk: float | None) -> float | None:
    if x is None:
        return None
    if measure == "RR" or (measure in ("OR", "HR") and rare):
        return x
    if measure == "OR":
        return math.sqrt(x)
    if measure == "HR":
        return (1 - 0.5 ** math.sqrt(x)) / (1 - 0.5 ** math.sqrt(1 / x))
    # RD with a reference risk
    return (baseline_risk + x) / baseline_risk


def _number(name: str, x) -> float | None:
    if x is None:
        return None
    if not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
        raise ValueError(f"{name} must be a finite number or None, got {x!r}")
    return float(x)


def e_value(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    measure: str = "RR",
    rare: bool | None = None,
    baseline_risk: float | None = None,
    true: float | None = None,
) -> pd.DataFrame:
    """E-value for an observed association and its confidence limit closest to the null.

    The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
    confounder would need with both the treatment and the outcome, conditional on the measured
    covariates, to fully explain away the observed association: for a risk ratio
    :math:`RR \\ge 1`, :math:`E = RR + \\sqrt{RR (RR - 1)}`; estimates below 1 are inverted first.

    Parameters
    ----------
    estimate : float
        Point estimate on the scale of ``measure``.
    lower, upper : float, optional
        Confidence limits. Only the limit closest to the null is used; if the interval contains the
        null (``true``), its E-value is 1.
    measure : {"RR", "HR", "OR", "RD"}, default "RR"
        ``"RR"`` risk ratio. ``"OR"`` odds ratio and ``"HR"`` hazard ratio are converted to the risk-ratio
        scale: unchanged if the outcome is rare (``rare=True``, < ~15% by end of follow-up); otherwise
        :math:`\\sqrt{OR}` and :math:`(1 - 0.5^{\\sqrt{HR}}) / (1 - 0.5^{\\sqrt{1/HR}})` (VanderWeele 2017,
        2020; as the R package EValue). ``"RD"`` risk difference: converted to a risk ratio using
        ``baseline_risk`` (the risk in the reference/untreated group):
        :math:`RR = (p_0 + RD)/p_0` for the estimate and each limit, treating :math:`p_0` as known.
    rare : bool, optional
        Required for ``"OR"`` and ``"HR"``; ignored otherwise.
    baseline_risk : float, optional
        Required for ``"RD"``: reference-group risk in (0, 1).
    true : float, optional
        True value to shift the estimate to, on the scale of ``measure`` (default the null: 1 for
        ratios, 0 for RD).

    Returns
    -------
    pandas.DataFrame, shape (2, 3)
        Index ``["RR", "E-value"]``, columns ``["point", "lower", "upper"]``: the risk-ratio-scale
        estimate and limits, and the E-values (NaN for the limit that is not used or not given, 1 when
        the CI crosses ``true``), as ``EValue::evalues.RR`` prints.

    Raises
    ------
    ValueError
        Unknown measure, non-positive ratio, limits on the wrong side of the estimate, ``rare`` or
        ``baseline_risk`` missing where needed.

    Notes
    -----
    The ``"RD"`` conversion is a simple approximation for adjusted risk differences (e.g. from
    :func:`~attrition.effects.ipw_effect`, whose ``risk_ratio`` row can be used directly instead); it is
    not the counts-based method of ``EValue::evalues.RD`` (Ding & VanderWeele 2016), which applies to a
    crude 2x2 table.

    References
    ----------
    VanderWeele TJ, Ding P (2017). Sensitivity analysis in observational research: introducing the
    E-value. Annals of Internal Medicine 167(4):268-274.
    VanderWeele TJ (2020). Optimal approximate conversions of odds ratios and hazard ratios to risk
    ratios. Biometrics 76(3):746-752.
    Mathur MB, Ding P, Riddell CA, VanderWeele TJ (2018). Website and R package for computing E-values.
    Epidemiology 29(5):e45-e47.

    Examples
    --------
    >>> e_value(3.9, 1.8, 8.7).round(2)
             point  lower  upper
    RR        3.90    1.8    8.7
    E-value   7.26    3.0    NaN
    """
    if measure not in _MEASURES:
        raise ValueError(f"measure must be one of {_MEASURES}, got {measure!r}")
    estimate = _number("estimate", estimate)
    lower, upper = _number("lower", lower), _number("upper", upper)
    if estimate is None:
        raise ValueError("estimate is required")
    if lower is not None and lower > estimate:
        raise ValueError(f"lower ({lower}) must not exceed the estimate ({estimate})")
    if upper is not None and upper < estimate:
        raise ValueError(f"upper ({upper}) must not be below the estimate ({estimate})")
    if measure in ("OR", "HR") and rare is None:
        raise ValueError(
            f"For measure={measure!r} say whether the outcome is rare (rare=True, < ~15% by the end of "
            "follow-up) or common (rare=False); the conversion to a risk ratio depends on it."
        )
    if measure == "RD":
        if baseline_risk is None or not 0 < baseline_risk < 1:
            raise ValueError(
                "measure='RD' needs baseline_risk, the risk in the reference (untreated) group, in (0, 1); "
                f"got {baseline_risk!r}"
            )
        for name, v in (("estimate", estimate), ("lower", lower), ("upper", upper)):
            if v is not None and not -baseline_risk < v < 1 - baseline_risk:
                raise ValueError(f"RD {name} {v} is impossible with baseline_risk {baseline_risk}")
    else:
        for name, v in (("estimate", estimate), ("lower", lower), ("upper", upper)):
            if v is not None and v <= 0:
                raise ValueError(f"{measure} {name} must be positive, got {v}")
    null = 0.0 if measure == "RD" else 1.0
    true = null if true is None else _number("true", true)

    rr = _to_rr(estimate, measure, bool(rare), baseline_risk)
    rr_lo = _to_rr(lower, measure, bool(rare), baseline_risk)
    rr_hi = _to_rr(upper, measure, bool(rare), baseline_risk)
    rr_true = _to_rr(true, measure, bool(rare), baseline_risk)

    e_point = _threshold(rr, rr_true)
    e_lo = e_hi = np.nan
    if rr > rr_true and rr_lo is not None:
        e_lo = 1.0 if rr_lo <= rr_true else _threshold(rr_lo, rr_true)
    elif rr < rr_true and rr_hi is not None:
        e_hi = 1.0 if rr_hi >= rr_true else _threshold(rr_hi, rr_true)
    elif rr == rr_true:
        e_point = 1.0
        e_lo = 1.0 if rr_lo is not None else np.nan
        e_hi = 1.0 if rr_hi is not None else np.nan
    nan = np.nan
    return pd.DataFrame(
        {
            "point": [rr, e_point],
            "lower": [nan if rr_lo is None else rr_lo, e_lo],
            "upper": [nan if rr_hi is None else rr_hi, e_hi],
        },
        index=["RR", "E-value"],
    )


def negative_control_check(
    estimator: Callable[..., pd.DataFrame],
    df: pd.DataFrame,
    negative_control_outcome: str,
    *,
    measure: str = "risk_difference",
    null: float | None = None,
    **kwargs,
) -> pd.Series:
    """Fit an adjusted estimator to a negative-control outcome and check that its CI covers the null.

    A negative-control outcome shares the confounding of the real outcome but cannot be affected by
    the treatment; an adjusted effect on it that excludes the null flags residual confounding (or
    selection / measurement bias).

    Parameters
    ----------
    estimator : callable
        Called as ``estimator(df, negative_control_outcome, **kwargs)``; must return a DataFrame indexed
        by measure with an ``estimate`` column and CI columns whose names start with ``"lower"`` and
        ``"upper"`` (e.g. :func:`~attrition.effects.ipw_effect`, :func:`~attrition.effects.aipw_effect`).
    df : pandas.DataFrame
        Data passed to the estimator.
    negative_control_outcome : str
        Column of the negative-control outcome.
    measure : str, default "risk_difference"
        Row of the estimator's result to check.
    null : float, optional
        No-effect value; default 1 if ``measure`` contains "ratio", else 0.
    **kwargs
        Passed to ``estimator`` (treatment, covariates, cluster, ...).

    Returns
    -------
    pandas.Series
        ``outcome``, ``measure``, ``estimate``, the two CI limits, ``null``, ``p`` (if the estimator gives
        one) and ``covers_null`` (bool; True means no evidence of residual bias).

    Raises
    ------
    DataValidationError
        The estimator's result lacks the measure or CI columns.

    References
    ----------
    Lipsitch M, Tchetgen Tchetgen E, Cohen T (2010). Negative controls: a tool for detecting confounding
    and bias in observational studies. Epidemiology 21(3):383-388.

    Examples
    --------
    >>> negative_control_check(ipw_effect, cases, "reported_on_weekend", treatment="officer",
    ...                        covariates=["risk"], cluster="force")  # doctest: +SKIP
    """
    if not callable(estimator):
        raise TypeError(f"estimator must be callable, got {type(estimator).__name__}")
    res = estimator(df, negative_control_outcome, **kwargs)
    if not isinstance(res, pd.DataFrame) or measure not in res.index:
        have = list(res.index) if isinstance(res, pd.DataFrame) else type(res).__name__
        raise DataValidationError(f"The estimator's result has no row '{measure}' (it has {have}).")
    lo_cols = [c for c in res.columns if str(c).startswith("lower")]
    hi_cols = [c for c in res.columns if str(c).startswith("upper")]
    if "estimate" not in res.columns or len(lo_cols) != 1 or len(hi_cols) != 1:
        raise DataValidationError(
            "The estimator's result must have an 'estimate' column and exactly one 'lower ...' and one "
            f"'upper ...' CI column; it has {list(res.columns)}."
        )
    row = res.loc[measure]
    if null is None:
        null = 1.0 if "ratio" in measure.lower() else 0.0
    lo, hi = float(row[lo_cols[0]]), float(row[hi_cols[0]])
    return pd.Series(
        {
            "outcome": negative_control_outcome,
            "measure": measure,
            "estimate": float(row["estimate"]),
            lo_cols[0]: lo,
            hi_cols[0]: hi,
            "null": float(null),
            "p": float(row["p"]) if "p" in res.columns else np.nan,
            "covers_null": bool(lo <= null <= hi),
        },
        name="negative_control",
    )
