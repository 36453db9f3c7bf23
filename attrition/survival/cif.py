"""Aalen–Johansen cumulative incidence for competing risks, all causes in one pass.

Exact handling of tied times (R ``survival`` order: at a tied time events come first, then
censorings, then entries; a subject with ``entry == t`` is not at risk at ``t``), case weights,
left truncation and the infinitesimal-jackknife (IJ) variance, in O(n + T·K) time and memory.
"""
from __future__ import annotations

import ctypes
import numbers
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .._utils import check_alpha, ci_labels
from ..exceptions import DataValidationError
from ._ties import aeq_times

__all__ = ["cumulative_incidence", "kaplan_meier"]

_WEIGHT_TYPES = ("frequency", "sampling")


# ----------------------------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------------------------
def _as_float_array(x, name: str, n: int | None = None) -> np.ndarray:
    if isinstance(x, (pd.Series, pd.Index)):
        if x.dtype == object or isinstance(x.dtype, pd.CategoricalDtype):
            try:
                x = pd.to_numeric(x)
            except (TypeError, ValueError) as err:
                raise DataValidationError(f"{name} must be numeric: {err}") from None
        x = x.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataValidationError(f"{name} must be numeric: {err}") from None
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise DataValidationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise DataValidationError(f"{name} has {arr.shape[0]} values but durations has {n}")
    if arr.size and np.isfinite(arr.min()) and np.isfinite(arr.max()):  # NaN/inf propagate: cheap check
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"{name} has {int(bad.sum())} missing or infinite value(s) (first at row {i}: {arr[i]!r}); "
            f"drop or impute those rows first"
        )
    return arr


def _check_inputs(durations, events, weights, entry, timefix=True):
    t = _as_float_array(durations, "durations")
    n = t.shape[0]
    if n == 0:
        raise DataValidationError("durations is empty: nothing to estimate")
    if t.min() < 0:
        i = int(np.flatnonzero(t < 0)[0])
        raise DataValidationError(
            f"durations has {int((t < 0).sum())} negative value(s) (first at row {i}: {t[i]!r}); "
            "durations must be >= 0"
        )
    if weights is None:
        w = None
    else:
        w = _as_float_array(weights, "weights", n)
        if (w < 0).any():
            i = int(np.flatnonzero(w < 0)[0])
            raise DataValidationError(f"weights must be >= 0; row {i} has weight {w[i]!r}")
        if not (w > 0).any():
            raise DataValidationError("all weights are zero: nothing to estimate")
    if entry is None:
        e = None
    else:
        e = _as_float_array(entry, "entry", n)
        bad = e >= t
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"entry must be strictly before the exit time (intervals are (entry, exit]); "
                f"{int(bad.sum())} row(s) break this (first at row {i}: entry={e[i]!r}, duration={t[i]!r})"
            )
    e, t = aeq_times(e, t, timefix=timefix)
    return t, w, e


class _Factorized(NamedTuple):
    """Event labels as codes into their distinct values (what non-numeric events become): row i holds
    ``uniques[remap[codes[i]]]`` (``remap[...] == -1``: missing). The small ``remap`` is composed with later
    lookups before the one pass over the rows."""

    codes: np.ndarray  # (n,) integer codes of the rows' distinct objects
    uniques: list  # distinct values, sorted as pandas.factorize(sort=True) sorts them
    remap: np.ndarray  # (n_objects,) int64: index into ``uniques`` of each object code, -1 = missing
    missing: bool  # whether any row is missing

    def value_codes(self) -> np.ndarray:
        """(n,) index into ``uniques`` (-1 = missing); one pass over the rows."""
        return self.remap[self.codes]


def _factorize_objects(values: np.ndarray):
    """``pandas.factorize(values, sort=True)`` for an object array, with missing values coded -1, as
    ``(codes, uniques, remap, missing)``: the factorize codes are ``remap[codes]``.

    Labels taken from a table (e.g. a case table's outcome column) are a few distinct string objects,
    each referenced by many rows: hashing the rows' object addresses (64-bit integers) and then the few
    distinct objects is several times faster than hashing every string. Equal strings held in different
    objects are merged at the second step, so the result is exactly ``factorize``'s. Falls back to
    ``factorize`` on the values when the objects are mostly distinct.
    """
    vals = np.ascontiguousarray(values, dtype=object)
    n = vals.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), [], np.zeros(0, np.int64), False
    # the array of references, read as integers (a view; ``vals`` keeps every object alive)
    addr = np.ctypeslib.as_array((ctypes.c_ssize_t * n).from_address(vals.ctypes.data))
    pcodes, paddr = pd.factorize(addr)
    if len(paddr) > 4096:
        codes, uniq = pd.factorize(vals, sort=True, use_na_sentinel=True)
        remap = np.arange(len(uniq) + 1, dtype=np.int64)
        remap[-1] = -1  # code -1 (missing) indexes the last entry
        return codes, list(uniq), remap, bool(codes.min() < 0)
    objs = np.empty(len(paddr), dtype=object)
    for j, a in enumerate(paddr.tolist()):  # a few distinct objects
        objs[j] = ctypes.cast(a, ctypes.py_object).value
    ucodes, uniq = pd.factorize(objs, sort=True, use_na_sentinel=True)
    return pcodes, list(uniq), ucodes.astype(np.int64), bool((ucodes < 0).any())  # every object code occurs


