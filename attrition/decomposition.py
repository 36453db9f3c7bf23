r"""Order-invariant attribution of the funnel's loss to its stages: exact Shapley values over stages.

The end-to-end probability that a report ends in a conviction is the product of the stage conversion
probabilities, :math:`P = \prod_k p_k`. Which stage "causes" how much of the loss :math:`1 - P` depends on
the order in which the stages are imagined fixed (the stage-order accounting of
:meth:`attrition.funnel.FunnelFitter.decompose` counts a stage's exits in full only because every later
stage is treated as already perfect). The Shapley value averages a stage's marginal contribution over every
order, so it is order-invariant and the stage values add up exactly to the total change.

**Value function.** For a set :math:`S` of stages, :math:`v(S) = \prod_{k \in S} b_k \prod_{k \notin S} p_k`:
the end-to-end conviction probability when the stages in :math:`S` convert at their benchmark rate
:math:`b_k` and every other stage at its observed rate (the others are *held fixed* at the observed
values). With the benchmark "perfect conversion" (:math:`b_k = 1`) the total change
:math:`v(\text{all}) - v(\emptyset) = 1 - P` is the whole loss; with a benchmark such as the best quartile
of forces it is the gap to that benchmark.

Three attributions of the same total, side by side (:func:`stage_attributions`):

* ``one_at_a_time`` — :math:`v(\{k\}) - v(\emptyset) = (b_k - p_k)\prod_{j\ne k}p_j`, the convictions the
  counterfactual "only stage :math:`k` at its benchmark, every other stage at its observed rate" recovers.
  These do not add up to the total (stages interact multiplicatively).
* ``sequential`` — the stage-order accounting: stages set to the benchmark one after another from the
  last to the first, :math:`\prod_{j<k}p_j\,(b_k-p_k)\prod_{j>k}b_j`. With the perfect benchmark this is
  the probability of a report leaving at stage :math:`k` (:meth:`~attrition.funnel.FunnelFitter.decompose`).
  It adds up to the total but depends on the order.
* ``shapley`` — the average over all :math:`K!` orders, computed exactly over the :math:`2^K` subsets
  (vectorised; :math:`K \le 12`).

References
----------
Shapley, L. S. (1953). A value for n-person games. In *Contributions to the Theory of Games II*,
Annals of Mathematics Studies 28, 307-317.
Shorrocks, A. F. (2013). Decomposition procedures for distributional analysis: a unified framework based
on the Shapley value. *Journal of Economic Inequality* 11, 99-126.
Owen, G. (1977). Values of games with a priori unions. In *Mathematical Economics and Game Theory*,
Springer, 76-88 (stage values split over exit reasons).
"""
from __future__ import annotations

from math import factorial

import numpy as np

__all__ = ["shapley_values", "stage_attributions", "MAX_STAGES"]

#: Largest number of stages for the exact Shapley value (2^K subsets).
MAX_STAGES = 12


def _as_2d(x, name):
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (K,) or (G, K), got {a.shape}")
    return a


def _subsets(K):
    """(2^K, K) bool membership of every subset, and the Shapley weight of a subset of each size."""
    masks = np.arange(2**K)
    member = ((masks[:, None] >> np.arange(K)[None, :]) & 1).astype(bool)
    size = member.sum(axis=1)
    w = np.array([factorial(s) * factorial(K - s - 1) / factorial(K) if s < K else 0.0 for s in range(K + 1)])
    return masks, member, size, w


def shapley_values(rates, benchmark, *, gradient: bool = False):
    r"""Exact Shapley values of the stages for the product value function.

    Parameters
    ----------
    rates : array-like, shape (K,) or (G, K)
        Observed conversion probabilities :math:`p_k` of the ``K`` stages (one row per group).
    benchmark : array-like, shape (K,) or (G, K)
        Benchmark conversion probabilities :math:`b_k` (1 = perfect conversion).
    gradient : bool, default False
        Also return the derivatives of each Shapley value with respect to each observed rate (for the
        delta-method variance).

    Returns
    -------
    phi : ndarray, shape (G, K)
        :math:`\phi_k = \sum_{S \not\ni k} \frac{|S|!(K-|S|-1)!}{K!}[v(S\cup\{k\}) - v(S)]` with
        :math:`v(S) = \prod_{j\in S} b_j \prod_{j\notin S} p_j`. Per row, :math:`\sum_k \phi_k =
        \prod_k b_k - \prod_k p_k` exactly.
    dphi : ndarray, shape (G, K, K)
        Only with ``gradient=True``: ``dphi[g, k, j]`` = :math:`\partial\phi_k/\partial p_j`.

    Raises
    ------
    ValueError
        Shapes differ, more than :data:`MAX_STAGES` stages, or non-finite rates.

    Examples
    --------
    >>> shapley_values([0.5, 0.2], [1.0, 1.0]).round(3).tolist()
    [[0.3, 0.6]]
    """
    p = _as_2d(rates, "rates")
    b = _as_2d(benchmark, "benchmark")
    p, b = np.broadcast_arrays(p, b)
    K = p.shape[1]
    if K > MAX_STAGES:
        raise ValueError(f"the exact Shapley value needs 2^K subsets; K = {K} > {MAX_STAGES}")
    if not (np.isfinite(p).all() and np.isfinite(b).all()):
        raise ValueError("rates and benchmark must be finite (a stage nobody entered has no rate)")
    masks, member, size, w = _subsets(K)
    X = np.where(member[None, :, :], b[:, None, :], p[:, None, :])  # (G, 2^K, K): each stage's rate in S
    V = X.prod(axis=2)  # (G, 2^K)
    bit = 1 << np.arange(K)
    without = ~member  # (2^K, K): subsets S that do not contain k
    with_k = masks[:, None] | bit[None, :]  # S u {k}
    wt = np.where(without, w[size][:, None], 0.0)  # (2^K, K)
    phi = (wt[None] * (V[:, with_k] - V[:, masks][:, :, None])).sum(axis=1)
    if not gradient:
        return phi
    # d v(S) / d p_j = prod of the other stages' rates in S, if j is not in S (at its observed rate); else 0
    eye = np.eye(K, dtype=bool)
    others = np.where(eye[None, None, :, :], 1.0, X[:, :, None, :]).prod(axis=3)  # (G, 2^K, K_j)
    dV = np.where(member[None], 0.0, others)  # (G, 2^K, K_j)
    diff = dV[:, with_k, :] - dV[:, masks, :][:, :, None, :]  # (G, 2^K, K_k, K_j)
    dphi = (wt[None, :, :, None] * diff).sum(axis=1)
    return phi, dphi


