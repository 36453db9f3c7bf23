"""Propensity scores, inverse-probability weighting and doubly robust (AIPW) effects.

Point treatment, binary outcome, average treatment effect (ATE) on the risk, risk-ratio and odds-ratio
scales. Every variance is a sandwich (M-estimation) variance built from per-case influence functions
that include the estimation of the propensity model (and, for AIPW, of the outcome models), optionally
summed within clusters (police forces).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import check_alpha, ci_labels
from ..base import BaseFitter
from ..exceptions import ConvergenceError, DataValidationError, StatisticalWarning

__all__ = [
    "PropensityModel",
    "ipw_weights",
    "ipw_effect",
    "aipw_effect",
    "balance_table",
]

#: Propensities outside ``[POSITIVITY_BOUNDS[0], POSITIVITY_BOUNDS[1]]`` trigger a positivity warning.
POSITIVITY_BOUNDS = (0.01, 0.99)

# fitted probabilities this close to 0 or 1 mean the logistic MLE does not exist (separation)
_SEPARATION_EPS = 1e-8

_MEASURES = ("risk_untreated", "risk_treated", "risk_difference", "risk_ratio", "odds_ratio")


# ----------------------------------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------------------------------
def _example_ids(df: pd.DataFrame, mask: np.ndarray, k: int = 5) -> list:
    ids = df["case_id"] if "case_id" in df.columns else df.index.to_series()
    return ids[np.asarray(mask)].head(k).tolist()


def _check_frame(df, columns: list[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (one row per case), not {type(df).__name__}")
    if len(df) == 0:
        raise DataValidationError(f"df has no rows; cannot {what}.")
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise DataValidationError(
            f"Column(s) {absent} not found in df (needed to {what}). Available columns: {list(df.columns)}."
        )


def _check_missing(df: pd.DataFrame, columns: list[str]) -> None:
    """Raise DataValidationError naming every column with missing values, with counts."""
    rows = []
    for c in dict.fromkeys(columns):
        miss = df[c].isna().to_numpy()
        if miss.any():
            rows.append(
                {
                    "rule": "no_missing",
                    "column": c,
                    "n_rows": int(miss.sum()),
                    "example_case_ids": _example_ids(df, miss),
                    "message": f"{int(miss.sum())} missing value(s) in '{c}'",
                }
            )
    if rows:
        problems = pd.DataFrame(rows)
        listing = "; ".join(f"'{r['column']}': {r['n_rows']} of {len(df)} rows" for r in rows)
        raise DataValidationError(
            f"Missing values in {listing}. Impute them (e.g. an explicit 'unknown' category for a "
            "categorical covariate, or multiple imputation) or drop those rows yourself and report how "
            "many were dropped and why; rows are never dropped silently. Example case ids are in "
            "the error's .problems table.",
            problems=problems,
        )


def _binary(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """Column as a float 0/1 array; raise if it holds anything else or is constant."""
    s = df[column]
    if s.dtype == bool or str(s.dtype) == "boolean":
        values = s.astype(float).to_numpy()
    else:
        try:
            values = pd.to_numeric(s, errors="raise").astype(float).to_numpy()
        except (TypeError, ValueError):
            bad = pd.unique(s)[:5]
            raise DataValidationError(
                f"The {role} column '{column}' must be binary (bool or 0/1); found values such as {list(bad)}."
            ) from None
        bad_mask = ~np.isin(values, (0.0, 1.0))
        if bad_mask.any():
            raise DataValidationError(
                f"The {role} column '{column}' must be binary (bool or 0/1); {int(bad_mask.sum())} row(s) "
                f"hold other values, e.g. {sorted(set(values[bad_mask].tolist()))[:5]} "
                f"(case ids {_example_ids(df, bad_mask)})."
            )
    n1 = int(values.sum())
    if n1 == 0 or n1 == len(values):
        state = "never" if n1 == 0 else "always"
        if role == "treatment":
            missing_group = "treated" if n1 == 0 else "untreated"
            msg = (
                f"The treatment '{column}' is {state} given (1 in {n1} of {len(values)} rows), so there is "
                f"no {missing_group} group to compare with; an effect cannot be estimated."
            )
        else:
            msg = f"The {role} '{column}' is {state} 1 in all {len(values)} rows; there is nothing to model."
        raise DataValidationError(msg)
    return values


# ----------------------------------------------------------------------------------------------------
# design matrix with remembered categorical levels
# ----------------------------------------------------------------------------------------------------
@dataclass
class _Design:
    """How covariates are turned into a numeric design matrix (kept so new data match)."""

    covariates: list[str]
    kinds: dict = field(default_factory=dict)  # name -> "numeric" | "categorical"
    levels: dict = field(default_factory=dict)  # categorical name -> list of levels (first = reference)
    columns: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, df: pd.DataFrame, covariates: list[str]) -> "_Design":
        d = cls(list(covariates))
        for c in d.covariates:
            s = df[c]
            if s.dtype == bool or str(s.dtype) == "boolean":
                d.kinds[c] = "numeric"
                d.columns.append(c)
            elif pd.api.types.is_numeric_dtype(s):
                d.kinds[c] = "numeric"
                d.columns.append(c)
            else:
                if isinstance(s.dtype, pd.CategoricalDtype):
                    levels = [lv for lv in s.cat.categories if (s == lv).any()]
                else:
                    levels = sorted(pd.unique(s).tolist(), key=str)
                d.kinds[c] = "categorical"
                d.levels[c] = levels
                d.columns.extend(f"{c}[T.{lv}]" for lv in levels[1:])
            if s.nunique(dropna=True) < 2:
                raise DataValidationError(
                    f"Covariate '{c}' takes a single value ({s.iloc[0]!r}) in all {len(s)} rows; it cannot "
                    "be adjusted for. Drop it from the covariates."
                )
        return d

    def matrix(self, df: pd.DataFrame, intercept: bool = True) -> np.ndarray:
        parts = [np.ones((len(df), 1))] if intercept else []
        for c in self.covariates:
            s = df[c]
            if self.kinds[c] == "numeric":
                parts.append(s.astype(float).to_numpy()[:, None])
            else:
                levels = self.levels[c]
                unseen = ~s.isin(levels).to_numpy()
                if unseen.any():
                    raise DataValidationError(
                        f"Covariate '{c}' has level(s) {sorted(map(str, pd.unique(s[unseen])))[:5]} not seen when "
                        f"the model was fitted (known levels: {levels})."
                    )
                vals = s.to_numpy()
                parts.append(np.column_stack([(vals == lv).astype(float) for lv in levels[1:]]))
        return np.column_stack(parts) if parts else np.empty((len(df), 0))

    @property
    def names(self) -> list[str]:
        return ["Intercept", *self.columns]


def _separating_terms(y: np.ndarray, X: np.ndarray, names: list[str]) -> list[str]:
    """Single design columns that (quasi-)separate ``y``; cheap checks, vectorised over columns."""
    out = []
    Xc = X[:, 1:]
    if Xc.shape[1] == 0:
        return out
    binary = np.all((Xc == 0) | (Xc == 1), axis=0)
    pos = y == 1
    for j in np.flatnonzero(binary):
        on = Xc[:, j] == 1
        if on.any() and (np.all(pos[on]) or not np.any(pos[on])):
            out.append(f"{names[j + 1]} (all {int(on.sum())} rows with it have outcome {int(y[on][0])})")
    cont = np.flatnonzero(~binary)
    if cont.size:
        x1, x0 = Xc[pos][:, cont], Xc[~pos][:, cont]
        sep = (x1.min(axis=0) > x0.max(axis=0)) | (x1.max(axis=0) < x0.min(axis=0))
        out.extend(f"{names[cont[j] + 1]} (its values split the two groups completely)" for j in np.flatnonzero(sep))
    return out


@dataclass
class _LogitFit:
    params: np.ndarray
    cov: np.ndarray
    fitted: np.ndarray
    result: object


def _fit_logit(y: np.ndarray, X: np.ndarray, names: list[str], what: str) -> _LogitFit:
    """Logistic regression by statsmodels GLM (Binomial, IRLS) with separation diagnostics."""
    import statsmodels.api as sm

    constant = [names[j] for j in range(1, X.shape[1]) if np.ptp(X[:, j]) == 0]
    if constant:
        raise ConvergenceError(
            f"The {what} cannot be fitted: term(s) {constant} take a single value among the {len(y)} rows "
            "used (e.g. a category absent from one treatment arm). Collapse that category with a "
            "neighbouring one, or drop the covariate named."
        )
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ConvergenceError(
            f"The {what} cannot be fitted: the covariates {names[1:]} are collinear (one is a combination "
            "of others). Drop the redundant covariate."
        )
    culprits = _separating_terms(y, X, names)
    if culprits:
        raise ConvergenceError(
            f"The {what} cannot be fitted: perfect (quasi-)separation by {'; '.join(culprits)}. The maximum "
            "likelihood estimate does not exist. Collapse that category with a neighbouring one, or drop "
            "the covariate named."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow / separation warnings are diagnosed below
        try:
            res = sm.GLM(y, X, family=sm.families.Binomial()).fit(maxiter=100)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise ConvergenceError(
                f"The {what} failed to fit ({exc}). Check for collinear covariates and drop or collapse them."
            ) from None
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    fitted = np.asarray(res.fittedvalues)
    extreme = (fitted < _SEPARATION_EPS) | (fitted > 1 - _SEPARATION_EPS)
    if not res.converged or not np.all(np.isfinite(params)) or not np.all(np.isfinite(bse)):
        j = int(np.nanargmax(np.where(np.isfinite(bse), bse, np.inf)[1:])) + 1 if len(names) > 1 else 0
        reason = "did not converge" if not res.converged else "has non-finite coefficients or SEs"
        raise ConvergenceError(
            f"The {what} {reason} ({int(extreme.sum())} fitted probabilities are 0 or 1 to 8 decimals). "
            f"The least identified term is '{names[j]}' (coef {params[j]:.3g}, se {bse[j]:.3g}): drop "
            "that covariate or collapse its categories, then refit."
        )
    if extreme.any():
        # converged, but some units have (almost) no chance of the other treatment: a positivity failure.
        # Name the term that moves the linear predictor most (|coef| x SD of the term).
        spread = np.abs(params[1:]) * X[:, 1:].std(axis=0) if len(names) > 1 else np.zeros(0)
        j = int(np.argmax(spread)) + 1 if len(spread) else 0
        raise ConvergenceError(
            f"The {what} shows (near-)perfect separation: {int(extreme.sum())} fitted probabilities are 0 or 1 "
            "to 8 decimals, so those units have no comparable units in the other group (positivity fails) and "
            f"their weights would be unbounded. The strongest predictor is '{names[j]}' (coef {params[j]:.3g}, "
            f"{spread[j - 1] if j else 0.0:.3g} on the logit scale per SD): drop or coarsen it (e.g. force-level covariates "
            "that nearly determine a force-level exposure), or restrict the analysis to units with overlap."
        )
    cov = np.asarray(res.cov_params())
    return _LogitFit(params, cov, fitted, res)


# ----------------------------------------------------------------------------------------------------
# propensity model
# ----------------------------------------------------------------------------------------------------
class PropensityModel(BaseFitter):
    """Logistic propensity-score model :math:`e(x) = P(T = 1 \\mid X = x)`.

    Numeric and boolean covariates enter linearly; other columns (strings, categoricals) are expanded
    into indicator columns with the first level (sorted, or the categorical's first category) as
    reference, named ``"col[T.level]"`` as in patsy formulas.

    Parameters
    ----------
    alpha : float, default 0.05
        Confidence intervals in ``summary`` are ``1 - alpha``.

    Attributes
    ----------
    params_ : pandas.Series, shape (k,)
        Log-odds coefficients, indexed by term (``"Intercept"`` first).
    cov_ : pandas.DataFrame, shape (k, k)
        Model-based covariance of ``params_`` (inverse Fisher information).
    propensity_ : pandas.Series, shape (n,)
        Fitted propensities aligned to ``df.index``.
    treatment_ : numpy.ndarray, shape (n,)
        The treatment as 0/1 floats.
    n_positivity_low_, n_positivity_high_ : int
        Number of cases with propensity below 0.01 / above 0.99.

    Examples
    --------
    >>> pm = PropensityModel().fit(cases, "officer", ["risk", "relationship"])  # doctest: +SKIP
    >>> pm.propensity_.describe()  # doctest: +SKIP
    """

    def fit(self, df: pd.DataFrame, treatment: str, covariates: list[str]) -> "PropensityModel":
        """Fit the logistic propensity model by maximum likelihood (statsmodels GLM, Binomial, IRLS).

        Parameters
        ----------
        df : pandas.DataFrame, shape (n, ...)
            One row per case.
        treatment : str
            Binary treatment column (bool or 0/1).
        covariates : list of str
            Confounders. An empty list fits an intercept-only model (constant propensity, i.e. the
            crude comparison).

        Returns
        -------
        self

        Raises
        ------
        DataValidationError
            A column is absent; the treatment is not binary or is never / always given; covariates or
            treatment have missing values (columns and counts named); a covariate is constant.
        ConvergenceError
            Perfect separation or non-convergence; the message names the covariate to drop or collapse.

        Warns
        -----
        StatisticalWarning
            Some propensities fall outside [0.01, 0.99] (near-violation of positivity); counts given.
        """
        covariates = list(covariates)
        _check_frame(df, [treatment, *covariates], "fit the propensity model")
        _check_missing(df, [treatment, *covariates])
        t = _binary(df, treatment, "treatment")
        design = _Design.build(df, covariates)
        X = design.matrix(df)
        fit = _fit_logit(t, X, design.names, f"propensity model for '{treatment}'")

        self.treatment_name_ = treatment
        self.covariates_ = covariates
        self._design = design
        self._X = X
        self.treatment_ = t
        self._fit = fit
        self.params_ = pd.Series(fit.params, index=design.names, name="coef")
        self.cov_ = pd.DataFrame(fit.cov, index=design.names, columns=design.names)
        self.propensity_ = pd.Series(fit.fitted, index=df.index, name="propensity")
        lo, hi = POSITIVITY_BOUNDS
        self.n_positivity_low_ = int((fit.fitted < lo).sum())
        self.n_positivity_high_ = int((fit.fitted > hi).sum())
        if self.n_positivity_low_ or self.n_positivity_high_:
            warnings.warn(
                f"Positivity: {self.n_positivity_low_} case(s) have propensity < {lo} and "
                f"{self.n_positivity_high_} have propensity > {hi} (of {len(t)}). Their weights are very "
                "large and the effect leans on few cases: check overlap, restrict the population, or "
                "truncate the weights.",
                StatisticalWarning,
                stacklevel=2,
            )
        self._fitted_on = (
            f"{len(t)} cases ({int(t.sum())} treated), treatment '{treatment}', "
            f"{len(covariates)} covariate(s), {len(design.names)} terms"
        )
        return self

    def predict(self, df: pd.DataFrame) -> pd.Series:
        """Propensities for new data with the fitted coefficients.

        Parameters
        ----------
        df : pandas.DataFrame, shape (m, ...)
            Must hold the covariate columns, without missing values or unseen categories.

        Returns
        -------
        pandas.Series, shape (m,)
        """
        self._check_fitted()
        _check_frame(df, self.covariates_, "predict propensities")
        _check_missing(df, self.covariates_)
        X = self._design.matrix(df)
        return pd.Series(_expit(X @ self.params_.to_numpy()), index=df.index, name="propensity")

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficients: ``coef``, ``se``, ``z``, ``p``, CI (log-odds scale) and ``odds_ratio``.

        Standard errors are model-based (inverse observed Fisher information).
        """
        self._check_fitted()
        lo, hi = self.ci_labels
        coef = self.params_.to_numpy()
        se = np.sqrt(np.diag(self.cov_.to_numpy()))
        z = coef / se
        q = stats.norm.ppf(1 - self.alpha / 2)
        out = pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
                lo: coef - q * se,
                hi: coef + q * se,
                "odds_ratio": np.exp(coef),
            },
            index=pd.Index(self.params_.index, name="term"),
        )
        return out

    # ---- pieces used by the influence functions -------------------------------------------------
    def _score_obs(self) -> np.ndarray:
        """Per-case score of the logistic log-likelihood, shape (n, k)."""
        return self._X * (self.treatment_ - self._fit.fitted)[:, None]

    def _information(self) -> np.ndarray:
        e = self._fit.fitted
        return (self._X * (e * (1 - e))[:, None]).T @ self._X


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