def _event_values(events, n: int, censor_code):
    """Validated events: a 1-d numeric numpy array (integral floats become int64), or for labels
    (strings, objects, categoricals) a :class:`_Factorized` (one hashing pass over the rows)."""
    if isinstance(events, (pd.Series, pd.Index, pd.Categorical)):
        ev = pd.Series(events)
        if isinstance(ev.dtype, pd.CategoricalDtype):
            cc = ev.cat.codes.to_numpy().astype(np.int64)
            cats = np.empty(len(ev.cat.categories), dtype=object)
            cats[:] = list(ev.cat.categories)
            present = np.bincount(cc[cc >= 0], minlength=len(cats)) > 0
            ucodes, uniq = pd.factorize(cats[present], sort=True)
            full = np.full(len(cats) + 1, -1, dtype=np.int64)
            full[np.flatnonzero(present)] = ucodes
            values = _Factorized(cc, list(uniq), full, bool(cc.size and cc.min() < 0))  # code -1 -> last entry
        elif ev.dtype == object or not isinstance(ev.dtype, np.dtype):
            values = _Factorized(*_factorize_objects(ev.to_numpy(dtype=object)))
        else:
            values = ev.to_numpy()
    else:
        values = np.asarray(events)
        if values.ndim != 1:
            values = values.reshape(-1)
        if values.dtype.kind in "OUS":
            values = _Factorized(*_factorize_objects(values.astype(object)))
    size = values.codes.shape[0] if isinstance(values, _Factorized) else values.shape[0]
    if size != n:
        raise DataValidationError(f"events has {size} values but durations has {n}")
    if isinstance(values, _Factorized):
        isna = (values.value_codes() < 0) if values.missing else None
    else:
        isna = np.isnan(values) if values.dtype.kind in "fc" else (pd.isna(values) if values.dtype.kind in "Mm" else None)
    if isna is not None and np.any(isna):
        i = int(np.flatnonzero(isna)[0])
        raise DataValidationError(
            f"events has {int(np.sum(isna))} missing value(s) (first at row {i}); code censored rows "
            f"with censor_code={censor_code!r} instead of leaving them missing"
        )
    if not isinstance(values, _Factorized) and values.dtype.kind == "b":
        raise DataValidationError(
            "events holds booleans: True/False do not name causes. Code censored rows with censor_code and each "
            "cause with a label or an integer (e.g. events.astype(int) for one cause coded 1); kaplan_meier "
            "accepts booleans (True = event)"
        )
    if isinstance(values, _Factorized):
        numeric_events = False
        has_censor = any(u == censor_code and not isinstance(u, (bool, np.bool_)) for u in values.uniques)
    else:
        if values.dtype.kind == "f" and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        numeric_events = values.dtype.kind in "iuf"
        has_censor = None
    numeric_censor = isinstance(censor_code, numbers.Number) and not isinstance(censor_code, bool)
    if not numeric_events and numeric_censor and not (
            has_censor if has_censor is not None else np.any(values == censor_code)):
        raise DataValidationError(
            f"events are not numeric but censor_code={censor_code!r}; pass the label used for censored "
            "rows, e.g. censor_code='censored'"
        )
    return values


def _resolve_causes(uniq: list, causes, censor_code, first_row):
    """Cause list and a lookup (len(uniq),) from observed values to codes 0 (censored) / 1..K.

    ``first_row(value)`` gives the first row holding a value (only used for error messages).
    """
    if any(isinstance(u, (bool, np.bool_)) for u in uniq):
        raise DataValidationError(
            f"events holds booleans {[u for u in uniq if isinstance(u, (bool, np.bool_))]!r}: True/False do not "
            "name causes. Use a label or an integer for each cause"
        )
    observed_causes = [u for u in uniq if u != censor_code]
    if causes is None:
        cause_list = observed_causes
    else:
        cause_list = list(causes)
        if censor_code in cause_list:
            raise DataValidationError(f"causes includes the censor_code {censor_code!r}")
        if len(set(cause_list)) != len(cause_list):
            raise DataValidationError(f"causes has duplicates: {cause_list!r}")
        unknown = [u for u in observed_causes if u not in cause_list]
        if unknown:
            i = min(first_row(u) for u in unknown)
            raise DataValidationError(
                f"events has value(s) {unknown!r} that are neither censor_code={censor_code!r} nor in "
                f"causes={cause_list!r} (first at row {i}); add them to causes or recode them"
            )
    lookup = np.zeros(len(uniq), dtype=np.int64)
    for j, u in enumerate(uniq):
        lookup[j] = 0 if u == censor_code else cause_list.index(u) + 1
    return cause_list, lookup


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _default_survival_label(cause_list, censor_code):
    """The label of the overall-survival rows that keeps ``cause`` of one type (see cumulative_incidence)."""
    if all(_is_int(c) for c in cause_list) and _is_int(censor_code):
        return int(censor_code)
    return "survival"