def stage_attributions(rates, benchmark, se=None):
    """Shapley, sequential and one-at-a-time attributions of the change to the benchmark, with delta-method se.

    Parameters
    ----------
    rates, benchmark : array-like, shape (K,) or (G, K)
        Observed and benchmark conversion probabilities.
    se : array-like, shape (K,) or (G, K), optional
        Standard errors of the observed rates (independent across stages: they are estimated on
        nested but conditionally independent sets of cases); the benchmark is treated as fixed.

    Returns
    -------
    dict of ndarray, each shape (G, K)
        ``shapley``, ``sequential``, ``one_at_a_time`` and, with ``se``, ``shapley_se``,
        ``sequential_se``, ``one_at_a_time_se``; plus ``total`` (G,) = :math:`\\prod b - \\prod p`.

    Notes
    -----
    Delta method: :math:`\\operatorname{var}\\hat\\phi_k = \\sum_j (\\partial\\phi_k/\\partial p_j)^2 se_j^2`,
    with the analytic derivatives of the multilinear value function.
    """
    p = _as_2d(rates, "rates")
    b = _as_2d(benchmark, "benchmark")
    p, b = np.broadcast_arrays(p, b)
    G, K = p.shape
    phi, dphi = shapley_values(p, b, gradient=True)
    eye = np.eye(K, dtype=bool)
    # one at a time: (b_k - p_k) prod_{j != k} p_j
    prod_others = np.where(eye[None], 1.0, p[:, None, :]).prod(axis=2)  # (G, K)
    one = (b - p) * prod_others
    # sequential, last stage first: prod_{j<k} p_j (b_k - p_k) prod_{j>k} b_j
    lower = np.tril(np.ones((K, K), bool), -1)  # [k, j]: j < k
    upper = np.triu(np.ones((K, K), bool), 1)  # j > k
    before = np.where(lower[None], p[:, None, :], 1.0).prod(axis=2)
    after = np.where(upper[None], b[:, None, :], 1.0).prod(axis=2)
    seq = before * (b - p) * after
    out = {"shapley": phi, "sequential": seq, "one_at_a_time": one, "total": b.prod(axis=1) - p.prod(axis=1)}
    if se is not None:
        s = np.broadcast_to(_as_2d(se, "se"), p.shape)
        s2 = np.nan_to_num(s) ** 2
        out["shapley_se"] = np.sqrt((dphi**2 * s2[:, None, :]).sum(axis=2))
        # one at a time: d/dp_k = -prod_others; d/dp_j (j != k) = (b_k - p_k) prod_{i != k, j} p_i
        pair = np.where((eye[:, None, :] | eye[None, :, :])[None], 1.0, p[:, None, None, :]).prod(axis=3)  # [k, j]: i != k, j
        d_one = np.where(eye[None], -prod_others[:, :, None], (b - p)[:, :, None] * pair)
        out["one_at_a_time_se"] = np.sqrt((d_one**2 * s2[:, None, :]).sum(axis=2))
        # sequential: d/dp_k = -before*after; d/dp_j (j < k) = seq / p_j (product rule on before)
        pair_before = np.where((eye[None, :, :] | ~lower[:, None, :])[None], 1.0,
                               p[:, None, None, :]).prod(axis=3)  # [k, j]: prod_{i<k, i != j} p_i
        d_seq = np.where(eye[None], -(before * after)[:, :, None],
                         np.where(lower[None], pair_before * ((b - p) * after)[:, :, None], 0.0))
        out["sequential_se"] = np.sqrt((d_seq**2 * s2[:, None, :]).sum(axis=2))
    return out
