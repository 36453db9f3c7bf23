"""Competing risks and multi-state survival: when and why cases leave the journey.

Exact (tie-aware, deterministic) Aalen–Johansen estimators with case weights and delayed entry:

- :func:`cumulative_incidence` — cumulative incidence of every exit reason in one pass (IJ variance);
- :func:`kaplan_meier` — overall survival from the same pass;
- :class:`MultiStateFitter` — state occupation probabilities for any transition structure;
- :func:`gray_test` — Gray's K-sample test of cumulative incidence curves;
- :func:`journey_sojourns` — the case table as a multi-state start/stop table;
- :class:`CauseSpecificCox`, :class:`FineGrayFitter` — regression (Cox underneath, cluster-robust SEs);
- :func:`breach_rate`, :func:`time_to_breach`, :func:`repeat_breach_recording` — breaches as recurrent events;
- :func:`mean_cumulative_function`, :func:`time_to_kth_event` — any recurrent events from (id, time, event) rows;
- plots in :mod:`attrition.survival.plotting` (imported lazily; pyplot is never imported here).

**Ties** (every estimator): R ``survival``'s order at a tied time -- events, then censorings, then
entries -- and, first, near-tied times merged by R's ``timefix`` rule (``survival::aeqSurv``: sorted
distinct times closer than ``sqrt(eps) ~ 1.5e-8``, absolutely or relative to their mean absolute value,
become the smallest of their run), so ``0.1 + 0.2`` and ``0.3`` are one time. Every estimator takes
``timefix=`` (``False`` turns it off; a float sets the tolerance). Integer days are never near-tied.

**Weights**: the estimates never depend on the scale of the weights. The variance does, by estimator:

- ``cumulative_incidence`` / ``kaplan_meier``: ``weight_type="frequency"`` (default: a row of weight ``w``
  is ``w`` identical cases) or ``"sampling"`` (each row one unit; R ``survfit``'s IJ);
- ``MultiStateFitter``: frequency weights (Greenwood-type); with ``variance="ij"``, ``weight_type`` as above;
- ``gray_test``: frequency weights (counts);
- ``CauseSpecificCox``: R ``coxph``'s rule -- integer weights are frequency weights (model-based SE),
  non-integer weights give the robust SE (each row its own cluster, or ``cluster_col``); ``robust=``
  overrides, and ``summary["robust"]`` says which was used;
- ``FineGrayFitter``: case weights multiply the censoring weights (R ``finegray``); the SE is always robust.
"""
from .cif import cumulative_incidence, kaplan_meier
from .gray import gray_test
from .journey import JOURNEY_STATES, JOURNEY_TRANSITIONS, journey_sojourns
from .multistate import MultiStateFitter
from .recurrent import (breach_rate, mean_cumulative_function, repeat_breach_recording, time_to_breach,
                        time_to_kth_event)
from .regression import CauseSpecificCox, FineGrayFitter

__all__ = [
    "cumulative_incidence",
    "kaplan_meier",
    "MultiStateFitter",
    "gray_test",
    "journey_sojourns",
    "JOURNEY_STATES",
    "JOURNEY_TRANSITIONS",
    "CauseSpecificCox",
    "FineGrayFitter",
    "breach_rate",
    "time_to_breach",
    "repeat_breach_recording",
    "mean_cumulative_function",
    "time_to_kth_event",
    "plot_cumulative_incidence",
    "plot_exits_and_outcome",
    "plot_state_occupation",
]


def __getattr__(name):  # lazy plotting imports keep matplotlib out of `import attrition.survival`
    if name in ("plot_cumulative_incidence", "plot_exits_and_outcome", "plot_state_occupation"):
        from . import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'attrition.survival' has no attribute {name!r}")