def _small_int_range(values) -> tuple[int, int] | None:
    """(min, max) if values are integers spanning at most 64 values, else None."""
    if values.dtype.kind in "iu" and values.size:
        vmin, vmax = int(values.min()), int(values.max())
        if vmax - vmin < 64:
            return vmin, vmax
    return None


def _event_codes(events, n: int, causes, censor_code):
    """Map events to integer codes: 0 = censored, 1..K = causes. Returns (codes, causes list)."""
    values = events if isinstance(events, _Factorized) else _event_values(events, n, censor_code)
    if isinstance(values, _Factorized):
        uniq = values.uniques

        def first_row_f(u):
            return int(np.flatnonzero(values.value_codes() == uniq.index(u))[0])

        cause_list, lookup = _resolve_causes(uniq, causes, censor_code, first_row_f)
        if not len(uniq):
            return np.zeros(n, np.int64), cause_list
        ext = np.append(lookup, 0)  # -1 (missing: already refused) -> last
        return ext[values.remap][values.codes], cause_list  # one pass over the rows

    def first_row(u):
        return int(np.flatnonzero(values == u)[0])

    rng = _small_int_range(values)
    if rng is not None:
        vmin, vmax = rng
        off = values if vmin == 0 else values.astype(np.int64) - vmin
        present = np.bincount(off, minlength=vmax - vmin + 1) > 0
        uniq = (np.flatnonzero(present) + vmin).tolist()
        cause_list, lookup = _resolve_causes(uniq, causes, censor_code, first_row)
        full = np.zeros(present.shape[0], dtype=np.int64)
        full[present] = lookup
        if np.array_equal(full, np.arange(full.shape[0])):
            return off, cause_list
        return full[off], cause_list
    if values.dtype.kind in "iu":
        uniq, raw_codes = np.unique(values, return_inverse=True)
        uniq = uniq.tolist()
    else:
        raw_codes, uniq_idx = pd.factorize(values, sort=True)
        uniq = list(uniq_idx.tolist() if hasattr(uniq_idx, "tolist") else uniq_idx)
    cause_list, lookup = _resolve_causes(uniq, causes, censor_code, first_row)
    codes = lookup[raw_codes] if len(uniq) else np.zeros(n, np.int64)
    return codes, cause_list


def _time_index(t: np.ndarray):
    """Distinct sorted times and a way to index rows into them.

    Returns ``(grid, x, raw)``: ``x`` is each row's index into ``grid``; for integer-valued times
    in a modest range (e.g. days) ``grid`` is the minimum time, ``x`` is ``None`` and
    ``raw = (offset, n_days)`` lets callers bincount over days directly (no sort).
    """
    n = t.shape[0]
    tmin, tmax = float(t.min()), float(t.max())
    if tmax - tmin <= 4 * n + 100_000:
        ti = t if t.dtype.kind in "iu" else t.astype(np.int64)
        if ti is t or np.array_equal(ti, t):
            base = 0 if 0 <= tmin and tmax <= 4 * n + 100_000 else int(tmin)  # skip a subtraction pass
            off = ti - base if base else ti
            return float(base), None, (off, int(tmax) - base + 1)
    grid, inv = np.unique(t, return_inverse=True)
    return grid, inv, None


def _int_day_counts(t, codes, C: int, weights: list, chunk: int = 1 << 16):
    """Count rows per (integer day, code) in one cache-friendly pass, or None if times are not
    integer days in a modest range.

    Returns ``(grid, tab, wtabs)``: distinct days (T,), unweighted counts (T, C) and one (T, C)
    table per array in ``weights``.
    """
    n = t.shape[0]
    tmin, tmax = float(t.min()), float(t.max())
    span = 4 * n + 100_000
    if tmax - tmin > span:
        return None
    base = 0 if (0 <= tmin and tmax <= span) else int(tmin)
    R = int(tmax) - base + 1
    size = R * C
    if size > chunk:  # tables too big to re-add per chunk: one chunk
        chunk = n
    is_int = t.dtype.kind in "iu"
    tab = np.zeros(size, dtype=np.int64)
    wtabs = [np.zeros(size) for _ in weights]
    for i in range(0, n, chunk):
        tc = t[i:i + chunk]
        ti = tc if is_int else tc.astype(np.int64)
        if not is_int and not np.array_equal(ti, tc):
            return None
        key = ti * C if base == 0 else (ti - base) * C
        key += codes[i:i + chunk]
        tab += np.bincount(key, minlength=size)
        for wt, v in zip(wtabs, weights, strict=True):
            wt += np.bincount(key, weights=v[i:i + chunk], minlength=size)
    tab = tab.reshape(R, C)
    present = tab.sum(axis=1) > 0
    grid = (np.flatnonzero(present) + base).astype(float)
    return grid, tab[present], [m.reshape(R, C)[present] for m in wtabs]


def _safe_div(a, b):
    a = np.asarray(a, dtype=float)
    b = np.broadcast_to(np.asarray(b, dtype=float), np.broadcast_shapes(np.shape(a), np.shape(b)))
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    np.divide(a, b, out=out, where=b > 0)
    return out


