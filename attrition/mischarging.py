"""Mischarging: stalking reports recorded or charged as lesser offences, and the funnel corrected for it.

Two questions from the issue "The attrition funnel":

* **How often is stalking recorded or charged as something else?** :func:`mischarging_table` gives, by
  force and year, the share of stalking reports first recorded (``stage="recorded"``), finally recorded
  after reclassification (``"final"``) or charged (``"charged"``) as harassment, malicious
  communications, criminal damage or another offence, with Wilson intervals and optional disclosure
  control; :func:`plot_mischarging` draws it.
* **What would the funnel look like if every stalking report were counted as stalking?** Police
  recorded-crime counts by offence mix genuine harassment with misrecorded stalking. A case-file review
  (e.g. the London Stalking Review, which found most stalking reports first recorded as domestic abuse
  or harassment) gives, for a sample of records, the recorded classification and the true one.
  :class:`MisclassificationCorrection` (and the one-call :func:`correct_funnel`) turns the review into
  misclassification probabilities and corrects the recorded counts, carrying the review's sampling
  uncertainty through by posterior simulation or the delta method. :func:`synthetic_review` draws a
  review from the synthetic data, where the truth is known, so the correction can be checked.

Offence classes
---------------
Recorded offences are grouped into :data:`OFFENCE_CLASSES`: ``stalking`` (s.2A and s.4A together),
``harassment``, ``malicious_communications``, ``criminal_damage`` and ``other``; a report never
recorded as a crime (missing offence) is ``not_recorded``.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*JASA* 22, 209-212.
Rogan, W. J. & Gladen, B. (1978). Estimating prevalence from the results of a screening test.
*American Journal of Epidemiology* 107, 71-76.
Greenland, S. (1996). Basic methods for sensitivity analysis of biases. *International Journal of
Epidemiology* 25, 1107-1116.
Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley (stratified estimation of a proportion,
section 5A.2).
Suffolk Lamplugh Trust / MOPAC (2024). *London Stalking Review* (initial recording of stalking reports).
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._utils import check_alpha, check_random_state, ci_labels, wilson_interval
from .base import BaseFitter
from .config import DISCLOSURE_THRESHOLD
from .exceptions import DataQualityWarning, DataValidationError, StatisticalWarning
from .standard import OFFENCES, STALKING_OFFENCES

__all__ = [
    "OFFENCE_CLASSES", "LESSER_OFFENCES", "mischarging_table", "MisclassificationCorrection", "correct_funnel",
    "synthetic_review", "SyntheticReview", "plot_mischarging", "offence_class", "ReviewerAccuracy",
    "allocate_review", "plan_review", "review_width_table", "review_scenario",
]

#: Offence classes of the mischarging tables, stalking first.
OFFENCE_CLASSES: tuple[str, ...] = ("stalking", "harassment", "malicious_communications", "criminal_damage", "other")
#: The lesser offences stalking is recorded or charged as instead.
LESSER_OFFENCES: tuple[str, ...] = OFFENCE_CLASSES[1:]
_NOT_RECORDED = "not_recorded"
_STAGE_COLUMN = {"recorded": "recorded_offence", "final": "final_offence", "charged": "charged_offence"}
_OFFENCE_TO_CLASS = {o: ("stalking" if o in STALKING_OFFENCES else o) for o in OFFENCES}
_OFFENCE_TO_CLASS["stalking"] = "stalking"


# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------
def _row_id(df: pd.DataFrame, pos: int) -> str:
    """Human-readable identifier of row ``pos`` (case_id if there is one)."""
    if "case_id" in df.columns:
        cid = df["case_id"].iloc[pos]
        cid = cid.item() if hasattr(cid, "item") else cid
        return f"row {pos} (case_id {cid!r})"
    return f"row {pos} (index {df.index[pos]!r})"


def offence_class(values, *, what: str = "offence", frame: pd.DataFrame | None = None) -> pd.Series:
    """Map offence codes to :data:`OFFENCE_CLASSES` (missing -> ``"not_recorded"``).

    Parameters
    ----------
    values : array-like of str, shape (n,)
        Offence codes of the data standard (``attrition.standard.OFFENCES``) or ``"stalking"``.
    what : str
        Name used in error messages (e.g. the column name).
    frame : pandas.DataFrame, optional
        The table ``values`` came from, so errors can name the case.

    Returns
    -------
    pandas.Series of str, shape (n,)

    Raises
    ------
    DataValidationError
        An offence code that is not in the data standard, naming the first row that has it.
    """
    s = pd.Series(np.asarray(values, dtype=object))
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([_OFFENCE_TO_CLASS.get(str(u).strip().lower(), None) for u in uniques], dtype=object)
    bad = [u for u, m in zip(uniques, mapped) if m is None]
    if bad:
        pos = int(np.flatnonzero(s.to_numpy() == bad[0])[0])
        where = _row_id(frame, pos) if frame is not None else f"position {pos}"
        raise DataValidationError(
            f"unknown offence code(s) {bad!r} in {what} (first at {where}); allowed codes are "
            f"{list(OFFENCES) + ['stalking']}: map local offence names to the data standard first"
        )
    out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else _NOT_RECORDED, _NOT_RECORDED)
    return pd.Series(out.astype(object), index=getattr(values, "index", None))


def _as_by(by, cases) -> list[str]:
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    missing = [b for b in by if b not in cases.columns]
    if missing:
        raise DataValidationError(f"by column(s) {missing!r} not in the case table; its columns are {list(cases.columns)!r}")
    for b in by:
        na = cases[b].isna().to_numpy()
        if na.any():
            pos = int(np.flatnonzero(na)[0])
            raise DataValidationError(
                f"by column {b!r} has {int(na.sum())} missing value(s) (first at {_row_id(cases, pos)}); "
                "fill or drop them before tabulating"
            )
    return by


# ----------------------------------------------------------------------------------------------------
# 1. the mischarging table
# ----------------------------------------------------------------------------------------------------
def mischarging_table(cases: pd.DataFrame, by=("force", "financial_year"), stage="recorded", *, alpha: float = 0.05,
                      suppress: bool = False, threshold: int = DISCLOSURE_THRESHOLD) -> pd.DataFrame:
    """Share of stalking reports recorded or charged as each offence, by group, with Wilson intervals.

    Parameters
    ----------
    cases : pandas.DataFrame, shape (n, ...)
        Case table (:func:`attrition.data.to_cases`), one row per stalking report, with the offence
        column of each requested stage: ``recorded_offence`` (first recorded classification),
        ``final_offence`` (after reclassification) or ``charged_offence`` (with ``charged`` if present).
    by : str, sequence of str or None, default ("force", "financial_year")
        Group columns. None: one national table.
    stage : {"recorded", "final", "charged"} or a sequence of them, default "recorded"
        ``"recorded"``/``"final"``: denominator = all reports in the group; ``"charged"``: denominator =
        the group's charged cases.
    alpha : float, default 0.05
        Intervals are ``1 - alpha`` Wilson score intervals.
    suppress : bool, default False
        Apply statistical disclosure control (:func:`attrition.disclosure.suppress_small_counts`):
        counts ``1 .. threshold-1`` withheld with secondary suppression within every (group, stage),
        and their shares and intervals withheld with them. Use for any table that is published.
    threshold : int, default ``attrition.config.DISCLOSURE_THRESHOLD``

    Returns
    -------
    pandas.DataFrame, shape (n_groups * n_stages * n_classes, len(by) + 7)
        Tidy: ``*by``, ``stage``, ``offence`` (one of :data:`OFFENCE_CLASSES`, plus ``not_recorded`` if any
        report has no recorded offence), ``n`` (reports in that class), ``total`` (denominator),
        ``share`` = n / total, ``lower 95%``, ``upper 95%``. Every class appears for every group (zero
        counts included). Where ``total`` is 0 (a group with no charged case) the share is undefined and
        is NaN. With ``suppress=True`` also ``suppressed`` (bool) and withheld cells are NaN.

    Raises
    ------
    DataValidationError
        Missing columns, unknown offence codes, missing group labels or a charged case without a
        charged offence, each naming the first offending row.

    Warns
    -----
    DisclosureWarning
        With ``suppress=True``, if any cell was withheld.

    Notes
    -----
    The interval is the Wilson score interval (Wilson 1927) for a binomial proportion, which treats the
    reports of a group as independent; it is the ``method="wilson"`` interval of
    :func:`statsmodels.stats.proportion.proportion_confint`.

    References
    ----------
    Wilson, E. B. (1927). *JASA* 22, 209-212.

    Examples
    --------
    >>> from attrition.synthetic import simulate
    >>> d = simulate(n_cases=5_000, random_state=1)
    >>> t = mischarging_table(d.cases, by="financial_year")
    >>> sorted(t["offence"].unique())[:2]
    ['criminal_damage', 'harassment']
    """
    if not isinstance(cases, pd.DataFrame):
        raise DataValidationError(f"cases must be a pandas DataFrame (the case table), not {type(cases).__name__}")
    alpha = check_alpha(alpha)
    stages = [stage] if isinstance(stage, str) else list(stage)
    bad = [s for s in stages if s not in _STAGE_COLUMN]
    if bad or not stages:
        raise ValueError(f"stage must be one or more of {list(_STAGE_COLUMN)}, got {stage!r}")
    by = _as_by(by, cases)
    lo_name, hi_name = ci_labels(alpha)
    parts = []
    for st in stages:  # a handful of stages
        col = _STAGE_COLUMN[st]
        if col not in cases.columns:
            raise DataValidationError(f"stage {st!r} needs column {col!r}, which is not in the case table")
        if st == "charged":
            charged = cases["charged"].astype(bool).to_numpy() if "charged" in cases.columns else cases[col].notna().to_numpy()
            lost = charged & cases[col].isna().to_numpy()
            if lost.any():
                pos = int(np.flatnonzero(lost)[0])
                raise DataValidationError(
                    f"{int(lost.sum())} charged case(s) have no {col!r} (first at {_row_id(cases, pos)}); "
                    "the charged offence is needed to tell stalking charges from lesser ones"
                )
            sub = cases.loc[charged]
        else:
            sub = cases
        cls = offence_class(sub[col].astype(object).to_numpy(), what=f"column {col!r}", frame=sub)
        parts.append((st, sub, cls))
    classes = list(OFFENCE_CLASSES)
    if any((c.to_numpy() == _NOT_RECORDED).any() for _, _, c in parts):
        classes.append(_NOT_RECORDED)

    # the complete grid of groups (all groups present among the reports), stages and classes
    if by:
        groups = cases[by].drop_duplicates().sort_values(by).reset_index(drop=True)
        groups = groups.astype({b: object for b in by})
    else:
        groups = pd.DataFrame(index=[0])
    out = []
    for st, sub, cls in parts:
        keys = [sub[b].astype(object).to_numpy() for b in by] + [cls.to_numpy()]
        names = by + ["offence"]
        cnt = pd.Series(1, index=pd.MultiIndex.from_arrays(keys, names=names) if by else pd.Index(keys[-1], name="offence"))
        cnt = cnt.groupby(level=names).sum()
        grid = groups.merge(pd.DataFrame({"offence": classes}), how="cross")
        key_idx = pd.MultiIndex.from_frame(grid[names]) if by else pd.Index(grid["offence"], name="offence")
        n = cnt.reindex(key_idx, fill_value=0).to_numpy(np.int64)
        grid.insert(len(by), "stage", st)
        grid["n"] = n
        gcode = grid.groupby(by, sort=False).ngroup().to_numpy() if by else np.zeros(len(grid), np.int64)
        grid["total"] = np.bincount(gcode, weights=n)[gcode].astype(np.int64)
        out.append(grid)
    table = pd.concat(out, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share"] = np.where(table["total"] > 0, table["n"] / table["total"].where(table["total"] > 0, 1), np.nan)
    lo, hi = wilson_interval(table["n"], table["total"], alpha)
    table[lo_name] = lo
    table[hi_name] = hi
    table["offence"] = pd.Categorical(table["offence"], categories=classes)
    table = table.sort_values(by + ["stage", "offence"], kind="stable",
                              key=lambda s: s.map({x: i for i, x in enumerate(stages)}) if s.name == "stage" else s)
    table = table.reset_index(drop=True)
    table["offence"] = table["offence"].astype(str)
    table.attrs["alpha"] = alpha
    if suppress:
        from .disclosure import suppress_small_counts

        table = suppress_small_counts(table, "n", threshold, by=by + ["stage"], derived=["share", lo_name, hi_name])
    return table


# ----------------------------------------------------------------------------------------------------
# 2. the misclassification correction
# ----------------------------------------------------------------------------------------------------
def _check_review(review) -> pd.DataFrame:
    """Validate a review table; return (recorded class x true stalking) counts, one row per class."""
    if not isinstance(review, pd.DataFrame):
        raise DataValidationError(f"review must be a pandas DataFrame, not {type(review).__name__}")
    need = ["recorded", "true_stalking", "n"]
    missing = [c for c in need if c not in review.columns]
    if missing:
        raise DataValidationError(
            f"review is missing column(s) {missing!r}: it needs one row per (recorded classification, true "
            "classification) with columns 'recorded' (offence code), 'true_stalking' (bool) and 'n' (count)"
        )
    if len(review) == 0:
        raise DataValidationError("review has no rows")
    ts = review["true_stalking"]
    if ts.isna().any() or not set(pd.unique(ts.astype(object))) <= {True, False, 0, 1}:
        pos = int(np.flatnonzero(ts.isna().to_numpy() | ~ts.astype(object).isin([True, False, 0, 1]).to_numpy())[0])
        raise DataValidationError(
            f"review column 'true_stalking' must be True/False; row {pos} has {ts.iloc[pos]!r}"
        )
    nn = pd.to_numeric(review["n"], errors="coerce").to_numpy(float)
    badn = ~np.isfinite(nn) | (nn < 0) | (nn != np.round(nn))
    if badn.any():
        pos = int(np.flatnonzero(badn)[0])
        raise DataValidationError(
            f"review column 'n' must hold non-negative whole counts; row {pos} has {review['n'].iloc[pos]!r}"
        )
    cls = offence_class(review["recorded"].astype(object).to_numpy(), what="review column 'recorded'", frame=review)
    if (cls == _NOT_RECORDED).any():
        pos = int(np.flatnonzero(cls.to_numpy() == _NOT_RECORDED)[0])
        raise DataValidationError(f"review row {pos} has no recorded classification; give every row an offence code")
    df = pd.DataFrame({"recorded": cls.to_numpy(), "true": ts.astype(bool).to_numpy(), "n": nn})
    wide = df.pivot_table(index="recorded", columns="true", values="n", aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(columns=[True, False], fill_value=0.0)
    order = [c for c in OFFENCE_CLASSES if c in wide.index]
    wide = wide.loc[order]
    out = pd.DataFrame({"reviewed": (wide[True] + wide[False]).to_numpy(), "true_stalking": wide[True].to_numpy()},
                       index=pd.Index(order, name="recorded"))
    zero = out.index[out["reviewed"] == 0].tolist()
    if zero:
        raise DataValidationError(
            f"review has zero reviewed case files for recorded classification(s) {zero!r}: P(true stalking | "
            "recorded as that) cannot be estimated; drop those rows or review some of those files"
        )
    return out


def _check_counts(counts) -> pd.Series:
    """Recorded counts by offence class from a counts table, Series or dict."""
    if isinstance(counts, pd.Series):
        s = counts
    elif isinstance(counts, pd.DataFrame):
        if not {"offence", "n"} <= set(counts.columns):
            raise DataValidationError(
                "counts must be a case table (with 'recorded_offence'), a DataFrame with columns 'offence' and "
                f"'n', or a Series indexed by offence; got columns {list(counts.columns)!r}"
            )
        s = pd.Series(counts["n"].to_numpy(), index=counts["offence"].to_numpy())
    elif isinstance(counts, dict):
        s = pd.Series(counts)
    else:
        raise DataValidationError(f"counts must be a DataFrame, Series or dict, not {type(counts).__name__}")
    v = pd.to_numeric(s, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataValidationError(f"counts must be non-negative whole numbers; offence {s.index[pos]!r} has {s.iloc[pos]!r}")
    cls = offence_class(np.asarray(s.index, dtype=object), what="counts' offence labels")
    if (cls == _NOT_RECORDED).any():
        raise DataValidationError("counts have a missing offence label; label every count with an offence code")
    out = pd.Series(v, index=cls.to_numpy()).groupby(level=0).sum()
    return out.reindex([c for c in OFFENCE_CLASSES if c in out.index])


@dataclass(frozen=True)
class ReviewerAccuracy:
    r"""How well the case-file reviewer recognises stalking: sensitivity and specificity, with uncertainty.

    A reviewer misses a truly stalking file with probability :math:`1 - Se_R` and flags a non-stalking file as
    stalking with probability :math:`1 - Sp_R`. Build it with one of the constructors:
    :meth:`known` (fixed values), :meth:`from_double_review` (a sample of files also judged by a reference
    reviewer, e.g. adjudicated by a panel: Beta posteriors) or :meth:`from_range` (a plausible range,
    uniform).

    Attributes
    ----------
    sensitivity, specificity : tuple
        ``("fixed", value)``, ``("beta", a, b)`` or ``("uniform", low, high)``.
    source : str
        How it was obtained (for printing).
    """

    sensitivity: tuple
    specificity: tuple
    source: str = ""

    @classmethod
    def known(cls, sensitivity: float, specificity: float) -> "ReviewerAccuracy":
        """Fixed, known reviewer sensitivity and specificity (``known(1, 1)``: a perfect reviewer)."""
        for name, v in (("sensitivity", sensitivity), ("specificity", specificity)):
            if not isinstance(v, numbers.Real) or not 0 < v <= 1:
                raise ValueError(f"{name} must be a probability in (0, 1], got {v!r}")
        if sensitivity + specificity <= 1:
            raise ValueError("sensitivity + specificity must exceed 1 (a reviewer better than chance)")
        return cls(("fixed", float(sensitivity)), ("fixed", float(specificity)),
                   f"known: sensitivity {sensitivity:g}, specificity {specificity:g}")

    @classmethod
    def from_double_review(cls, true_positive: int, false_negative: int, true_negative: int, false_positive: int,
                           prior=(0.5, 0.5)) -> "ReviewerAccuracy":
        """From files judged by the reviewer and by a reference (double review): Beta(prior + counts) posteriors.

        Parameters
        ----------
        true_positive, false_negative : int
            Reference-stalking files the reviewer flagged / missed.
        true_negative, false_positive : int
            Reference-non-stalking files the reviewer cleared / flagged.
        prior : (float, float), default (0.5, 0.5)
        """
        counts = (true_positive, false_negative, true_negative, false_positive)
        if any(isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0 for c in counts):
            raise ValueError(f"double-review counts must be non-negative integers, got {counts!r}")
        if true_positive + false_negative == 0 or true_negative + false_positive == 0:
            raise ValueError("a double review needs reference-stalking and reference-non-stalking files")
        a, b = (float(x) for x in prior)
        return cls(("beta", a + true_positive, b + false_negative), ("beta", a + true_negative, b + false_positive),
                   f"double review of {sum(counts)} files: {true_positive}/{true_positive + false_negative} stalking "
                   f"files flagged, {true_negative}/{true_negative + false_positive} others cleared")

    @classmethod
    def from_range(cls, sensitivity=(0.8, 1.0), specificity=(0.95, 1.0)) -> "ReviewerAccuracy":
        """A plausible range for each (uniform over it): a prior range where no double review exists."""
        for name, r in (("sensitivity", sensitivity), ("specificity", specificity)):
            if len(r) != 2 or not 0 < r[0] <= r[1] <= 1:
                raise ValueError(f"{name} range must be (low, high) with 0 < low <= high <= 1, got {r!r}")
        if sensitivity[0] + specificity[0] <= 1:
            raise ValueError("the lower ends must add up to more than 1 (a reviewer better than chance)")
        return cls(("uniform", *map(float, sensitivity)), ("uniform", *map(float, specificity)),
                   f"range: sensitivity {sensitivity[0]:g}-{sensitivity[1]:g}, specificity "
                   f"{specificity[0]:g}-{specificity[1]:g}")

    @staticmethod
    def _moments(d):
        if d[0] == "fixed":
            return d[1], 0.0
        if d[0] == "beta":
            a, b = d[1], d[2]
            return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
        lo, hi = d[1], d[2]
        return (lo + hi) / 2, (hi - lo) ** 2 / 12

    def mean(self) -> tuple[float, float]:
        """Point values (sensitivity, specificity): the fixed values, posterior means or range midpoints."""
        return self._moments(self.sensitivity)[0], self._moments(self.specificity)[0]

    def var(self) -> tuple[float, float]:
        """Variances of (sensitivity, specificity)."""
        return self._moments(self.sensitivity)[1], self._moments(self.specificity)[1]

    @property
    def perfect(self) -> bool:
        """True for a reviewer known to be perfect (``known(1, 1)``)."""
        return self.sensitivity == ("fixed", 1.0) and self.specificity == ("fixed", 1.0)

    def draw(self, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of (sensitivity, specificity); fixed values use no random numbers."""
        out = []
        for d in (self.sensitivity, self.specificity):
            if d[0] == "fixed":
                out.append(np.full(n, d[1]))
            elif d[0] == "beta":
                out.append(rng.beta(d[1], d[2], size=n))
            else:
                out.append(rng.uniform(d[1], d[2], size=n))
        return out[0], out[1]


