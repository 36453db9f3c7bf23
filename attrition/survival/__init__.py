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
    "plot_state_occupation",
]


def __getattr__(name):  # lazy plotting imports keep matplotlib out of `import attrition.survival`
    if name in ("plot_cumulative_incidence", "plot_state_occupation"):
        from . import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'attrition.survival' has no attribute {name!r}")
