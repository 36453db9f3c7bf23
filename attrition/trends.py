"""Trends over financial years, year-on-year change by force, and forces that supply no data.

* :func:`funnel_by_year` — the attrition funnel for each financial year
  (:class:`attrition.funnel.FunnelFitter` with ``by="financial_year"``).
* :func:`report_counts` / :func:`report_change` — reports by force and year, the year-on-year rate ratio
  with an exact (conditional binomial) interval, and the published-figure style summary "67% of forces
  whose Police and Crime Commissioner committed to increasing reports recorded a decrease" (the published
  figure's form, kept to reproduce it);
* :func:`force_changes` — the same change treated as a census of forces: per-force exact intervals, how
  many exclude no change against how many would by chance, Holm's correction.
* :func:`impute_missing_forces` — national totals when some forces did not answer (27 of 43 answered the
  FOI request): a GLM of the force-level quantity on force covariates, simulation-based prediction
  intervals and a sensitivity range for data missing not at random.
* :func:`plot_report_trends`.

References
----------
Clopper, C. J. & Pearson, E. S. (1934). The use of confidence or fiducial limits illustrated in the case
of the binomial. *Biometrika* 26, 404-413.
Breslow, N. E. & Day, N. E. (1987). *Statistical Methods in Cancer Research II*, IARC (exact conditional
interval for a ratio of Poisson rates, section 2.3).
Wilson, E. B. (1927). *JASA* 22, 209-212.
King, G., Tomz, M. & Wittenberg, J. (2000). Making the most of statistical analyses: improving
interpretation and presentation. *American Journal of Political Science* 44, 347-361.
Little, R. J. A. & Rubin, D. B. (2019). *Statistical Analysis with Missing Data*, 3rd ed. Wiley.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._utils import check_alpha, check_random_state, ci_labels
from .exceptions import ConvergenceError, DataValidationError
from ._utils import wilson_interval

__all__ = [
    "funnel_by_year", "report_counts", "report_change", "ReportChange", "force_changes", "ForceChanges",
    "impute_missing_forces",
    "ImputationResult", "plot_report_trends", "poisson_ratio_interval", "spo_applications", "plot_spo_applications",
    "spo_application_rates", "plot_spo_application_rates",
]


def _py(x):
    """A numpy scalar as a plain Python value (for readable messages)."""
    return x.item() if hasattr(x, "item") else x


def _check_cases(cases, cols):
    if not isinstance(cases, pd.DataFrame):
        raise DataValidationError(f"cases must be a pandas DataFrame (the case table), not {type(cases).__name__}")
    missing = [c for c in cols if c not in cases.columns]
    if missing:
        raise DataValidationError(f"the case table is missing column(s) {missing!r}")
    for c in cols:
        na = cases[c].isna().to_numpy()
        if na.any():
            pos = int(np.flatnonzero(na)[0])
            cid = f" (case_id {_py(cases['case_id'].iloc[pos])!r})" if "case_id" in cases.columns else ""
            raise DataValidationError(f"column {c!r} has {int(na.sum())} missing value(s); first at row {pos}{cid}")


# ----------------------------------------------------------------------------------------------------
# funnel by year
# ----------------------------------------------------------------------------------------------------
def funnel_by_year(cases: pd.DataFrame, *, alpha: float = 0.05, stages=None) -> pd.DataFrame:
    """The attrition funnel of each financial year.

    Parameters
    ----------
    cases : pandas.DataFrame, shape (n, ...)
        Case table with ``financial_year`` and the columns :class:`attrition.funnel.FunnelFitter` needs.
    alpha : float, default 0.05
    stages : sequence of str, optional
        Funnel stages (default: all of ``attrition.standard.STAGES``).

    Returns
    -------
    pandas.DataFrame, shape (n_years * n_stages, ...)
        Tidy: ``financial_year``, ``stage`` and the columns of ``FunnelFitter.summary`` (``entered``,
        ``converted``, ``open``, ``exited``, ``p_convert`` with ``se`` and CI, ``p_reach`` with CI). Years in
        order. The last stage's ``p_reach`` is the year's end-to-end probability.

    Raises
    ------
    DataValidationError
        Missing or incomplete ``financial_year``, or anything FunnelFitter rejects.

    Notes
    -----
    Later years have more open (right-censored) cases; FunnelFitter's Aalen-Johansen long-run estimates
    account for that, so years can be compared (under the assumption that open cases will end like
    closed cases with the same time in stage). Intervals: Wilson on the (effective) counts; see
    :class:`attrition.funnel.FunnelFitter`. Groups are not pooled (``pool=False``): years are compared,
    not shrunk towards each other.
    """
    from .funnel import FunnelFitter
    from .standard import STAGES

    _check_cases(cases, ["financial_year"])
    ff = FunnelFitter(alpha=alpha, stages=STAGES if stages is None else stages)
    ff.fit(cases, by="financial_year", pool=False)
    out = ff.summary.reset_index().rename(columns={"group": "financial_year"})
    return out.sort_values(["financial_year"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------
# counts and year-on-year change
# ----------------------------------------------------------------------------------------------------
def poisson_ratio_interval(count_to, count_from, alpha: float = 0.05):
    """Exact conditional interval for the ratio of two Poisson rates with equal exposure.

    Given the total :math:`n = a + b`, :math:`b \\sim \\mathrm{Bin}(n, \\theta)` with
    :math:`\\theta = RR/(1+RR)`; the Clopper-Pearson interval for :math:`\\theta` maps to
    :math:`RR = \\theta/(1-\\theta)` (Breslow & Day 1987). Same as R's ``poisson.test(c(b, a))``.

    Parameters
    ----------
    count_to, count_from : array-like of int, same shape
        Counts in the later and the earlier period.
    alpha : float, default 0.05

    Returns
    -------
    lower, upper : numpy.ndarray
        ``upper`` is ``inf`` where ``count_from`` is 0; ``lower`` is 0 where ``count_to`` is 0.
    """
    b = np.asarray(count_to, float)
    a = np.asarray(count_from, float)
    n = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        lo_t = np.where(b > 0, stats.beta.ppf(alpha / 2, b, a + 1), 0.0)
        hi_t = np.where(a > 0, stats.beta.ppf(1 - alpha / 2, b + 1, a), 1.0)
        lo = lo_t / (1 - lo_t)
        hi = np.where(hi_t < 1, hi_t / (1 - hi_t), np.inf)
    lo = np.where(n > 0, lo, np.nan)
    hi = np.where(n > 0, hi, np.nan)
    return lo, hi


def _years(cases) -> list:
    return sorted(pd.unique(cases["financial_year"].astype(str)))


def report_counts(cases: pd.DataFrame, by="force", *, alpha: float = 0.05) -> pd.DataFrame:
    """Reports per financial year (and group), with exact Poisson intervals.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table with ``financial_year`` (and the ``by`` column).
    by : str or None, default "force"
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        ``[by,] financial_year, n, lower, upper`` (exact Poisson interval of the yearly count, Garwood);
        every (group, year) combination present, zero counts included.
    """
    alpha = check_alpha(alpha)
    cols = ["financial_year"] + ([by] if by else [])
    _check_cases(cases, cols)
    lo_name, hi_name = ci_labels(alpha)
    years = _years(cases)
    fy = cases["financial_year"].astype(str)
    if by:
        groups = sorted(pd.unique(cases[by].astype(str)))
        idx = pd.MultiIndex.from_product([groups, years], names=[by, "financial_year"])
        n = pd.Series(1, index=pd.MultiIndex.from_arrays([cases[by].astype(str), fy])).groupby(level=[0, 1]).sum()
        n.index.names = [by, "financial_year"]
        out = n.reindex(idx, fill_value=0).rename("n").reset_index()
    else:
        out = fy.value_counts().reindex(years, fill_value=0).rename("n").rename_axis("financial_year").reset_index()
    k = out["n"].to_numpy(float)
    out[lo_name] = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    out[hi_name] = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return out


@dataclass
class ReportChange:
    """Year-on-year change of reports.

    Attributes
    ----------
    by_force : pandas.DataFrame
        One row per force: ``n_from``, ``n_to``, ``change``, ``pct_change``, ``rate_ratio`` with its exact
        interval, ``p_value`` (exact conditional two-sided test of no change), ``decreased``, ``in_subset``.
    summary : pandas.DataFrame
        One row for all forces and one for the subset: ``n_forces``, ``n_decreased``, ``share_decreased``
        with Wilson interval, ``n_significant_decrease``, total ``n_from``/``n_to`` with the rate ratio of
        the totals and its exact interval, and ``statement`` (the published-figure style sentence).
    """

    by_force: pd.DataFrame
    summary: pd.DataFrame
    from_year: str = ""
    to_year: str = ""
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.summary["statement"])


def report_change(cases: pd.DataFrame, forces: pd.DataFrame | None = None, from_year: str | None = None,
                  to_year: str | None = None, *, subset=None, subset_label: str | None = None,
                  alpha: float = 0.05) -> ReportChange:
    """Year-on-year change of reports by force, and the share of (a subset of) forces with a decrease.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table with ``force`` and ``financial_year``.
    forces : pandas.DataFrame, optional
        Force table (force-level or force-year) with ``force``: defines the forces (a force in it with no
        reports is an error, not a silent drop) and may hold the ``subset`` column.
    from_year, to_year : str, optional
        Financial years such as ``"2021/22"``; default the last two years in the data.
    subset : str or list of str, optional
        The forces of interest: the name of a boolean column of ``forces`` (e.g. PCC committed to increasing
        reports) or a list of force names.
    subset_label : str, optional
        Words for the subset in the statement (default: "forces in the subset" / the column name).
    alpha : float, default 0.05

    Returns
    -------
    ReportChange

    Raises
    ------
    DataValidationError
        A year not in the data (naming the years there are), a force with zero reports in ``from_year``
        (the rate ratio is undefined), forces in the cases but not in ``forces``, unknown subset forces, a
        subset column that is not boolean or varies between years.

    Notes
    -----
    Each force's yearly count is treated as Poisson with one year of exposure in each year. The rate
    ratio's interval is the exact conditional (Clopper-Pearson) interval (:func:`poisson_ratio_interval`)
    and ``p_value`` the exact conditional binomial test; the share of forces with a decrease gets a
    Wilson interval (forces treated as exchangeable units: the interval describes the process that
    produced this year's pattern, not sampling of forces).
    """
    alpha = check_alpha(alpha)
    _check_cases(cases, ["force", "financial_year"])
    lo_name, hi_name = ci_labels(alpha)
    years = _years(cases)
    if len(years) < 2 and (from_year is None or to_year is None):
        raise DataValidationError(f"the case table holds one financial year ({years}); a change needs two")
    from_year = years[-2] if from_year is None else str(from_year)
    to_year = years[-1] if to_year is None else str(to_year)
    absent = [y for y in (from_year, to_year) if y not in years]
    if absent:
        raise DataValidationError(f"financial year(s) {absent} not in the case table; it holds {years}")
    if from_year == to_year:
        raise ValueError(f"from_year and to_year are both {from_year!r}")
    case_forces = sorted(pd.unique(cases["force"].astype(str)))
    force_level = None
    if forces is not None:
        if not isinstance(forces, pd.DataFrame) or "force" not in forces.columns:
            raise DataValidationError("forces must be a DataFrame with a 'force' column")
        names = sorted(pd.unique(forces["force"].astype(str)))
        extra = [f for f in case_forces if f not in names]
        if extra:
            raise DataValidationError(f"force(s) {extra[:5]} have reports but are not in the forces table")
        force_level = forces.assign(force=forces["force"].astype(str))
    else:
        names = case_forces
    cnt = report_counts(cases[cases["financial_year"].astype(str).isin([from_year, to_year])], by="force", alpha=alpha)
    wide = cnt.pivot(index="force", columns="financial_year", values="n").reindex(index=names, columns=[from_year, to_year])
    wide = wide.fillna(0).astype(np.int64)
    zero = wide.index[wide[from_year].to_numpy() == 0].tolist()
    if zero:
        raise DataValidationError(
            f"force(s) {zero} have zero reports in {from_year}: the change from zero is undefined; check their "
            "data (a force that did not supply data is missing, not zero) or leave them out of the forces table"
        )
    a, b = wide[from_year].to_numpy(float), wide[to_year].to_numpy(float)
    lo, hi = poisson_ratio_interval(b, a, alpha)
    pval = _exact_p(b, a)
    by_force = pd.DataFrame({
        "force": wide.index.to_numpy(), "from_year": from_year, "to_year": to_year,
        "n_from": a.astype(np.int64), "n_to": b.astype(np.int64), "change": (b - a).astype(np.int64),
        "pct_change": 100 * (b / a - 1), "rate_ratio": b / a, lo_name: lo, hi_name: hi, "p_value": pval,
        "decreased": b < a,
    })
    # the subset
    if subset is None:
        in_sub = None
    elif isinstance(subset, str):
        if force_level is None or subset not in force_level.columns:
            raise DataValidationError(f"subset column {subset!r} needs a forces table that has it")
        col = force_level[["force", subset]].drop_duplicates()
        if col["force"].duplicated().any():
            bad = col.loc[col["force"].duplicated(), "force"].iloc[0]
            raise DataValidationError(f"subset column {subset!r} differs between rows of force {bad!r}; it must be force-level")
        if not pd.api.types.is_bool_dtype(col[subset]):
            raise DataValidationError(f"subset column {subset!r} must be boolean, it has dtype {col[subset].dtype}")
        in_sub = col.set_index("force")[subset].reindex(names).to_numpy(bool)
        subset_label = subset_label or f"forces with {subset.replace('_', ' ')}"
    else:
        subset = [str(s) for s in subset]
        unknown = [s for s in subset if s not in names]
        if unknown:
            raise DataValidationError(f"subset force(s) {unknown} are not among the forces {names[:5]}...")
        in_sub = np.isin(np.asarray(names), subset)
        subset_label = subset_label or "forces in the subset"
    by_force["in_subset"] = in_sub if in_sub is not None else False
    rows = []
    for label, mask in [("all forces", np.ones(len(names), bool))] + ([(subset_label, in_sub)] if in_sub is not None else []):
        k, m = int(by_force["decreased"][mask].sum()), int(mask.sum())
        if m == 0:
            raise DataValidationError(f"the subset {subset!r} holds no forces")
        wl, wh = wilson_interval(k, m, alpha)
        ta, tb = float(a[mask].sum()), float(b[mask].sum())
        rl, rh = poisson_ratio_interval(tb, ta, alpha)
        share = k / m
        level = f"{100 * (1 - alpha):g}%"
        stmt = (f"{share:.0%} of {label} ({k} of {m}) recorded a decrease in stalking reports from {from_year} to "
                f"{to_year} ({level} CI {float(wl):.0%} to {float(wh):.0%}); "
                f"{int(((by_force[hi_name] < 1) & mask).sum())} with a significant decrease (rate-ratio CI below 1)")
        rows.append({"group": label, "n_forces": m, "n_decreased": k, "share_decreased": share, lo_name: float(wl),
                     hi_name: float(wh), "n_significant_decrease": int(((by_force[hi_name] < 1) & mask).sum()),
                     "n_from": int(ta), "n_to": int(tb), "rate_ratio": tb / ta, f"rate_ratio {lo_name}": float(rl),
                     f"rate_ratio {hi_name}": float(rh), "statement": stmt})
    return ReportChange(by_force=by_force, summary=pd.DataFrame(rows), from_year=from_year, to_year=to_year)


@dataclass
class ForceChanges:
    """Year-on-year change of reports in each force, the forces taken as the census they are.

    Attributes
    ----------
    by_force : pandas.DataFrame
        One row per force (sorted by rate ratio): ``n_from``, ``n_to``, ``rate_ratio`` with its exact
        ``1 - alpha`` interval, the simultaneous interval (``simultaneous lower/upper``, Bonferroni:
        each at ``1 - alpha/G``), ``p_value`` (exact conditional, two-sided), ``p_holm`` (Holm-adjusted),
        ``direction`` ("fewer", "more", "no change" by the raw counts), ``interval_excludes_1``
        (-1 below, 1 above, 0 no), ``holm`` (the same after Holm's correction).
    summary : dict
        ``n_forces``, ``n_fewer``, ``n_more``, ``n_interval_below``, ``n_interval_above``,
        ``expected_by_chance`` (``alpha * G``), ``n_holm_below``, ``n_holm_above``, ``rate_ratio`` of the
        totals with its exact interval.
    statement : str
        The finding in words.
    """

    by_force: pd.DataFrame
    summary: dict
    statement: str
    from_year: str = ""
    to_year: str = ""

    def __str__(self) -> str:
        return self.statement


def force_changes(cases: pd.DataFrame, from_year: str | None = None, to_year: str | None = None, *,
                  alpha: float = 0.05) -> ForceChanges:
    r"""Change of reports from one financial year to the next in every force, with multiplicity control.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table with ``force`` and ``financial_year``.
    from_year, to_year : str, optional
        Default: the last two years in the data.
    alpha : float, default 0.05

    Returns
    -------
    ForceChanges

    Raises
    ------
    DataValidationError
        As :func:`report_change` (a year not in the data, a force with no reports in ``from_year``).

    Notes
    -----
    **Estimand.** For each force, the ratio of its underlying yearly rates of reports,
    :math:`\lambda_{f,\text{to}}/\lambda_{f,\text{from}}` (the reports a year are Poisson around the
    rate). The 43 forces are the whole population, not a sample: how many forces recorded fewer reports
    is a count, known exactly, with no confidence interval (an interval for "the share of forces that
    decreased" would describe a population of forces from which these were drawn, and there is none).
    What is uncertain is whether each force's underlying rate changed: exact conditional intervals
    (:func:`poisson_ratio_interval`) per force, the number of forces whose interval excludes 1, the
    number expected to by chance if no rate had changed (:math:`\alpha G`), and Holm's step-down
    correction (family-wise error ``alpha`` over the ``G`` forces) with Bonferroni simultaneous intervals.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scand. J. Statist.* 6,
    65-70.
    Breslow, N. E. & Day, N. E. (1987). *Statistical Methods in Cancer Research II*. IARC.
    """
    alpha = check_alpha(alpha)
    rc = report_change(cases, from_year=from_year, to_year=to_year, alpha=alpha)
    lo_name, hi_name = ci_labels(alpha)
    bf = rc.by_force.set_index("force")
    a, b = bf["n_from"].to_numpy(float), bf["n_to"].to_numpy(float)
    G = len(bf)
    slo, shi = poisson_ratio_interval(b, a, alpha / G)
    p = bf["p_value"].to_numpy(float)
    order = np.argsort(p, kind="stable")
    holm = np.empty(G)
    holm[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (G - np.arange(G))))
    excl = np.where(bf[hi_name] < 1, -1, np.where(bf[lo_name] > 1, 1, 0))
    hsig = np.where(holm < alpha, np.sign(b - a), 0).astype(int)
    out = pd.DataFrame({
        "n_from": bf["n_from"], "n_to": bf["n_to"], "rate_ratio": bf["rate_ratio"], lo_name: bf[lo_name],
        hi_name: bf[hi_name], f"simultaneous {lo_name}": slo, f"simultaneous {hi_name}": shi,
        "p_value": p, "p_holm": holm,
        "direction": np.where(b < a, "fewer", np.where(b > a, "more", "no change")),
        "interval_excludes_1": excl, "holm": hsig,
    }, index=bf.index).sort_values("rate_ratio", kind="mergesort")
    ta, tb = float(a.sum()), float(b.sum())
    rl, rh = poisson_ratio_interval(tb, ta, alpha)
    summ = {
        "n_forces": G, "n_fewer": int((b < a).sum()), "n_more": int((b > a).sum()),
        "n_interval_below": int((excl < 0).sum()), "n_interval_above": int((excl > 0).sum()),
        "expected_by_chance": alpha * G, "n_holm_below": int((hsig < 0).sum()), "n_holm_above": int((hsig > 0).sum()),
        "rate_ratio": tb / ta, f"rate_ratio {lo_name}": float(rl), f"rate_ratio {hi_name}": float(rh),
    }
    level = f"{100 * (1 - alpha):g}%"
    fy, ty = rc.from_year, rc.to_year
    if G == 1:
        r = out.iloc[0]
        stmt = (f"{out.index[0]} recorded {int(r['n_to']):,} stalking reports in {ty} and {int(r['n_from']):,} in {fy}: "
                f"rate ratio {r['rate_ratio']:.3f} ({level} CI {r[lo_name]:.3f} to {r[hi_name]:.3f}).")
        return ForceChanges(by_force=out, summary=summ, statement=stmt, from_year=fy, to_year=ty)
    stmt = (f"{summ['n_fewer']} of the {G} forces recorded fewer stalking reports in {ty} than in {fy} and "
            f"{summ['n_more']} more (counts over every force: no interval applies). For "
            f"{summ['n_interval_below']} force(s) the {level} interval of the rate ratio lies below 1 and for "
            f"{summ['n_interval_above']} above 1; if no force's underlying rate had changed, about "
            f"{alpha * G:.1f} of {G} intervals would exclude 1 by chance. After Holm's correction for {G} "
            f"comparisons (family-wise error {alpha:g}): {summ['n_holm_below']} force(s) with a decrease, "
            f"{summ['n_holm_above']} with an increase. All forces together: rate ratio {tb / ta:.3f} "
            f"({level} CI {float(rl):.3f} to {float(rh):.3f}).")
    return ForceChanges(by_force=out, summary=summ, statement=stmt, from_year=fy, to_year=ty)


def _exact_p(b, a):
    """Two-sided exact conditional p-value of H0: equal rates (binomial(n, 1/2), minimum-likelihood)."""
    b = np.asarray(b, float)
    n = b + np.asarray(a, float)
    k = np.minimum(b, n - b)
    # symmetric null: two-sided p = min(1, 2 * P(X <= min(b, n - b)))
    return np.minimum(1.0, 2 * stats.binom.cdf(k, n, 0.5))


# ----------------------------------------------------------------------------------------------------
# forces that supply no data
# ----------------------------------------------------------------------------------------------------
@dataclass
class ImputationResult:
    """National totals with imputed missing forces.

    Attributes
    ----------
    national : pandas.DataFrame
        One row per scenario: ``scenario``, ``total``, CI, ``observed_total``, ``imputed_total``,
        ``n_observed``, ``n_imputed``, ``handling`` (how missing forces were handled).
    by_force : pandas.DataFrame
        One row per force: ``observed`` (bool), ``value`` (observed or NaN), ``predicted`` (model mean),
        prediction interval (missing forces), ``exposure`` and ``rate`` where an exposure is used.
    model : statsmodels results
        The fitted GLM / negative binomial model.
    family : str
    """

    national: pd.DataFrame
    by_force: pd.DataFrame
    model: object
    family: str
    notes: list = field(default_factory=list)


def _design(df: pd.DataFrame, covariates: list[str], observed: np.ndarray) -> tuple[np.ndarray, list[str]]:
    cols = [np.ones(len(df))]
    names = ["const"]
    for c in covariates:  # a handful of covariates
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            s = s.astype(str)
            levels = sorted(pd.unique(s[observed]))
            unseen = sorted(set(pd.unique(s[~observed])) - set(levels))
            if unseen:
                who = df.loc[(~observed) & s.isin(unseen).to_numpy(), "force"].tolist()
                raise DataValidationError(
                    f"covariate {c!r} level(s) {unseen} occur only among missing forces {who}: no observed force "
                    "informs them; merge levels or drop the covariate"
                )
            for lev in levels[1:]:
                cols.append((s == lev).to_numpy(float))
                names.append(f"{c}[{lev}]")
        else:
            v = s.to_numpy(float)
            if not np.isfinite(v).all():
                pos = int(np.flatnonzero(~np.isfinite(v))[0])
                raise DataValidationError(f"covariate {c!r} is missing or infinite for force {df['force'].iloc[pos]!r}")
            cols.append(v)
            names.append(c)
    return np.column_stack(cols), names


def impute_missing_forces(force_values: pd.DataFrame, force_covariates: pd.DataFrame | None = None, *,
                          value: str = "spo_applications", covariates=("log_size",), exposure: str | None = None,
                          observed: str | None = None, family: str = "negbin", per: float = 1.0,
                          n_sim: int = 4000, mnar_ratios=(0.5, 2.0), alpha: float = 0.05,
                          random_state=0) -> ImputationResult:
    """Estimate a national total when some forces supply no data, with a prediction interval and sensitivity.

    Parameters
    ----------
    force_values : pandas.DataFrame
        One row per force that answered: ``force`` and ``value`` (a count). Forces with a missing value, or
        with ``observed`` False, count as not answering.
    force_covariates : pandas.DataFrame, optional
        One row per force of the country (all forces, answering or not): ``force`` and the ``covariates``
        (and ``exposure``). Default: ``force_values`` itself (then it must list every force).
    value : str, default "spo_applications"
    covariates : sequence of str, default ("log_size",)
        Numeric columns enter linearly; text/boolean columns (e.g. ``region``) as indicators.
    exposure : str, optional
        A column of exposure (e.g. number of reports): enters as ``log(exposure)`` offset (Poisson /
        negative binomial) or as the number of trials (binomial); rates are reported per ``per``.
    observed : str, optional
        Boolean column of ``force_values`` marking forces that answered (e.g. ``"foi_responded"``).
    family : {"negbin", "poisson", "binomial"}, default "negbin"
        Negative binomial (NB2, dispersion estimated; the default, since force-level counts are usually
        overdispersed), Poisson, or binomial (``value`` successes out of ``exposure``).
    per : float, default 1.0
        Rates are per ``per`` units of exposure (e.g. 1000 reports).
    n_sim : int, default 4000
        Simulations for the prediction interval.
    mnar_ratios : sequence of float, default (0.5, 2.0)
        Missing-not-at-random sensitivity: missing forces' expected values multiplied by each ratio.
    alpha : float, default 0.05
    random_state : None, int or numpy.random.Generator, default 0

    Returns
    -------
    ImputationResult
        ``national`` scenarios: ``observed only`` (no imputation: a lower bound), ``model (MAR)``,
        ``MNAR x r`` for each ratio, and ``missing at min observed rate`` / ``missing at max observed
        rate`` (a deterministic range).

    Raises
    ------
    DataValidationError
        Unknown/duplicated forces, missing or negative values/covariates, a force with zero exposure
        (e.g. zero reports), a covariate level seen only among missing forces, too few answering forces
        for the model.
    ConvergenceError
        If the model does not converge.

    Notes
    -----
    The total is :math:`\\sum_{\\text{observed}} y_f + \\sum_{\\text{missing}} \\hat\\mu_f`. The prediction
    interval simulates (King, Tomz & Wittenberg 2000) ``n_sim`` parameter vectors from the estimates'
    asymptotic normal distribution (model-based covariance; for the negative binomial including the log
    dispersion), then each missing force's count from the model (Poisson, gamma-Poisson or binomial) at
    those parameters, and takes quantiles of the simulated totals: it carries both estimation and outcome
    uncertainty. It assumes the forces are missing at random given the covariates; the ``MNAR`` rows and
    the min/max range show how far the total moves if they are not (Little & Rubin 2019, ch. 15 pattern
    mixture / delta adjustment).

    References
    ----------
    King, G., Tomz, M. & Wittenberg, J. (2000). *Am. J. Political Science* 44, 347-361.
    Little, R. J. A. & Rubin, D. B. (2019). *Statistical Analysis with Missing Data*, 3rd ed. Wiley.
    Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd ed. Cambridge.
    """
    import statsmodels.api as sm

    alpha = check_alpha(alpha)
    if family not in ("negbin", "poisson", "binomial"):
        raise ValueError(f"family must be 'negbin', 'poisson' or 'binomial', got {family!r}")
    if family == "binomial" and exposure is None:
        raise ValueError("family='binomial' needs exposure=<column of trials>")
    if not isinstance(n_sim, numbers.Integral) or n_sim < 100:
        raise ValueError(f"n_sim must be an integer >= 100, got {n_sim!r}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    for name, df in (("force_values", force_values), ("force_covariates", force_covariates)):
        if df is not None and (not isinstance(df, pd.DataFrame) or "force" not in df.columns):
            raise DataValidationError(f"{name} must be a DataFrame with a 'force' column")
    if value not in force_values.columns:
        raise DataValidationError(f"force_values has no column {value!r} (value=)")
    fv = force_values
    if fv["force"].duplicated().any():
        raise DataValidationError(f"force_values lists force {fv.loc[fv['force'].duplicated(), 'force'].iloc[0]!r} twice; "
                                  "give one row per force (filter to one year)")
    cov = fv if force_covariates is None else force_covariates
    if cov["force"].duplicated().any():
        raise DataValidationError(f"force_covariates lists force {cov.loc[cov['force'].duplicated(), 'force'].iloc[0]!r} "
                                  "twice; give one row per force (filter to one year)")
    need = covariates + ([exposure] if exposure else [])
    miss_cols = [c for c in need if c not in cov.columns]
    if miss_cols:
        raise DataValidationError(f"force_covariates has no column(s) {miss_cols!r}")
    unknown = sorted(set(fv["force"].astype(str)) - set(cov["force"].astype(str)))
    if unknown:
        raise DataValidationError(f"force(s) {unknown} have values but no covariates")
    df = cov[["force"] + need].copy()
    df["force"] = df["force"].astype(str)
    vals = fv.assign(force=fv["force"].astype(str)).set_index("force")
    y_all = pd.to_numeric(vals[value], errors="coerce").reindex(df["force"]).to_numpy(float)
    if observed is not None:
        if observed not in fv.columns:
            raise DataValidationError(f"force_values has no column {observed!r} (observed=)")
        obs_flag = vals[observed].reindex(df["force"]).fillna(False).astype(bool).to_numpy()
        y_all = np.where(obs_flag, y_all, np.nan)
    obs = np.isfinite(y_all)
    bad = obs & ((y_all < 0) | (y_all != np.round(y_all)))
    if bad.any():
        raise DataValidationError(f"{value!r} must be a non-negative count; force {df['force'][bad].iloc[0]!r} has {_py(y_all[bad][0])!r}")
    if exposure:
        e = pd.to_numeric(df[exposure], errors="coerce").to_numpy(float)
        badz = ~np.isfinite(e) | (e <= 0)
        if badz.any():
            raise DataValidationError(
                f"exposure {exposure!r} must be positive; force {df['force'][badz].iloc[0]!r} has {_py(e[badz][0])!r} "
                "(a force with zero reports has no rate: leave it out, or report it separately)"
            )
        if family == "binomial" and (obs & (y_all > e)).any():
            f_ = df["force"][obs & (y_all > e)].iloc[0]
            raise DataValidationError(f"{value!r} exceeds the trials {exposure!r} for force {f_!r}")
    else:
        e = np.ones(len(df))
    X, names = _design(df, covariates, obs)
    n_obs, n_mis = int(obs.sum()), int((~obs).sum())
    k = X.shape[1] + (family == "negbin")
    if n_obs < k + 2:
        raise DataValidationError(
            f"only {n_obs} forces answered, too few for a model with {k} parameters ({names}); use fewer covariates"
        )
    if n_mis == 0:
        raise DataValidationError("every force has a value: nothing to impute")
    rng = check_random_state(random_state)
    lo_name, hi_name = ci_labels(alpha)
    Xo, yo = X[obs], y_all[obs]
    offset = np.log(e)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if family == "poisson":
                res = sm.GLM(yo, Xo, family=sm.families.Poisson(), offset=offset[obs]).fit()
            elif family == "binomial":
                endog = np.column_stack([yo, e[obs] - yo])
                res = sm.GLM(endog, Xo, family=sm.families.Binomial()).fit()
            else:
                res = sm.NegativeBinomial(yo, Xo, loglike_method="nb2", offset=offset[obs]).fit(
                    disp=0, maxiter=500, method="bfgs")
                if not res.mle_retvals.get("converged", True):
                    raise ConvergenceError("the negative binomial model did not converge; try family='poisson' or "
                                           "fewer covariates")
        except (np.linalg.LinAlgError, ValueError) as exc:
            if isinstance(exc, ConvergenceError):
                raise
            raise ConvergenceError(f"the {family} model could not be fitted ({exc}); use fewer covariates") from exc
    conv = [w for w in caught if "converge" in str(w.message).lower() or "singular" in str(w.message).lower()]
    if conv:
        raise ConvergenceError(f"the {family} model did not converge cleanly: {conv[0].message}; use fewer covariates "
                               "or another family")
    params = np.asarray(res.params, float)
    V = np.asarray(res.cov_params(), float)
    if not np.isfinite(V).all():
        raise ConvergenceError("the model's covariance matrix is not finite (separation or collinear covariates)")
    beta = params[: X.shape[1]]
    Xm = X[~obs]
    eta_m = Xm @ beta
    if family == "binomial":
        mu_m = e[~obs] * (1 / (1 + np.exp(-eta_m)))
    else:
        mu_m = np.exp(eta_m + offset[~obs])
    eta_all = X @ beta
    mu_all = e * (1 / (1 + np.exp(-eta_all))) if family == "binomial" else np.exp(eta_all + offset)
    # simulation: parameters, then outcomes
    draws = rng.multivariate_normal(params, V, size=n_sim, method="svd")
    eta_d = draws[:, : X.shape[1]] @ Xm.T
    em = e[~obs]

    def simulate_missing(ratio: float) -> np.ndarray:
        if family == "binomial":
            p = np.clip(ratio / (1 + np.exp(-eta_d)), 0, 1)
            return rng.binomial(em.astype(np.int64), p).astype(float)
        mu = ratio * np.exp(eta_d + np.log(em))
        if family == "negbin" and params[-1] > 1e-6:
            # dispersion: log-normal with the delta-method variance var(alpha)/alpha^2 (keeps it positive);
            # an estimate at its bound of 0 (no over-dispersion) leaves the Poisson draws below
            a_hat = params[-1]
            a_d = a_hat * np.exp(np.clip((draws[:, -1:] - a_hat) / a_hat, -50, 50))
            lam = rng.gamma(shape=1 / a_d, scale=mu * a_d)
            return rng.poisson(lam).astype(float)
        return rng.poisson(mu).astype(float)

    obs_total = float(yo.sum())
    rows = [{"scenario": "observed only", "total": obs_total, lo_name: obs_total, hi_name: obs_total,
             "imputed_total": 0.0, "handling": f"{n_mis} missing forces counted as zero (a lower bound)"}]
    sims = {}
    for r in (1.0,) + tuple(float(x) for x in mnar_ratios):
        if r <= 0:
            raise ValueError(f"mnar_ratios must be positive, got {r!r}")
        ys = simulate_missing(r)
        sims[r] = ys
        tot = obs_total + ys.sum(axis=1)
        q = np.quantile(tot, [alpha / 2, 1 - alpha / 2])
        imp = float(r * mu_m.sum()) if family != "binomial" else float(np.minimum(r * mu_m, em).sum())
        label = "model (MAR)" if r == 1.0 else f"MNAR x {r:g}"
        how = (f"{n_mis} missing forces imputed from a {family} model on {covariates}"
               + ("" if r == 1.0 else f", their expected values multiplied by {r:g} (missing not at random)"))
        rows.append({"scenario": label, "total": obs_total + imp, lo_name: float(q[0]), hi_name: float(q[1]),
                     "imputed_total": imp, "handling": how})
    rate_o = yo / e[obs]
    for lab, rr in (("missing at min observed rate", rate_o.min()), ("missing at max observed rate", rate_o.max())):
        imp = float((rr * em).sum())
        unit = f" per {per:g} {exposure}" if exposure else " per force"
        rows.append({"scenario": lab, "total": obs_total + imp, lo_name: np.nan, hi_name: np.nan, "imputed_total": imp,
                     "handling": f"{n_mis} missing forces set to the {lab.split()[2]} observed rate ({rr * per:.3g}{unit})"})
    national = pd.DataFrame(rows)
    national.insert(4, "observed_total", obs_total)
    national["n_observed"] = n_obs
    national["n_imputed"] = n_mis
    pi = np.quantile(sims[1.0], [alpha / 2, 1 - alpha / 2], axis=0)
    by_force = pd.DataFrame({"force": df["force"].to_numpy(), "observed": obs, "value": y_all, "predicted": mu_all,
                             lo_name: np.nan, hi_name: np.nan})
    by_force.loc[~obs, lo_name] = pi[0]
    by_force.loc[~obs, hi_name] = pi[1]
    if exposure:
        by_force["exposure"] = e
        by_force["rate"] = np.where(obs, y_all, mu_all) / e * per
    res_names = names + (["alpha"] if family == "negbin" else [])
    return ImputationResult(national=national, by_force=by_force, model=res, family=family,
                            notes=[f"parameters: { {k: round(float(v), 4) for k, v in zip(res_names, params)} }"])


# ----------------------------------------------------------------------------------------------------
# plot
# ----------------------------------------------------------------------------------------------------
def plot_report_trends(df: pd.DataFrame, ax=None, *, y: str | None = None, group: str | None = None,
                       max_groups: int = 8, **kwargs):
    """Trends over financial years: reports (from :func:`report_counts`) or funnel stages (from
    :func:`funnel_by_year`), one line per group with its interval.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy table with ``financial_year`` and ``y``; CI columns ``lower ...``/``upper ...`` (or
        ``p_reach lower ...``) are drawn as bands.
    ax : matplotlib.axes.Axes, optional
    y : str, optional
        Column to plot: default ``p_reach`` for a funnel table, ``n`` otherwise.
    group : str, optional
        Column with one line per value: default ``stage`` for a funnel table, ``force`` if present.
    max_groups : int, default 8
        At most this many lines (the largest groups by total ``y``; the palette has 8 colours).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import PALETTE, STAGE_COLOURS, STAGE_LABELS, percent_axis

    if not isinstance(df, pd.DataFrame) or "financial_year" not in df.columns:
        raise DataValidationError("plot_report_trends needs a tidy table with a 'financial_year' column")
    funnel = "stage" in df.columns and "p_reach" in df.columns
    y = y or ("p_reach" if funnel else "n")
    if group is None:
        group = "stage" if funnel else ("force" if "force" in df.columns else None)
    if y not in df.columns:
        raise DataValidationError(f"column {y!r} not in the table")
    pre = "p_reach " if y == "p_reach" else ""
    lo_name = next((c for c in df.columns if c.startswith(pre + "lower ")), None)
    hi_name = next((c for c in df.columns if c.startswith(pre + "upper ")), None)
    if ax is None:
        _, ax = plt.subplots()
    years = sorted(pd.unique(df["financial_year"].astype(str)))
    pos = {yr: i for i, yr in enumerate(years)}
    if group is None:
        groups = [(None, df)]
    else:
        order = df.groupby(group, sort=False, observed=True)[y].sum()
        keys = list(pd.unique(df[group])) if funnel else list(order.sort_values(ascending=False).index[:max_groups])
        if funnel and y == "p_reach":
            keys = [k for k in keys if k != "reported"]
        groups = [(k, df[df[group] == k]) for k in keys[:max_groups]]
    for j, (k, sub) in enumerate(groups):  # at most max_groups lines
        sub = sub.sort_values("financial_year")
        xs = sub["financial_year"].astype(str).map(pos).to_numpy()
        colour = STAGE_COLOURS.get(k, PALETTE[j % len(PALETTE)]) if funnel else PALETTE[j % len(PALETTE)]
        label = STAGE_LABELS.get(k, str(k)) if funnel else (str(k) if k is not None else "All forces")
        kw = dict(kwargs)
        kw.setdefault("color", colour)
        kw.setdefault("marker", "o")
        ax.plot(xs, sub[y].to_numpy(float), label=label, **kw)
        if lo_name and hi_name:
            ax.fill_between(xs, sub[lo_name].to_numpy(float), sub[hi_name].to_numpy(float), color=kw["color"],
                            alpha=0.2, linewidth=0)
    ax.set_xticks(range(len(years)), years)
    ax.set_xlabel("Financial year")
    if y in ("p_reach", "p_convert", "share"):
        percent_axis(ax, "y", limits=False)
        ax.set_ylabel("Share of reports reaching stage" if y == "p_reach" else y.replace("_", " ").capitalize())
    else:
        ax.set_ylabel("Stalking reports" if y == "n" else y.replace("_", " ").capitalize())
    ax.set_ylim(bottom=0)
    ax.set_title("Stalking reports by financial year" if not funnel else "The attrition funnel by financial year")
    if len(groups) > 1 or groups[0][0] is not None:
        ax.legend(frameon=False, fontsize="small")
    return ax


def spo_applications(events: pd.DataFrame, *, forces=None, bands=(10, 30)) -> pd.DataFrame:
    """SPO applications (interim and full combined) per force and financial year, with the FOI bands.

    Parameters
    ----------
    events : pandas.DataFrame
        Event log (``spo_interim_applied`` and ``spo_full_applied`` rows are counted).
    forces : iterable of str, optional
        Forces to list even when they made no application (default: every force in ``events``).
    bands : (int, int), default (10, 30)
        Band edges of the published FOI figures: "10 or fewer", "11 to 30", "more than 30".

    Returns
    -------
    pandas.DataFrame
        ``force``, ``financial_year``, ``applications``, ``band``; every force-year, zeros included.
    """
    from .sources.events import financial_year

    apps = events[events["event"].isin(["spo_interim_applied", "spo_full_applied"])]
    years = sorted(financial_year(events["timestamp"]).dropna().unique())
    force_list = sorted(set(events["force"].dropna().astype(str)) if forces is None else set(forces))
    grid = pd.MultiIndex.from_product([force_list, years], names=["force", "financial_year"])
    counts = apps.groupby([apps["force"].astype(str).to_numpy(), financial_year(apps["timestamp"]).to_numpy()]).size()
    counts.index.names = ["force", "financial_year"]
    out = counts.reindex(grid, fill_value=0).rename("applications").reset_index()
    lo, hi = bands
    labels = [f"{lo} or fewer", f"{lo + 1} to {hi}", f"more than {hi}"]
    out["band"] = pd.Categorical(np.select([out["applications"] <= lo, out["applications"] <= hi], labels[:2], labels[2]),
                                 categories=labels, ordered=True)
    return out


def plot_spo_applications(table: pd.DataFrame, ax=None, *, bands=(10, 30), **kwargs):
    """Bar chart of SPO applications per force (one financial year), with the FOI band edges.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per force: ``force``, ``applications`` (e.g. :func:`spo_applications` for one year),
        optionally passed through :func:`attrition.disclosure.suppress_small_counts` first: withheld
        counts (``NaN`` with ``suppressed`` True) are drawn as "[c]" and no bar.
    ax : matplotlib.axes.Axes, optional
    bands : (int, int)
        Band edges drawn as horizontal lines.
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import GREY, PALETTE, mark_suppressed

    t = table.sort_values("applications", ascending=False, na_position="last").reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(t))
    vals = t["applications"].to_numpy(float)
    kwargs.setdefault("color", PALETTE[0])
    ax.bar(x, np.nan_to_num(vals), **kwargs)
    hidden = t["suppressed"].to_numpy(bool) if "suppressed" in t else np.isnan(vals)
    if hidden.any():
        mark_suppressed(ax, x[hidden], 0.0, rotation=90)
    for edge in bands:
        ax.axhline(edge + 0.5, color=GREY, linestyle="--", linewidth=1)
        ax.text(len(t) - 0.5, edge + 0.5, f" {edge}", va="bottom", ha="right", fontsize="x-small", color=GREY)
    ax.set_xticks(x)
    ax.set_xticklabels(t["force"], rotation=90, fontsize="x-small")
    ax.set_xlim(-0.7, len(t) - 0.3)
    ax.set_ylabel("SPO applications in the year")
    ax.set_xlabel("Force ([c]: fewer than 10, withheld)" if hidden.any() else "Force")
    return ax


def spo_application_rates(events: pd.DataFrame, cases: pd.DataFrame, financial_year: str, *, per: int = 1000,
                          bands=(10, 30)) -> pd.DataFrame:
    """SPO applications per ``per`` stalking offences recorded, by force, in one financial year.

    Raw counts of applications mostly measure a force's size; dividing by the stalking offences it
    recorded in the same year gives a rate forces can be compared on.

    Parameters
    ----------
    events : pandas.DataFrame
        Event log (applications: ``spo_interim_applied`` and ``spo_full_applied`` rows, counted in the
        financial year of their date, as :func:`spo_applications`).
    cases : pandas.DataFrame
        Case table (:func:`attrition.data.to_cases`): the denominator is the number of reports of the
        financial year (of the report) that were ever recorded as stalking (``ever_recorded_stalking``).
    financial_year : str
        E.g. ``"2022/23"``.
    per : int, default 1000
    bands : (int, int), default (10, 30)
        Band edges of the published FOI figures (of the *count* of applications), as in
        :func:`spo_applications`.

    Returns
    -------
    pandas.DataFrame
        One row per force of ``cases`` (zeros included): ``force``, ``applications``, ``offences``,
        ``rate`` (= applications / offences * ``per``; NaN where a force recorded no offence), ``band``.
        Pass it through :func:`attrition.disclosure.suppress_small_counts` with
        ``count_cols=["applications", "offences"]`` before publishing.

    Raises
    ------
    DataValidationError
        If ``cases`` lacks ``force``, ``financial_year`` or ``ever_recorded_stalking``.
    """
    from .exceptions import DataValidationError

    missing = [c for c in ("force", "financial_year", "ever_recorded_stalking") if c not in cases.columns]
    if missing:
        raise DataValidationError(f"spo_application_rates needs case-table columns {missing} (attrition.data.to_cases)")
    forces = sorted(set(cases["force"].dropna().astype(str)))
    apps = spo_applications(events, forces=forces, bands=bands)
    apps = apps[apps["financial_year"] == financial_year].set_index("force")["applications"]
    year = cases[(cases["financial_year"] == financial_year) & cases["ever_recorded_stalking"].astype(bool)]
    offences = year.groupby(year["force"].astype(str)).size()
    out = pd.DataFrame({"force": forces})
    out["applications"] = apps.reindex(forces, fill_value=0).to_numpy(np.int64)
    out["offences"] = offences.reindex(forces, fill_value=0).to_numpy(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(out["offences"] > 0, out["applications"] / out["offences"] * per, np.nan)
    lo, hi = bands
    labels = [f"{lo} or fewer", f"{lo + 1} to {hi}", f"more than {hi}"]
    out["band"] = pd.Categorical(np.select([out["applications"] <= lo, out["applications"] <= hi], labels[:2],
                                           labels[2]), categories=labels, ordered=True)
    out.attrs["per"] = per
    return out


def plot_spo_application_rates(table: pd.DataFrame, ax=None, *, per: int = 1000, published_bands=None, **kwargs):
    """Bar chart of SPO applications per ``per`` stalking offences recorded, by force, coloured by FOI band.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`spo_application_rates`, usually after :func:`attrition.disclosure.suppress_small_counts`:
        withheld rows (``suppressed`` True, rate NaN) are drawn as "[c]" and no bar; a force with no
        stalking offence recorded (rate undefined) as "[x]".
    ax : matplotlib.axes.Axes, optional
    per : int, default 1000
    published_bands : sequence of three int, optional
        How many forces the published FOI study put in each band (e.g. 12, 8 and 3 responding forces,
        year ending March 2023), written in the legend beside the bands.
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .plotting import PALETTE, mark_suppressed

    t = table.sort_values("rate", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.4))
    x = np.arange(len(t))
    vals = t["rate"].to_numpy(float)
    hidden = t["suppressed"].to_numpy(bool) if "suppressed" in t else np.isnan(vals)
    bands = list(t["band"].cat.categories)
    colours = dict(zip(bands, (PALETTE[5], PALETTE[0], PALETTE[1])))
    colour = [colours.get(b, "#FFFFFF") if not h else "#FFFFFF" for b, h in zip(t["band"].astype(object), hidden)]
    ax.bar(x, np.where(hidden, 0.0, np.nan_to_num(vals)), color=colour, **kwargs)
    undefined = ~hidden & np.isnan(vals)  # no stalking offence recorded: no rate
    if hidden.any():
        mark_suppressed(ax, x[hidden], 0.0, rotation=90)
    if undefined.any():
        mark_suppressed(ax, x[undefined], 0.0, marker="[x]", rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels(t["force"], rotation=90, fontsize="x-small")
    ax.set_xlim(-0.7, len(t) - 0.3)
    ax.set_ylabel(f"SPO applications per {per:,}\nstalking offences recorded")
    notes = (["[c]: a count under 10, or one that would reveal it, withheld"] if hidden.any() else []) + (
        ["[x]: no stalking offence recorded"] if undefined.any() else [])
    ax.set_xlabel("Force" + (f" ({'; '.join(notes)})" if notes else ""))
    # a rate far above the rest (a small force) is drawn off scale, with its value written beside it
    finite = np.sort(vals[~hidden & np.isfinite(vals)])
    if len(finite) >= 2 and finite[-1] > 3 * finite[-2] > 0:
        top = 1.4 * finite[-2]
        ax.set_ylim(0, top)
        for xi in x[~hidden & (np.nan_to_num(vals) > top)]:
            ax.text(xi + 0.5, 0.97 * top, f"{vals[xi]:,.0f} (off scale: {t['applications'].iloc[xi]:,.0f} of "
                    f"{t['offences'].iloc[xi]:,.0f})", ha="left", va="top", fontsize="x-small")
    # forces per band: a band is itself a disclosure-controlled statistic (the FOI's own), so every force counts
    n_band = t["band"].value_counts().reindex(bands, fill_value=0)
    handles = []
    for i, b in enumerate(bands):
        note = (f"; FOI: {published_bands[i]} of {sum(published_bands)} responding" if published_bands is not None
                else "")
        handles.append(Patch(color=colours[b], label=f"{b} ({n_band[b]} of {len(t)} forces here{note})"))
    ax.legend(handles=handles, title="Applications in the year (FOI bands)", fontsize="x-small",
              title_fontsize="small", frameon=False, loc="upper right")
    return ax
