"""Tests of attrition.pooling: empirical-Bayes beta-binomial partial pooling."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from attrition.exceptions import DataValidationError
from attrition.pooling import (
    caterpillar_plot,
    credible_differences,
    fit_beta_prior,
    pool_proportions,
    posterior_product,
)

RESULTS = Path(__file__).parent / "results"


def _betabin_loglik(a, b, x, n):
    return float(np.sum(special.betaln(a + x, b + n - x) - special.betaln(a, b)))


@pytest.fixture
def overdispersed():
    rng = np.random.default_rng(3)
    n = rng.integers(30, 3000, 43).astype(float)
    p = rng.beta(12, 48, 43)
    x = rng.binomial(n.astype(int), p).astype(float)
    return x, n


def test_prior_is_the_marginal_mle(overdispersed):
    x, n = overdispersed
    prior = fit_beta_prior(x, n)
    assert not prior.at_bound
    # the reported log-likelihood is the beta-binomial one at (a, b)
    assert prior.loglik == pytest.approx(_betabin_loglik(prior.a, prior.b, x, n), rel=1e-12)
    # independent optimiser (Nelder-Mead on log a, log b) finds the same maximum
    res = optimize.minimize(lambda th: -_betabin_loglik(np.exp(th[0]), np.exp(th[1]), x, n),
                            np.log([1.0, 1.0]), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    assert prior.loglik >= -res.fun - 1e-6
    assert prior.a == pytest.approx(np.exp(res.x[0]), rel=1e-3)
    assert prior.b == pytest.approx(np.exp(res.x[1]), rel=1e-3)
    # true generating prior: mean 0.2, kappa 60 -> the estimate is in the right region
    assert prior.mean == pytest.approx(0.2, abs=0.03)
    assert 25 < prior.kappa < 150


def test_posterior_formula(overdispersed):
    x, n = overdispersed
    t = pool_proportions(x, n, alpha=0.1)
    pr = t.attrs["prior"]
    a, b = pr.a + x, pr.b + n - x
    np.testing.assert_allclose(t["pooled"], a / (a + b), rtol=1e-12)
    # the posterior mean is the weighted average of the raw rate and the prior mean
    w = n / (n + pr.kappa)
    np.testing.assert_allclose(t["pooled"], w * x / n + (1 - w) * pr.mean, rtol=1e-10)
    np.testing.assert_allclose(t["weight"], w)
    np.testing.assert_allclose(t["lower 90%"], stats.beta.ppf(0.05, a, b), rtol=1e-10)
    np.testing.assert_allclose(t["upper 90%"], stats.beta.ppf(0.95, a, b), rtol=1e-10)
    np.testing.assert_allclose(t["sd"], stats.beta.std(a, b), rtol=1e-10)


def test_small_group_is_shrunk_toward_the_national_rate():
    rng = np.random.default_rng(0)
    n = np.r_[np.full(42, 5000.0), 40.0]
    x = np.r_[rng.binomial(5000, rng.beta(200, 800, 42)).astype(float), 2.0]  # the small force: 5%, national ~20%
    t = pool_proportions(x, n)
    nat = x.sum() / n.sum()
    small = t.iloc[-1]
    assert small["raw"] == 0.05
    assert abs(small["pooled"] - nat) < 0.5 * abs(small["raw"] - nat)
    # big groups hardly move
    assert np.max(np.abs(t["pooled"].iloc[:-1] - t["raw"].iloc[:-1])) < 0.01


def test_no_overdispersion_gives_full_pooling():
    n = np.full(43, 1000.0)
    x = np.full(43, 300.0)
    pr = fit_beta_prior(x, n)
    assert pr.mean == pytest.approx(0.3, abs=1e-7)
    assert pr.kappa > 1e5
    t = pool_proportions(x, n)
    np.testing.assert_allclose(t["pooled"], 0.3, atol=1e-6)


def test_agrees_with_statsmodels_random_intercept_logistic():
    ref = pd.read_csv(RESULTS / "pooling_statsmodels.csv")
    t = pool_proportions(ref["x"], ref["n"])
    raw = ref["x"] / ref["n"]
    diff = np.abs(t["pooled"].to_numpy() - ref["glmm_posterior_mean"].to_numpy())
    shrink = np.abs(raw - ref["glmm_posterior_mean"]).to_numpy()
    # same shrinkage to within a small fraction of the shrinkage itself
    assert np.corrcoef(t["pooled"], ref["glmm_posterior_mean"])[0, 1] > 0.998
    assert diff.max() < 0.01
    assert diff.mean() < 0.25 * shrink.mean()
    # between-group sd on the logit scale ~ beta prior sd / (mu (1 - mu))
    pr = t.attrs["prior"]
    assert pr.sd / (pr.mean * (1 - pr.mean)) == pytest.approx(ref["glmm_sd_logit"].iloc[0], rel=0.3)


def test_posterior_product_mean_and_interval():
    a = np.array([[30.0, 5.0], [300.0, 50.0]])
    b = np.array([[70.0, 45.0], [700.0, 450.0]])
    mean, sd, lo, hi = posterior_product(a, b, n_draws=20_000, random_state=1)
    np.testing.assert_allclose(mean, [0.3 * 0.1, 0.3 * 0.1])
    assert np.all(lo < mean) and np.all(mean < hi)
    # exact product variance: E[X^2]E[Y^2] - (E X E Y)^2
    ex2 = lambda a_, b_: a_ * (a_ + 1) / ((a_ + b_) * (a_ + b_ + 1))  # noqa: E731
    var = ex2(a[:, 0], b[:, 0]) * ex2(a[:, 1], b[:, 1]) - mean**2
    np.testing.assert_allclose(sd, np.sqrt(var), rtol=0.03)
    again = posterior_product(a, b, n_draws=20_000, random_state=1)
    np.testing.assert_array_equal(lo, again[2])


def test_credible_differences_and_plot():
    rng = np.random.default_rng(2)
    n = np.full(20, 2000.0)
    x = rng.binomial(2000, np.r_[np.full(18, 0.2), 0.1, 0.3]).astype(float)
    t = pool_proportions(x, n, labels=[f"F{i}" for i in range(20)])
    d = credible_differences(t, national=0.2)
    assert {"F18", "F19"} <= set(d.index)
    assert d.loc["F18", "direction"] == "lower" and d.loc["F19", "direction"] == "higher"
    assert (d["n"] == 2000).all()
    ax = caterpillar_plot(t, national=0.2)
    assert len(ax.get_yticklabels()) == 20
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("x,n", [([1, -1], [5, 5]), ([6, 1], [5, 5]), ([np.nan, 1], [5, 5]), ([0, 0], [0, 0])])
def test_bad_counts(x, n):
    with pytest.raises(DataValidationError):
        pool_proportions(x, n)


def test_caterpillar_plot_withholds_raw_rates_of_named_groups():
    import matplotlib.pyplot as plt

    from attrition.pooling import caterpillar_plot, pool_proportions

    pooled = pool_proportions([6, 40, 60, 80], [46, 400, 500, 700], labels=["tiny", "b", "c", "d"])
    ax = caterpillar_plot(pooled, withhold=["tiny", "c"])
    raw_line = next(line for line in ax.lines if line.get_label().startswith("Raw rate"))
    shown = dict(zip(pooled.sort_values("pooled", kind="mergesort").index, raw_line.get_xdata()))
    assert np.isnan(shown["tiny"]) and np.isnan(shown["c"])
    assert shown["b"] == pytest.approx(0.1) and shown["d"] == pytest.approx(80 / 700)
    assert raw_line.get_label() == "Raw rate (withheld where a count is under 10)"
    plt.close(ax.figure)


def test_caterpillar_plot_labels_n_and_marks_credible_differences():
    import matplotlib.pyplot as plt

    from attrition.pooling import caterpillar_plot, pool_proportions

    pooled = pool_proportions([2, 40, 60, 400], [8, 400, 500, 1000], labels=["tiny", "b", "c", "high"])
    ax = caterpillar_plot(pooled, national=0.12)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    order = list(pooled.sort_values("pooled", kind="mergesort").index)
    assert labels == [f"{g} (n = {n})" for g, n in zip(order, ["[c]" if g == "tiny" else f"{int(pooled.loc[g, 'n']):,}"
                                                             for g in order])]
    marks = next(line for line in ax.lines if line.get_label().startswith("Differs credibly"))
    lo, hi = pooled["lower 95%"], pooled["upper 95%"]
    expected = sorted(pooled.loc[(lo > 0.12) | (hi < 0.12), "pooled"])
    assert sorted(marks.get_xdata()) == pytest.approx(expected) and len(expected) >= 1  # "high" (40%) at least
    plt.close(ax.figure)
