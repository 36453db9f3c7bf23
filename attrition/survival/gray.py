"""Gray's K-sample test for equality of cumulative incidence functions."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ..exceptions import DataValidationError
from .cif import _check_inputs, _event_codes, _split_groups, _time_index

__all__ = ["gray_test"]


def _gray_one(x, T, codes, cause, g, G, w):
    """Score vector and covariance for one cause. x: time index (n,), g: group code (n,)."""
    m = np.where(codes == cause, 1, np.where(codes > 0, 2, 0))
    cnt = np.bincount((x * G + g) * 3 + m, weights=w, minlength=T * G * 3).reshape(T, G, 3).astype(float)
    n_at = cnt.sum(axis=2)
    rs = n_at[::-1].cumsum(axis=0)[::-1]  # number with time >= t, per group
    d1, d2 = cnt[:, :, 1], cnt[:, :, 2]
    keep = (d1 + d2).sum(axis=1) > 0
    if not keep.any():  # no event of any cause (in this stratum): no contribution
        return None
    rs, d1, d2 = rs[keep], d1[keep], d2[keep]
    risk = rs > 0
    safe_rs = np.where(risk, rs, 1.0)
    # per-group Kaplan-Meier (all causes) and cause-specific CIF, left (…m) and right limits
    skm = np.cumprod(np.where(risk, 1 - (d1 + d2) / safe_rs, 1.0), axis=0)
    skmm = np.vstack([np.ones((1, G)), skm[:-1]])
    f1 = np.cumsum(np.where(risk, skmm * d1 / safe_rs, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, G)), f1[:-1]])
    t1 = np.where(risk, safe_rs / np.where(skmm > 0, skmm, 1.0), 0.0)  # R_k/S_k(t-)
    tr = t1.sum(axis=1)
    tq = (t1 * (1 - f1m)).sum(axis=1)
    nd1 = d1.sum(axis=1)
    # pooled CIF-type quantity F(t) (the denominator hazard in Gray's weight)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate(([0.0], f[:-1]))
    return dict(rs=rs, d1=d1, d2=d2, risk=risk, skm=skm, skmm=skmm, f1m=f1m, t1=t1, tr=tr, tq=tq, nd1=nd1,
                f=f, fm=fm)


def _gray_stat(q, rho, G):
    rs, d1, d2, risk, skm, skmm = q["rs"], q["d1"], q["d2"], q["risk"], q["skm"], q["skmm"]
    f1m, t1, tr, tq, nd1, f, fm = q["f1m"], q["t1"], q["tr"], q["tq"], q["nd1"], q["f"], q["fm"]
    fb = (1 - fm) ** rho
    # a_t = fb (diag(t1) - t1 t1' / tr): the weight matrix of the score at time t
    a = -fb[:, None, None] * t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    idx = np.arange(G)
    a[:, idx, idx] += fb[:, None] * t1
    one_fm = 1 - fm
    scale = np.divide(nd1, tr * one_fm, out=np.zeros_like(nd1), where=one_fm > 0)
    c = np.cumsum(a * scale[:, None, None], axis=0)  # running sum, used at its current value
    # score (all G groups; the test uses G-1 of them)
    ratio = np.divide(rs * (1 - f1m), np.where(skmm > 0, skmm, 1.0) * tq[:, None], out=np.zeros_like(rs),
                      where=risk)
    score = (fb[:, None] * (d1 - nd1[:, None] * ratio) * risk).sum(axis=0)
    # variance contributions of cause-of-interest events
    t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 1.0)
    denom = tr[:, None] * skmm - 1
    t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / np.where(denom != 0, denom, 1.0), 1.0)
    t3 = np.where(risk & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * np.where(risk, rs, 1.0)), 0.0)
    B = a - t4[:, None, :] * c  # (t, i, k)
    V = np.einsum("tik,tjk,tk->ij", B, B, t3)
    v3 = (t4 * t4 * t3).sum(axis=0)
    v2 = np.einsum("tik,tk->ik", B, t4 * t3)
    # variance contributions of competing-cause events
    ok2 = (skm > 0) & (d2 > 0)
    u4 = np.where(ok2, (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
    rs1 = np.where(rs > 1, rs - 1, 1.0)
    u5 = np.where(d2 > 1, 1 - (d2 - 1) / rs1, 1.0)
    u3 = np.where(ok2, u5 * skmm**2 * d2 / np.where(risk, rs, 1.0) ** 2, 0.0)
    v3 += (u4 * u4 * u3).sum(axis=0)
    v2 -= np.einsum("tik,tk->ik", c, u4 * u4 * u3)
    V += np.einsum("tik,tjk,tk->ij", c, c, u4 * u4 * u3)
    cT = c[-1]
    V += (cT * v3[None, :]) @ cT.T + cT @ v2.T + v2 @ cT.T
    return score, V


def gray_test(
    durations,
    events,
    groups,
    *,
    cause=None,
    weights=None,
    rho: float = 0.0,
    censor_code=0,
    strata=None,
    timefix=True,
) -> pd.DataFrame:
    r"""Gray's K-sample test that the cumulative incidence of a cause is equal across groups.

    Parameters
    ----------
    durations : array-like, shape (n,)
        Exit times, ``>= 0``.
    events : array-like, shape (n,)
        ``censor_code`` for censored rows, otherwise the cause (int or str).
    groups : array-like, shape (n,)
        Group of each row (at least two groups).
    cause : scalar or sequence, optional
        Cause(s) to test; default every observed cause.
    weights : array-like, shape (n,), optional
        Non-negative *frequency* weights (counts of identical rows; need not be integers, but the
        test is only calibrated for counts). Results equal those on the expanded rows exactly.
    rho : float, default 0
        Power of the weight function :math:`(1-\hat F(t-))^\rho` (``rho=0``: log-rank-type).
    censor_code : int or str, default 0
    strata : array-like, shape (n,), optional
        Stratification (R ``cmprsk::cuminc(strata=)``): the score vectors and their variances are
        computed within each stratum and summed before forming the statistic, so groups are compared
        within strata.
    timefix : bool or float, default True
        Merge near-tied times first, by R ``survival::aeqSurv``'s rule (see
        :func:`~attrition.survival.cumulative_incidence`). ``cmprsk`` itself does not merge them: the
        result equals ``cuminc`` on the merged times. Integer days are unaffected.

    Returns
    -------
    pandas.DataFrame
        One row per cause: ``cause``, ``statistic``, ``df`` (groups − 1), ``p_value``. With no event
        at all (every row censored) and ``cause`` not given, no rows (but these columns).

    Raises
    ------
    DataValidationError
        As :func:`cumulative_incidence`; also fewer than two groups, or an unknown ``cause``.

    Notes
    -----
    The score compares each group's subdistribution hazard with the pooled one; the statistic
    :math:`s^\top V^{-1}s` is asymptotically :math:`\chi^2_{K-1}`. The variance estimator is
    Gray's (1988), as implemented in R ``cmprsk::cuminc`` (``$Tests``), which this function
    reproduces (with ``strata``: ``cuminc(strata=)``). Only counts per distinct time and group enter, so all work after
    one pass over the rows is O(T·K²).

    References
    ----------
    Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. *Annals of Statistics* 16, 1141–1154.
    """
    t, w, _ = _check_inputs(durations, events, weights, None, timefix)
    n = t.shape[0]
    codes, cause_list = _event_codes(events, n, None, censor_code)
    grp = _split_groups(groups, n)
    if grp is None:
        raise DataValidationError("groups is required")
    gcodes, glabels = grp
    G = len(glabels)
    if G < 2:
        raise DataValidationError(f"gray_test needs at least two groups; groups has only {glabels!r}")
    if cause is None:
        wanted = cause_list
    else:
        wanted = list(cause) if isinstance(cause, (list, tuple, np.ndarray, pd.Index)) else [cause]
        missing = [c for c in wanted if c not in cause_list]
        if missing:
            raise DataValidationError(f"cause {missing!r} does not occur in events; observed causes: {cause_list!r}")
    if strata is None:
        jobs = [slice(None)]
    else:
        st = _split_groups(strata, n)
        if st is None:
            raise DataValidationError("strata must be array-like")
        scodes, slabels = st
        order = np.argsort(scodes, kind="stable")
        bounds = np.searchsorted(scodes[order], np.arange(len(slabels) + 1))
        jobs = [order[bounds[j]:bounds[j + 1]] for j in range(len(slabels))]
    indexed = []
    for idx in jobs:  # loop over strata, not rows
        ts = t[idx]
        grid, x, raw = _time_index(ts)
        if x is None:
            off, R = raw
            present = np.bincount(off, minlength=R) > 0
            x = (np.cumsum(present) - 1)[off]
            T = int(present.sum())
        else:
            T = grid.shape[0]
        indexed.append((x, T, codes[idx], gcodes[idx], None if w is None else w[idx]))
    rows = []
    for cz in wanted:
        k = cause_list.index(cz) + 1
        score = np.zeros(G)
        V = np.zeros((G, G))
        for x, T, cs, gs, ws in indexed:
            q = _gray_one(x, T, cs, k, gs, G, ws)
            if q is None:
                continue
            sc, Vk = _gray_stat(q, rho, G)
            score += sc
            V += Vk
        s, Vs = score[: G - 1], V[: G - 1, : G - 1]
        try:
            stat = float(s @ linalg.solve(Vs, s, assume_a="sym"))
        except (linalg.LinAlgError, ValueError):
            stat = float(s @ np.linalg.pinv(Vs) @ s)
        df = G - 1
        rows.append({"cause": cz, "statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))})
    return pd.DataFrame(rows, columns=["cause", "statistic", "df", "p_value"])