def _selection_transform(q, psi):
    """P(stalking) among unreviewed files when the odds among reviewed files are ``psi`` times theirs."""
    q = np.asarray(q, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isinf(psi), 0.0, q / (q + psi * (1 - q)))


def _selection_slope(q, psi):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isinf(psi), 0.0, psi / (q + psi * (1 - q)) ** 2)


class MisclassificationCorrection(BaseFitter):
    r"""Correct recorded-offence counts for stalking recorded as lesser offences, from a case-file review.

    Parameters
    ----------
    alpha : float, default 0.05
        Intervals are ``1 - alpha``.
    method : {"reweight", "rogan-gladen"}, default "reweight"
        ``"reweight"``: each record of class :math:`X` counts as :math:`q_X = P(\text{true stalking} \mid
        \text{recorded } X)` stalking reports (the review's positive predictive values). Valid for a review
        sampled at random *within* each recorded class (stratified, any allocation). ``"rogan-gladen"``:
        binary matrix inversion with sensitivity :math:`Se = P(\text{recorded stalking} \mid \text{stalking})`
        and specificity :math:`Sp = P(\text{recorded other} \mid \text{not stalking})`. Valid when the review
        is a random sample of all records (or an external validation study whose Se/Sp transport).
    variance : {"posterior", "delta"}, default "posterior"
        ``"posterior"``: ``n_draws`` draws of the misclassification probabilities from their Beta
        posteriors (prior ``prior``), intervals = equal-tailed quantiles, extended to the point estimate
        when a reviewed class is 0% or 100% stalking (modified Jeffreys, Brown, Cai & DasGupta 2001). ``"delta"``: first-order
        (delta-method) standard error and a normal interval.
    prior : (float, float), default (0.5, 0.5)
        Beta prior of each probability (Jeffreys).
    n_draws : int, default 4000
    finite_population : bool, default True
        (``"reweight"`` only.) The reviewed files are part of the counted records: the reviewed true
        counts are known exactly and only the unreviewed records are predicted (beta-binomial predictive,
        i.e. stratified sampling without replacement). With a census review the correction is then exact.
        False: the review is from elsewhere and :math:`q_X` is applied to all :math:`N_X` records.
    random_state : None, int or numpy.random.Generator, default 0
        Seeds the posterior draws (fixed by default: results are reproducible).
    reviewer : ReviewerAccuracy, optional
        (``"reweight"`` only.) The reviewer's own sensitivity and specificity; default a perfect reviewer.
        The share of a class's reviewed files the reviewer flags, :math:`r_X`, is then corrected to
        :math:`q_X = (r_X + Sp_R - 1)/(Se_R + Sp_R - 1)` (Rogan & Gladen 1978, truncated to [0, 1]) and the
        uncertainty of :math:`Se_R, Sp_R` is propagated (drawn, or by the delta method; it is shared by
        every class, so the classes' errors are correlated).

    Attributes
    ----------
    summary : pandas.DataFrame
        The estimated misclassification probabilities: for ``"reweight"`` one row per recorded class
        (``ppv`` = P(true stalking | recorded class)); for ``"rogan-gladen"`` rows ``sensitivity`` and
        ``specificity``. Columns ``reviewed``, ``true_stalking`` (or ``successes``), ``estimate``, ``se``,
        CI (Beta posterior quantiles).
    review_ : pandas.DataFrame
        Reviewed files and true stalking files per recorded class.

    Notes
    -----
    **Reweighting.** With :math:`N_X` records of class :math:`X`, :math:`m_X` of them reviewed and
    :math:`s_X` found to be stalking, the corrected number of stalking reports is
    :math:`\hat T = \sum_X N_X s_X / m_X` (the stratified estimator, Cochran 1977 §5A.2). Its delta-method
    variance is :math:`\sum_X N_X^2 (1-f_X)\,\hat q_X(1-\hat q_X)/(m_X-1)` with :math:`f_X = m_X/N_X`
    (:math:`f_X = 0` and divisor :math:`m_X` when ``finite_population=False``). The posterior version draws
    :math:`q_X \sim \mathrm{Beta}(a+s_X, b+m_X-s_X)` and :math:`T_X = s_X + \mathrm{Bin}(N_X-m_X, q_X)`.

    **Rogan-Gladen.** With :math:`p` the share of records recorded as stalking,
    :math:`\hat\pi = (p + Sp - 1)/(Se + Sp - 1)` (Rogan & Gladen 1978), delta variance
    :math:`[\pi^2 \operatorname{var}(Se) + (1-\pi)^2 \operatorname{var}(Sp)]/(Se+Sp-1)^2` (Greenland 1996).
    Estimates outside [0, 1] are truncated with a :class:`StatisticalWarning`.

    In both methods the recorded counts are a census of records and are treated as fixed: only the
    review's sampling uncertainty is propagated. Downstream funnel counts (charged/convicted as stalking)
    are assumed correctly classified.

    References
    ----------
    Rogan, W. J. & Gladen, B. (1978). *Am. J. Epidemiol.* 107, 71-76.
    Brown, L. D., Cai, T. T. & DasGupta, A. (2001). Interval estimation for a binomial proportion.
    *Statist. Sci.* 16, 101-133.
    Greenland, S. (1996). *Int. J. Epidemiol.* 25, 1107-1116.
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> review = pd.DataFrame({"recorded": ["stalking_s2a", "stalking_s2a", "harassment", "harassment"],
    ...                        "true_stalking": [True, False, True, False], "n": [48, 2, 30, 20]})
    >>> mc = MisclassificationCorrection(variance="delta", finite_population=False).fit(review)
    >>> out = mc.correct({"stalking_s2a": 500, "harassment": 1000})
    >>> round(float(out.set_index("quantity").loc["true_stalking", "corrected"]))
    1080
    """

    _METHODS = ("reweight", "rogan-gladen")

    def __init__(self, alpha: float = 0.05, method: str = "reweight", variance: str = "posterior", prior=(0.5, 0.5),
                 n_draws: int = 4000, finite_population: bool = True, random_state=0,
                 reviewer: ReviewerAccuracy | None = None):
        super().__init__(alpha)
        if reviewer is not None and not isinstance(reviewer, ReviewerAccuracy):
            raise ValueError(f"reviewer must be a ReviewerAccuracy (or None), not {type(reviewer).__name__}")
        if reviewer is not None and method != "reweight":
            raise ValueError("reviewer accuracy is supported with method='reweight' only")
        self.reviewer = reviewer
        if method not in self._METHODS:
            raise ValueError(f"method must be one of {self._METHODS}, got {method!r}")
        if variance not in ("posterior", "delta"):
            raise ValueError(f"variance must be 'posterior' or 'delta', got {variance!r}")
        prior = tuple(float(p) for p in prior)
        if len(prior) != 2 or min(prior) <= 0:
            raise ValueError(f"prior must be two positive Beta parameters, got {prior!r}")
        if not isinstance(n_draws, numbers.Integral) or n_draws < 100:
            raise ValueError(f"n_draws must be an integer >= 100, got {n_draws!r}")
        self.method = method
        self.variance = variance
        self.prior = prior
        self.n_draws = int(n_draws)
        self.finite_population = bool(finite_population)
        self.random_state = random_state

    def fit(self, review: pd.DataFrame):
        """Estimate the misclassification probabilities from a case-file review.

        Parameters
        ----------
        review : pandas.DataFrame, shape (k, 3)
            One row per (recorded classification, true classification): ``recorded`` (offence code of the
            data standard or ``"stalking"``), ``true_stalking`` (bool: the reviewer judged it stalking) and
            ``n`` (number of reviewed files). Repeated rows are added up.

        Returns
        -------
        self

        Raises
        ------
        DataValidationError
            Missing columns, unknown offence codes, non-count ``n``, a recorded class with zero reviewed
            files; for ``"rogan-gladen"`` a review without true-stalking or without non-stalking files, or
            one no better than chance (Se + Sp <= 1).
        """
        rv = _check_review(review)
        self.review_ = rv
        a, b = self.prior
        lo_name, hi_name = self.ci_labels
        if self.method == "reweight":
            x, m = rv["true_stalking"].to_numpy(), rv["reviewed"].to_numpy()
            labels = list(rv.index)
        else:
            is_s = rv.index.to_numpy() == "stalking"
            n_true = rv["true_stalking"].sum()
            n_false = (rv["reviewed"] - rv["true_stalking"]).sum()
            if n_true == 0 or n_false == 0:
                which = "truly stalking" if n_true == 0 else "not stalking"
                raise DataValidationError(
                    f"method 'rogan-gladen' needs reviewed files that are {which} to estimate "
                    f"{'sensitivity' if n_true == 0 else 'specificity'}; the review has none. Use method='reweight'"
                )
            se_x = rv["true_stalking"].to_numpy()[is_s].sum()
            sp_x = (rv["reviewed"] - rv["true_stalking"]).to_numpy()[~is_s].sum()
            x, m = np.array([se_x, sp_x], float), np.array([n_true, n_false], float)
            labels = ["sensitivity", "specificity"]
            if x[0] / m[0] + x[1] / m[1] <= 1:
                raise DataValidationError(
                    f"the review's recording is no better than chance (sensitivity {x[0] / m[0]:.3f} + specificity "
                    f"{x[1] / m[1]:.3f} <= 1): the Rogan-Gladen correction is undefined"
                )
        est = x / m
        post = stats.beta(a + x, b + m - x)
        # Brown, Cai & DasGupta (2001): the (modified) Jeffreys interval is [0, .] when x = 0 and [., 1] when
        # x = m, so it contains the estimate x / m at the boundary
        self.summary_ = pd.DataFrame({
            "reviewed": m, "successes": x, "estimate": est, "se": np.sqrt(est * (1 - est) / m),
            lo_name: np.where(x == 0, 0.0, post.ppf(self.alpha / 2)),
            hi_name: np.where(x == m, 1.0, post.ppf(1 - self.alpha / 2)),
        }, index=pd.Index(labels, name="ppv" if self.method == "reweight" else "parameter"))
        self._x, self._m = x, m
        if self.method == "reweight" and self.reviewer is not None and not self.reviewer.perfect:
            se_r, sp_r = self.reviewer.mean()
            v_se, v_sp = self.reviewer.var()
            J = se_r + sp_r - 1
            q = np.clip((est + sp_r - 1) / J, 0, 1)
            var_q = (est * (1 - est) / m + q**2 * v_se + (1 - q) ** 2 * v_sp) / J**2
            rng = check_random_state(self.random_state)
            r = rng.beta(a + x, b + m - x, size=(self.n_draws, len(x)))
            se_d, sp_d = self.reviewer.draw(self.n_draws, rng)
            qd = np.clip((r + sp_d[:, None] - 1) / np.maximum(se_d + sp_d - 1, 1e-9)[:, None], 0, 1)
            lo_q, hi_q = np.quantile(qd, [self.alpha / 2, 1 - self.alpha / 2], axis=0)
            self.summary_.insert(2, "flagged", est)
            self.summary_["estimate"] = q
            self.summary_["se"] = np.sqrt(var_q)
            self.summary_[lo_name] = np.minimum(lo_q, q)
            self.summary_[hi_name] = np.maximum(hi_q, q)
        self._fitted_on = f"a review of {int(rv['reviewed'].sum()):,} case files in {len(rv)} recorded classes ({self.method})"
        return self

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        return self.summary_

    # ------------------------------------------------------------------------------------------------
    def _draws_T(self, N: pd.Series, rng, psi=None) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Posterior draws of (true stalking total, true stalking among recorded-as-stalking) and points
        (delta: their variances and covariance); ``psi`` the selection odds ratio of each class."""
        a, b = self.prior
        if self.method == "reweight":
            missing = [c for c in N.index if N[c] > 0 and c not in self.review_.index]
            if missing:
                raise DataValidationError(
                    f"the counts have records of class(es) {missing!r} that the review did not sample: "
                    "P(true stalking | recorded as that) is unknown; review some of those files or drop them"
                )
            rv = self.review_.reindex(N.index)
            Nx = N.to_numpy(float)
            s = rv["true_stalking"].fillna(0).to_numpy(float)
            m = rv["reviewed"].fillna(0).to_numpy(float)
            keep = Nx > 0
            q_hat = np.divide(s, m, out=np.zeros_like(s), where=m > 0)
            if self.finite_population:
                over = [c for c, k, mm, nn in zip(N.index, keep, m, Nx) if k and mm > nn]
                if over:
                    raise DataValidationError(
                        f"the review has more files than there are records for class(es) {over!r}; with "
                        "finite_population=True the review must be a sample of the counted records "
                        "(or pass finite_population=False for an external review)"
                    )
            psi = np.ones(len(Nx)) if psi is None else np.asarray(psi, float)
            fin = self.finite_population
            rev = self.reviewer if (self.reviewer is not None and not self.reviewer.perfect) else None
            is_s = np.asarray(N.index == "stalking")
            # the reviewer's errors: q = (r + Sp - 1)/(Se + Sp - 1), r the share of reviewed files flagged
            se_r, sp_r = (1.0, 1.0) if rev is None else rev.mean()
            J = se_r + sp_r - 1
            q_raw = (q_hat + sp_r - 1) / J
            if rev is not None and np.any(keep & ((q_raw < 0) | (q_raw > 1))):
                bad = [c for c, k, v in zip(N.index, keep, q_raw) if k and not 0 <= v <= 1]
                warnings.warn(
                    f"the reviewer-corrected share of stalking is outside [0, 1] for class(es) {bad!r} (the share "
                    f"flagged is below 1 - specificity or above sensitivity); it is truncated",
                    StatisticalWarning, stacklevel=4,
                )
            q_p = np.clip(q_raw, 0, 1)
            qu = _selection_transform(q_p, psi)
            T_x = np.where(keep, (m * q_p + (Nx - m) * qu) if fin else Nx * qu, 0.0)
            point_T, point_S = T_x.sum(), T_x[is_s].sum()
            if self.variance == "delta":
                g1 = _selection_slope(q_p, psi)
                inside = (q_raw >= 0) & (q_raw <= 1)
                r_var = q_hat * (1 - q_hat) / J**2
                if fin:
                    div = np.maximum(m - 1, 1)
                    var_x = (Nx - m) * ((Nx - m) * g1**2 * r_var + m * qu * (1 - qu)) / div
                    c = m + (Nx - m) * g1
                else:
                    var_x = Nx**2 * g1**2 * r_var / np.where(m > 0, m, 1)
                    c = Nx * g1
                var_x = np.where(keep & (m > 0) & inside, var_x, np.where(keep & fin, (Nx - m) * qu * (1 - qu), 0.0))
                c = np.where(keep & inside, c, 0.0)
                v_se, v_sp = (0.0, 0.0) if rev is None else rev.var()
                d_se, d_sp = c * (-q_p / J), c * (1 - q_p) / J  # d T_x / d Se_R, d T_x / d Sp_R
                var_T = var_x.sum() + d_se.sum() ** 2 * v_se + d_sp.sum() ** 2 * v_sp
                var_S = var_x[is_s].sum() + d_se[is_s].sum() ** 2 * v_se + d_sp[is_s].sum() ** 2 * v_sp
                cov_TS = var_x[is_s].sum() + d_se.sum() * d_se[is_s].sum() * v_se + d_sp.sum() * d_sp[is_s].sum() * v_sp
                return np.array([var_T, var_S, cov_TS]), None, point_T, point_S
            q = rng.beta(a + s, b + m - s, size=(self.n_draws, len(s)))
            if rev is not None:
                se_d, sp_d = rev.draw(self.n_draws, rng)
                Jd = np.maximum(se_d + sp_d - 1, 1e-9)[:, None]
                r = q
                q = np.clip((r + sp_d[:, None] - 1) / Jd, 0, 1)
            qu_d = _selection_transform(q, psi[None, :])
            if fin:
                unrev = np.maximum(Nx - m, 0).astype(np.int64)
                Td = rng.binomial(np.broadcast_to(unrev, q.shape), qu_d)
                if rev is None:
                    Td = s + Td
                else:
                    # the reviewed files' own true status is unknown too: flagged files are stalking with the
                    # reviewer's PPV, cleared ones with one minus its NPV
                    with np.errstate(divide="ignore", invalid="ignore"):
                        tp = se_d[:, None] * q
                        ppv_r = np.nan_to_num(tp / (tp + (1 - sp_d[:, None]) * (1 - q)), nan=0.0)
                        fn = (1 - se_d[:, None]) * q
                        fom_r = np.nan_to_num(fn / (fn + sp_d[:, None] * (1 - q)), nan=0.0)
                    sv = np.broadcast_to(s.astype(np.int64), q.shape)
                    Td = Td + rng.binomial(sv, ppv_r) + rng.binomial(np.broadcast_to((m - s).astype(np.int64), q.shape), fom_r)
            else:
                Td = Nx * qu_d
            Td = np.where(keep, Td, 0.0)
            return Td.sum(axis=1), Td[:, is_s].sum(axis=1), point_T, point_S
        # Rogan-Gladen
        Ntot = N.sum()
        p = N.get("stalking", 0.0) / Ntot
        se_hat, sp_hat = self._x / self._m
        pi_hat = (p + sp_hat - 1) / (se_hat + sp_hat - 1)
        if not 0 <= pi_hat <= 1:
            warnings.warn(
                f"the Rogan-Gladen estimate {pi_hat:.3f} of the share of stalking is outside [0, 1] (observed share "
                f"recorded as stalking {p:.3f}, sensitivity {se_hat:.3f}, specificity {sp_hat:.3f}); it is truncated",
                StatisticalWarning, stacklevel=3,
            )
        pi_c = float(np.clip(pi_hat, 0, 1))
        point_T, point_S = pi_c * Ntot, se_hat * pi_c * Ntot
        if self.variance == "delta":
            J = se_hat + sp_hat - 1
            v_se, v_sp = se_hat * (1 - se_hat) / self._m[0], sp_hat * (1 - sp_hat) / self._m[1]
            var_pi = (pi_hat**2 * v_se + (1 - pi_hat) ** 2 * v_sp) / J**2
            # T = pi N ; S = Se pi N: gradient wrt (Se, Sp)
            g_T = np.array([-pi_hat / J, (1 - pi_hat) / J]) * Ntot
            g_S = np.array([pi_hat - se_hat * pi_hat / J, se_hat * (1 - pi_hat) / J]) * Ntot
            V = np.diag([v_se, v_sp])
            return np.array([var_pi * Ntot**2, g_S @ V @ g_S, g_T @ V @ g_S]), None, point_T, point_S
        se_d = rng.beta(a + self._x[0], b + self._m[0] - self._x[0], size=self.n_draws)
        sp_d = rng.beta(a + self._x[1], b + self._m[1] - self._x[1], size=self.n_draws)
        # a draw with Se + Sp <= 1 (recording no better than chance) has no solution: floor the denominator
        pi_d = np.clip((p + sp_d - 1) / np.maximum(se_d + sp_d - 1, 1e-9), 0, 1)
        return pi_d * Ntot, se_d * pi_d * Ntot, point_T, point_S

    def correct(self, counts, downstream: dict | None = None, selection_odds: float = 1.0) -> pd.DataFrame:
        """Corrected counts, shares and funnel entries with intervals.

        Parameters
        ----------
        counts : pandas.DataFrame, Series or dict
            Records by recorded offence: a DataFrame with columns ``offence`` and ``n``, or a Series / dict
            offence -> count. Offence codes of the data standard (s.2A and s.4A are added up) or
            ``"stalking"``.
        downstream : dict of str to float, optional
            Numbers of (truly stalking) reports reaching later funnel stages, e.g.
            ``{"charged": 4100, "convicted": 1200}``; each is reported per corrected stalking report.

        Returns
        -------
        pandas.DataFrame
            One row per quantity: ``records`` (all records), ``true_stalking`` (corrected number of
            stalking reports among the records), ``share_stalking`` (of all records), ``recorded_as_stalking``
            (true stalking reports recorded as stalking), ``recording_sensitivity`` (share of stalking
            reports recorded as stalking), ``misrecorded_share`` (recorded as a lesser offence) and
            ``<stage>_per_report`` for each downstream stage. Columns ``quantity``, ``observed`` (the
            uncorrected value: records recorded as stalking taken at face value), ``corrected``, ``se``,
            CI, ``method``, ``variance``.
        selection_odds : float, default 1.0
            (``"reweight"`` only.) Non-random review: the odds that a reviewed file of a class is stalking
            are ``selection_odds`` times the odds for an unreviewed file of that class (e.g. 2: reviewers
            were given files that looked like stalking). 1 = random within class; ``0`` and ``inf`` give the
            bounds with no assumption about unreviewed files (every unreviewed file stalking / none).
            See :meth:`selection_sensitivity`.

        Raises
        ------
        DataValidationError
            Bad counts, classes not covered by the review, a review larger than the records, or no records.
        """
        self._check_fitted()
        N = _check_counts(counts)
        if N.sum() <= 0:
            raise DataValidationError("counts add up to zero records: nothing to correct")
        downstream = {} if downstream is None else dict(downstream)
        for k, v in downstream.items():
            if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise DataValidationError(f"downstream count {k!r} must be a non-negative number, got {v!r}")
        rng = check_random_state(self.random_state)
        lo_name, hi_name = self.ci_labels
        Ntot = float(N.sum())
        N_s = float(N.get("stalking", 0.0))
        if not isinstance(selection_odds, numbers.Real) or isinstance(selection_odds, bool) or not selection_odds >= 0:
            raise ValueError(f"selection_odds must be a number >= 0 (inf allowed), got {selection_odds!r}")
        if selection_odds != 1 and self.method != "reweight":
            raise ValueError("selection_odds needs method='reweight' (a review stratified by recorded class)")
        A, B, point_T, point_S = self._draws_T(N, rng, psi=np.full(len(N), float(selection_odds)))
        rows = {"records": (Ntot, Ntot, 0.0, Ntot, Ntot)}
        if self.variance == "posterior":
            Td, Sd = A, B

            def summ(obs, point, d):
                lo_, hi_ = np.quantile(d, [self.alpha / 2, 1 - self.alpha / 2])
                # a class reviewed as 0% or 100% stalking puts the point estimate at the edge of the
                # posterior: extend the interval to it (the modified Jeffreys rule, applied to the total)
                if np.isfinite(point):
                    lo_, hi_ = min(lo_, point), max(hi_, point)
                return (obs, point, float(np.std(d, ddof=1)), float(lo_), float(hi_))

            with np.errstate(invalid="ignore", divide="ignore"):
                rows["true_stalking"] = summ(N_s, point_T, Td)
                rows["share_stalking"] = summ(N_s / Ntot, point_T / Ntot, Td / Ntot)
                rows["recorded_as_stalking"] = summ(N_s, point_S, Sd)
                sens_d = np.where(Td > 0, Sd / np.where(Td > 0, Td, 1), np.nan)
                sens_p = point_S / point_T if point_T > 0 else np.nan
                rows["recording_sensitivity"] = summ(1.0, sens_p, sens_d)
                rows["misrecorded_share"] = summ(0.0, 1 - sens_p, 1 - sens_d)
                for k, v in downstream.items():
                    rows[f"{k}_per_report"] = summ(v / N_s if N_s > 0 else np.nan, v / point_T if point_T > 0 else np.nan,
                                                   np.where(Td > 0, v / np.where(Td > 0, Td, 1), np.nan))
        else:
            z = stats.norm.ppf(1 - self.alpha / 2)
            var_T, var_S, cov_TS = (float(v) for v in A)

            def norm(obs, point, var):
                sd = float(np.sqrt(max(var, 0.0)))
                return (obs, point, sd, point - z * sd, point + z * sd)

            rows["true_stalking"] = norm(N_s, point_T, var_T)
            rows["share_stalking"] = norm(N_s / Ntot, point_T / Ntot, var_T / Ntot**2)
            rows["recorded_as_stalking"] = norm(N_s, point_S, var_S)
            sens_p = point_S / point_T if point_T > 0 else np.nan
            # ratio S/T: var = (var_S - 2 r cov + r^2 var_T)/T^2
            var_r = (var_S - 2 * sens_p * cov_TS + sens_p**2 * var_T) / point_T**2 if point_T > 0 else np.nan
            rows["recording_sensitivity"] = norm(1.0, sens_p, var_r)
            rows["misrecorded_share"] = norm(0.0, 1 - sens_p, var_r)
            for k, v in downstream.items():
                pr = v / point_T if point_T > 0 else np.nan
                rows[f"{k}_per_report"] = norm(v / N_s if N_s > 0 else np.nan, pr, pr**2 * var_T / point_T**2)
        out = pd.DataFrame.from_dict(rows, orient="index", columns=["observed", "corrected", "se", lo_name, hi_name])
        out.index.name = "quantity"
        out = out.reset_index()
        out["method"] = self.method
        out["variance"] = self.variance
        return out


    def selection_sensitivity(self, counts, odds_ratios=(0.25, 0.5, 1.0, 2.0, 4.0), bounds: bool = True) -> pd.DataFrame:
        r"""The corrected number of stalking reports if the review was not random within class.

        Parameters
        ----------
        counts : pandas.DataFrame, Series or dict
            Records by recorded offence (as :meth:`correct`).
        odds_ratios : sequence of float, default (0.25, 0.5, 1, 2, 4)
            Selection odds ratios :math:`\psi`: the odds that a reviewed file is stalking over the odds for an
            unreviewed file of the same class (every class alike). :math:`\psi > 1`: the files reviewed were
            likelier than the rest to be stalking, so the correction overstates; :math:`\psi < 1` the opposite.
        bounds : bool, default True
            Add the two rows with no assumption at all about the unreviewed files (Manski bounds):
            :math:`\psi = \infty` (none of them stalking) and :math:`\psi = 0` (all of them).

        Returns
        -------
        pandas.DataFrame
            One row per odds ratio: ``odds_ratio``, ``true_stalking`` (corrected number of stalking reports)
            with ``se`` and CI, ``misrecorded_share`` (share of stalking reports recorded as a lesser offence)
            and ``change`` (relative to :math:`\psi = 1`).

        Notes
        -----
        Under selection odds ratio :math:`\psi` the unreviewed files of class :math:`X` are stalking with
        probability :math:`q^u_X = q_X / (q_X + \psi(1 - q_X))`, where :math:`q_X` is the share among reviewed
        files (after the reviewer's errors), so the total is :math:`\sum_X m_X q_X + (N_X - m_X) q^u_X`
        (:math:`\sum_X N_X q^u_X` for an external review). The uncertainty is the review's sampling
        uncertainty at that :math:`\psi`; :math:`\psi` itself is a sensitivity parameter, not estimated
        (Rosenbaum-style: how large a selection would change the conclusion). With ``finite_population``
        and a perfect reviewer the Manski bounds are exact (no sampling uncertainty): the reviewed files are
        known and the unreviewed ones all or none stalking.
        """
        self._check_fitted()
        if self.method != "reweight":
            raise ValueError("selection_sensitivity needs method='reweight'")
        psis = [float(x) for x in odds_ratios]
        if any(not x > 0 or not np.isfinite(x) for x in psis):
            raise ValueError(f"odds_ratios must be positive and finite, got {odds_ratios!r} (the bounds are added "
                             "with bounds=True)")
        if bounds:
            psis = [np.inf] + psis + [0.0]
        lo_name, hi_name = self.ci_labels
        rows = []
        for psi in psis:  # a handful of scenarios
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                t = self.correct(counts, selection_odds=psi).set_index("quantity")
            rows.append({"odds_ratio": psi, "true_stalking": t.loc["true_stalking", "corrected"],
                         "se": t.loc["true_stalking", "se"], lo_name: t.loc["true_stalking", lo_name],
                         hi_name: t.loc["true_stalking", hi_name],
                         "misrecorded_share": t.loc["misrecorded_share", "corrected"]})
        out = pd.DataFrame(rows)
        ref = self.correct(counts).set_index("quantity").loc["true_stalking", "corrected"]
        out["change"] = out["true_stalking"] / ref - 1
        out.attrs["estimand"] = ("number of truly stalking reports among the records, if the reviewed files' odds "
                                 "of being stalking were odds_ratio times those of the unreviewed files")
        return out


def correct_funnel(cases_or_counts, review: pd.DataFrame, *, stage: str = "recorded", method: str = "reweight",
                   variance: str = "posterior", alpha: float = 0.05, n_draws: int = 4000,
                   finite_population: bool = True, downstream: dict | None = None, by: str | None = None,
                   random_state=0) -> pd.DataFrame:
    """The funnel corrected for stalking recorded as lesser offences (one call).

    Parameters
    ----------
    cases_or_counts : pandas.DataFrame, Series or dict
        Either a case table (column ``recorded_offence``/``final_offence``): the records are its reports by
        offence class at ``stage`` and the downstream funnel entries are the long-run numbers of reports
        reaching ``charged`` and ``convicted`` estimated by :class:`attrition.funnel.FunnelFitter` (open
        cases handled by Aalen-Johansen); or counts of records by offence (see
        :meth:`MisclassificationCorrection.correct`).
    review : pandas.DataFrame
        The case-file review (see :meth:`MisclassificationCorrection.fit`).
    stage : {"recorded", "final"}, default "recorded"
        Which recorded classification of a case table to correct.
    method, variance, alpha, n_draws, finite_population, random_state
        See :class:`MisclassificationCorrection`.
    downstream : dict, optional
        Downstream counts (overrides those computed from a case table).
    by : str, optional
        (Case table only.) One corrected funnel per group (e.g. ``"financial_year"``), all with the same
        review; the group column comes first in the result.

    Returns
    -------
    pandas.DataFrame
        :meth:`MisclassificationCorrection.correct`'s table (one block per group with ``by``).

    Warns
    -----
    DataQualityWarning
        If some reports of a case table were never recorded as a crime (they are not records).

    Examples
    --------
    >>> from attrition.synthetic import simulate
    >>> d = simulate(n_cases=5_000, random_state=1)
    >>> sr = synthetic_review(d.cases, n=300, random_state=2)
    >>> out = correct_funnel(sr.counts, sr.review).set_index("quantity")
    >>> bool(out.loc["share_stalking", "lower 95%"] < sr.truth["share_stalking"] < out.loc["share_stalking", "upper 95%"])
    True
    """
    mc = MisclassificationCorrection(alpha=alpha, method=method, variance=variance, n_draws=n_draws,
                                     finite_population=finite_population, random_state=random_state).fit(review)
    is_cases = isinstance(cases_or_counts, pd.DataFrame) and _STAGE_COLUMN.get(stage) in cases_or_counts.columns
    if not is_cases:
        if by is not None:
            raise ValueError("by= needs a case table; for counts, call correct_funnel once per group")
        if isinstance(cases_or_counts, pd.DataFrame) and not {"offence", "n"} <= set(cases_or_counts.columns):
            raise DataValidationError(
                f"cases_or_counts has neither the case table's {_STAGE_COLUMN.get(stage, 'recorded_offence')!r} "
                "column nor the columns 'offence' and 'n' of a counts table"
            )
        return mc.correct(cases_or_counts, downstream=downstream)
    if stage not in ("recorded", "final"):
        raise ValueError(f"stage must be 'recorded' or 'final' for a case table, got {stage!r}")
    cases = cases_or_counts
    col = _STAGE_COLUMN[stage]
    by_cols = _as_by(by, cases)
    cls = offence_class(cases[col].astype(object).to_numpy(), what=f"column {col!r}", frame=cases)
    rec = cls.to_numpy() != _NOT_RECORDED
    if not rec.all():
        warnings.warn(
            f"{int((~rec).sum())} report(s) have no {col!r} (never recorded as a crime): they are not records and "
            "are left out of the corrected counts (they are still reports in the downstream funnel)",
            DataQualityWarning, stacklevel=2,
        )
    ff = None
    if downstream is None and "stage_reached" in cases.columns:
        from .funnel import FunnelFitter

        ff = FunnelFitter(alpha=alpha, stages=("reported", "charged", "convicted"))
        ff.fit(cases, by=by_cols[0], pool=False) if by_cols else ff.fit(cases)
    if len(by_cols) > 1:
        raise ValueError(f"by must be one column, got {by_cols}")
    groups = [None] if not by_cols else sorted(pd.unique(cases[by_cols[0]].astype(object)))
    out = []
    for g in groups:  # a handful of groups (years, forces)
        in_g = np.ones(len(cases), bool) if g is None else (cases[by_cols[0]].astype(object) == g).to_numpy()
        counts = cls[rec & in_g].value_counts()
        ds = downstream
        if ff is not None:
            tab = ff.national_ if g is None else ff.summary.xs(g, level="group")
            n_rep = float(tab.loc["reported", "entered"])
            ds = {"charged": float(tab.loc["charged", "p_reach"]) * n_rep,
                  "convicted": float(tab.loc["convicted", "p_reach"]) * n_rep}
        res = mc.correct(counts, downstream=ds)
        if g is not None:
            res.insert(0, by_cols[0], g)
        out.append(res)
    return pd.concat(out, ignore_index=True) if len(out) > 1 else out[0]


# ----------------------------------------------------------------------------------------------------
# review planning: how many files, and from which class
# ----------------------------------------------------------------------------------------------------
_ALLOCATIONS = ("neyman", "proportional", "equal")


def _check_plan_inputs(class_sizes, ppv):
    if not isinstance(class_sizes, pd.Series) or not isinstance(ppv, pd.Series):
        raise ValueError("class_sizes and ppv must be pandas Series indexed by recorded class")
    N = pd.to_numeric(class_sizes, errors="coerce").astype(float)
    if N.isna().any() or (N <= 0).any():
        raise ValueError(f"class_sizes must be positive numbers of records, got {class_sizes.to_dict()!r}")
    missing = [c for c in N.index if c not in ppv.index]
    if missing:
        raise ValueError(f"ppv has no anticipated value for class(es) {missing!r}")
    q = pd.to_numeric(ppv.reindex(N.index), errors="coerce").astype(float)
    if q.isna().any() or ((q < 0) | (q > 1)).any():
        raise ValueError(f"ppv must hold probabilities, got {ppv.to_dict()!r}")
    return N.to_numpy(), q.to_numpy(), list(N.index)


def _weights(N, S, allocation):
    if allocation == "neyman":
        return N * S
    if allocation == "proportional":
        return N.astype(float)
    return np.ones_like(N, dtype=float)


def _variance_total(N, q, m):
    """Design variance of the stratified total sum N q_hat for allocation m (finite population, q known)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(m > 0, N**2 * (1 - m / N) * q * (1 - q) / np.where(m > 0, m, 1), np.inf)))


