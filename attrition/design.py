"""Covariates a model can use on the data at hand, and what was done to get them.

A national synthetic dataset has every risk level, relationship and year, with events in each. A force's
extract may have none of ``risk``, only one financial year, or a relationship with no charge at all, which
makes a regression's maximum-likelihood estimate not exist (perfect separation) or a coefficient not
identifiable. :func:`usable_covariates` does what a careful analyst would do and says so: a covariate that
is absent or constant is dropped, missing values of a categorical covariate get an explicit ``unknown``
level, and levels too sparse to estimate (no outcome event, or very few cases) are pooled.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["usable_covariates", "OTHER_LEVEL", "UNKNOWN_LEVEL"]

#: Level that pools sparse levels of a categorical covariate.
OTHER_LEVEL = "other (pooled)"
#: Level given to missing values of a categorical covariate.
UNKNOWN_LEVEL = "unknown"


def _as_labels(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), None)


def usable_covariates(frame: pd.DataFrame, covariates, *, event=None, min_cases: int = 20,
                      min_events: int = 1, ordinal=("risk",)) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Make covariates estimable on this data: drop, fill or pool, and say what was done.

    Parameters
    ----------
    frame : pandas.DataFrame
        The modelling data (one row per case).
    covariates : sequence of str
        Candidate covariates: categorical (object, category, bool-like text) or numeric columns of ``frame``.
    event : array-like of bool, optional
        The outcome indicator of the model (length ``len(frame)``). Levels with fewer than ``min_events``
        events are pooled, because a level without events separates the outcome (its coefficient is
        infinite). Without ``event`` only ``min_cases`` applies.
    min_cases : int, default 20
        Categorical levels with fewer cases are pooled.
    min_events : int, default 1
        Categorical levels with fewer events (when ``event`` is given) are pooled.
    ordinal : sequence of str, default ("risk",)
        Categorical covariates whose levels are ordered (in their categorical order): a sparse level joins
        its nearest usable neighbour (high risk joins medium), never a distant level.

    Returns
    -------
    frame : pandas.DataFrame
        A copy with the kept categorical covariates recoded as categoricals (``unknown`` for missing values,
        sparse levels pooled into ``"other (pooled)"``). Levels keep their original order (a categorical's
        own, else largest first), so the first level stays the reference of a dummy coding.
    kept : list of str
        The covariates still usable, in the given order.
    notes : list of str
        One sentence per change, for the notebook to print. Empty when nothing was changed.

    Notes
    -----
    Pooling order: sparse levels go into one pooled level; if that pooled level is itself still sparse,
    it joins the largest level. A covariate left with one level is dropped. Numeric covariates are dropped
    when absent, entirely missing or constant; rows with a missing numeric covariate are never dropped here
    (the model will refuse them, naming the column).
    """
    out = frame.copy()
    ev = None if event is None else np.asarray(event, dtype=bool)
    if ev is not None and len(ev) != len(out):
        raise ValueError(f"event has {len(ev)} values for {len(out)} rows")
    kept, notes = [], []
    for c in dict.fromkeys(covariates):
        if c not in out.columns or out[c].isna().all():
            notes.append(f"`{c}` is not in the data, so the model does without it")
            continue
        s = out[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            if s.nunique(dropna=True) < 2:
                notes.append(f"`{c}` takes one value only, so the model does without it")
                continue
            kept.append(c)
            continue
        labels = _as_labels(s)
        n_missing = int(labels.isna().sum())
        if n_missing:
            labels = labels.fillna(UNKNOWN_LEVEL)
            notes.append(f"`{c}` is missing for {n_missing / len(labels):.1%} of cases: they form an "
                         f"'{UNKNOWN_LEVEL}' level")
        labels = labels.astype(str)
        size = labels.value_counts()
        events = (pd.Series(ev, index=labels.index).groupby(labels).sum() if ev is not None
                  else pd.Series(min_events, index=size.index))
        events = events.reindex(size.index, fill_value=0)
        sparse = size.index[(size < min_cases) | (events < min_events)]
        if c in ordinal and isinstance(s.dtype, pd.CategoricalDtype) and 0 < len(sparse) < len(size):
            levels = [str(x) for x in s.cat.categories if str(x) in size.index]
            good = [i for i, x in enumerate(levels) if x not in sparse]
            target = {x: levels[min(good, key=lambda g: (abs(g - i), -g))] for i, x in enumerate(levels) if x in sparse}
            labels = labels.replace(target)
            notes.append(f"`{c}`: level(s) {sorted(target)} have too few cases or outcome events to estimate and "
                         "are merged with the neighbouring level (" + ", ".join(f"{a} -> {b}" for a, b in target.items())
                         + ")")
            sparse = sparse[:0]
        if len(sparse) and len(sparse) < len(size):
            pooled = labels.isin(sparse)
            if len(sparse) > 1:
                labels = labels.where(~pooled, OTHER_LEVEL)
                name = OTHER_LEVEL
            else:
                name = str(sparse[0])
            n_pool = int(pooled.sum())
            n_pool_ev = int(ev[pooled.to_numpy()].sum()) if ev is not None else min_events
            if n_pool < min_cases or n_pool_ev < min_events:
                largest = labels[~pooled].value_counts().index[0]
                labels = labels.where(~pooled, largest)
                notes.append(f"`{c}`: level(s) {sorted(map(str, sparse))} have too few cases or outcome events "
                             f"to estimate and are merged with '{largest}'")
            elif len(sparse) > 1:
                notes.append(f"`{c}`: level(s) {sorted(map(str, sparse))} have too few cases or outcome events "
                             f"to estimate and are pooled as '{name}'")
        elif len(sparse) == len(size):
            notes.append(f"`{c}`: no level has enough cases and outcome events to estimate, so the model does "
                         "without it")
            continue
        if labels.nunique() < 2:
            notes.append(f"`{c}` takes one value only on these data, so the model does without it")
            continue
        present = set(labels.unique())
        first = ([str(x) for x in s.cat.categories] if isinstance(s.dtype, pd.CategoricalDtype)
                 else labels.value_counts().index.tolist())
        order = [x for x in first if x in present]
        order += [x for x in labels.value_counts().index if x not in order]
        out[c] = pd.Categorical(labels, categories=order)
        kept.append(c)
    return out, kept, notes
