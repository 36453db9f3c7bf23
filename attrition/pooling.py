"""Partial pooling of proportions across groups (forces): beta-binomial, full or empirical Bayes; ranks; funnel plots.

Every force's stage conversion rate is shrunk toward the rate of comparable forces by an amount that depends
on how much information the force has: a force with 40 cases moves most of the way, a force with 40,000
hardly moves.

Model
-----
For group :math:`g` with :math:`x_g` successes out of :math:`n_g`,

.. math:: x_g \\mid p_g \\sim \\mathrm{Bin}(n_g, p_g), \\qquad p_g \\sim \\mathrm{Beta}(\\mu_g\\kappa, (1-\\mu_g)\\kappa),

so :math:`x_g` is beta-binomial; :math:`\\mu_g = \\mu` for all groups, or
:math:`\\operatorname{logit}\\mu_g = \\beta_0 + \\beta_1 c_g` with a group covariate (the log number of
reports: pooling towards forces of the same size).

* **Full Bayes** (:func:`fit_hyperposterior`, ``pool_proportions(method="bayes")``, the default of
  :class:`attrition.funnel.FunnelFitter`): the hyperparameters get a weakly informative prior and are
  integrated over their posterior on an adaptive grid (exact up to the grid, no sampler); each group's
  posterior is a mixture of betas. Intervals carry the uncertainty about how much to pool, which matters
  most for the most extreme forces and when forces hardly differ (then empirical Bayes collapses every
  interval onto the pooled rate).
* **Empirical Bayes** (:func:`fit_beta_prior`, ``method="eb"``): :math:`(\\mu, \\kappa)` fixed at their
  marginal maximum-likelihood estimate (scipy BFGS on :math:`(\\operatorname{logit}\\mu, \\log\\kappa)`),
  posterior :math:`\\mathrm{Beta}(a+x_g, b+n_g-x_g)` with mean :math:`w_g\\hat p_g + (1-w_g)\\mu`,
  :math:`w_g = n_g/(n_g+\\kappa)`. Fast and transparent, but the uncertainty in :math:`(a, b)` is not
  propagated (Laird & Louis 1987).

A hierarchical logistic model (random force intercept on the logit scale, e.g. statsmodels
``BinomialBayesMixedGLM``) gives very similar shrinkage; ``tests/test_pooling.py`` checks the two agree.
From joint posterior draws (:func:`posterior_draws`) come rank intervals (:func:`rank_intervals`);
:func:`funnel_limits` and :func:`funnel_plot` give the institutional-comparison funnel plot with
over-dispersion (Spiegelhalter 2005). ``tests/studies/force_coverage.py`` measures coverage of each force's
true rate by quintile of forces.

Censoring: where some cases are still open, the funnel passes the effective counts of the
Aalen–Johansen estimate, :math:`n^{\\mathrm{eff}} = \\hat p(1-\\hat p)/\\widehat{se}^2` and
:math:`x^{\\mathrm{eff}} = \\hat p\\, n^{\\mathrm{eff}}` (non-integer counts are fine: the beta-binomial
likelihood is written with gamma functions).

References
----------
Laird, N. M. & Louis, T. A. (1987). Empirical Bayes confidence intervals based on bootstrap samples.
*JASA* 82, 739–750.
Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., section 5.3. CRC Press.
Efron, B. & Morris, C. (1975). Data analysis using Stein's estimator and its generalizations.
*JASA* 70, 311–319.
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
*Statistics in Medicine* 24, 1185–1202.
Kahn, M. J. & Raftery, A. E. (1996). Discharge rates of Medicare stroke patients to skilled nursing
facilities: Bayesian logistic regression with unobserved heterogeneity. *JASA* 91, 29–41.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ._utils import check_alpha, check_random_state, ci_labels
from .exceptions import DataValidationError

__all__ = [
    "BetaPrior",
    "HyperPosterior",
    "fit_beta_prior",
    "fit_hyperposterior",
    "posterior_draws",
    "rank_intervals",
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


def pool_proportions(x, n, *, labels=None, alpha: float = 0.05, prior=None, method: str = "eb",
                     covariate=None, n_draws: int = 20_000, random_state=0) -> pd.DataFrame:
    """Partial pooling of one proportion across groups: beta-binomial, empirical or full Bayes.

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
    prior : BetaPrior or HyperPosterior, optional
        Use this prior instead of fitting one (:func:`fit_beta_prior` / :func:`fit_hyperposterior`).
    method : {"eb", "bayes"}, default "eb"
        ``"eb"``: empirical Bayes, the prior fixed at its marginal maximum-likelihood estimate (intervals
        ignore the uncertainty in the prior). ``"bayes"``: full Bayes, the prior's :math:`(\\mu, \\kappa)`
        integrated over their posterior (:func:`fit_hyperposterior`); each group's posterior is then a
        mixture of betas: exact mean and sd, equal-tailed quantiles from ``n_draws`` posterior draws.
    covariate : array-like, shape (G,), optional
        Full Bayes only: a group-level covariate of the prior mean (:func:`fit_hyperposterior`).
    n_draws : int, default 20,000
        Full Bayes only: draws for the interval (Monte Carlo sd of each limit about 0.02 posterior sd).
    random_state : None, int or numpy.random.Generator, default 0
        Full Bayes only: seeds those draws.

    Returns
    -------
    pandas.DataFrame, shape (G, 10)
        Indexed by ``group``: ``n``, ``x``, ``raw`` (x/n, NaN where n == 0), ``pooled`` (posterior
        mean), ``sd`` (posterior sd), ``lower xx%``, ``upper xx%`` (equal-tailed beta quantiles),
        ``weight`` (:math:`n/(n+\\kappa)`, the weight on the group's own rate; full Bayes: at the posterior
        mean of :math:`\\kappa`), ``post_a``, ``post_b`` (posterior beta parameters; full Bayes: the beta with
        the posterior's mean and sd, a summary only). ``attrs["prior"]`` holds the :class:`BetaPrior` or
        :class:`HyperPosterior`, ``attrs["method"]`` the method.

    Examples
    --------
    >>> t = pool_proportions([2, 30, 300], [40, 1000, 10000], labels=["A", "B", "C"])
    >>> bool(abs(t.loc["A", "pooled"] - 0.03) < abs(t.loc["A", "raw"] - 0.03))
    True
    """
    alpha = check_alpha(alpha)
    if method not in ("eb", "bayes"):
        raise ValueError(f"method must be 'eb' or 'bayes', got {method!r}")
    x, n = _check_counts(x, n)
    if prior is None:
        if covariate is not None and method == "eb":
            raise ValueError("a covariate of the prior mean needs method='bayes'")
        prior = fit_beta_prior(x, n) if method == "eb" else fit_hyperposterior(x, n, covariate=covariate)
    lo_name, hi_name = ci_labels(alpha)
    if isinstance(prior, HyperPosterior):
        method = "bayes"
        mean, sd, lower, upper, weight = _bayes_table(x, n, prior, alpha, n_draws, random_state)
        # the beta with the posterior's mean and variance (a summary, exact moments)
        nu = np.maximum(mean * (1 - mean) / np.maximum(sd**2, 1e-300) - 1, 1e-9)
        pa, pb = mean * nu, (1 - mean) * nu
    else:
        method = "eb"
        pa = prior.a + x
        pb = prior.b + n - x
        mean = pa / (pa + pb)
        sd = np.sqrt(pa * pb / ((pa + pb) ** 2 * (pa + pb + 1)))
        lower = stats.beta.ppf(alpha / 2, pa, pb)
        upper = stats.beta.ppf(1 - alpha / 2, pa, pb)
        weight = n / (n + prior.kappa)
    raw = np.full_like(x, np.nan)
    np.divide(x, n, out=raw, where=n > 0)
    idx = pd.Index(labels if labels is not None else np.arange(x.size), name="group")
    out = pd.DataFrame({
        "n": n, "x": x, "raw": raw, "pooled": mean, "sd": sd, lo_name: lower, hi_name: upper,
        "weight": weight, "post_a": pa, "post_b": pb,
    }, index=idx)
    out.attrs["prior"] = prior
    out.attrs["method"] = method
    return out


# ----------------------------------------------------------------------------------------------------
# full Bayes: the hyperparameters integrated out on a grid
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HyperPosterior:
    r"""Posterior of the beta prior's hyperparameters on a grid (full Bayes, :func:`fit_hyperposterior`).

    Attributes
    ----------
    a, b : numpy.ndarray, shape (C, G)
        Each group's beta prior parameters in each grid cell kept (the most probable cells holding
        ``1 - 1e-7`` of the mass); without a covariate every group has the same prior in a cell.
    weight : numpy.ndarray, shape (C,)
        Posterior mass of each cell (sums to 1).
    mean : float
        Posterior mean of the prior mean rate :math:`\mu` (with a covariate: at its average).
    kappa : float
        :math:`\exp E\log\kappa`, the prior strength in cases.
    kappa_interval : tuple of float
        Central 95% posterior interval of :math:`\kappa`.
    slope, slope_interval : float, tuple of float
        With a covariate: posterior mean and central 95% interval of its coefficient on the logit scale
        (of the first covariate's when there are several; NaN without).
    """

    a: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    weight: np.ndarray = field(repr=False)
    mean: float
    kappa: float
    kappa_interval: tuple
    slope: float = np.nan
    slope_interval: tuple = (np.nan, np.nan)

    @property
    def sd(self) -> float:
        r"""Between-group sd of the true rates at the posterior means, :math:`\sqrt{\mu(1-\mu)/(\kappa+1)}`."""
        return float(np.sqrt(self.mean * (1 - self.mean) / (self.kappa + 1)))


_LOG_KAPPA = (0.0, np.log(1e11))  # kappa from 1 (a + b >= 1: the groups' rates are not U-shaped) to 1e11
_SLOPE_SD = 1.0  # prior sd of a covariate's coefficient (logit scale, per unit of the covariate)


def _prior_terms(beta):
    """Log hyperprior of the regression part and its gradient/Hessian: mu at the covariate's mean uniform
    (the intercept), covariate coefficients N(0, _SLOPE_SD^2)."""
    mu0 = special.expit(beta[..., 0])
    lp = np.log(mu0) + np.log1p(-mu0) - 0.5 * np.sum(beta[..., 1:] ** 2, axis=-1) / _SLOPE_SD**2
    return lp, mu0


def _cond_mode(lam, x, n, X, beta0, iters: int = 25):
    """Mode and Hessian of the log posterior in the regression coefficients for each log-kappa (vectorised)."""
    L, P = lam.size, X.shape[1]
    beta = np.tile(np.asarray(beta0, float), (L, 1))
    k = np.exp(lam)[:, None]
    eye = np.eye(P)
    for _ in range(iters):  # damped Newton, every kappa at once
        mu = special.expit(beta @ X.T)  # (L, G)
        a, b = mu * k, (1 - mu) * k
        D = special.digamma(a + x) - special.digamma(a) - special.digamma(b + n - x) + special.digamma(b)
        T = (special.polygamma(1, a + x) - special.polygamma(1, a) + special.polygamma(1, b + n - x)
             - special.polygamma(1, b))
        m = mu * (1 - mu)
        d1 = k * m * D
        d2 = k * D * m * (1 - 2 * mu) + k**2 * m**2 * T
        g = d1 @ X
        H = np.einsum("lg,gp,gq->lpq", d2, X, X)
        mu0 = special.expit(beta[:, 0])
        g[:, 0] += 1 - 2 * mu0
        H[:, 0, 0] -= 2 * mu0 * (1 - mu0)
        if P > 1:
            g[:, 1:] -= beta[:, 1:] / _SLOPE_SD**2
            H[:, 1:, 1:] -= eye[1:, 1:] / _SLOPE_SD**2
        # keep the Hessian negative definite (shift its spectrum where it is not)
        top = np.linalg.eigvalsh(H)[:, -1]
        H = H - np.maximum(top + 1e-8, 0)[:, None, None] * eye
        step = -np.linalg.solve(H, g[:, :, None])[:, :, 0]
        size = np.linalg.norm(step, axis=1, keepdims=True)
        step = step * np.minimum(1.0, 1.0 / np.maximum(size, 1e-300))
        beta = beta + step
        beta[:, 0] = np.clip(beta[:, 0], special.logit(_EPS_MU), special.logit(1 - _EPS_MU))
        if np.all(size < 1e-8):
            break
    return beta, H


def _log_post(beta, lam, x, n, X):
    """Log posterior (up to a constant) of (beta, log kappa); ``beta`` (..., P), ``lam`` (...)."""
    mu = special.expit(beta @ X.T)  # (..., G)
    kappa = np.exp(lam)[..., None]
    a, b = mu * kappa, (1 - mu) * kappa
    ll = (special.betaln(a + x, b + n - x) - special.betaln(a, b)).sum(-1)
    lp, _ = _prior_terms(beta)
    return ll + lp - 0.5 * lam


def fit_hyperposterior(x, n, *, covariate=None, n_kappa: int = 161, n_grid: int | None = None) -> HyperPosterior:
    r"""Posterior of the beta prior of group rates, on a grid (full Bayes).

    Parameters
    ----------
    x, n : array-like, shape (G,)
        Successes and trials per group (effective counts allowed).
    covariate : array-like, shape (G,) or (G, k), optional
        Group-level covariates of the prior mean (at most 3), :math:`\operatorname{logit}\mu_g = \beta_0 +
        \sum_j \beta_j (c_{gj} - \bar c_j)` (e.g. the log number of reports: small forces are then shrunk
        towards forces of their size, not towards the nation, as hospital profiling does, Silber et al.
        2010; or the share of a force's reports made while it had a dedicated officer).
    n_kappa : int, default 161
        Grid points in :math:`\lambda=\log\kappa`, from 1 to :math:`10^{11}`.
    n_grid : int, optional
        Grid points per regression coefficient around the conditional mode (default 41 without a
        covariate, 21 with one, 13 with two, 9 with three), spanning :math:`\pm 7` (:math:`\pm 6`)
        conditional posterior sd.

    Returns
    -------
    HyperPosterior

    Notes
    -----
    Hyperprior: the prior mean rate (at the covariate's average) uniform on (0, 1),
    :math:`p(\kappa)\propto\kappa^{-3/2}` on :math:`\kappa\ge 1` (with a uniform mean,
    :math:`p(a, b)\propto(a+b)^{-5/2}`: Gelman et al. 2013, section 5.3, weakly informative; the bound
    :math:`a+b\ge 1` rules out U-shaped distributions of the groups' rates and keeps the posterior proper
    when every group has no successes, or only successes), and a covariate's
    coefficient :math:`N(0, 1)` per unit (a tenfold difference in size moving the prior logit by
    :math:`\pm 2.3` sd). The likelihood is the beta-binomial of every group. For each :math:`\lambda`
    the grid in the regression coefficients is centred at their conditional posterior mode (Newton,
    analytic derivatives) and scaled by the conditional curvature, so it stays fine whether the groups
    hold 40 cases or 400,000; cell masses carry that Jacobian. Exact up to the grid
    (``tests/test_pooling.py`` compares with a brute-force grid).

    References
    ----------
    Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A. & Rubin, D. B. (2013).
    *Bayesian Data Analysis*, 3rd ed., section 5.3. CRC Press.
    Silber, J. H. et al. (2010). The Hospital Compare mortality model and the volume-outcome
    relationship. *Health Services Research* 45, 1148–1167.
    """
    x, n = _check_counts(x, n)
    G_all = x.size
    if covariate is None:
        X_all = np.ones((G_all, 1))
    else:
        c = np.asarray(covariate, float)
        c = c.reshape(-1, 1) if c.ndim == 1 else c
        if c.ndim != 2 or c.shape[0] != G_all or not 1 <= c.shape[1] <= 3 or not np.all(np.isfinite(c)):
            raise DataValidationError(f"covariate must hold {G_all} rows of 1 to 3 finite values, one row per group")
        X_all = np.column_stack([np.ones(G_all), c - c[n > 0].mean(axis=0) if (n > 0).any() else c])
    keep = n > 0
    x, n, X = x[keep], n[keep], X_all[keep]
    if x.size == 0:
        raise DataValidationError("every group has n == 0: nothing to pool")
    P = X.shape[1]
    lam = np.linspace(*_LOG_KAPPA, n_kappa)
    beta0 = np.zeros(P)
    beta0[0] = special.logit(np.clip(x.sum() / n.sum(), 1e-6, 1 - 1e-6))
    m, H = _cond_mode(lam, x, n, X, beta0)
    n_grid = n_grid or {1: 41, 2: 21, 3: 13, 4: 9}[P]
    z1 = np.linspace(-7 if P == 1 else -6, 7 if P == 1 else 6, n_grid)
    Z = np.stack(np.meshgrid(*([z1] * P), indexing="ij"), axis=-1).reshape(-1, P)  # (M, P)
    Cov = np.linalg.inv(-H)
    Ch = np.linalg.cholesky(0.5 * (Cov + np.swapaxes(Cov, 1, 2)))  # (L, P, P)
    beta = m[:, None, :] + np.einsum("lpq,mq->lmp", Ch, Z)  # (L, M, P)
    lamg = np.broadcast_to(lam[:, None], beta.shape[:2])
    logdet = np.log(np.abs(np.diagonal(Ch, axis1=1, axis2=2))).sum(axis=1)
    chunk = max(1, int(2_000_000 // (beta.shape[1] * x.size)))  # bound the memory of the (L, M, G) terms
    lp = np.concatenate([_log_post(beta[i:i + chunk], lamg[i:i + chunk], x, n, X)
                         for i in range(0, lam.size, chunk)]) + logdet[:, None]
    w = np.exp(lp - lp.max()).reshape(-1)
    w /= w.sum()
    order = np.argsort(w)[::-1]
    cum = np.cumsum(w[order])
    cells = order[: int(np.searchsorted(cum, 1 - 1e-7)) + 1]
    wk = w[cells] / w[cells].sum()
    bk = beta.reshape(-1, P)[cells]
    lk = lamg.reshape(-1)[cells]
    kappa = np.exp(lk)
    mu_g = special.expit(bk @ X_all.T)  # (C, G_all)

    def interval(v):
        o = np.argsort(v)
        cw = np.cumsum(wk[o])
        return float(v[o][np.searchsorted(cw, 0.025)]), float(v[o][min(np.searchsorted(cw, 0.975), len(o) - 1)])

    slope, slope_int = (float(np.sum(wk * bk[:, 1])), interval(bk[:, 1])) if P > 1 else (np.nan, (np.nan, np.nan))
    return HyperPosterior(a=mu_g * kappa[:, None], b=(1 - mu_g) * kappa[:, None], weight=wk,
                          mean=float(np.sum(wk * special.expit(bk[:, 0]))), kappa=float(np.exp(np.sum(wk * lk))),
                          kappa_interval=interval(kappa), slope=slope, slope_interval=slope_int)


def _bayes_table(x, n, hyper: HyperPosterior, alpha, n_draws, random_state):
    pa = hyper.a.T + x[:, None]  # (G, C)
    pb = hyper.b.T + (n - x)[:, None]
    w = hyper.weight
    m1 = pa / (pa + pb)
    m2 = m1 * (pa + 1) / (pa + pb + 1)
    mean = m1 @ w
    sd = np.sqrt(np.maximum(m2 @ w - mean**2, 0))
    # quantiles of the beta mixture from draws: exact cdfs of betas with a + b up to 1e11 are slow
    # (scipy's betainc), and with 20,000 draws the Monte Carlo sd of a 2.5% quantile is ~0.02 posterior sd
    draws = posterior_draws(x, n, hyper, n_draws=n_draws, random_state=random_state)
    lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=1)
    kappa_mean = (hyper.a[:, 0] + hyper.b[:, 0]) @ w
    return mean, sd, lower, upper, n / (n + kappa_mean)


def posterior_draws(x, n, hyper, *, n_draws: int = 4000, random_state=0) -> np.ndarray:
    """Draws of every group's rate from its posterior.

    Parameters
    ----------
    x, n : array-like, shape (G,)
    hyper : BetaPrior or HyperPosterior
        Empirical Bayes (one beta prior) or full Bayes (a grid posterior of the prior: each draw first
        picks a grid cell by its mass, so draws are joint across groups, as ranks need).
    n_draws : int, default 4000
    random_state : None, int or numpy.random.Generator, default 0

    Returns
    -------
    numpy.ndarray, shape (G, n_draws)
    """
    x, n = _check_counts(x, n)
    rng = check_random_state(random_state)
    if isinstance(hyper, HyperPosterior):
        if hyper.a.shape[1] != x.size:
            raise DataValidationError(f"the hyperposterior has {hyper.a.shape[1]} groups, the counts {x.size}")
        c = rng.choice(hyper.weight.size, size=n_draws, p=hyper.weight)
        a, b = hyper.a[c].T, hyper.b[c].T  # (G, n_draws)
    else:
        a, b = np.array([[hyper.a]]), np.array([[hyper.b]])
    return rng.beta(a + x[:, None], b + (n - x)[:, None], size=(x.size, n_draws))


def rank_intervals(draws, *, labels=None, alpha: float = 0.05, descending: bool = True) -> pd.DataFrame:
    """Posterior ranks of groups with equal-tailed intervals, from joint draws of their rates.

    Parameters
    ----------
    draws : array-like, shape (G, D)
        Joint posterior draws (e.g. :func:`posterior_draws`).
    labels : array-like, shape (G,), optional
    alpha : float, default 0.05
    descending : bool, default True
        Rank 1 is the highest rate.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group``: ``rank`` (rank of the posterior mean rate), ``mean_rank``, ``median_rank``,
        ``lower xx%``, ``upper xx%`` (quantiles of the rank over draws), ``p_top_quarter`` and
        ``p_bottom_quarter`` (posterior probability of being among the top or bottom quarter of groups).

    References
    ----------
    Goldstein, H. & Spiegelhalter, D. J. (1996). League tables and their limitations: statistical
    issues in comparisons of institutional performance. *JRSS A* 159, 385–443.
    """
    alpha = check_alpha(alpha)
    d = np.asarray(draws, float)
    G = d.shape[0]
    sgn = -1.0 if descending else 1.0
    r = np.argsort(np.argsort(sgn * d, axis=0, kind="stable"), axis=0) + 1  # (G, D) rank in each draw
    lo_name, hi_name = ci_labels(alpha)
    lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2], axis=1, method="inverted_cdf")
    q = max(1, int(np.ceil(G / 4)))
    mean_rate = d.mean(axis=1)
    idx = pd.Index(labels if labels is not None else np.arange(G), name="group")
    return pd.DataFrame({
        "rank": np.argsort(np.argsort(sgn * mean_rate, kind="stable")) + 1, "mean_rank": r.mean(axis=1),
        "median_rank": np.median(r, axis=1), lo_name: lo.astype(int), hi_name: hi.astype(int),
        "p_top_quarter": (r <= q).mean(axis=1), "p_bottom_quarter": (r > G - q).mean(axis=1),
    }, index=idx)


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
                     title: str | None = None, xlabel: str = "Rate", show_raw: bool = True,
                     withhold=None, show_n: bool = True, **kwargs):
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
    withhold : iterable of group labels, optional
        Disclosure control for publication: groups whose raw rate ``x / n`` is not drawn (with ``n`` known from
        any table of the group, the raw rate would reveal a small count). Take them from the rows that
        :func:`attrition.disclosure.suppress_small_counts` withheld, secondary suppression included. Their
        pooled estimates, model summaries, are still drawn.
    show_n : bool, default True
        Label each group with its number of cases ``n`` (rounded; "[c]" for 1-9, as the disclosure rule
        requires). With ``national``, groups whose interval excludes the national rate are drawn as filled
        diamonds ("differs credibly").
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
        raw = t["raw"].to_numpy(dtype=float)
        label = "Raw rate"
        if withhold is not None:
            hidden = t.index.isin(list(withhold))
            raw = np.where(hidden, np.nan, raw)
            if hidden.any():
                label = "Raw rate (withheld where a count is under 10)"
        ax.plot(raw, y, "x", color=GREY, alpha=0.5, markersize=4, label=label)
    if national is not None:
        ax.axvline(national, color=PALETTE[1], linestyle="--", linewidth=1, label=f"National ({national:.1%})")
        differs = (t[lo_name].to_numpy() > national) | (t[hi_name].to_numpy() < national)
        if differs.any():
            ax.plot(est[differs], y[differs], "D", color=PALETTE[1], markersize=5, zorder=3,
                    label=f"Differs credibly from the national rate ({100 * (1 - alpha):g}% interval excludes it)")
    labels = [str(v) for v in t.index]
    if show_n and "n" in t.columns:
        from .disclosure import count_text

        labels = [f"{g} (n = {count_text(int(round(n)))})" for g, n in zip(labels, t["n"].to_numpy(float))]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize="x-small")
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Partially pooled rates by group")
    ax.legend(loc="lower right", fontsize="x-small")
    return ax


# ----------------------------------------------------------------------------------------------------
# funnel plots with control limits (Spiegelhalter 2005)
# ----------------------------------------------------------------------------------------------------
def funnel_limits(x, n, *, labels=None, expected=None, variance=None, target: float | None = None,
                  overdispersion: str | None = "additive", winsor: float = 0.1,
                  levels=(0.95, 0.998)) -> pd.DataFrame:
    r"""Funnel-plot statistics of groups against a target, with over-dispersion (Spiegelhalter 2005).

    Parameters
    ----------
    x : array-like, shape (G,)
        Observed counts (successes; or observed events ``O`` when ``expected`` is given).
    n : array-like, shape (G,)
        Denominators (cases entering the stage). With ``expected`` only used for display.
    labels : array-like, shape (G,), optional
    expected : array-like, shape (G,), optional
        Expected counts under the national case-mix model (indirect standardisation): the indicator
        is then the ratio :math:`O/E` with target 1 and null variance ``variance``/:math:`E^2`.
    variance : array-like, shape (G,), optional
        Null variance of ``O`` (default: binomial :math:`\sum_i p_i(1-p_i)`, which the caller knows;
        without it :math:`E`, the Poisson variance).
    target : float, optional
        Target proportion (default the overall rate :math:`\sum x/\sum n`); ignored with ``expected``.
    overdispersion : {"additive", "multiplicative", None}, default "additive"
        ``"additive"``: random-effects :math:`\tau^2` added to each group's variance (DerSimonian–Laird
        moment estimate from winsorised z-scores); ``"multiplicative"``: variances multiplied by
        :math:`\hat\phi`; ``None``: pure sampling variation. A test of over-dispersion
        (:math:`I\hat\phi \sim \chi^2_{I-1}`) is reported either way; :math:`\tau^2 = 0`,
        :math:`\phi = 1` when :math:`I\hat\phi \le I - 1`.
    winsor : float, default 0.1
        z-scores are winsorised at the ``winsor`` and ``1 - winsor`` quantiles before estimating
        :math:`\phi` (so that the outliers being looked for do not inflate the limits); with fewer than
        10 groups there are no tails to trim and the z-scores are used as they are.
    levels : tuple of float, default (0.95, 0.998)
        Two-sided control-limit levels (about 2 and 3 sd).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group``: ``n``, ``observed`` (x), ``indicator`` (x/n, or O/E), ``se0`` (null sd of
        the indicator), ``z`` (unadjusted), ``z_adjusted`` (with over-dispersion), ``p_value``
        (two-sided, adjusted), and for each level ``outside xx%`` (-1 below, 1 above, 0 within).
        ``attrs``: ``target``, ``phi``, ``tau2``, ``overdispersion``, ``chi2_p`` (test of
        over-dispersion), ``ratio`` (True with ``expected``), ``var_scale`` (null variance per unit
        of ``n``, or of ``E``, used to draw the limits).

    Notes
    -----
    With :math:`y_i` the indicator, :math:`s_i` its null sd and :math:`z_i=(y_i-\theta_0)/s_i`,
    :math:`\hat\phi = I^{-1}\sum_i z_{i,w}^2` (winsorised), :math:`\hat\tau^2 = \max\{0,
    (I\hat\phi-(I-1))/(\sum w_i - \sum w_i^2/\sum w_i)\}` with :math:`w_i = 1/s_i^2`; limits are
    :math:`\theta_0 \pm z_{\alpha}\sqrt{s_i^2+\hat\tau^2}` (additive) or :math:`\theta_0 \pm
    z_\alpha\sqrt{\hat\phi}\,s_i` (multiplicative). Normal approximation to the binomial (Spiegelhalter
    uses exact binomial limits; they agree for the counts entering the funnel stages, and the
    over-dispersion term dominates anyway).

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance. *Statistics in
    Medicine* 24, 1185–1202.
    Spiegelhalter, D. J. (2005). Handling over-dispersion of performance indicators. *Quality and Safety
    in Health Care* 14, 347–351.
    DerSimonian, R. & Laird, N. (1986). Meta-analysis in clinical trials. *Controlled Clinical Trials*
    7, 177–188.
    """
    if overdispersion not in ("additive", "multiplicative", None):
        raise ValueError(f"overdispersion must be 'additive', 'multiplicative' or None, got {overdispersion!r}")
    x, n = _check_counts(x, n) if expected is None else (np.asarray(x, float), np.asarray(n, float))
    keep = n > 0 if expected is None else np.asarray(expected, float) > 0
    if not keep.all():
        raise DataValidationError(f"{int((~keep).sum())} group(s) have no cases (n = 0 or E = 0); drop them first")
    G = x.size
    if expected is not None:
        e = np.asarray(expected, float)
        v = e if variance is None else np.asarray(variance, float)
        y = x / e
        theta = 1.0
        s = np.sqrt(v) / e
        var_scale = float(v.sum() / e.sum())  # null variance of O/E is about var_scale / E
    else:
        theta = float(x.sum() / n.sum()) if target is None else float(target)
        y = x / n
        var_scale = theta * (1 - theta)
        s = np.sqrt(var_scale / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (y - theta) / s, 0.0)
    # winsorising needs enough groups to have tails: with fewer than 10 the z-scores are used as they are
    lo_q, hi_q = np.quantile(z, [winsor, 1 - winsor]) if G >= 10 and winsor > 0 else (-np.inf, np.inf)
    zw = np.clip(z, lo_q, hi_q)
    phi_hat = float(np.mean(zw**2))
    chi2_p = float(stats.chi2.sf(G * phi_hat, G - 1)) if G > 1 else np.nan
    over = G > 1 and G * phi_hat > G - 1
    phi, tau2 = 1.0, 0.0
    if over and overdispersion == "multiplicative":
        phi = phi_hat
    if over and overdispersion == "additive":
        w = 1 / s**2
        tau2 = float((G * phi_hat - (G - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    sd = np.sqrt(phi * s**2 + tau2)
    za = (y - theta) / sd
    idx = pd.Index(labels if labels is not None else np.arange(G), name="group")
    out = pd.DataFrame({"n": n, "observed": x, "indicator": y, "se0": s, "z": z, "z_adjusted": za,
                        "p_value": 2 * stats.norm.sf(np.abs(za))}, index=idx)
    for lev in levels:
        zc = stats.norm.ppf(0.5 + lev / 2)
        out[f"outside {100 * lev:g}%"] = np.where(za > zc, 1, np.where(za < -zc, -1, 0))
    out.attrs.update(target=theta, phi=phi if overdispersion == "multiplicative" else phi_hat, tau2=tau2,
                     overdispersion=overdispersion if over else None, chi2_p=chi2_p, ratio=expected is not None,
                     var_scale=var_scale, levels=tuple(levels), phi_hat=phi_hat)
    return out


def funnel_plot(table: pd.DataFrame, *, ax=None, label_outside: float | None = 0.998, title: str | None = None,
                xlabel: str | None = None, ylabel: str = "Rate", withhold_below: int | None = None, **kwargs):
    """Funnel plot of a :func:`funnel_limits` table: indicator against size, with control limits.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`funnel_limits`.
    ax : matplotlib.axes.Axes, optional
    label_outside : float or None, default 0.998
        Name the groups outside the limits of this level (None: name none).
    title, xlabel, ylabel : str
    withhold_below : int, optional
        Disclosure control (e.g. ``attrition.config.DISCLOSURE_THRESHOLD``): a group whose ``observed``
        count, or denominator minus it, is 1 to ``withhold_below - 1`` is not drawn (its position would
        reveal the count); the legend says how many were withheld.
    **kwargs
        Passed to the group ``scatter`` call.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import GREY, PALETTE

    a = table.attrs
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ratio = a["ratio"]
    size = (table["observed"] / table["indicator"]).to_numpy() if ratio else table["n"].to_numpy()
    grid = np.geomspace(max(size.min() * 0.7, 1e-3), size.max() * 1.3, 200)
    s = np.sqrt(a["var_scale"] / grid)
    phi = a["phi"] if a["overdispersion"] == "multiplicative" else 1.0
    sd = np.sqrt(phi * s**2 + a["tau2"])
    styles = {0: "--", 1: "-"}
    for i, lev in enumerate(a["levels"]):
        zc = stats.norm.ppf(0.5 + lev / 2)
        ls = styles.get(i, ":")
        ax.plot(grid, a["target"] + zc * sd, ls, color=GREY, linewidth=1, label=f"{100 * lev:g}% limits")
        ax.plot(grid, np.maximum(a["target"] - zc * sd, 0), ls, color=GREY, linewidth=1)
    ax.axhline(a["target"], color=PALETTE[1], linewidth=1, label="Target" if ratio else f"National ({a['target']:.1%})")
    kwargs.setdefault("s", 14)
    kwargs.setdefault("color", PALETTE[0])
    kwargs.setdefault("zorder", 3)
    drawn = np.ones(len(table), bool)
    if withhold_below is not None:
        obs = np.round(table["observed"].to_numpy(float))
        rest = np.round(table["n"].to_numpy(float) - obs) if not ratio else np.zeros_like(obs)
        drawn = ~(((obs > 0) & (obs < withhold_below)) | ((rest > 0) & (rest < withhold_below)))
        if not drawn.all():
            kwargs.setdefault("label", f"Forces ({int((~drawn).sum())} withheld: fewer than {withhold_below} cases)")
    table = table[drawn]
    size = size[drawn]
    ax.scatter(size, table["indicator"], **kwargs)
    if label_outside is not None:
        col = f"outside {100 * label_outside:g}%"
        if col in table:
            for g, xi, yi in zip(table.index[table[col] != 0], size[table[col].to_numpy() != 0],
                                 table.loc[table[col] != 0, "indicator"]):
                ax.annotate(str(g), (xi, yi), fontsize="x-small", xytext=(3, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel or ("Expected count (national case-mix model)" if ratio else "Cases entering the stage"))
    ax.set_ylabel(ylabel if not ratio or ylabel != "Rate" else "Observed / expected")
    od = a["overdispersion"]
    note = {"additive": f"over-dispersion: additive, tau = {np.sqrt(a['tau2']):.3g}",
            "multiplicative": f"over-dispersion: phi = {a['phi']:.2f}", None: "no over-dispersion allowed for"}[od]
    ax.set_title(title or f"Funnel plot ({note})", fontsize="medium")
    ax.legend(loc="upper right", fontsize="x-small")
    return ax
