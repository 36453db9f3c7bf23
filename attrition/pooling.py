"""Partial pooling of proportions across groups (forces): empirical-Bayes beta-binomial.

Every force's stage conversion rate is shrunk toward the national rate by an amount that depends on
how much information the force has: a force with 40 cases moves most of the way to the national
rate, a force with 40,000 hardly moves.

Model
-----
For group :math:`g` with :math:`x_g` successes out of :math:`n_g`,

.. math:: x_g \\mid p_g \\sim \\mathrm{Bin}(n_g, p_g), \\qquad p_g \\sim \\mathrm{Beta}(a, b),

so :math:`x_g` is beta-binomial. The prior :math:`(a, b)` is fitted by marginal maximum likelihood
of the beta-binomial over groups (:func:`fit_beta_prior`, scipy BFGS on
:math:`(\\operatorname{logit}\\mu, \\log\\kappa)`, :math:`\\mu=a/(a+b)`, :math:`\\kappa=a+b`, started at
the method-of-moments estimate), and each group's posterior is
:math:`\\mathrm{Beta}(a+x_g, b+n_g-x_g)`: posterior mean
:math:`(a+x_g)/(a+b+n_g) = w_g\\,\\hat p_g + (1-w_g)\\,\\mu` with weight :math:`w_g = n_g/(n_g+\\kappa)`,
and an equal-tailed credible interval from the beta quantiles.

Why this model: it is fast (one 2-parameter optimisation per stage, closed-form posteriors),
transparent (the shrinkage weight :math:`n_g/(n_g+\\kappa)` can be printed next to each force) and
standard for league tables of rates (Efron & Morris 1975; Spiegelhalter 2005). A hierarchical
logistic model (random force intercept on the logit scale, e.g. statsmodels
``BinomialBayesMixedGLM``) gives very similar shrinkage; ``tests/test_pooling.py`` checks the two
agree. As in any empirical-Bayes method, the uncertainty in :math:`(a, b)` itself is not propagated
(intervals are slightly too narrow when there are few groups; with 43 forces the effect is small).

Censoring: where some cases are still open, the funnel passes the effective counts of the
Aalen–Johansen estimate, :math:`n^{\\mathrm{eff}} = \\hat p(1-\\hat p)/\\widehat{se}^2` and
:math:`x^{\\mathrm{eff}} = \\hat p\\, n^{\\mathrm{eff}}` (non-integer counts are fine: the beta-binomial
likelihood is written with gamma functions).

References
----------
Efron, B. & Morris, C. (1975). Data analysis using Stein's estimator and its generalizations.
*JASA* 70, 311–319.
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
*Statistics in Medicine* 24, 1185–1202.
Kahn, M. J. & Raftery, A. E. (1996). Discharge rates of Medicare stroke patients to skilled nursing
facilities: Bayesian logistic regression with unobserved heterogeneity. *JASA* 91, 29–41.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ._utils import check_alpha, check_random_state, ci_labels
from .exceptions import DataValidationError

__all__ = [
    "BetaPrior",
    "fit_beta_prior",
    "pool_proportions",
    "posterior_product",
    "caterpillar_plot",
    "credible_differences",
]

_MAX_KAPPA = 1e8  # prior strength cap: beyond this the prior is a point mass (no between-group variation)
_MIN_KAPPA = 1e-3
_EPS_MU = 1e-9


@dataclass(frozen=True)
class BetaPrior:
    """Fitted beta prior of the group rates.

    Attributes
    ----------
    a, b : float
        Beta shape parameters.
    mean : float
        Prior mean :math:`a/(a+b)` (the pooled "national" rate implied by the model).
    kappa : float
        Prior strength :math:`a+b` (cases' worth of information in the prior).
    sd : float
        Between-group standard deviation of the true rates, :math:`\\sqrt{\\mu(1-\\mu)/(\\kappa+1)}`.
    loglik : float
        Maximised beta-binomial log-likelihood (without the binomial coefficients).
    at_bound : bool
        True if :math:`\\kappa` hit the upper bound (no detectable between-group variation: full
        pooling) or the lower bound.
    """

    a: float
    b: float
    mean: float
    kappa: float
    sd: float
    loglik: float
    at_bound: bool


def _check_counts(x, n):
    x = np.asarray(x, dtype=float).reshape(-1)
    n = np.asarray(n, dtype=float).reshape(-1)
    if x.shape != n.shape:
        raise DataValidationError(f"x has {x.shape[0]} values but n has {n.shape[0]}")
    if x.size == 0:
        raise DataValidationError("no groups to pool")
    bad = ~np.isfinite(x) | ~np.isfinite(n) | (n < 0) | (x < 0) | (x > n + 1e-9 * np.maximum(n, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"counts must be finite with 0 <= x <= n; group {i} has x={x[i]!r}, n={n[i]!r}"
        )
    return np.minimum(x, n), n


def _negloglik(theta, x, n):
    mu = special.expit(theta[0])
    kappa = np.exp(theta[1])
    a, b = mu * kappa, (1 - mu) * kappa
    ll = special.betaln(a + x, b + n - x) - special.betaln(a, b)
    # gradient w.r.t. a and b
    da = special.digamma(a + x) - special.digamma(a + b + n) - special.digamma(a) + special.digamma(a + b)
    db = special.digamma(b + n - x) - special.digamma(a + b + n) - special.digamma(b) + special.digamma(a + b)
    ga, gb = da.sum(), db.sum()
    # chain rule: a = mu*kappa, b = (1-mu)*kappa; dmu/dlogit = mu(1-mu); dkappa/dlogk = kappa
    g0 = (ga - gb) * kappa * mu * (1 - mu)
    g1 = (ga * mu + gb * (1 - mu)) * kappa
    return -float(ll.sum()), -np.array([g0, g1])


def fit_beta_prior(x, n) -> BetaPrior:
    """Fit the beta prior of group rates by marginal maximum likelihood of the beta-binomial.

    Parameters
    ----------
    x : array-like, shape (G,)
        Successes per group (may be non-integer effective counts).
    n : array-like, shape (G,)
        Trials per group (``n >= x >= 0``). Groups with ``n == 0`` carry no information.

    Returns
    -------
    BetaPrior

    Raises
    ------
    DataValidationError
        Negative counts, ``x > n``, non-finite values, or no group with ``n > 0``.

    Notes
    -----
    Maximises :math:`\\sum_g \\log B(a+x_g, b+n_g-x_g) - \\log B(a, b)` over
    :math:`(\\operatorname{logit}\\mu, \\log\\kappa)` with analytic gradients (BFGS), starting at the
    method-of-moments estimate (overdispersion :math:`\\rho` from the between-group variance of the
    raw rates; :math:`\\kappa = 1/\\rho - 1`). :math:`\\kappa` is bounded to
    :math:`[10^{-3}, 10^{8}]`; at the upper bound the groups are indistinguishable and the posterior
    means equal the pooled rate.
    """
    x, n = _check_counts(x, n)
    keep = n > 0
    if not keep.any():
        raise DataValidationError("every group has n == 0: nothing to pool")
    x, n = x[keep], n[keep]
    mu0 = float(np.clip(x.sum() / n.sum(), 1e-6, 1 - 1e-6))
    # method of moments (Kleinman 1973): weighted variance of rates vs binomial variance
    p = x / n
    if x.size > 1:
        w = n / n.sum()
        s2 = float(np.sum(w * (p - mu0) ** 2)) * x.size / (x.size - 1)
        nbar_inv = float(np.mean(1.0 / n))
        between = s2 - mu0 * (1 - mu0) * nbar_inv
        rho = between / (mu0 * (1 - mu0)) if between > 0 else 0.0
        kappa0 = 1.0 / rho - 1.0 if 0 < rho < 1 else 1e4
    else:
        kappa0 = 1e4
    kappa0 = float(np.clip(kappa0, 1.0, _MAX_KAPPA / 10))
    lo = np.log(_MIN_KAPPA)
    hi = np.log(_MAX_KAPPA)
    th0 = np.array([special.logit(mu0), np.log(kappa0)])
    # BFGS on the unbounded scale (scipy's L-BFGS-B has a large fixed cost per call); the bounds are
    # enforced afterwards: beyond them the likelihood is flat to machine precision.
    res = optimize.minimize(
        _negloglik, th0, args=(x, n), jac=True, method="BFGS", options={"maxiter": 500, "gtol": 1e-8},
    )
    th = res.x
    f_start, _ = _negloglik(th0, x, n)
    if not np.all(np.isfinite(th)) or not np.isfinite(res.fun) or res.fun > f_start:
        th = th0
    th = np.array([np.clip(th[0], special.logit(_EPS_MU), special.logit(1 - _EPS_MU)), np.clip(th[1], lo, hi)])
    mu = float(special.expit(th[0]))
    kappa = float(np.exp(th[1]))
    at_bound = bool(th[1] >= hi - 1e-6 or th[1] <= lo + 1e-6)
    loglik = -_negloglik(th, x, n)[0]
    return BetaPrior(
        a=mu * kappa, b=(1 - mu) * kappa, mean=mu, kappa=kappa,
        sd=float(np.sqrt(mu * (1 - mu) / (kappa + 1))), loglik=loglik, at_bound=at_bound,
    )


def pool_proportions(x, n, *, labels=None, alpha: float = 0.05, prior: BetaPrior | None = None) -> pd.DataFrame:
    """Empirical-Bayes (beta-binomial) partial pooling of one proportion across groups.

    Parameters
    ----------
    x : array-like, shape (G,)
        Successes per group (effective counts allowed).
    n : array-like, shape (G,)
        Trials per group.
    labels : array-like, shape (G,), optional
        Group names (default ``0..G-1``).
    alpha : float, default 0.05
        Equal-tailed ``1 - alpha`` credible intervals.
    prior : BetaPrior, optional
        Use this prior instead of fitting one (:func:`fit_beta_prior`).

    Returns
    -------
    pandas.DataFrame, shape (G, 10)
        Indexed by ``group``: ``n``, ``x``, ``raw`` (x/n, NaN where n == 0), ``pooled`` (posterior
        mean), ``sd`` (posterior sd), ``lower xx%``, ``upper xx%`` (equal-tailed beta quantiles),
        ``weight`` (:math:`n/(n+\\kappa)`, the weight on the group's own rate), ``post_a``,
        ``post_b`` (posterior beta parameters). ``attrs["prior"]`` holds the :class:`BetaPrior`.

    Examples
    --------
    >>> t = pool_proportions([2, 30, 300], [40, 1000, 10000], labels=["A", "B", "C"])
    >>> bool(abs(t.loc["A", "pooled"] - 0.03) < abs(t.loc["A", "raw"] - 0.03))
    True
    """
    alpha = check_alpha(alpha)
    x, n = _check_counts(x, n)
    if prior is None:
        prior = fit_beta_prior(x, n)
    lo_name, hi_name = ci_labels(alpha)
    pa = prior.a + x
    pb = prior.b + n - x
    mean = pa / (pa + pb)
    sd = np.sqrt(pa * pb / ((pa + pb) ** 2 * (pa + pb + 1)))
    lower = stats.beta.ppf(alpha / 2, pa, pb)
    upper = stats.beta.ppf(1 - alpha / 2, pa, pb)
    raw = np.full_like(x, np.nan)
    np.divide(x, n, out=raw, where=n > 0)
    idx = pd.Index(labels if labels is not None else np.arange(x.size), name="group")
    out = pd.DataFrame({
        "n": n, "x": x, "raw": raw, "pooled": mean, "sd": sd, lo_name: lower, hi_name: upper,
        "weight": n / (n + prior.kappa), "post_a": pa, "post_b": pb,
    }, index=idx)
    out.attrs["prior"] = prior
    return out


def posterior_product(post_a, post_b, *, n_draws: int = 4000, alpha: float = 0.05, random_state=0):
    """Posterior of a product of independent beta-distributed stage probabilities, by Monte Carlo.

    Parameters
    ----------
    post_a, post_b : array-like, shape (G, S)
        Beta posterior parameters of each group's ``S`` stage probabilities.
    n_draws : int, default 4000
        Monte Carlo draws per group.
    alpha : float, default 0.05
    random_state : None, int or numpy.random.Generator, default 0

    Returns
    -------
    mean, sd, lower, upper : numpy.ndarray, shape (G,)
        Exact posterior mean of the product (product of the beta means, by independence) and Monte
        Carlo sd and equal-tailed ``1 - alpha`` interval.

    Notes
    -----
    Stage probabilities are independent a posteriori because the stage likelihoods factorise given the
    numbers entering each stage (the funnel is a sequence of conditionally independent binomials) and
    the stage priors are fitted separately.
    """
    alpha = check_alpha(alpha)
    rng = check_random_state(random_state)
    a = np.atleast_2d(np.asarray(post_a, float))
    b = np.atleast_2d(np.asarray(post_b, float))
    G, S = a.shape
    logprod = np.zeros((G, n_draws))
    with np.errstate(divide="ignore"):  # a draw of exactly 0 (tiny a) gives log 0 = -inf -> product 0
        for s in range(S):  # a handful of stages, each vectorised over groups x draws
            logprod += np.log(rng.beta(a[:, s : s + 1], b[:, s : s + 1], size=(G, n_draws)))
    draws = np.exp(logprod)
    mean = np.prod(a / (a + b), axis=1)
    lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=1)
    return mean, draws.std(axis=1, ddof=1), lower, upper


def credible_differences(pooled: pd.DataFrame, national: float, *, alpha: float = 0.05) -> pd.DataFrame:
    """Groups whose credible interval excludes the national rate.

    Parameters
    ----------
    pooled : pandas.DataFrame
        Output of :func:`pool_proportions` (index ``group``).
    national : float
        The national rate to compare with.
    alpha : float, default 0.05
        Must match the ``alpha`` used for ``pooled`` (its CI columns are looked up by name).

    Returns
    -------
    pandas.DataFrame
        Rows of ``pooled`` with ``lower > national`` (``direction`` "higher") or ``upper < national``
        ("lower"), sorted by pooled estimate, with columns ``n``, ``raw``, ``pooled``, CI, ``national``,
        ``direction``.
    """
    lo_name, hi_name = ci_labels(alpha)
    missing = [c for c in (lo_name, hi_name, "pooled", "n", "raw") if c not in pooled.columns]
    if missing:
        raise DataValidationError(f"pooled table lacks column(s) {missing}; pass the output of pool_proportions "
                                  f"fitted with the same alpha={alpha}")
    hi = pooled[lo_name] > national
    lo = pooled[hi_name] < national
    out = pooled.loc[hi | lo, ["n", "raw", "pooled", lo_name, hi_name]].copy()
    out["national"] = float(national)
    out["direction"] = np.where(hi[hi | lo], "higher", "lower")
    return out.sort_values("pooled", kind="mergesort")


def caterpillar_plot(pooled: pd.DataFrame, *, national: float | None = None, ax=None, alpha: float = 0.05,
                     title: str | None = None, xlabel: str = "Rate", show_raw: bool = True, **kwargs):
    """Caterpillar plot: groups sorted by pooled rate, with credible intervals and raw rates.

    Parameters
    ----------
    pooled : pandas.DataFrame
        Output of :func:`pool_proportions`.
    national : float, optional
        Draw a vertical reference line at the national rate.
    ax : matplotlib.axes.Axes, optional
    alpha : float, default 0.05
        Must match the ``alpha`` of ``pooled``.
    title, xlabel : str
    show_raw : bool, default True
        Also draw each group's raw (unpooled) rate, faint.
    **kwargs
        Passed to the pooled-estimate ``errorbar`` call (defaults: blue points, grey lines).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import GREY, PALETTE

    lo_name, hi_name = ci_labels(alpha)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, max(4.0, 0.17 * len(pooled) + 1)))
    t = pooled.sort_values("pooled", kind="mergesort")
    y = np.arange(len(t))
    est = t["pooled"].to_numpy()
    err = np.vstack([est - t[lo_name].to_numpy(), t[hi_name].to_numpy() - est])
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("color", PALETTE[0])
    kwargs.setdefault("ecolor", GREY)
    kwargs.setdefault("markersize", 4)
    kwargs.setdefault("elinewidth", 1)
    kwargs.setdefault("label", f"Pooled estimate ({100 * (1 - alpha):g}% credible interval)")
    ax.errorbar(est, y, xerr=err, **kwargs)
    if show_raw:
        ax.plot(t["raw"].to_numpy(), y, "x", color=GREY, alpha=0.5, markersize=4, label="Raw rate")
    if national is not None:
        ax.axvline(national, color=PALETTE[1], linestyle="--", linewidth=1, label=f"National ({national:.1%})")
    ax.set_yticks(y)
    ax.set_yticklabels([str(v) for v in t.index], fontsize="x-small")
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Partially pooled rates by group")
    ax.legend(loc="lower right", fontsize="x-small")
    return ax