def allocate_review(class_sizes: pd.Series, ppv: pd.Series, files: int, allocation: str = "neyman") -> pd.Series:
    r"""Split ``files`` case files over the recorded classes.

    Parameters
    ----------
    class_sizes : pandas.Series
        Records per recorded class :math:`N_h` (e.g. harassment, malicious communications, criminal
        damage, other; stalking too if its PPV is in doubt).
    ppv : pandas.Series
        Anticipated P(true stalking | recorded class) :math:`p_h` (e.g. 0.05-0.2 for the lesser classes).
    files : int
        Files to review in all.
    allocation : {"neyman", "proportional", "equal"}, default "neyman"
        Neyman: :math:`m_h \propto N_h\sqrt{p_h(1-p_h)}`, the allocation that minimises the variance of the
        corrected total for a fixed number of files (Cochran 1977, §5.5); proportional: :math:`\propto N_h`;
        equal: the same number per class.

    Returns
    -------
    pandas.Series of int
        Files per class (largest-remainder rounding, so they add up to ``files``; capped at :math:`N_h`,
        the surplus going to the other classes in the same proportions).
    """
    if allocation not in _ALLOCATIONS:
        raise ValueError(f"allocation must be one of {_ALLOCATIONS}, got {allocation!r}")
    N, q, labels = _check_plan_inputs(class_sizes, ppv)
    if isinstance(files, bool) or not isinstance(files, numbers.Integral) or files < 1:
        raise ValueError(f"files must be a positive integer, got {files!r}")
    files = int(min(files, N.sum()))
    w = _weights(N, np.sqrt(q * (1 - q)), allocation)
    m = np.zeros(len(N))
    free = w > 0
    left = float(files)
    for _ in range(len(N)):  # at most one pass per class: census the classes the allocation overfills
        share = np.where(free, w, 0.0)
        if share.sum() <= 0:
            break
        m_try = np.where(free, left * share / share.sum(), m)
        over = free & (m_try >= N)
        if not over.any():
            m = m_try
            break
        m[over] = N[over]
        free &= ~over
        left = files - m[~free].sum()
    base = np.floor(m)
    rem = int(round(files - base.sum()))
    order = np.argsort(-(m - base), kind="stable")
    base[order[:max(rem, 0)]] += 1
    return pd.Series(np.minimum(base, N).astype(np.int64), index=pd.Index(labels, name="recorded"), name="files")


