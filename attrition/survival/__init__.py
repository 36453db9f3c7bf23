"""Competing risks and multi-state survival: when and why cases leave the journey.

Exact (tie-aware, deterministic) Aalen–Johansen estimators with case weights and delayed entry:

- :func:`cumulative_incidence` — cumulative incidence of every exit reason in one pass (IJ variance);
- :func:`kaplan_meier` — overall survival from the same pass;
- :class:`MultiStateFitter` — state occupation probabilities for any transition structure;
- :func:`gray_test` — Gray's K-sample test of cumulative incidence curves;
- plots in :mod:`attrition.survival.plotting` (imported lazily; pyplot is never imported here).
"""
from .cif import cumulative_incidence, kaplan_meier
from .gray import gray_test
from .multistate import MultiStateFitter

__all__ = [
    "cumulative_incidence",
    "kaplan_meier",
    "MultiStateFitter",
    "gray_test",
    "plot_cumulative_incidence",
    "plot_state_occupation",
]


def __getattr__(name):  # lazy plotting imports keep matplotlib out of `import attrition.survival`
    if name in ("plot_cumulative_incidence", "plot_state_occupation"):
        from . import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'attrition.survival' has no attribute {name!r}")