# ----------------------------------------------------------------------------------------------
# core: one group
# ----------------------------------------------------------------------------------------------
def _aj_core(t, codes, C, w, e, weight_type="frequency", resolve=None):
    """Aalen–Johansen CIFs, KM and their IJ variances on the grid of distinct exit times.

    ``codes`` are in [0, C). Without ``resolve`` they are final (0 = censored, 1..C-1 = causes);
    with it they are raw values and ``resolve(present)`` (present: bool (C,), values that occur)
    returns ``(P, cause_list)`` with P a (C, K+1) 0/1 matrix collapsing raw columns to codes, so
    the value check shares the single counting pass.

    Returns a dict of arrays: time (T,), at_risk (T,), n_event (T, K), cif (T, K), var_cif (T, K),
    surv (T,), var_surv (T,), and ``causes`` when ``resolve`` was given.
    """
    wt = None if w is None else (w if weight_type == "frequency" else w * w)  # IJ weight of a row
    fused = _int_day_counts(t, codes, C, [w, wt] if w is not None else []) if e is None else None
    causes_out = None
    if fused is not None:  # integer days, no delayed entry: one cache-friendly pass did all counting
        grid, tab, wtabs = fused
        P = None
        if resolve is not None:
            P, causes_out = resolve(tab.sum(axis=0) > 0)
            tab = tab @ P
            wtabs = [m @ P for m in wtabs]
        cnt = (tab if w is None else wtabs[0]).astype(float)
        cnt2 = cnt if (w is None or weight_type == "frequency") else wtabs[1]
        K = cnt.shape[1] - 1
        T = grid.shape[0]
    else:
        grid, x, raw = _time_index(t)
        tab = None
        if x is None:  # integer days: count over raw days, then keep the days that occur
            off, R = raw
            key = off * C
            key += codes
            tab = np.bincount(key, minlength=R * C).reshape(R, C)
            present = tab.sum(axis=1) > 0
            grid = (np.flatnonzero(present) + grid).astype(float)
            tab = tab[present]
            if e is not None:
                x = (np.cumsum(present) - 1)[off]
        T = grid.shape[0]
        if raw is not None:  # key is over raw days

            def count_raw(v):
                if v is None:
                    return tab
                return np.bincount(key, weights=v, minlength=R * C).reshape(R, C)[present]
        else:
            key = x * C + codes

            def count_raw(v):
                return np.bincount(key, weights=v, minlength=T * C).reshape(T, C)
        if resolve is None:
            count = count_raw
        else:
            if tab is None:
                tab = count_raw(None)
            P, causes_out = resolve(tab.sum(axis=0) > 0)

            def count(v):
                return count_raw(v) @ P
            tab = tab @ P
        K = (C if resolve is None else P.shape[1]) - 1
        cnt = (tab if (w is None and tab is not None) else count(w)).astype(float)
        cnt2 = cnt if (w is None or weight_type == "frequency") else count(wt)
    K1 = K + 1

    exits = cnt.sum(axis=1)
    if e is None:
        s = None
        Y = exits[::-1].cumsum()[::-1]
    else:
        s = np.searchsorted(grid, e, side="right")  # first grid index at which the subject is at risk
        entries = np.bincount(s, weights=w, minlength=T + 1)[:T]
        Y = np.cumsum(entries) - np.concatenate(([0.0], np.cumsum(exits)[:-1]))
        Y[np.abs(Y) < 1e-9 * float(exits.sum())] = 0.0  # cancellation noise, relative to the total weight
    D = cnt[:, 1:]
    d = D.sum(axis=1)
    Dc = cnt[:, 0]

    hk = _safe_div(D, Y[:, None])
    h = hk.sum(axis=1)
    S = np.cumprod(1.0 - h)
    S[S < 0] = 0.0
    Sprev = np.concatenate(([1.0], S[:-1]))
    F = np.cumsum(Sprev[:, None] * hk, axis=0)
    inv = _safe_div(1.0, Y - d)
    inv[Y - d <= 1e-12 * Y] = 0.0  # relative: weights of any scale (w and 1e-13 w give the same CIF)
    hinv = h * inv
    Kc = np.cumsum(hinv)
    G = np.cumsum(Sprev[:, None] * _safe_div(hk, Y[:, None]), axis=0)
    H = np.cumsum(F * hinv[:, None], axis=0)
    GH = G + H
    alpha_ = GH - F * Kc[:, None]
    eva = _safe_div(1.0, Y) + hinv  # a-increment of an event subject at its exit time
    SoY = _safe_div(Sprev, Y)

    # per-(exit time, class) values of the exited-subject influence: U = c - F(t) a
    ax_cens = -Kc
    ax_ev = -Kc + eva
    c_cens = -GH
    c_other = -GH + eva[:, None] * F
    c_own = c_other + SoY[:, None]
    W0 = cnt2[:, 0]
    Wk = cnt2[:, 1:]
    Wev = Wk.sum(axis=1)
    Wot = Wev[:, None] - Wk

    Ecc = W0[:, None] * c_cens**2 + Wk * c_own**2 + Wot * c_other**2
    Eac = W0[:, None] * ax_cens[:, None] * c_cens + Wk * ax_ev[:, None] * c_own + Wot * ax_ev[:, None] * c_other
    Eaa = W0 * ax_cens**2 + Wev * ax_ev**2

    if s is None:
        R0 = cnt2.sum(axis=1)[::-1].cumsum()[::-1] - cnt2.sum(axis=1)  # at risk at t and not exited at t
        Ecc, Eac, Eaa = np.cumsum(Ecc, axis=0), np.cumsum(Eac, axis=0), np.cumsum(Eaa)
        var_run = alpha_**2 * R0[:, None]
        var_run_s = Kc**2 * R0
    else:
        ones = np.ones(t.shape[0]) if wt is None else wt
        Kprev = np.concatenate(([0.0], Kc))
        kap = Kprev[s]
        n_s = np.bincount(s, weights=ones, minlength=T + 1)[:T]  # weight entering at each grid index

        def running(add_grid, by_exit_sum):
            # subjects count for s <= j < x; add part grouped by s, removal part grouped by x
            return np.cumsum(n_s * add_grid - by_exit_sum)

        Sk = count(ones * kap)
        Skk = count(ones * kap * kap)
        R0 = running(np.ones(T), cnt2.sum(axis=1))
        Rk = running(Kprev[:T], Sk.sum(axis=1))
        Rkk = running(Kprev[:T] ** 2, Skk.sum(axis=1))
        var_run_s = Kc**2 * R0 - 2 * Kc * Rk + Rkk
        Eaa = Eaa + 2 * (ax_cens * Sk[:, 0] + ax_ev * Sk[:, 1:].sum(axis=1)) + Skk.sum(axis=1)
        var_run = np.empty((T, K))
        GHprev = np.vstack([np.zeros((1, K)), GH])
        for k in range(K):
            L = GHprev[s, k]
            SL = count(ones * L)
            SLL = count(ones * L * L)
            SkL = count(ones * kap * L)
            Lg = GHprev[:T, k]
            RL = running(Lg, SL.sum(axis=1))
            RLL = running(Lg**2, SLL.sum(axis=1))
            RLk = running(Lg * Kprev[:T], SkL.sum(axis=1))
            a, f = alpha_[:, k], F[:, k]
            var_run[:, k] = a * a * R0 + f * f * Rkk + RLL + 2 * a * f * Rk - 2 * a * RL - 2 * f * RLk
            own = k + 1
            SL_ot = SL[:, 1:].sum(axis=1) - SL[:, own]
            Sk_ot = Sk[:, 1:].sum(axis=1) - Sk[:, own]
            Ecc[:, k] += 2 * (c_cens[:, k] * SL[:, 0] + c_own[:, k] * SL[:, own] + c_other[:, k] * SL_ot)
            Ecc[:, k] += SLL.sum(axis=1)
            Eac[:, k] += (
                ax_cens * SL[:, 0] + ax_ev * (SL[:, own] + SL_ot)
                + c_cens[:, k] * Sk[:, 0] + c_own[:, k] * Sk[:, own] + c_other[:, k] * Sk_ot
                + SkL.sum(axis=1)
            )
        Ecc, Eac, Eaa = np.cumsum(Ecc, axis=0), np.cumsum(Eac, axis=0), np.cumsum(Eaa)

    var_cif = var_run + Ecc - 2 * F * Eac + F**2 * Eaa[:, None]
    var_surv = S**2 * (var_run_s + Eaa)
    var_cif[var_cif < 0] = 0.0
    var_surv[var_surv < 0] = 0.0
    return {
        "time": grid, "at_risk": Y, "n_event": D, "n_censor": Dc,
        "cif": F, "var_cif": var_cif, "surv": S, "var_surv": var_surv, "causes": causes_out,
    }