def plan_review(class_sizes: pd.Series, ppv: pd.Series, half_width: float, *, relative: bool = True,
                alpha: float = 0.05, allocation: str = "neyman") -> pd.DataFrame:
    r"""Files needed per class for a target interval half-width of the corrected number of stalking reports.

    Parameters
    ----------
    class_sizes, ppv : pandas.Series
        Records per class and anticipated PPV (see :func:`allocate_review`).
    half_width : float
        Target half-width of the ``1 - alpha`` interval of the corrected total :math:`T = \sum_h N_h p_h`:
        a fraction of :math:`T` with ``relative=True`` (e.g. 0.2 for ±20%), else a number of reports.
    relative : bool, default True
    alpha : float, default 0.05
    allocation : {"neyman", "proportional", "equal"}, default "neyman"

    Returns
    -------
    pandas.DataFrame
        Indexed by class: ``records``, ``ppv``, ``files``, ``files_share``, ``expected_stalking``
        (:math:`N_h p_h`). ``attrs``: ``files`` (total), ``half_width`` (achieved, in reports),
        ``relative_half_width`` (achieved), ``target`` (in reports), ``allocation``.

    Notes
    -----
    With stratified sampling without replacement the estimator :math:`\hat T = \sum_h N_h \hat p_h` has
    variance :math:`\sum_h N_h^2(1 - m_h/N_h)p_h(1-p_h)/m_h`. For allocation weights :math:`a_h`
    (:math:`m_h = m\,a_h/\sum a`) the smallest :math:`m` with :math:`z_{1-lpha/2}\sqrt{V} \le h` is
    :math:`m = \sum_h N_h^2 p_h(1-p_h)(\sum a)/a_h \,/\, (h^2/z^2 + \sum_h N_h p_h(1-p_h))` (Cochran
    1977, eq. 5.25; for Neyman weights :math:`(\sum_h N_h S_h)^2/(h^2/z^2 + \sum_h N_h S_h^2)`), with
    classes the allocation would over-fill reviewed in full; each class's files are rounded up. The
    achieved width assumes the anticipated PPVs; a real review's interval comes out wider when a PPV is
    nearer 0.5 than anticipated. ``tests/test_mischarging.py`` checks by simulation that the planned review
    reaches the target width.
    """
    if allocation not in _ALLOCATIONS:
        raise ValueError(f"allocation must be one of {_ALLOCATIONS}, got {allocation!r}")
    alpha = check_alpha(alpha)
    N, q, labels = _check_plan_inputs(class_sizes, ppv)
    if not isinstance(half_width, numbers.Real) or not half_width > 0:
        raise ValueError(f"half_width must be positive, got {half_width!r}")
    z = stats.norm.ppf(1 - alpha / 2)
    T = float(np.sum(N * q))
    h = float(half_width) * (T if relative else 1.0)
    S2 = q * (1 - q)
    a = _weights(N, np.sqrt(S2), allocation)
    m = np.zeros(len(N))
    free = (S2 > 0) & (a > 0)
    for _ in range(len(N)):  # census the classes the allocation over-fills, then re-solve for the rest
        if not free.any():
            break
        V0 = (h / z) ** 2
        A = np.sum(N[free] ** 2 * S2[free] * a[free].sum() / a[free])
        B = np.sum(N[free] * S2[free])
        m_tot = A / (V0 + B)
        m_try = m_tot * a[free] / a[free].sum()
        over = m_try >= N[free]
        idx = np.flatnonzero(free)
        if not over.any():
            m[idx] = m_try
            break
        m[idx[over]] = N[idx[over]]
        free[idx[over]] = False
    m = np.minimum(np.ceil(m - 1e-9), N)
    # a class with PPV 0 or 1 has no sampling variance: still review a couple of files to check the assumption
    m = np.where(S2 > 0, m, np.minimum(np.maximum(m, 2), N))
    V = _variance_total(N, q, np.maximum(m, 1))
    out = pd.DataFrame({"records": N, "ppv": q, "files": m.astype(np.int64),
                        "files_share": m / m.sum(), "expected_stalking": N * q},
                       index=pd.Index(labels, name="recorded"))
    out.attrs.update({"files": int(m.sum()), "half_width": float(z * np.sqrt(V)),
                      "relative_half_width": float(z * np.sqrt(V) / T) if T > 0 else np.nan, "target": h,
                      "allocation": allocation, "alpha": alpha})
    return out