# ----------------------------------------------------------------------------------------------------
# weights
# ----------------------------------------------------------------------------------------------------
def _percentile_truncate(w: np.ndarray, truncate) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``w`` at its ``truncate`` quantiles; return the clipped weights and a mask of clipped cases."""
    if truncate is None:
        return w, np.zeros(len(w), dtype=bool)
    try:
        lo_q, hi_q = (float(v) for v in truncate)
    except (TypeError, ValueError):
        raise ValueError(f"truncate must be None or a pair of quantiles (low, high), got {truncate!r}") from None
    if not 0.0 <= lo_q < hi_q <= 1.0:
        raise ValueError(f"truncate quantiles must satisfy 0 <= low < high <= 1, got {truncate!r}")
    lo, hi = np.quantile(w, [lo_q, hi_q])
    clipped = (w < lo) | (w > hi)
    return np.clip(w, lo, hi), clipped


def ipw_weights(treatment, propensity, *, stabilized: bool = True, truncate=None) -> np.ndarray:
    """Inverse-probability-of-treatment weights, optionally stabilised and truncated.

    Parameters
    ----------
    treatment : array_like, shape (n,)
        0/1 (or bool) treatment.
    propensity : array_like, shape (n,)
        Propensities :math:`e_i = P(T=1 \\mid X_i)`, strictly inside (0, 1).
    stabilized : bool, default True
        Multiply by the marginal probability of the treatment received,
        :math:`w_i = T_i \\bar T / e_i + (1-T_i)(1-\\bar T)/(1-e_i)`, so weights average about one.
        Unstabilised: :math:`T_i/e_i + (1-T_i)/(1-e_i)`.
    truncate : (float, float) or None, default None
        Quantiles of the (pooled) weight distribution at which weights are truncated (set to the
        quantile), after Cole & Hernán (2008), e.g. ``(0.01, 0.99)``. Off by default: when the treatment
        is rare (an SPO in 0.5% of cases), the pooled 99th percentile lies below every treated weight and
        truncation would cap them all, undoing the weighting; check balance before truncating.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    DataValidationError
        Lengths differ, treatment not binary, or propensities outside (0, 1) / missing.

    References
    ----------
    Cole SR, Hernán MA (2008). Constructing inverse probability weights for marginal structural models.
    American Journal of Epidemiology 168(6):656-664.
    Robins JM, Hernán MA, Brumback B (2000). Marginal structural models and causal inference in
    epidemiology. Epidemiology 11(5):550-560.

    Examples
    --------
    >>> ipw_weights([1, 0, 1, 0], [0.5, 0.5, 0.8, 0.2], truncate=None)
    array([1.   , 1.   , 0.625, 0.625])
    """
    t = np.asarray(treatment, dtype=float)
    e = np.asarray(propensity, dtype=float)
    if t.shape != e.shape or t.ndim != 1:
        raise DataValidationError(
            f"treatment and propensity must be 1-d of the same length; got shapes {t.shape} and {e.shape}."
        )
    if not np.all(np.isin(t, (0.0, 1.0))):
        raise DataValidationError("treatment must be 0/1 (or bool); found other values.")
    bad = ~((e > 0) & (e < 1))
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} propensity value(s) are missing or not strictly between 0 and 1 (positions "
            f"{np.flatnonzero(bad)[:5].tolist()}); weights would be infinite or undefined."
        )
    w, _ = _weights_and_derivative_factor(t, e, stabilized)
    w, _ = _percentile_truncate(w, truncate)
    return w


def _weights_and_derivative_factor(t: np.ndarray, e: np.ndarray, stabilized: bool):
    """Weights and the factor f with dw/dbeta = w * f * x (logistic propensity model)."""
    pbar = t.mean() if stabilized else 1.0
    w = np.where(t == 1, pbar / e, (1 - pbar) / (1 - e) if stabilized else 1 / (1 - e))
    # d(1/e)/dbeta = -(1-e)/e x ; d(1/(1-e))/dbeta = e/(1-e) x
    f = np.where(t == 1, -(1 - e), e)
    return w, f


# ----------------------------------------------------------------------------------------------------
# inference from influence functions
# ----------------------------------------------------------------------------------------------------
def _clusters(df: pd.DataFrame, cluster):
    if cluster is None:
        return None, None
    _check_frame(df, [cluster], "cluster the standard errors")
    codes, uniques = pd.factorize(df[cluster], sort=True)
    if len(uniques) < 2:
        raise DataValidationError(
            f"Cluster-robust variance needs at least 2 clusters; column '{cluster}' has {len(uniques)}."
        )
    return codes, len(uniques)


def _variance(IF: np.ndarray, codes, n_clusters) -> np.ndarray:
    """Sandwich covariance from influence functions IF (n, p) scaled so that theta_hat - theta ≈ sum IF."""
    if codes is None:
        return IF.T @ IF
    G = n_clusters
    sums = np.zeros((G, IF.shape[1]))
    np.add.at(sums, codes, IF)
    return G / (G - 1) * (sums.T @ sums)


def _effect_table(
    mu0: float, mu1: float, IF0: np.ndarray, IF1: np.ndarray, codes, n_clusters, alpha: float, method: str,
    n: int, variance: str,
) -> pd.DataFrame:
    for name, mu in (("untreated", mu0), ("treated", mu1)):
        if not 0.0 < mu < 1.0:
            raise DataValidationError(
                f"The estimated risk under {'no ' if name == 'untreated' else ''}treatment is {mu:.3g}: the "
                f"outcome {'never' if mu <= 0 else 'always'} occurs in the {name} group, so risk and odds "
                "ratios are undefined. Use a more common outcome or pool categories."
            )
    IF = np.column_stack(
        [
            IF0,
            IF1,
            IF1 - IF0,
            IF1 / mu1 - IF0 / mu0,
            IF1 / (mu1 * (1 - mu1)) - IF0 / (mu0 * (1 - mu0)),
        ]
    )
    se = np.sqrt(np.diag(_variance(IF, codes, n_clusters)))
    est_scale = np.array(
        [mu0, mu1, mu1 - mu0, np.log(mu1 / mu0), np.log(mu1 / (1 - mu1)) - np.log(mu0 / (1 - mu0))]
    )
    null = np.array([np.nan, np.nan, 0.0, 0.0, 0.0])
    if codes is None:
        dist, df_ = stats.norm, np.inf
    else:
        df_ = n_clusters - 1
        dist = stats.t(df_)
    q = dist.ppf(1 - alpha / 2)
    lo, hi = est_scale - q * se, est_scale + q * se
    p = 2 * dist.sf(np.abs((est_scale - null) / se))
    is_log = np.array([False, False, False, True, True])
    lo_l, hi_l = ci_labels(alpha)
    out = pd.DataFrame(
        {
            "method": method,
            "estimate": np.where(is_log, np.exp(est_scale), est_scale),
            "se": se,
            lo_l: np.where(is_log, np.exp(lo), lo),
            hi_l: np.where(is_log, np.exp(hi), hi),
            "p": p,
            "scale": np.where(is_log, "log", "identity"),
        },
        index=pd.Index(list(_MEASURES), name="measure"),
    )
    out.attrs.update(
        {
            "method": method,
            "n": int(n),
            "n_clusters": None if codes is None else int(n_clusters),
            "df": float(df_),
            "variance": variance
            + (
                f"; cluster-robust (influence functions summed within {n_clusters} clusters, G/(G-1) "
                f"factor, t with {n_clusters - 1} df)"
                if codes is not None
                else "; independent cases (HC0), normal quantiles"
            ),
        }
    )
    return out


def _prepare(df, outcome, treatment, covariates, cluster):
    covariates = list(covariates)
    cols = [outcome, treatment, *covariates] + ([cluster] if cluster is not None else [])
    _check_frame(df, cols, "estimate the effect")
    _check_missing(df, cols)
    y = _binary(df, outcome, "outcome")
    return y, covariates


def ipw_effect(
    df: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: list[str],
    *,
    stabilized: bool = True,
    truncate=None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Average treatment effect on a binary outcome by inverse probability weighting (IPW).

    The propensity is a main-effects logistic model (:class:`PropensityModel`). The potential-outcome
    risks are :math:`\\hat\\mu_a = \\sum_i A_i w_i Y_i / \\sum_i A_i w_i` (Hájek, weights normalised
    within arm; invariant to stabilisation) when ``stabilized=True``, or the Horvitz–Thompson
    :math:`\\hat\\mu_a = n^{-1} \\sum_i A_i Y_i / P(A_i=1\\mid X_i)` with unstabilised weights when
    ``stabilized=False``.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n, ...)
        One row per case.
    outcome : str
        Binary outcome column (bool or 0/1), e.g. ``"charged"``.
    treatment : str
        Binary treatment column.
    covariates : list of str
        Confounders for the propensity model; ``[]`` gives the crude (unadjusted) comparison with the
        same variance machinery.
    stabilized : bool, default True
        Hájek (normalised, = stabilised weights) or Horvitz–Thompson estimator; see above.
    truncate : (float, float) or None, default None
        Truncate the weights at these quantiles (:func:`ipw_weights`). Default none, so the sandwich
        variance is exact; truncated cases are treated as having fixed weights in the variance.
    cluster : str, optional
        Cluster column (e.g. ``"force"``) for a cluster-robust variance.
    alpha : float, default 0.05
        CIs are ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame, shape (5, 7)
        Indexed by ``measure``: ``risk_untreated``, ``risk_treated`` (potential-outcome risks),
        ``risk_difference``, ``risk_ratio``, ``odds_ratio``; columns ``method`` ("IPW"),
        ``estimate``, ``se`` (on the ``scale`` the CI is built on: log for the ratios), CI columns
        named from ``alpha``, ``p`` (against no effect; NaN for the two risks, which have no null) and
        ``scale``. ``.attrs`` holds ``n``, ``n_clusters``, ``df`` and a description of the variance.

    Raises
    ------
    DataValidationError, ConvergenceError
        See :meth:`PropensityModel.fit`; also when the outcome never or always occurs in an arm.

    Notes
    -----
    Variance: the sandwich (M-estimation) variance of the stacked estimating equations of the
    logistic propensity model and the weighted risks, i.e. the empirical variance of each case's
    influence function including the propensity-estimation term (Lunceford & Davidian 2004); this
    is the HC0 GMM variance statsmodels' ``TreatmentEffect.ipw`` reports. Ratios use the delta method
    on the log scale. With ``cluster`` the influence functions are summed within clusters, multiplied by
    :math:`G/(G-1)`, and CIs and p-values use a t distribution with :math:`G-1` degrees of freedom —
    important with 43 forces, especially when the treatment itself varies by force.

    References
    ----------
    Lunceford JK, Davidian M (2004). Stratification and weighting via the propensity score in estimation
    of causal treatment effects: a comparative study. Statistics in Medicine 23(19):2937-2960.
    Hernán MA, Robins JM (2020). Causal Inference: What If. Chapter 12. Boca Raton: Chapman & Hall/CRC.
    Cameron AC, Miller DL (2015). A practitioner's guide to cluster-robust inference. Journal of Human
    Resources 50(2):317-372.

    Examples
    --------
    >>> ipw_effect(cases, "charged", "officer", ["risk", "relationship"], cluster="force")  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    y, covariates = _prepare(df, outcome, treatment, covariates, cluster)
    codes, G = _clusters(df, cluster)
    pm = PropensityModel(alpha).fit(df, treatment, covariates)
    t, e, X = pm.treatment_, pm._fit.fitted, pm._X
    n = len(t)
    w, f = _weights_and_derivative_factor(t, e, stabilized)
    w, clipped = _percentile_truncate(w, truncate)
    f = np.where(clipped, 0.0, f)
    dw = (w * f)[:, None] * X  # (n, k): derivative of each weight with respect to beta
    score = pm._score_obs()
    Hinv_score = np.linalg.solve(pm._information(), score.T).T  # (n, k): beta-hat - beta ≈ sum of rows

    mus, IFs = [], []
    for arm in (0.0, 1.0):
        A = (t == arm).astype(float)
        if stabilized:
            denom = np.sum(A * w)
            mu = np.sum(A * w * y) / denom
            psi = A * w * (y - mu)
            a = (A * (y - mu)) @ dw
        else:
            denom = float(n)
            mu = np.sum(A * w * y) / n
            psi = A * w * y - mu
            a = (A * y) @ dw
        mus.append(mu)
        IFs.append((psi + Hinv_score @ a) / denom)
    return _effect_table(
        mus[0], mus[1], IFs[0], IFs[1], codes, G, alpha, "IPW", n,
        "sandwich (M-estimation) variance from influence functions incl. propensity-model estimation",
    )


def aipw_effect(
    df: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: list[str],
    *,
    outcome_covariates: list[str] | None = None,
    truncate=None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Doubly robust average treatment effect on a binary outcome (augmented IPW).

    :math:`\\hat\\mu_1 = n^{-1}\\sum_i [\\hat m_1(X_i) + T_i (Y_i - \\hat m_1(X_i)) / \\hat e(X_i)]` and
    likewise for :math:`\\hat\\mu_0`, with a logistic propensity model :math:`\\hat e` and logistic outcome
    models :math:`\\hat m_a` fitted separately in each arm. Consistent if either model is correct.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n, ...)
    outcome, treatment : str
        Binary outcome and treatment columns.
    covariates : list of str
        Confounders for the propensity model (and the outcome models unless ``outcome_covariates``).
    outcome_covariates : list of str, optional
        Covariates of the two outcome models; default ``covariates``.
    truncate : (float, float) or None, default None
        Truncate the unstabilised weights :math:`1/\\hat e`, :math:`1/(1-\\hat e)` at these pooled quantiles.
    cluster : str, optional
        Cluster column for a cluster-robust variance (see :func:`ipw_effect`).
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame, shape (5, 7)
        As :func:`ipw_effect`, with ``method`` "AIPW".

    Raises
    ------
    DataValidationError, ConvergenceError
        As :func:`ipw_effect`; also separation in an outcome model (the arm and term are named).

    Notes
    -----
    Variance: sandwich (M-estimation) variance of the stacked estimating equations of the propensity
    model, both outcome models and the two risks — the empirical variance of influence functions that
    include the nuisance-estimation terms, equal to the HC0 GMM variance of statsmodels'
    ``TreatmentEffect.aipw`` with the same (logistic) models. Cluster option as in :func:`ipw_effect`.

    References
    ----------
    Robins JM, Rotnitzky A, Zhao LP (1994). Estimation of regression coefficients when some regressors are
    not always observed. Journal of the American Statistical Association 89(427):846-866.
    Bang H, Robins JM (2005). Doubly robust estimation in missing data and causal inference models.
    Biometrics 61(4):962-973.
    Funk MJ, Westreich D, Wiesen C, Stürmer T, Brookhart MA, Davidian M (2011). Doubly robust estimation
    of causal effects. American Journal of Epidemiology 173(7):761-767.

    Examples
    --------
    >>> aipw_effect(cases, "charged", "officer", ["risk", "relationship"], cluster="force")  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    outcome_covariates = list(covariates) if outcome_covariates is None else list(outcome_covariates)
    y, covariates = _prepare(df, outcome, treatment, [*covariates], cluster)
    _check_frame(df, outcome_covariates, "fit the outcome models")
    _check_missing(df, outcome_covariates)
    codes, G = _clusters(df, cluster)
    pm = PropensityModel(alpha).fit(df, treatment, covariates)
    t, e, X = pm.treatment_, pm._fit.fitted, pm._X
    n = len(t)
    w, f = _weights_and_derivative_factor(t, e, stabilized=False)
    w, clipped = _percentile_truncate(w, truncate)
    f = np.where(clipped, 0.0, f)
    dw = (w * f)[:, None] * X
    Hinv_score = np.linalg.solve(pm._information(), pm._score_obs().T).T

    design = _Design.build(df, outcome_covariates)
    Z = design.matrix(df)
    mus, IFs = [], []
    for arm in (0.0, 1.0):
        A = t == arm
        label = "treated" if arm else "untreated"
        fit = _fit_logit(y[A], Z[A], design.names, f"outcome model for '{outcome}' in the {label} arm")
        m = _expit(Z @ fit.params)
        Af = A.astype(float)
        psi_full = m + Af * w * (y - m)
        mu = psi_full.mean()
        psi = psi_full - mu
        # derivatives of sum(psi) w.r.t. propensity and outcome-model coefficients
        a_beta = (Af * (y - m)) @ dw
        a_gamma = ((1 - Af * w) * m * (1 - m)) @ Z
        u = Z * (Af * (y - m))[:, None]  # outcome-model scores (zero outside the arm)
        H_gamma = (Z[A] * (m[A] * (1 - m[A]))[:, None]).T @ Z[A]
        IF = psi + Hinv_score @ a_beta + np.linalg.solve(H_gamma, u.T).T @ a_gamma
        mus.append(mu)
        IFs.append(IF / n)
    return _effect_table(
        mus[0], mus[1], IFs[0], IFs[1], codes, G, alpha, "AIPW", n,
        "sandwich (M-estimation) variance from influence functions incl. propensity- and outcome-model "
        "estimation",
    )


# ----------------------------------------------------------------------------------------------------
# balance
# ----------------------------------------------------------------------------------------------------
def _weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means and unbiased ('reliability') weighted variances of columns of x (n, p)."""
    sw = w.sum()
    mean = (w @ x) / sw
    denom = sw**2 - np.sum(w**2)
    var = sw / denom * (w @ (x - mean) ** 2) if denom > 0 else np.full(x.shape[1], np.nan)
    return mean, var