def aj_at_last_time(t, codes, K, w=None, timefix=True):
    """Aalen–Johansen CIFs of ``K`` causes and their IJ standard errors at the last time only.

    The engine of :func:`cumulative_incidence` without building the curve: for callers that need the
    long-run CIFs of many small cells (the funnel's stages × groups).

    Parameters
    ----------
    t : numpy.ndarray, shape (n,)
        Times (non-negative).
    codes : numpy.ndarray of int, shape (n,)
        0 = censored, 1..K = cause.
    K : int
        Number of causes.
    w : numpy.ndarray, shape (n,), optional
        Frequency weights.
    timefix : bool or float, default True
        Merge near-tied times first (see :func:`cumulative_incidence`).

    Returns
    -------
    cif : numpy.ndarray, shape (K,)
    se : numpy.ndarray, shape (K,)
    surv, se_surv : float
        Overall survival (no cause yet) and its SE.
    """
    if t.dtype.kind == "f":
        (t,) = aeq_times(t, timefix=timefix)
    r = _aj_core(t, codes, K + 1, w, None, "frequency")
    return r["cif"][-1], np.sqrt(r["var_cif"][-1]), float(r["surv"][-1]), float(np.sqrt(r["var_surv"][-1]))


def _loglog_ci(p, se, alpha):
    """log(-log p) interval, always inside [0, 1]; degenerate [p, p] where p is 0 or 1 or se is 0."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = np.asarray(p, float)
    se = np.asarray(se, float)
    lo, hi = p.copy(), p.copy()
    ok = (p > 0) & (p < 1) & (se > 0)
    u = z * se[ok] / (p[ok] * np.abs(np.log(p[ok])))
    with np.errstate(over="ignore"):  # a huge se: exp(u) = inf gives the limits 0 and 1
        lo[ok] = p[ok] ** np.exp(u)
    hi[ok] = p[ok] ** np.exp(-u)
    return lo, hi


def _log_ci(p, se, alpha):
    """log-transformed interval p exp(+-z se / p), upper limit capped at 1 (R ``conf.type = "log"``);
    degenerate [p, p] where p is 0 or se is 0."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = np.asarray(p, float)
    se = np.asarray(se, float)
    lo, hi = p.copy(), p.copy()
    ok = (p > 0) & (se > 0)
    u = z * se[ok] / p[ok]
    lo[ok] = p[ok] * np.exp(-u)
    with np.errstate(over="ignore"):  # exp(u) = inf: the upper limit is 1 anyway
        hi[ok] = np.minimum(p[ok] * np.exp(u), 1.0)
    return lo, hi