def review_scenario(cases: pd.DataFrame, ppv: pd.Series, *, stage: str = "recorded",
                    min_count: int = DISCLOSURE_THRESHOLD) -> pd.DataFrame:
    """Class sizes for planning a review: each lesser class at an anticipated PPV, built on the case table.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table (stalking reports) with the offence column of ``stage``.
    ppv : pandas.Series
        Anticipated P(true stalking | recorded class) of the lesser classes (e.g. 0.05-0.2).
    stage : {"recorded", "final"}, default "recorded"
    min_count : int, default ``attrition.config.DISCLOSURE_THRESHOLD``
        Classes with fewer stalking reports recorded as them are left out (the plan would reveal the count).

    Returns
    -------
    pandas.DataFrame
        Indexed by class: ``stalking_reports`` (stalking reports recorded as the class), ``ppv`` and
        ``records`` = ``stalking_reports / ppv`` rounded (the records such a class would hold, genuine ones
        included). Empty if no class qualifies.
    """
    if stage not in ("recorded", "final"):
        raise ValueError(f"stage must be 'recorded' or 'final', got {stage!r}")
    col = _STAGE_COLUMN[stage]
    if col not in cases.columns:
        raise DataValidationError(f"the case table has no column {col!r}")
    if not isinstance(ppv, pd.Series) or ((ppv <= 0) | (ppv > 1)).any():
        raise ValueError("ppv must be a pandas Series of probabilities in (0, 1] indexed by class")
    cls = offence_class(cases[col].astype(object).to_numpy(), what=f"column {col!r}", frame=cases)
    n = cls.value_counts().reindex(ppv.index, fill_value=0).astype(np.int64)
    keep = n >= min_count
    out = pd.DataFrame({"stalking_reports": n[keep], "ppv": ppv[keep].astype(float),
                        "records": (n[keep] / ppv[keep]).round().astype(np.int64)})
    out.index.name = "recorded"
    return out


