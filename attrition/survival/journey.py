"""From the case table to the multi-state journey: one row per sojourn on ``(start, stop]``.

The journey is reported -> recorded as stalking -> suspect identified -> charged -> prosecuted -> convicted (of
stalking), the stages of the funnel (:data:`attrition.standard.STAGES`), with an exit (``exited``) possible from
every transient state. As in the funnel, the later stages are stages of a stalking case: a report never recorded
as stalking (``days_to_recorded_stalking`` missing) stays "reported" until it leaves, and a report recorded as
stalking only after its suspect was identified (or charged) enters those states when it is recorded as stalking
(stage dates are made non-decreasing in the funnel's order). Time is counted in days from the start of the report
day, so an event recorded on day ``d`` after the report happens at time ``d + 1``: a case is always at risk
for at least a day, and an exit on the day of the report is an exit at time 1 (daily data cannot order
events within a day). Passing through a state within one day (e.g. charged and heard the same day) leaves
no sojourn in it; the transition goes straight to the next state, which the transition matrix allows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError

__all__ = ["JOURNEY_STATES", "JOURNEY_TRANSITIONS", "journey_sojourns"]

#: Transient states in order, then the absorbing ones.
JOURNEY_STATES = ("reported", "recorded_stalking", "suspect_identified", "charged", "prosecuted", "convicted",
                  "exited")
_TRANSIENT = JOURNEY_STATES[:5]
_CONVICTED = JOURNEY_STATES.index("convicted")
_ENTRY = (None, "days_to_recorded_stalking", "days_to_suspect_identified", "days_to_charged", "days_to_prosecuted")
#: Allowed transitions: forward to any later state, or out.
JOURNEY_TRANSITIONS = tuple(
    [(a, b) for i, a in enumerate(_TRANSIENT) for b in JOURNEY_STATES[i + 1:_CONVICTED + 1]]
    + [(a, "exited") for a in _TRANSIENT]
)


def journey_sojourns(cases: pd.DataFrame) -> pd.DataFrame:
    """The start/stop table of every case's journey, for :class:`attrition.survival.MultiStateFitter`.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table (:func:`attrition.data.to_cases`).

    Returns
    -------
    pandas.DataFrame
        Columns ``case_id``, ``force``, ``start``, ``stop``, ``from_state``, ``to_state`` (``<NA>`` if
        censored at ``stop``); at least one row per case, so no case is lost.

    Examples
    --------
    >>> from attrition.survival import MultiStateFitter, journey_sojourns, JOURNEY_TRANSITIONS
    >>> msf = MultiStateFitter(JOURNEY_TRANSITIONS).fit(journey_sojourns(cases))  # doctest: +SKIP
    """
    need = ["case_id", "duration", "closed", "convicted_stalking", *[c for c in _ENTRY if c]]
    missing = [c for c in need if c not in cases.columns]
    if missing:
        raise DataValidationError(f"journey_sojourns needs case-table columns {missing} (see attrition.data.to_cases)")
    n = len(cases)
    if n == 0:
        raise DataValidationError("The case table is empty.")
    entry = np.column_stack([np.zeros(n)] + [cases[c].to_numpy(float) for c in _ENTRY[1:]]) + 1.0
    entry[:, 0] = 0.0
    entry[np.isnan(entry[:, 1]), 2:] = np.nan  # never recorded as stalking: no later stage of a stalking case
    end = cases["duration"].to_numpy(float) + 1.0
    if np.isnan(end).any():
        raise DataValidationError("duration is missing for some cases; rebuild the case table with to_cases.")
    # inferred stage dates can tie or (rarely) run backwards: make them non-decreasing
    entry = np.where(np.isnan(entry), np.nan, np.fmax.accumulate(np.where(np.isnan(entry), -np.inf, entry), axis=1))
    entry = np.where(entry > end[:, None], end[:, None], entry)
    closed = cases["closed"].to_numpy(bool)
    final = np.where(cases["convicted_stalking"].to_numpy(bool), _CONVICTED,
                     np.where(closed, _CONVICTED + 1, -1))  # state code, -1 censored
    K = len(_TRANSIENT)
    # nearest kept successor, right to left: a transient state is kept if reached and left strictly later
    next_time, next_state = end.copy(), final.copy()
    starts, stops, froms, tos, rows = [], [], [], [], []
    for k in range(K - 1, -1, -1):
        e = entry[:, k]
        kept = ~np.isnan(e) & (e < next_time) if k else np.ones(n, bool)
        idx = np.flatnonzero(kept)
        starts.append(e[idx])
        stops.append(next_time[idx])
        froms.append(np.full(len(idx), k))
        tos.append(next_state[idx])
        rows.append(idx)
        next_time = np.where(kept, e, next_time)
        next_state = np.where(kept, k, next_state)
    idx = np.concatenate(rows[::-1])
    order = np.lexsort((np.concatenate(starts[::-1]), idx))
    states = np.asarray(JOURNEY_STATES, dtype=object)
    to = np.concatenate(tos[::-1])[order]
    out = pd.DataFrame({
        "case_id": cases["case_id"].to_numpy()[idx[order]],
        "start": np.concatenate(starts[::-1])[order],
        "stop": np.concatenate(stops[::-1])[order],
        "from_state": pd.Categorical.from_codes(np.concatenate(froms[::-1])[order], categories=list(JOURNEY_STATES)),
        "to_state": pd.Categorical.from_codes(to, categories=list(JOURNEY_STATES)),
    })
    if "force" in cases.columns:
        out.insert(1, "force", cases["force"].to_numpy()[idx[order]])
    del states
    return out