def _plain_ci(p, se, alpha):
    """p +- z se, clipped to [0, 1] (R ``conf.type = "plain"``)."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = np.asarray(p, float)
    se = np.asarray(se, float)
    return np.clip(p - z * se, 0.0, 1.0), np.clip(p + z * se, 0.0, 1.0)


_CONF_TYPES = {"log-log": _loglog_ci, "log": _log_ci, "plain": _plain_ci}


def _ci_function(conf_type):
    if conf_type not in _CONF_TYPES:
        raise ValueError(f"conf_type must be one of {sorted(_CONF_TYPES)}, got {conf_type!r}")
    return _CONF_TYPES[conf_type]


def _split_groups(groups, n):
    if groups is None:
        return None
    g = pd.Series(np.asarray(groups) if not isinstance(groups, pd.Series) else groups.to_numpy())
    if g.shape[0] != n:
        raise DataValidationError(f"groups has {g.shape[0]} values but durations has {n}")
    if g.isna().any():
        i = int(np.flatnonzero(g.isna().to_numpy())[0])
        raise DataValidationError(f"groups has missing values (first at row {i}); recode them, e.g. 'unknown'")
    codes, uniq = pd.factorize(g, sort=True)
    return codes, list(uniq)


def cumulative_incidence(
    durations,
    events,
    *,
    weights=None,
    entry=None,
    groups=None,
    alpha: float = 0.05,
    causes=None,
    censor_code=0,
    weight_type: str = "frequency",
    include_survival: bool = False,
    timefix=True,
    conf_type: str = "log-log",
    survival_label=None,
) -> pd.DataFrame:
    r"""Aalen–Johansen cumulative incidence of every cause, with IJ standard errors.

    Parameters
    ----------
    durations : array-like, shape (n,)
        Exit time of each row (e.g. days since report), ``>= 0``.
    events : array-like, shape (n,)
        ``censor_code`` for a censored row, any other value (int or str) names the cause of exit.
    weights : array-like, shape (n,), optional
        Non-negative case weights (e.g. counts of identical cases in an aggregate table).
    entry : array-like, shape (n,), optional
        Delayed-entry (left-truncation) times; a row is at risk on ``(entry, duration]``, so a row
        with ``entry == t`` is not at risk at ``t``. Must be ``< duration``.
    groups : array-like, shape (n,), optional
        Estimate separately within each group; adds a ``group`` column.
    alpha : float, default 0.05
        Pointwise ``1 - alpha`` confidence intervals.
    causes : sequence, optional
        The allowed causes, in output order. Any other non-censored value is an error. Default:
        the observed causes, sorted.
    censor_code : int or str, default 0
        Value of ``events`` meaning "censored".
    weight_type : {"frequency", "sampling"}, default "frequency"
        How weights enter the variance. ``"frequency"``: a row of weight ``w`` stands for ``w``
        identical cases, so results equal those on the expanded rows exactly
        (:math:`\hat V = \sum_i w_i U_i^2`). ``"sampling"``: weights are inverse-probability /
        survey weights and each row is one independent unit (:math:`\hat V = \sum_i (w_i U_i)^2`,
        R ``survfit(..., weights=w)``).
    include_survival : bool, default False
        Also return the overall (any-cause) Kaplan–Meier survival, with cause ``survival_label``.
    timefix : bool or float, default True
        Merge near-tied times (closer than ``sqrt(eps) ~ 1.5e-8``, absolutely or relative to the mean
        absolute time) across ``durations`` and ``entry`` before estimating, by the rule of R
        ``survival::aeqSurv`` (R ``survfit(timefix = TRUE)``, its default): e.g. ``0.1 + 0.2`` and ``0.3``
        are one time. ``False`` keeps every distinct float; a float sets the tolerance. Integer days are
        never near-tied, so daily data are unaffected.
    survival_label : int or str, optional
        Value of ``cause`` on the overall-survival rows (``include_survival=True``), so that the ``cause``
        column has one type. Default: ``"survival"`` when the causes are strings; with integer causes the
        ``censor_code`` if it is an integer (the state "no exit yet", e.g. 0), else ``"survival"``. The label
        used is also in ``result.attrs["survival_label"]`` (:func:`plot_cumulative_incidence` reads it).
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        Transform of the pointwise confidence intervals: ``"log-log"`` (inside (0, 1)), ``"log"``
        (R ``survfit``'s default for survival; upper limit capped at 1) or ``"plain"`` (clipped to [0, 1]).

    Returns
    -------
    pandas.DataFrame
        One row per (group, cause, distinct exit time), sorted: ``time``, ``cause``, ``group`` (if
        ``groups``), ``estimate`` (CIF, or survival for cause ``survival_label``), ``se``, ``lower xx%``,
        ``upper xx%``, ``at_risk`` (weighted number at risk at ``time``; R's ``n.risk`` is unweighted), ``n_event``
        (weighted exits from this cause at ``time``; for the survival rows, from any cause). ``cause`` is
        ``int64`` when every cause is an integer, else ``object``.

    Raises
    ------
    DataValidationError
        Empty input, negative/missing/infinite durations, entry not before exit, negative weights,
        missing events, boolean events (True/False name no cause), events outside ``causes``,
        mismatched lengths, an (entry, exit] interval that collapses to zero length when near-tied
        times are merged.

    Notes
    -----
    With distinct exit times :math:`t_1<\dots<t_T`, weighted numbers at risk :math:`Y_j` and
    cause-:math:`k` exits :math:`d_{jk}`, :math:`\hat S(t)=\prod_{t_j\le t}(1-d_j/Y_j)` and
    :math:`\hat F_k(t)=\sum_{t_j\le t}\hat S(t_{j-1})\,d_{jk}/Y_j`. Ties follow R ``survival``:
    events before censorings before entries. No jitter, so results are deterministic.

    **Variance**: the infinitesimal jackknife (IJ), i.e. the empirical variance of each row's
    influence :math:`U_i(t)=\partial\hat F_k(t)/\partial w_i`, as in R ``survfit`` for multi-state
    / competing-risks data (Therneau, survival vignette "Multi-state models"). The sums
    :math:`\sum_i w_i U_i(t)^2` are expanded into cumulative sums so that all times and causes
    cost O(n + T·K) time and memory (never an n × T or T × T matrix). Without delayed entry and
    with frequency weights, the Kaplan–Meier IJ variance equals Greenwood's formula.

    **Confidence intervals**: log(−log) transform, :math:`\hat p^{\exp(\pm z\,se/(\hat p|\log\hat p|))}`,
    always inside (0, 1); where :math:`\hat p` is 0 or 1 the interval is :math:`[\hat p, \hat p]`.
    ``conf_type="log"``: :math:`\hat p\exp(\pm z\,se/\hat p)`, upper limit capped at 1 (R
    ``conf.type = "log"``).

    **Weights**: the estimates use ``weights`` as given (any positive scale: multiplying every weight
    by a constant changes nothing); ``weight_type`` says how they enter the variance. R ``survfit``
    treats all weights as sampling weights in its IJ variance.

    **Near ties**: see ``timefix``; the merge happens once over the whole data (before ``groups``
    are split), as R does for strata.

    References
    ----------
    Aalen, O. O. & Johansen, S. (1978). An empirical transition matrix for non-homogeneous Markov
    chains based on censored observations. *Scand. J. Statist.* 5, 141–150.
    Therneau, T. M. (2023). *survival: A Package for Survival Analysis in R*, version 3.5.
    Efron, B. (1982). *The Jackknife, the Bootstrap and Other Resampling Plans*. SIAM.

    Examples
    --------
    >>> import numpy as np
    >>> from attrition.survival import cumulative_incidence
    >>> cif = cumulative_incidence([1, 2, 2, 3, 5], [1, 2, 0, 1, 0])
    >>> cif.loc[cif.cause == 1, "estimate"].round(3).tolist()
    [0.2, 0.2, 0.5, 0.5]
    """
    alpha = check_alpha(alpha)
    if weight_type not in _WEIGHT_TYPES:
        raise ValueError(f"weight_type must be one of {_WEIGHT_TYPES}, got {weight_type!r}")
    ci = _ci_function(conf_type)
    if survival_label is not None and not isinstance(survival_label, (str, numbers.Integral)) or \
            isinstance(survival_label, bool):
        raise TypeError(f"survival_label must be an int or a str, got {survival_label!r}")
    if include_survival and causes is not None and survival_label is not None and \
            any(c == survival_label for c in causes):
        raise DataValidationError(f"survival_label {survival_label!r} is also a cause; pick another label")
    t, w, e = _check_inputs(durations, events, weights, entry, timefix)
    n = t.shape[0]
    raw_d = durations.to_numpy() if isinstance(durations, (pd.Series, pd.Index)) else np.asarray(durations)
    if raw_d.dtype.kind in "iu" and (e is None or np.array_equal(t, raw_d)):  # integer days stay integer
        # (with entry times, unless timefix moved an exit time onto a near-tied non-integer entry time)
        t = raw_d.astype(np.int64, copy=False)
    lo_name, hi_name = ci_labels(alpha)
    grp = _split_groups(groups, n)
    resolve = None
    values = _event_values(events, n, censor_code)
    small = _small_int_range(values) if (grp is None and not isinstance(values, _Factorized)) else None
    if small is not None:  # one counting pass checks the event values too (no separate pass)
        vmin, vmax = small
        codes = values if vmin == 0 else values.astype(np.int64) - vmin
        C = vmax - vmin + 1

        def resolve(present_values):
            uniq = (np.flatnonzero(present_values) + vmin).tolist()
            cl, lookup = _resolve_causes(uniq, causes, censor_code, lambda u: int(np.flatnonzero(values == u)[0]))
            P = np.zeros((C, len(cl) + 1))
            P[np.flatnonzero(present_values), lookup] = 1.0
            return P, cl

        cause_list = None
    else:
        codes, cause_list = _event_codes(values, n, causes, censor_code)
        C = len(cause_list) + 1
    parts = []
    if grp is None:
        jobs = [(None, slice(None))]
    else:
        gcodes, glabels = grp
        order = np.argsort(gcodes, kind="stable")
        bounds = np.searchsorted(gcodes[order], np.arange(len(glabels) + 1))
        jobs = [(glabels[g], order[bounds[g]:bounds[g + 1]]) for g in range(len(glabels))]
    for label, idx in jobs:
        r = _aj_core(
            t[idx], codes[idx], C, None if w is None else w[idx], None if e is None else e[idx], weight_type,
            resolve,
        )
        if resolve is not None:
            cause_list = r["causes"]
        K = len(cause_list)
        T = r["time"].shape[0]
        if include_survival and survival_label is None:
            survival_label = _default_survival_label(cause_list, censor_code)
        int_causes = all(_is_int(c) for c in cause_list)
        cols = {}
        if K:
            est = r["cif"].T.reshape(-1)
            se = np.sqrt(r["var_cif"]).T.reshape(-1)
            lo, hi = ci(est, se, alpha)
            cols = {
                "time": np.tile(r["time"], K),
                "cause": np.repeat(np.array(cause_list, dtype=np.int64 if int_causes else object), T),
                "estimate": est, "se": se, lo_name: lo, hi_name: hi,
                "at_risk": np.tile(r["at_risk"], K),
                "n_event": r["n_event"].T.reshape(-1),
            }
            part = pd.DataFrame(cols)
        else:
            part = pd.DataFrame(columns=["time", "cause", "estimate", "se", lo_name, hi_name, "at_risk", "n_event"])
        if include_survival and K and any(c == survival_label and type(c) is type(survival_label)
                                          for c in cause_list):
            raise DataValidationError(f"survival_label {survival_label!r} is also a cause; pick another label")
        if include_survival:
            se = np.sqrt(r["var_surv"])
            lo, hi = ci(r["surv"], se, alpha)
            surv = pd.DataFrame({
                "time": r["time"],
                "cause": np.full(T, survival_label, dtype=np.int64 if _is_int(survival_label) else object),
                "estimate": r["surv"],
                "se": se, lo_name: lo, hi_name: hi, "at_risk": r["at_risk"], "n_event": r["n_event"].sum(axis=1),
            })
            part = pd.concat([part, surv], ignore_index=True) if len(part) else surv
        if label is not None:
            part.insert(2, "group", label)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if include_survival:
        out.attrs["survival_label"] = survival_label
    return out


def kaplan_meier(
    durations,
    events=None,
    *,
    weights=None,
    entry=None,
    groups=None,
    alpha: float = 0.05,
    censor_code=0,
    weight_type: str = "frequency",
    timefix=True,
    conf_type: str = "log-log",
) -> pd.DataFrame:
    """Kaplan–Meier survival from any cause (the same pass as :func:`cumulative_incidence`).

    Parameters
    ----------
    durations : array-like, shape (n,)
        Exit times, ``>= 0``.
    events : array-like, shape (n,), optional
        ``censor_code`` = censored, anything else = an event (of any cause). Default: all events.
    weights, entry, groups, alpha, censor_code, weight_type, timefix, conf_type
        As in :func:`cumulative_incidence`. Boolean ``events`` mean True = event, False = censored.

    Returns
    -------
    pandas.DataFrame
        ``time``, ``cause`` (always ``"survival"``), ``group`` (if groups), ``estimate`` (survival),
        ``se``, CI columns, ``at_risk``, ``n_event`` (events of any cause).

    Notes
    -----
    Variance: infinitesimal jackknife, which equals Greenwood's formula without delayed entry
    (frequency weights); with delayed entry or sampling weights it matches R ``survfit``'s IJ
    (e.g. ``survfit(Surv(entry, time, factor(status > 0)) ~ 1, id=id)``, state ``(s0)``). CIs use
    the log(−log) transform; where the estimate is 0 the se is 0 (R reports NaN).

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA* 53, 457–481.
    """
    if events is None:
        n = len(durations)
        events = np.ones(n, dtype=np.int64)
        censor_code = 0
    elif np.asarray(events).dtype.kind == "b" or (isinstance(events, pd.Series) and pd.api.types.is_bool_dtype(events)):
        events = np.asarray(events, dtype=np.int64)
        censor_code = 0
    out = cumulative_incidence(
        durations, events, weights=weights, entry=entry, groups=groups, alpha=alpha,
        censor_code=censor_code, weight_type=weight_type, include_survival=True, timefix=timefix,
        conf_type=conf_type, survival_label="survival",
    )
    out = out[out["cause"] == "survival"].reset_index(drop=True)
    return out
