"""Multi-state Aalen–Johansen estimator for an arbitrary transition structure.

A case's journey (reported -> suspect identified -> charged -> convicted, with exits from each
stage) is stored as one row per sojourn on ``(start, stop]``. The estimator is exact on tied daily
times (R ``survival`` order: transitions, then censorings, then entries), deterministic, and costs
O(n + T·S²) memory with the Greenwood-type variance (never T × T).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..base import BaseFitter
from ..exceptions import DataValidationError
from ._ties import aeq_times
from .cif import _as_float_array, _loglog_ci, _time_index

__all__ = ["MultiStateFitter"]


def _parse_transitions(transitions):
    if isinstance(transitions, pd.DataFrame):
        states = list(dict.fromkeys(list(transitions.index) + list(transitions.columns)))
        allowed = np.zeros((len(states), len(states)), dtype=bool)
        for a in transitions.index:
            for b in transitions.columns:
                v = transitions.loc[a, b]
                if bool(v):
                    allowed[states.index(a), states.index(b)] = True
    else:
        pairs = list(transitions)
        if not pairs:
            raise ValueError("transitions is empty: give (from, to) pairs such as [('reported', 'charged')]")
        for p in pairs:
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                raise ValueError(f"each transition must be a (from, to) pair, got {p!r}")
        states = list(dict.fromkeys([s for p in pairs for s in p]))
        allowed = np.zeros((len(states), len(states)), dtype=bool)
        for a, b in pairs:
            allowed[states.index(a), states.index(b)] = True
    if np.any(np.diag(allowed)):
        s = states[int(np.flatnonzero(np.diag(allowed))[0])]
        raise ValueError(f"transition {s!r} -> {s!r} (to itself) is not a transition; remove it")
    if not allowed.any():
        raise ValueError("the transition matrix allows no transitions")
    return states, allowed


def _ij_variance(times, A, dA, pm, Y, t0, t1, fr, to, cens, w, ids, weight_type="frequency"):
    """Infinitesimal-jackknife variance of the Aalen--Johansen occupation probabilities (R ``survfit`` with
    ``id``): ``Var p(t) = sum_i omega_i U_i(t)^2`` with ``U_i = dp(t)/dw_i`` summed over the rows of case ``i``.

    The influence of every case follows ``U(t) = U(t-) (I + dA(t)) + p(t-) dA'_i(t)``; a case at risk in
    state ``h`` at a transition time receives ``-p_h(t-)/Y_h(t) dA_h.(t)``, the same for every case at risk
    in ``h``, plus ``p_h(t-)/Y_h(t) (e_j - e_h)`` if it moves ``h -> j``. Cases that entered their current
    sojourn at the same transition-time index in the same state (a *cohort*) therefore share everything but
    the influence they brought with them; the sums over cases of ``U U'`` are carried per cohort as
    first and second moments propagated by the product of ``I + dA`` since the cohort's entry, so the cost is
    O(n S + T C S^3) with C <= T S cohorts alive, never n x T. Returns ``var`` (T + 1, S).
    """
    Te, S = pm.shape
    n = t1.shape[0]
    a = np.searchsorted(times, t0, side="right") - 1  # last transition time <= start (-1: none)
    b = np.searchsorted(times, t1, side="right") - 1  # last transition time <= stop
    codes, _ = pd.factorize(pd.Series(ids))
    order = np.lexsort((t0, codes))
    same = codes[order][1:] == codes[order][:-1]
    nxt = np.full(n, -1)
    nxt[order[:-1][same]] = order[1:][same]
    has_next = nxt >= 0
    if np.any(t0[nxt[has_next]] != t1[has_next]):
        i = int(np.flatnonzero(has_next & (t0[np.maximum(nxt, 0)] != t1))[0])
        raise DataValidationError(
            f"variance='ij' needs each case's sojourns back to back (start of a row = stop of the previous); case "
            f"{ids[i]!r} has a gap or overlap after stop={t1[i]!r}"
        )
    first = np.ones(n, dtype=bool)
    first[nxt[has_next]] = False
    wv = np.ones(n) if w is None else np.asarray(w, float)
    if weight_type == "frequency":
        if np.any(wv[nxt[has_next]] != wv[has_next]):
            raise DataValidationError("variance='ij' with frequency weights needs one weight per case (id_col)")
        omega, scale = wv, np.ones(n)
    else:
        omega, scale = np.ones(n), wv
    # transition term of each row at its stop: p_h(t-)/Y_h (e_to - e_h)
    idxS = np.arange(S)
    cap = (Te + 1) * S
    P = np.zeros((cap, S, S))
    Qa = np.zeros((cap, S))
    hc = np.tile(idxS, Te + 1)  # state of each cohort
    n2 = np.zeros(cap)
    m1 = np.zeros((cap, S))
    M2 = np.zeros((cap, S, S))
    alive = np.zeros(cap, dtype=bool)
    u_prev = np.zeros((n, S))
    Q = np.zeros((S, S))
    Mdone = np.zeros((S, S))
    var = np.zeros((Te + 1, S))
    row_cohort = np.full(n, -1)
    by_b = np.argsort(b, kind="stable")
    b_bounds = np.searchsorted(b[by_b], np.arange(-1, Te + 1))
    first_rows = np.flatnonzero(first)
    fa = a[first_rows]
    fo = np.argsort(fa, kind="stable")
    f_bounds = np.searchsorted(fa[fo], np.arange(-1, Te + 1))

    def join(rows, k, u):
        """rows (a == k) start a sojourn with influence u; rows with b == k pass straight through."""
        while rows.size:
            passing = b[rows] == k
            stay = rows[~passing]
            if stay.size:
                c = (k + 1) * S + fr[stay]
                u_prev[stay] = u[~passing]
                row_cohort[stay] = c
                new = c[~alive[c]]
                if new.size:
                    new = np.unique(new)
                    P[new] = np.eye(S)
                    Qa[new] = 0.0 if k < 0 else Q[hc[new]]
                    alive[new] = True
                    n2[new] = 0.0
                    m1[new] = 0.0
                    M2[new] = 0.0
                om, sc, us = omega[stay], scale[stay], u[~passing]
                np.add.at(n2, c, om * sc * sc)
                np.add.at(m1, c, (om * sc)[:, None] * us)
                np.add.at(M2, c, om[:, None, None] * us[:, :, None] * us[:, None, :])
            pr, up = rows[passing], u[passing]  # never at risk at a transition time: influence unchanged
            done = ~has_next[pr]
            if done.any():
                ud, od = up[done], omega[pr[done]]
                Mdone[:] += np.einsum("r,ri,rj->ij", od, ud, ud)
            rows, u = nxt[pr[~done]], up[~done]

    j0 = f_bounds[0], f_bounds[1]
    join(first_rows[fo[j0[0]:j0[1]]], -1, np.zeros((j0[1] - j0[0], S)))
    for k in range(Te):  # loop over transition times (not rows)
        Ak = A[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(Y[k] > 0, pm[k] / np.where(Y[k] > 0, Y[k], 1.0), 0.0)
        Q = Q @ Ak - f[:, None] * dA[k]
        Mdone = Ak.T @ Mdone @ Ak
        act = np.flatnonzero(alive)
        P[act] = P[act] @ Ak
        # exits at k (rows at risk until k)
        ex = by_b[b_bounds[k + 1]:b_bounds[k + 2]]
        ex = ex[a[ex] < k]
        if ex.size:
            c = row_cohort[ex]
            D = Q[hc[c]] - np.einsum("ri,rij->rj", Qa[c], P[c])
            sc = scale[ex]
            u_new = np.einsum("ri,rij->rj", u_prev[ex], P[c]) + sc[:, None] * D
            tr = ~cens[ex]
            if tr.any():
                rt = ex[tr]
                amt = sc[tr] * f[fr[rt]]
                u_new[np.flatnonzero(tr), to[rt]] += amt
                u_new[np.flatnonzero(tr), fr[rt]] -= amt
            om, up = omega[ex], u_prev[ex]
            np.add.at(n2, c, -om * sc * sc)
            np.add.at(m1, c, -(om * sc)[:, None] * up)
            np.add.at(M2, c, -om[:, None, None] * up[:, :, None] * up[:, None, :])
            done = ~has_next[ex]
            if done.any():
                ud = u_new[done]
                Mdone += np.einsum("r,ri,rj->ij", om[done], ud, ud)
            cont = ~done
            if cont.any():
                join(nxt[ex[cont]], k, u_new[cont])
        fr_k = first_rows[fo[f_bounds[k + 1]:f_bounds[k + 2]]]
        if fr_k.size:
            join(fr_k, k, np.zeros((fr_k.size, S)))
        act = np.flatnonzero(alive)
        Pc = P[act]
        Dc = Q[hc[act]] - np.einsum("ci,cij->cj", Qa[act], Pc)
        v = np.einsum("cik,cij,cjk->k", Pc, M2[act], Pc)
        v += 2 * np.einsum("cij,ci,cj->j", Pc, m1[act], Dc)
        v += np.einsum("c,cj->j", n2[act], Dc * Dc)
        var[k + 1] = np.diag(Mdone) + v
        # cohorts whose members all left stay alive harmlessly (their moments are 0); retire them
        emptied = act[(n2[act] == 0) & ~np.any(m1[act] != 0, axis=1) & (np.abs(M2[act]).sum(axis=(1, 2)) == 0)]
        alive[emptied] = False
    var[var < 0] = 0.0
    return var


class MultiStateFitter(BaseFitter):
    r"""Aalen–Johansen state occupation probabilities for a Markov multi-state model.

    Parameters
    ----------
    transitions : list of (from, to) pairs or boolean pandas.DataFrame
        Allowed transitions. With a DataFrame, ``index`` = from-states, ``columns`` = to-states,
        ``True`` where the transition is allowed. States with no outgoing transition are absorbing.
    alpha : float, default 0.05
        Pointwise ``1 - alpha`` confidence intervals.

    Attributes
    ----------
    states_ : list
        State names (order of first appearance in ``transitions``).
    absorbing_ : list
        Absorbing states.
    start_state_ : object
        State the occupation probabilities start from.
    transition_hazards_ : pandas.DataFrame
        One row per (allowed transition, time with at least one such transition): ``time``, ``from``,
        ``to``, ``hazard`` (Nelson–Aalen increment :math:`dN_{hj}/Y_h`), ``cumulative_hazard``,
        ``se`` (of the cumulative hazard: the Aalen-type :math:`\sqrt{\sum dN_{hj}/Y_h^2}`, R
        ``survfit``'s ``std.chaz``), ``n_at_risk`` (weighted, in ``from`` just before ``time``),
        ``n_events`` (weighted). With ``groups``, a ``group`` column first.
    state_occupation_ : pandas.DataFrame
        ``time``, ``state``, ``probability``, ``se``, ``lower xx%``, ``upper xx%`` at every time with
        at least one transition (plus the time origin), for each state.

    Notes
    -----
    The Aalen–Johansen estimator :math:`\hat P(0,t)=\prod_{u\le t}(I+d\hat A(u))` with
    Nelson–Aalen increments :math:`d\hat A_{hj}(u)=dN_{hj}(u)/Y_h(u)`; occupation probabilities are
    row ``start_state`` of :math:`\hat P`. Sojourns are left-truncated at ``start``: a row is at risk
    on ``(start, stop]``, which also handles delayed entry. Frequency weights multiply the counts,
    so a weight-``w`` row equals ``w`` identical rows exactly.

    **Variance**: the Greenwood-type estimator of Andersen, Borgan, Gill & Keiding (1993, eq.
    (IV.4.19)), as in R ``etm``: the rows of :math:`d\hat A(u)` have multinomial covariances and
    :math:`\widehat{\mathrm{Var}}\,p(t)=(I+d\hat A)^\top\widehat{\mathrm{Var}}\,p(t-)(I+d\hat A)+\Sigma(t)`,
    computed for the start-state row only: O(T·S³) time, O(T·S²) memory. The restricted mean time
    in state (``expected_time_in_state``) uses the same recursion augmented with the integral.
    Greenwood-type variances assume the Markov property; R ``survfit``'s infinitesimal jackknife
    is the robust alternative (used by :func:`~attrition.survival.cumulative_incidence`).

    **Confidence intervals**: log(−log) transform, inside (0, 1).

    References
    ----------
    Aalen, O. O. & Johansen, S. (1978). An empirical transition matrix for non-homogeneous Markov
    chains based on censored observations. *Scand. J. Statist.* 5, 141–150.
    Andersen, P. K., Borgan, Ø., Gill, R. D. & Keiding, N. (1993). *Statistical Models Based on
    Counting Processes*. Springer, section IV.4.
    Allignol, A., Schumacher, M. & Beyersmann, J. (2011). Empirical transition matrix of multi-state
    models: the etm package. *J. Statist. Software* 38(4).

    Examples
    --------
    >>> import pandas as pd
    >>> from attrition.survival import MultiStateFitter
    >>> d = pd.DataFrame({"case_id": [1, 1, 2, 3], "start": [0, 5, 0, 0], "stop": [5, 9, 4, 7],
    ...                   "from_state": ["reported", "charged", "reported", "reported"],
    ...                   "to_state": ["charged", "convicted", "nfa", None]})
    >>> m = MultiStateFitter([("reported", "charged"), ("reported", "nfa"), ("charged", "convicted")])
    >>> m.fit(d).state_occupation_.query("time == 9")["probability"].round(3).tolist()
    [0.333, 0.0, 0.333, 0.333]
    """

    def __init__(self, transitions, alpha: float = 0.05):
        super().__init__(alpha)
        self._groups = None
        self.transitions = transitions
        self.states_, self.allowed_ = _parse_transitions(transitions)
        self.absorbing_ = [s for i, s in enumerate(self.states_) if not self.allowed_[i].any()]

    # ------------------------------------------------------------------------------------------
    def fit(
        self,
        data: pd.DataFrame,
        *,
        id_col: str = "case_id",
        start: str = "start",
        stop: str = "stop",
        from_state: str = "from_state",
        to_state: str = "to_state",
        weights=None,
        start_state=None,
        timefix=True,
        groups=None,
        variance: str = "greenwood",
        weight_type: str = "frequency",
    ) -> "MultiStateFitter":
        r"""Fit on a long start/stop table (one row per sojourn).

        Parameters
        ----------
        data : pandas.DataFrame, shape (n_rows, ...)
            One row per sojourn: the case ``id_col`` occupied ``from_state`` on ``(start, stop]``
            and moved to ``to_state`` at ``stop`` (missing = censored at ``stop``).
        id_col, start, stop, from_state, to_state : str
            Column names.
        weights : str or array-like, shape (n_rows,), optional
            Column name or values of non-negative frequency weights.
        start_state : optional
            State the occupation probabilities start from. Default: the single state occupied at
            the start of every case's first row (an error if there are several).
        timefix : bool or float, default True
            Merge near-tied ``start``/``stop`` times first (R ``survival::aeqSurv``'s rule, as
            ``survfit(timefix = TRUE)``; see :func:`~attrition.survival.cumulative_incidence`).
            Integer days are unaffected.
        groups : str or array-like, shape (n_rows,), optional
            Column name or values: estimate separately within each group (R ``survfit(... ~ group)``);
            every output gets a ``group`` column first. A case's rows must share one group.
        variance : {"greenwood", "ij"}, default "greenwood"
            ``"greenwood"``: the Greenwood-type (Markov) estimator of etm (see Notes). ``"ij"``: the
            infinitesimal jackknife of R ``survfit(..., id=)``, each case (``id_col``) one cluster, robust
            to non-Markov data and, with ``weight_type="sampling"``, free of the scale of the weights.
        weight_type : {"frequency", "sampling"}, default "frequency"
            With ``variance="ij"``: ``"frequency"``, a row of weight ``w`` is ``w`` identical cases
            (:math:`\sum_i w_i U_i^2`); ``"sampling"``, weights are survey / inverse-probability weights
            (:math:`\sum_i (w_i U_i)^2`, what R ``survfit(weights=)`` reports).

        Returns
        -------
        self

        Raises
        ------
        DataValidationError
            Missing columns, unknown states, transitions not allowed by the matrix (naming the row
            and case), ``stop <= start``, missing or infinite times, negative weights, empty data.
        """
        if not isinstance(data, pd.DataFrame):
            raise DataValidationError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        for role, col in [("id_col", id_col), ("start", start), ("stop", stop), ("from_state", from_state),
                          ("to_state", to_state)]:
            if col not in data.columns:
                raise DataValidationError(f"data has no column {col!r} (the {role} column); columns are {list(data.columns)}")
        n = len(data)
        if n == 0:
            raise DataValidationError("data is empty: nothing to estimate")
        ids = data[id_col]

        def where(i):
            v = ids.iloc[i]
            v = v.item() if isinstance(v, np.generic) else v
            return f"row {i} (case {v!r})"

        t0 = _as_float_array(data[start], f"column {start!r}")
        t1 = _as_float_array(data[stop], f"column {stop!r}")
        bad = t1 <= t0
        if not bad.any():
            t0, t1 = aeq_times(t0, t1, timefix=timefix)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{int(bad.sum())} row(s) have {stop!r} <= {start!r} (sojourns are (start, stop]); first at "
                f"{where(i)}: start={t0[i]!r}, stop={t1[i]!r}"
            )
        S = len(self.states_)
        fr = pd.Categorical(data[from_state], categories=self.states_).codes.astype(np.int64)
        if (fr < 0).any():
            i = int(np.flatnonzero(fr < 0)[0])
            raise DataValidationError(
                f"column {from_state!r} has a state {data[from_state].iloc[i]!r} not in the transition matrix "
                f"(first at {where(i)}); known states: {self.states_}"
            )
        to_raw = data[to_state]
        cens = to_raw.isna().to_numpy()
        to = pd.Categorical(to_raw, categories=self.states_).codes.astype(np.int64)
        unknown = (to < 0) & ~cens
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise DataValidationError(
                f"column {to_state!r} has a state {to_raw.iloc[i]!r} not in the transition matrix (first at "
                f"{where(i)}); known states: {self.states_}; use a missing value for censored rows"
            )
        ok = np.ones(n, dtype=bool)
        ok[~cens] = self.allowed_[fr[~cens], to[~cens]]
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            a, b = self.states_[fr[i]], self.states_[to[i]]
            allowed_from = [self.states_[j] for j in np.flatnonzero(self.allowed_[fr[i]])]
            raise DataValidationError(
                f"transition {a!r} -> {b!r} at {where(i)} is not allowed by the transition matrix "
                f"({int((~ok).sum())} such row(s)); allowed from {a!r}: {allowed_from}"
            )
        if weights is None:
            w = None
        else:
            if isinstance(weights, str) and weights not in data.columns:
                raise DataValidationError(f"data has no weights column {weights!r}; columns are {list(data.columns)}")
            wv = data[weights] if isinstance(weights, str) else weights
            w = _as_float_array(wv, "weights", n)
            if (w < 0).any():
                i = int(np.flatnonzero(w < 0)[0])
                raise DataValidationError(f"weights must be >= 0; {where(i)} has weight {w[i]!r}")
        if start_state is None:
            roots = np.flatnonzero(~self.allowed_.any(axis=0) & self.allowed_.any(axis=1))
            if roots.shape[0] != 1:
                raise DataValidationError(
                    f"the transition matrix has {roots.shape[0]} possible starting states "
                    f"{[self.states_[k] for k in roots]} (states with no incoming transitions); pass start_state=..."
                )
            s0 = int(roots[0])
        else:
            if start_state not in self.states_:
                raise DataValidationError(f"start_state {start_state!r} is not one of the states {self.states_}")
            s0 = self.states_.index(start_state)
        self.start_state_ = self.states_[s0]
        if variance not in ("greenwood", "ij"):
            raise ValueError(f"variance must be 'greenwood' or 'ij', got {variance!r}")
        if weight_type not in ("frequency", "sampling"):
            raise ValueError(f"weight_type must be 'frequency' or 'sampling', got {weight_type!r}")
        self.variance_ = variance
        self._groups = None
        if groups is not None:
            if isinstance(groups, str):
                if groups not in data.columns:
                    raise DataValidationError(f"data has no groups column {groups!r}; columns are {list(data.columns)}")
                gv = data[groups]
            else:
                gv = pd.Series(np.asarray(groups) if not isinstance(groups, pd.Series) else groups.to_numpy())
                if len(gv) != n:
                    raise DataValidationError(f"groups has {len(gv)} values but data has {n} rows")
            gcodes, glabels = pd.factorize(pd.Series(gv.to_numpy()), sort=True)
            if (gcodes < 0).any():
                raise DataValidationError("groups has missing values; recode them, e.g. 'unknown'")
            mixed = pd.Series(gcodes).groupby(ids.to_numpy()).nunique() > 1
            if mixed.any():
                raise DataValidationError(f"case {mixed.index[mixed.to_numpy()][0]!r} has rows in different groups")
            order = np.argsort(gcodes, kind="stable")
            bounds = np.searchsorted(gcodes[order], np.arange(len(glabels) + 1))
            self._groups = {}
            for j, g in enumerate(glabels):  # loop over groups, not rows
                idx = np.sort(order[bounds[j]:bounds[j + 1]])
                child = MultiStateFitter(self.transitions, self.alpha)
                child.start_state_ = self.start_state_
                child.variance_ = variance
                child._estimate(t0[idx], t1[idx], fr[idx], to[idx], cens[idx], None if w is None else w[idx], s0,
                                variance=variance, ids=ids.to_numpy()[idx], weight_type=weight_type)
                child._fitted_on = f"group {g!r}"
                self._groups[g] = child
            self.groups_ = list(glabels)
            self.state_occupation_ = self._stack("state_occupation_")
            self.transition_hazards_ = self._stack("transition_hazards_")
            self._fitted_on = (f"{n} sojourns, {len(self.states_)} states, starting in {self.start_state_!r}, "
                               f"{len(glabels)} groups")
            return self
        self._estimate(t0, t1, fr, to, cens, w, s0, variance=variance, ids=ids.to_numpy(), weight_type=weight_type)
        self._fitted_on = f"{n} sojourns, {len(self.states_)} states, starting in {self.start_state_!r}"
        if variance == "ij":
            self._fitted_on += ", infinitesimal-jackknife variance"
        return self

    def _stack(self, attr) -> pd.DataFrame:
        parts = []
        for g, f in self._groups.items():
            part = getattr(f, attr).copy()
            part.insert(0, "group", g)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------------------------------
    def _estimate(self, t0, t1, fr, to, cens, w, s0, variance="greenwood", ids=None, weight_type="frequency"):
        S = len(self.states_)
        n_rows = t1.shape[0]
        grid, x, raw = _time_index(t1)
        if x is None:
            off, R = raw
            present = np.bincount(off, minlength=R) > 0
            tmin = grid
            grid = (np.flatnonzero(present) + tmin).astype(float)
            n_le = np.cumsum(present)  # number of grid times <= each day
            x = (n_le - 1)[off]
            lo_day = int(tmin)
            t0i = t0.astype(np.int64)
            if np.array_equal(t0i, t0):  # integer starts: index by day, no binary search
                rel = np.clip(t0i - lo_day, -1, R - 1)
                s_idx = np.where(rel < 0, 0, n_le[np.maximum(rel, 0)])
            else:
                s_idx = None
        else:
            s_idx = None
        T = grid.shape[0]
        if s_idx is None:
            s_idx = np.searchsorted(grid, t0, side="right")
        enter = np.bincount(s_idx * S + fr, weights=w, minlength=(T + 1) * S)[: T * S].reshape(T, S)
        leave = np.bincount(x * S + fr, weights=w, minlength=T * S).reshape(T, S)
        Y = np.cumsum(enter, axis=0) - np.vstack([np.zeros((1, S)), np.cumsum(leave, axis=0)[:-1]])
        ev = ~cens
        key = (x[ev] * S + fr[ev]) * S + to[ev]
        N = np.bincount(key, weights=None if w is None else w[ev], minlength=T * S * S).reshape(T, S, S)
        N = N.astype(float)
        keep = N.sum(axis=(1, 2)) > 0
        times, Y, N = grid[keep], Y[keep], N[keep]
        Y[np.abs(Y) < 1e-12 * (float(np.sum(w)) if w is not None else float(n_rows))] = 0.0  # noise, relative
        Te = times.shape[0]
        d = N.sum(axis=2)  # (Te, S)
        dA = np.zeros_like(N)
        np.divide(N, Y[:, :, None], out=dA, where=Y[:, :, None] > 0)
        idx = np.arange(S)
        dA[:, idx, idx] = -dA.sum(axis=2)
        A = dA.copy()
        A[:, idx, idx] += 1.0
        # point estimate (row s0 of the product integral)
        p = np.zeros((Te + 1, S))
        p[0, s0] = 1.0
        for k in range(Te):
            p[k + 1] = p[k] @ A[k]
        pm = p[:-1]  # p(t-)
        # Greenwood-type innovation covariance Sigma_t = sum_h p_h^2 Cov(row h of dA)
        P2 = np.zeros_like(Y)
        np.divide(pm**2, Y**3, out=P2, where=Y > 0)
        c = P2 * Y
        M = N.copy()
        M[:, idx, idx] = -d
        Sig = -np.einsum("thj,th,thl->tjl", M, P2, M)
        CN = c[:, :, None] * N
        Sig -= CN + CN.transpose(0, 2, 1)
        Sig[:, idx, idx] += np.einsum("th,thj->tj", c, N) + c * d
        V = np.zeros((S, S))
        var = np.zeros((Te + 1, S))
        for k in range(Te):
            V = A[k].T @ V @ A[k] + Sig[k]
            var[k + 1] = np.diag(V)
        var[var < 0] = 0.0
        if variance == "ij":
            var = _ij_variance(times, A, dA, pm, Y, t0, t1, fr, to, cens, w, ids, weight_type)
        origin = min(0.0, float(t0.min()))
        self._origin = origin
        self._times = np.concatenate(([origin], times))
        self._A, self._Sig, self._p, self._var = A, Sig, p, var
        # tidy outputs
        lo_name, hi_name = self.ci_labels
        se = np.sqrt(var)
        lo, hi = _loglog_ci(p.reshape(-1), se.reshape(-1), self.alpha)
        states = np.array(self.states_, dtype=object)
        occ = pd.DataFrame({
            "time": np.repeat(self._times, S), "state": np.tile(states, Te + 1),
            "probability": p.reshape(-1), "se": se.reshape(-1), lo_name: lo, hi_name: hi,
        })
        occ["probability"] = occ["probability"].clip(0.0, 1.0) if (p < -1e-12).any() else occ["probability"]
        # rows sorted by state (in states_ order), then time
        self.state_occupation_ = occ.iloc[np.lexsort((np.repeat(self._times, S), np.tile(np.arange(S), Te + 1)))]
        self.state_occupation_ = self.state_occupation_.reset_index(drop=True)
        tt, hh, jj = np.nonzero(N)
        haz = dA[tt, hh, jj]
        cumhaz = np.cumsum(np.where(N > 0, dA, 0.0), axis=0)[tt, hh, jj]
        Y2 = Y * Y
        dvar = np.zeros_like(N)
        np.divide(N, Y2[:, :, None], out=dvar, where=(N > 0) & (Y2[:, :, None] > 0))
        se_cumhaz = np.sqrt(np.cumsum(dvar, axis=0)[tt, hh, jj])
        th = pd.DataFrame({
            "time": times[tt], "from": states[hh], "to": states[jj], "hazard": haz,
            "cumulative_hazard": cumhaz, "se": se_cumhaz, "n_at_risk": Y[tt, hh], "n_events": N[tt, hh, jj],
        })
        order = np.lexsort((th["time"].to_numpy(), jj, hh))
        self.transition_hazards_ = th.iloc[order].reset_index(drop=True)

    # ------------------------------------------------------------------------------------------
    def occupation_at(self, times) -> pd.DataFrame:
        """State occupation probabilities (step function, right-continuous) at given times.

        Parameters
        ----------
        times : array-like, shape (m,)

        Returns
        -------
        pandas.DataFrame
            ``time``, ``state``, ``probability``, ``se``, CI columns; m × S rows.
        """
        self._check_fitted()
        if self._groups is not None:
            return self._by_group(lambda f: f.occupation_at(times))
        q = np.atleast_1d(_as_float_array(times, "times"))
        k = np.searchsorted(self._times, q, side="right") - 1
        k = np.clip(k, 0, None)
        S = len(self.states_)
        p = self._p[k]
        p[q < self._origin] = np.eye(S)[self.states_.index(self.start_state_)]
        se = np.sqrt(self._var[k])
        se[q < self._origin] = 0.0
        lo, hi = _loglog_ci(p.reshape(-1), se.reshape(-1), self.alpha)
        lo_name, hi_name = self.ci_labels
        return pd.DataFrame({
            "time": np.repeat(q, S), "state": np.tile(np.array(self.states_, dtype=object), q.shape[0]),
            "probability": p.reshape(-1), "se": se.reshape(-1), lo_name: lo, hi_name: hi,
        })

    def expected_time_in_state(self, horizon) -> pd.DataFrame:
        r"""Restricted mean time in each state up to ``horizon`` (one or several horizons in one pass).

        :math:`\int_{origin}^{\tau} \hat p_h(u)\,du` (the origin is ``min(0, min start)``), with the
        Greenwood-type delta-method standard error, obtained by augmenting the variance recursion
        with the running integral (no T × T covariance is formed). The standard error is this
        Greenwood-type one also after ``fit(variance="ij")`` (R ``survfit``'s IJ se of ``rmean`` is not
        reproduced).

        Parameters
        ----------
        horizon : float or array-like of float, shape (m,)
            Upper limit(s) :math:`\tau` (same units as the times, e.g. days). Several horizons cost one
            walk through the transition times.

        Returns
        -------
        pandas.DataFrame
            ``state``, ``horizon``, ``expected_time``, ``se``, CI columns (plain, truncated at
            ``[0, horizon - origin]``); S rows per horizon, horizons in the order given (with ``groups``, a
            ``group`` column first). The expected times sum to ``horizon - origin``.
        """
        self._check_fitted()
        if self._groups is not None:
            return self._by_group(lambda f: f.expected_time_in_state(horizon))
        taus = np.atleast_1d(np.asarray(horizon, dtype=float))
        if taus.ndim != 1 or taus.size == 0:
            raise ValueError(f"horizon must be a number or a 1-d sequence of numbers, got {horizon!r}")
        bad = ~np.isfinite(taus) | (taus <= self._origin)
        if bad.any():
            raise ValueError(f"horizon must be a finite time after the origin {self._origin}, got "
                             f"{horizon!r}")
        S = len(self.states_)
        times = self._times
        nT = times.shape[0]
        # committed state: integral and variances of the integral up to times[k]
        Vpp = np.zeros((S, S))
        VpI = np.zeros((S, S))
        VII = np.zeros((S, S))
        integral = np.zeros(S)
        k = 0
        order = np.argsort(taus, kind="stable")
        res_int = np.zeros((taus.size, S))
        res_var = np.zeros((taus.size, S))
        for i in order:  # horizons in increasing order: one walk through the jumps
            tau = taus[i]
            while k + 1 < nT and times[k + 1] <= tau:
                gap = times[k + 1] - times[k]
                integral = integral + self._p[k] * gap
                VII = VII + gap * (VpI + VpI.T) + gap * gap * Vpp
                VpI = VpI + gap * Vpp
                A, Sig = self._A[k], self._Sig[k]
                Vpp = A.T @ Vpp @ A + Sig
                VpI = A.T @ VpI
                k += 1
            gap = tau - times[k]  # the partial piece after the last jump <= tau
            res_int[i] = integral + self._p[k] * gap
            res_var[i] = np.diag(VII + gap * (VpI + VpI.T) + gap * gap * Vpp)
        se = np.sqrt(np.clip(res_var, 0, None))
        from scipy import stats

        z = stats.norm.ppf(1 - self.alpha / 2)
        lo_name, hi_name = self.ci_labels
        span = (taus - self._origin)[:, None]
        return pd.DataFrame({
            "state": np.tile(np.array(self.states_, dtype=object), taus.size), "horizon": np.repeat(taus, S),
            "expected_time": res_int.ravel(), "se": se.ravel(),
            lo_name: np.clip(res_int - z * se, 0, span).ravel(), hi_name: np.clip(res_int + z * se, 0, span).ravel(),
        })

    @property
    def summary(self) -> pd.DataFrame:
        """Occupation probabilities at the quartiles of the transition times and the last one."""
        self._check_fitted()
        if self._groups is not None:
            return self._by_group(lambda f: f.summary)
        t = self._times[1:] if self._times.shape[0] > 1 else self._times
        q = np.unique(np.quantile(t, [0.25, 0.5, 0.75, 1.0], method="lower"))
        return self.occupation_at(q)

    def _by_group(self, table) -> pd.DataFrame:
        """``table(fitter)`` for each group's fitter, stacked with a leading ``group`` column."""
        parts = []
        for g, f in self._groups.items():
            part = table(f)
            part.insert(0, "group", g)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)