def balance_table(df: pd.DataFrame, treatment: str, covariates: list[str], weights=None) -> pd.DataFrame:
    """Standardised mean differences and variance ratios, before and (optionally) after weighting.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n, ...)
    treatment : str
        Binary treatment column.
    covariates : list of str
        Numeric / boolean columns give one row each; categorical columns give one row per level
        (indicator of that level, all levels shown).
    weights : str or array_like of shape (n,), optional
        Column name or weights (e.g. from :func:`ipw_weights`). If given, rows for the ``"weighted"``
        sample are added.

    Returns
    -------
    pandas.DataFrame
        Long (tidy) table, one row per covariate term and sample: ``covariate`` (term name, e.g.
        ``"risk[high]"``), ``variable`` (the column), ``type`` ("binary"/"continuous"), ``sample``
        ("unadjusted"/"weighted"), ``mean_treated``, ``mean_untreated``, ``smd``, ``variance_ratio``
        (treated / untreated variance; NaN for binary terms, whose variance is fixed by the mean).

    Notes
    -----
    SMD per Austin (2009): difference in means divided by the pooled standard deviation
    :math:`\\sqrt{(s_1^2 + s_0^2)/2}`; for binary terms :math:`s^2 = p(1-p)`. After weighting, means and
    variances are weighted (Austin & Stuart 2015): :math:`\\bar x_w = \\sum w x / \\sum w` and
    :math:`s_w^2 = \\frac{\\sum w}{(\\sum w)^2 - \\sum w^2} \\sum w (x - \\bar x_w)^2` for continuous terms,
    :math:`\\bar x_w(1-\\bar x_w)` for binary ones. Unweighted continuous variances use the usual
    :math:`n-1` denominator. :math:`|\\mathrm{SMD}| < 0.1` is the usual benchmark of adequate balance.

    References
    ----------
    Austin PC (2009). Balance diagnostics for comparing the distribution of baseline covariates between
    treatment groups in propensity-score matched samples. Statistics in Medicine 28(25):3083-3107.
    Austin PC, Stuart EA (2015). Moving towards best practice when using inverse probability of treatment
    weighting (IPTW) using the propensity score to estimate causal treatment effects in observational
    studies. Statistics in Medicine 34(28):3661-3679.

    Examples
    --------
    >>> balance_table(cases, "officer", ["risk", "n_prior"], weights=w)  # doctest: +SKIP
    """
    covariates = list(covariates)
    _check_frame(df, [treatment, *covariates], "compute covariate balance")
    _check_missing(df, [treatment, *covariates])
    t = _binary(df, treatment, "treatment").astype(bool)
    names, variables, mats = [], [], []
    for c in covariates:
        s = df[c]
        if s.dtype == bool or str(s.dtype) == "boolean" or pd.api.types.is_numeric_dtype(s):
            mats.append(s.astype(float).to_numpy()[:, None])
            names.append(c)
            variables.append(c)
        else:
            levels = (
                [lv for lv in s.cat.categories if (s == lv).any()]
                if isinstance(s.dtype, pd.CategoricalDtype)
                else sorted(pd.unique(s).tolist(), key=str)
            )
            vals = s.to_numpy()
            mats.append(np.column_stack([(vals == lv).astype(float) for lv in levels]))
            names.extend(f"{c}[{lv}]" for lv in levels)
            variables.extend([c] * len(levels))
    x = np.column_stack(mats) if mats else np.empty((len(df), 0))
    binary = np.all((x == 0) | (x == 1), axis=0)

    samples = [("unadjusted", np.ones(len(df)))]
    if weights is not None:
        if isinstance(weights, str):
            _check_frame(df, [weights], "weight the balance table")
            _check_missing(df, [weights])
            wv = df[weights].astype(float).to_numpy()
        elif isinstance(weights, pd.Series):
            if not weights.index.equals(df.index):
                if not df.index.isin(weights.index).all() or not weights.index.is_unique:
                    raise DataValidationError(
                        "weights is a Series whose index does not cover df.index one-to-one; pass an "
                        "array in df's row order or a Series indexed like df."
                    )
                weights = weights.reindex(df.index)
            wv = weights.astype(float).to_numpy()
        else:
            wv = np.asarray(weights, dtype=float)
        if wv.shape != (len(df),):
            raise DataValidationError(f"weights must have one value per row of df ({len(df)}), got shape {wv.shape}.")
        if not np.all(np.isfinite(wv)) or np.any(wv < 0):
            raise DataValidationError("weights must be finite and non-negative.")
        samples.append(("weighted", wv))

    frames = []
    for label, w in samples:
        m1, v1 = _weighted_mean_var(x[t], w[t])
        m0, v0 = _weighted_mean_var(x[~t], w[~t])
        v1 = np.where(binary, m1 * (1 - m1), v1)
        v0 = np.where(binary, m0 * (1 - m0), v0)
        pooled = np.sqrt((v1 + v0) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            smd = np.where(pooled > 0, (m1 - m0) / pooled, 0.0)
            vr = np.where(binary, np.nan, v1 / v0)
        frames.append(
            pd.DataFrame(
                {
                    "covariate": names,
                    "variable": variables,
                    "type": np.where(binary, "binary", "continuous"),
                    "sample": label,
                    "mean_treated": m1,
                    "mean_untreated": m0,
                    "smd": smd,
                    "variance_ratio": vr,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
