"""Causal-effect tools: propensity scores, IPW / AIPW effects, balance, sensitivity analysis, plots.

Plot functions live in :mod:`attrition.effects.plotting` and import pyplot only when called.
"""
from .plotting import forest_plot, love_plot, plot_risk_curves
from .propensity import PropensityModel, aipw_effect, balance_table, ipw_effect, ipw_weights
from .sensitivity import e_value, negative_control_check

__all__ = [
    "PropensityModel",
    "ipw_weights",
    "ipw_effect",
    "aipw_effect",
    "balance_table",
    "e_value",
    "negative_control_check",
    "forest_plot",
    "love_plot",
    "plot_risk_curves",
]