def review_width_table(class_sizes: pd.Series, ppv: pd.Series, files=(100, 200, 400, 800, 1600, 3200), *,
                       alpha: float = 0.05, allocations=_ALLOCATIONS) -> pd.DataFrame:
    r"""Interval half-width of the corrected number of stalking reports against the number of files reviewed.

    Parameters
    ----------
    class_sizes, ppv : pandas.Series
        Records per class and anticipated PPV (see :func:`allocate_review`).
    files : sequence of int
        Review sizes.
    alpha : float, default 0.05
    allocations : sequence of str
        Any of ``"neyman"``, ``"proportional"``, ``"equal"``.

    Returns
    -------
    pandas.DataFrame
        One row per review size: for each allocation ``<allocation>`` (the relative half-width, ± share of
        the expected total :math:`\sum_h N_h p_h`). ``attrs["expected_stalking"]`` is that total.
    """
    alpha = check_alpha(alpha)
    N, q, labels = _check_plan_inputs(class_sizes, ppv)
    z = stats.norm.ppf(1 - alpha / 2)
    T = float(np.sum(N * q))
    cs, pp = pd.Series(N, index=labels), pd.Series(q, index=labels)
    rows = []
    for f in files:  # a handful of review sizes
        row = {"files": int(f)}
        for al in allocations:
            m = allocate_review(cs, pp, int(f), al).to_numpy()
            row[al] = z * np.sqrt(_variance_total(N, q, m)) / T
        rows.append(row)
    out = pd.DataFrame(rows).set_index("files")
    out.attrs["expected_stalking"] = T
    return out


