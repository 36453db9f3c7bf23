"""Case-mix adjusted force comparisons by indirect standardisation.

A force whose reports are mostly high-risk may charge more simply because high-risk cases are charged more
everywhere. Indirect standardisation asks, for each force: how many of its cases entering a stage would
have converted at the national rates for cases like them (risk, relationship, year)? The ratio of observed
to expected conversions (O/E, the standardised ratio) then compares forces on a like-for-like basis.

References
----------
Breslow, N. E. & Day, N. E. (1987). *Statistical Methods in Cancer Research II*. IARC (indirect
standardisation, exact Poisson intervals of O/E, chapter 2).
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance. *Statistics in
Medicine* 24, 1185–1202.
Iezzoni, L. I. (2013). *Risk Adjustment for Measuring Health Care Outcomes*, 4th ed. Health Administration
Press.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import pooling as _pooling
from ._utils import check_alpha, ci_labels
from .design import usable_covariates
from .exceptions import DataValidationError
from .standard import STAGES

__all__ = ["indirect_standardisation", "standardised_funnel", "DEFAULT_CASEMIX"]

#: The case-mix covariates adjusted for when present.
DEFAULT_CASEMIX = ("risk", "relationship", "financial_year")


def indirect_standardisation(cases: pd.DataFrame, stage: str = "suspect_identified", *, by: str = "force",
                             covariates=DEFAULT_CASEMIX, alpha: float = 0.05) -> pd.DataFrame:
    r"""Observed and expected conversions at ``stage`` by group, expected from a national case-mix model.

    Parameters
    ----------
    cases : pandas.DataFrame
        The case table (:func:`attrition.data.to_cases`): ``stage_index`` (or ``stage_reached``),
        ``status``, ``by`` and the covariates.
    stage : str, default "suspect_identified"
        A stage but the last; its conversion is reaching the next stage.
    by : str, default "force"
    covariates : sequence of str, default ("risk", "relationship", "financial_year")
        Adjusted for when present and estimable (:func:`attrition.design.usable_covariates`: absent or
        constant covariates are dropped, missing values form an ``unknown`` level, sparse levels are
        pooled); what was done is in ``attrs["notes"]``.
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``entered`` (closed cases entering the stage), ``observed`` (O, converted),
        ``expected`` (E), ``variance`` (null variance of O, :math:`\sum_i \hat p_i(1-\hat p_i)`),
        ``ratio`` (O/E) with exact ``lower``/``upper`` (Poisson interval of O divided by E), ``crude``
        (O/entered) and ``adjusted`` (``ratio`` times the national rate: the group's rate had it the
        national case mix). ``attrs``: ``covariates`` (used), ``notes``, ``national`` (rate),
        ``stage``, ``model`` (dict of coefficients on the logit scale), ``open_excluded``.

    Raises
    ------
    DataValidationError
        Missing columns, an unknown stage, or no case entering the stage.

    Notes
    -----
    **Estimand.** :math:`\mathrm{SR}_g = O_g/E_g` with :math:`E_g=\sum_{i\in g}\hat p(z_i)`, where
    :math:`\hat p(z)` is the national probability of converting for a case with covariates :math:`z`
    (a logistic regression on all groups' closed cases, without a group term): the group's conversions
    relative to what the national practice would give *its own* cases. Ratios of different groups are
    each against the national standard, not against each other (indirect standardisation compares every
    group with the nation, on its own case mix). Cases still open at the stage are left out (the model
    needs an outcome; assumes they will end like closed cases with the same covariates); their number is
    in ``attrs["open_excluded"]``. The interval treats :math:`E_g` as known (the national model rests
    on all groups) and :math:`O_g` as Poisson: exact Garwood limits divided by :math:`E_g`. For a
    funnel plot pass ``observed``, ``entered``, ``expected`` and ``variance`` to
    :func:`attrition.pooling.funnel_limits`.
    """
    import statsmodels.api as sm

    alpha = check_alpha(alpha)
    if stage not in STAGES[:-1]:
        raise ValueError(f"stage must be one of {list(STAGES[:-1])}, got {stage!r}")
    if not isinstance(cases, pd.DataFrame):
        raise DataValidationError(f"cases must be a pandas DataFrame, not {type(cases).__name__}")
    need = [by, "status"] + (["stage_index"] if "stage_index" in cases.columns else ["stage_reached"])
    missing = [c for c in need if c not in cases.columns]
    if missing:
        raise DataValidationError(f"cases lacks column(s) {missing}; pass the case table from attrition.data.to_cases")
    k = STAGES.index(stage)
    if "stage_index" in cases.columns:
        si = pd.to_numeric(cases["stage_index"], errors="coerce").to_numpy(float)
    else:
        si = pd.Categorical(cases["stage_reached"], categories=list(STAGES)).codes.astype(float)
    status = cases["status"].astype(str).to_numpy()
    entered = si >= k
    open_here = entered & (si == k) & (status == "open")
    use = entered & ~open_here
    if not use.any():
        raise DataValidationError(f"no closed case entered stage {stage!r}: nothing to compare")
    frame = cases.loc[use, [by] + [c for c in dict.fromkeys(covariates) if c in cases.columns]].copy()
    y = (si[use] >= k + 1).astype(float)
    frame, kept, notes = usable_covariates(frame, list(covariates), event=y)
    # collapse to (group, covariate cell) counts: the model is fitted on cells, which is exact for
    # a logistic regression on categorical covariates
    cells = frame.assign(_y=y, _n=1.0).groupby([by] + kept, observed=True, sort=True)[["_y", "_n"]].sum().reset_index()
    if kept:
        levels = cells[kept].apply(lambda c: c.cat.remove_unused_categories() if isinstance(c.dtype, pd.CategoricalDtype)
                                   else c)
        X = pd.get_dummies(levels, drop_first=True, dtype=float)  # first level (largest/first) is the reference
        X.insert(0, "const", 1.0)
    else:
        X = pd.DataFrame({"const": np.ones(len(cells))})
    endog = np.column_stack([cells["_y"], cells["_n"] - cells["_y"]])
    fit = sm.GLM(endog, X.to_numpy(), family=sm.families.Binomial()).fit()
    p = fit.predict(X.to_numpy())
    cells["_e"] = cells["_n"] * p
    cells["_v"] = cells["_n"] * p * (1 - p)
    g = cells.groupby(by, observed=True, sort=True)[["_n", "_y", "_e", "_v"]].sum()
    O, E = g["_y"].to_numpy(), g["_e"].to_numpy()
    lo_name, hi_name = ci_labels(alpha)
    lo = np.where(O > 0, stats.chi2.ppf(alpha / 2, 2 * O) / 2, 0.0) / E
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * O + 2) / 2 / E
    national = float(y.mean())
    out = pd.DataFrame({
        "entered": g["_n"].to_numpy(), "observed": O, "expected": E, "variance": g["_v"].to_numpy(),
        "ratio": O / E, lo_name: lo, hi_name: hi, "crude": O / g["_n"].to_numpy(), "adjusted": O / E * national,
    }, index=pd.Index(g.index.astype(str), name="group"))
    if not kept:
        notes = notes + ["no case-mix covariate is usable on these data: expected counts are the national "
                         "rate times the cases entering, so the ratio is the crude rate over the national rate"]
    out.attrs.update(covariates=kept, notes=notes, national=national, stage=stage,
                     model=dict(zip(X.columns, map(float, fit.params))), open_excluded=int(open_here.sum()))
    return out


def standardised_funnel(table: pd.DataFrame, overdispersion: str | None = "additive", **kwargs) -> pd.DataFrame:
    """Funnel-plot statistics of an :func:`indirect_standardisation` table (O/E against 1)."""
    return _pooling.funnel_limits(table["observed"], table["entered"], labels=table.index,
                                  expected=table["expected"], variance=table["variance"],
                                  overdispersion=overdispersion, **kwargs)