# ----------------------------------------------------------------------------------------------------
# 3. a synthetic review with known truth
# ----------------------------------------------------------------------------------------------------
@dataclass
class SyntheticReview:
    """A review sample drawn from synthetic records whose true classification is known.

    Attributes
    ----------
    review : pandas.DataFrame
        ``recorded``, ``true_stalking``, ``n``: the reviewed files (input of
        :meth:`MisclassificationCorrection.fit`).
    counts : pandas.DataFrame
        ``offence``, ``n``: all records by recorded class (stalking reports plus the non-stalking
        background records).
    population : pandas.DataFrame
        Records by recorded class: ``stalking`` (truly stalking) and ``not_stalking``.
    truth : dict
        ``true_stalking`` (number of stalking reports), ``records``, ``share_stalking``,
        ``recording_sensitivity`` (share of stalking reports recorded as stalking), ``ppv`` (dict class ->
        P(true stalking | recorded class)), ``sensitivity``, ``specificity``.
    """

    review: pd.DataFrame
    counts: pd.DataFrame
    population: pd.DataFrame
    truth: dict = field(default_factory=dict)


def synthetic_review(cases: pd.DataFrame, n: int = 200, random_state=None, *, background=1.0,
                     design: str = "stratified", stage: str = "recorded", allocation: pd.Series | None = None,
                     reviewer_error: tuple = (1.0, 1.0), double_review: int = 0) -> SyntheticReview:
    """Draw a case-file review sample from synthetic data, where the true classification is known.

    In the synthetic data every report is stalking and the misrecorded ones carry a lesser offence. Real
    recorded-crime counts also hold genuine (non-stalking) harassment etc., so ``background`` adds
    non-stalking records; the review then samples records and reveals whether each is stalking.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table (all reports are stalking).
    n : int, default 200
        Review size. With ``design="stratified"`` split equally over the recorded classes that have records
        (the remainder to the first classes; capped at each class's records, so a large ``n`` reviews
        everything).
    random_state : None, int or numpy.random.Generator
    background : float or dict, default 1.0
        Non-stalking records. A float ``b``: each lesser offence class gets ``round(b * N_X)`` non-stalking
        records, where ``N_X`` is the number of stalking reports recorded as that class. A dict class ->
        count sets them directly (a ``"stalking"`` entry adds non-stalking records recorded as stalking).
    design : {"stratified", "srs"}, default "stratified"
        Stratified by recorded class (for ``method="reweight"``) or a simple random sample of all records
        (needed for ``method="rogan-gladen"``).
    stage : {"recorded", "final"}, default "recorded"
    allocation : pandas.Series, optional
        (``design="stratified"``.) Files to review per recorded class (e.g. from :func:`allocate_review`),
        instead of ``n`` split equally.
    reviewer_error : (float, float), default (1.0, 1.0)
        The simulated reviewer's sensitivity and specificity: each truly stalking file is flagged with
        probability ``reviewer_error[0]``, each other file with probability ``1 - reviewer_error[1]``; the
        review table then holds the reviewer's verdicts.
    double_review : int, default 0
        Reviewed files also judged by a reference reviewer (the truth): ``truth["double_review"]`` then holds
        ``true_positive``, ``false_negative``, ``true_negative``, ``false_positive`` (input of
        :meth:`ReviewerAccuracy.from_double_review`).

    Returns
    -------
    SyntheticReview

    Raises
    ------
    DataValidationError, ValueError
        Bad ``n``, ``background``, ``design`` or offence codes.
    """
    if stage not in ("recorded", "final"):
        raise ValueError(f"stage must be 'recorded' or 'final', got {stage!r}")
    if design not in ("stratified", "srs"):
        raise ValueError(f"design must be 'stratified' or 'srs', got {design!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = check_random_state(random_state)
    col = _STAGE_COLUMN[stage]
    if col not in cases.columns:
        raise DataValidationError(f"the case table has no column {col!r}")
    cls = offence_class(cases[col].astype(object).to_numpy(), what=f"column {col!r}", frame=cases)
    stalk = cls[cls != _NOT_RECORDED].value_counts().reindex(list(OFFENCE_CLASSES), fill_value=0).astype(np.int64)
    if isinstance(background, dict):
        unknown = [k for k in background if k not in OFFENCE_CLASSES]
        if unknown:
            raise ValueError(f"background has unknown class(es) {unknown!r}; use {list(OFFENCE_CLASSES)}")
        bg = pd.Series(background, dtype=float).reindex(list(OFFENCE_CLASSES), fill_value=0.0)
    elif isinstance(background, numbers.Real) and background >= 0:
        bg = pd.Series(np.where(stalk.index == "stalking", 0.0, np.round(float(background) * stalk.to_numpy())),
                       index=stalk.index)
    else:
        raise ValueError(f"background must be a non-negative number or a dict class -> count, got {background!r}")
    if (bg < 0).any() or (bg != np.round(bg)).any():
        raise ValueError("background counts must be non-negative whole numbers")
    bg = bg.astype(np.int64)
    pop = pd.DataFrame({"stalking": stalk, "not_stalking": bg})
    pop = pop[(pop.sum(axis=1) > 0)]
    tot = pop.sum(axis=1).to_numpy()
    if design == "stratified":
        k = len(pop)
        if allocation is not None:
            if not isinstance(allocation, pd.Series):
                raise ValueError("allocation must be a pandas Series of files per recorded class")
            m = pd.to_numeric(allocation, errors="coerce").reindex(pop.index).fillna(0).to_numpy()
            if (m < 0).any() or (m != np.round(m)).any():
                raise ValueError(f"allocation must hold whole numbers of files, got {allocation.to_dict()!r}")
            m = m.astype(np.int64)
        else:
            m = np.full(k, n // k) + (np.arange(k) < n % k)
        m = np.minimum(m, tot)
        s = rng.hypergeometric(pop["stalking"].to_numpy(), pop["not_stalking"].to_numpy(), np.maximum(m, 0)) \
            if k else np.array([], np.int64)
        rv_true, rv_false = s, m - s
    else:
        cells = np.r_[pop["stalking"].to_numpy(), pop["not_stalking"].to_numpy()]
        draw = rng.multivariate_hypergeometric(cells, min(n, int(cells.sum())))
        rv_true, rv_false = draw[: len(pop)], draw[len(pop):]
    se_r, sp_r = (float(v) for v in reviewer_error)
    if not (0 < se_r <= 1 and 0 < sp_r <= 1):
        raise ValueError(f"reviewer_error must be (sensitivity, specificity) in (0, 1], got {reviewer_error!r}")
    dr = None
    if (se_r, sp_r) != (1.0, 1.0) or double_review:
        tp = rng.binomial(rv_true, se_r)  # stalking files the reviewer flags
        fp = rng.binomial(rv_false, 1 - sp_r)  # other files the reviewer flags
        if double_review:
            cells = np.array([tp.sum(), (rv_true - tp).sum(), (rv_false - fp).sum(), fp.sum()], np.int64)
            d = rng.multivariate_hypergeometric(cells, min(int(double_review), int(cells.sum())))
            dr = dict(zip(("true_positive", "false_negative", "true_negative", "false_positive"), map(int, d)))
        rv_true, rv_false = tp + fp, (rv_true - tp) + (rv_false - fp)  # the reviewer's verdicts
    review = pd.DataFrame({
        "recorded": np.repeat(pop.index.to_numpy(), 2),
        "true_stalking": np.tile([True, False], len(pop)),
        "n": np.column_stack([rv_true, rv_false]).reshape(-1).astype(np.int64),
    })
    reviewed = review.groupby("recorded", sort=False)["n"].transform("sum")
    review = review[reviewed > 0].reset_index(drop=True)
    counts = pd.DataFrame({"offence": pop.index.to_numpy(), "n": tot.astype(np.int64)})
    T = int(pop["stalking"].sum())
    nS = int(pop["not_stalking"].sum())
    truth = {
        "true_stalking": T, "records": int(tot.sum()), "share_stalking": T / tot.sum(),
        "recording_sensitivity": float(pop["stalking"].get("stalking", 0)) / T if T else np.nan,
        "ppv": (pop["stalking"] / tot).to_dict(),
        "sensitivity": float(pop["stalking"].get("stalking", 0)) / T if T else np.nan,
        "specificity": 1 - float(pop["not_stalking"].get("stalking", 0)) / nS if nS else np.nan,
        "reviewer_error": (se_r, sp_r),
    }
    if dr is not None:
        truth["double_review"] = dr
    return SyntheticReview(review=review, counts=counts, population=pop, truth=truth)


# ----------------------------------------------------------------------------------------------------
# 4. plot
# ----------------------------------------------------------------------------------------------------
def plot_mischarging(table: pd.DataFrame, ax=None, *, x: str | None = None, offences=LESSER_OFFENCES,
                     stage: str | None = None, **kwargs):
    """Share of stalking reports recorded (or charged) as each lesser offence, with intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`mischarging_table` with one row per (``x``, offence): e.g. ``by="financial_year"``
        (lines over years) or ``by="force"`` (horizontal grouped bars).
    ax : matplotlib.axes.Axes, optional
    x : str, optional
        The grouping column to plot along (default: the table's single ``by`` column).
    offences : sequence of str, default the lesser offences
    stage : str, optional
        Which stage of the table to plot (needed if it holds several).
    **kwargs
        Passed to the line/bar calls (e.g. ``linewidth``).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    DataValidationError
        If the table is not a mischarging table or has several rows per (x, offence).
    """
    import matplotlib.pyplot as plt

    from .plotting import PALETTE, percent_axis

    need = {"offence", "share", "stage"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise DataValidationError("plot_mischarging needs the output of mischarging_table (offence, stage, share, CI)")
    lo_name = next((c for c in table.columns if c.startswith("lower ")), None)
    hi_name = next((c for c in table.columns if c.startswith("upper ")), None)
    t = table
    stages = list(pd.unique(t["stage"]))
    if stage is None:
        if len(stages) > 1:
            raise DataValidationError(f"the table holds stages {stages}; pass stage= to choose one")
        stage = stages[0]
    t = t[t["stage"] == stage]
    fixed = {"stage", "offence", "n", "total", "share", "suppressed", lo_name, hi_name}
    by = [c for c in t.columns if c not in fixed]
    if x is None:
        if len(by) != 1:
            raise DataValidationError(
                f"the table is grouped by {by}; pass x= (and filter the other columns) or tabulate by one column"
            )
        x = by[0]
    if t.duplicated([x, "offence"]).any():
        raise DataValidationError(
            f"the table has several rows per ({x!r}, offence) (also grouped by {[b for b in by if b != x]}); "
            f"tabulate with by={x!r} or filter first"
        )
    offences = [o for o in offences if o in set(t["offence"])]
    if ax is None:
        _, ax = plt.subplots()
    xs = list(pd.unique(t[x].sort_values()))
    pos = np.arange(len(xs))
    horizontal = x != "financial_year"
    width = 0.8 / max(len(offences), 1)
    for j, o in enumerate(offences):  # a handful of offence classes
        sub = t[t["offence"] == o].set_index(x).reindex(xs)
        y = sub["share"].to_numpy(float)
        err = None
        if lo_name is not None:
            err = np.vstack([y - sub[lo_name].to_numpy(float), sub[hi_name].to_numpy(float) - y])
        label = o.replace("_", " ").capitalize()
        colour = PALETTE[(j + 1) % len(PALETTE)]
        if horizontal:
            kw = dict(kwargs)
            kw.setdefault("color", colour)
            ax.barh(pos + (j - (len(offences) - 1) / 2) * width, y, height=width, xerr=err, label=label,
                    error_kw={"elinewidth": 0.8, "ecolor": "#4D4D4D"}, **kw)
        else:
            kw = dict(kwargs)
            kw.setdefault("color", colour)
            kw.setdefault("marker", "o")
            ax.errorbar(pos, y, yerr=err, label=label, capsize=3, **kw)
    what = {"recorded": "first recorded", "final": "recorded (after reclassification)", "charged": "charged"}[stage]
    if horizontal:
        ax.set_yticks(pos, [str(v) for v in xs])
        percent_axis(ax, "x", limits=False)
        ax.set_xlabel(f"Share of stalking {'charges' if stage == 'charged' else 'reports'} {what} as")
    else:
        ax.set_xticks(pos, [str(v) for v in xs])
        percent_axis(ax, "y", limits=False)
        ax.set_xlabel(x.replace("_", " ").capitalize())
        ax.set_ylabel(f"Share {what} as offence")
        ax.set_ylim(bottom=0)
    ax.set_title(f"Stalking {'charged' if stage == 'charged' else what} as a lesser offence")
    ax.legend(title="Offence", frameon=False)
    return ax
