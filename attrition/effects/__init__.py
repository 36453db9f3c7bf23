"""Causal-effect tools: propensity scores, IPW / AIPW effects, balance, sensitivity analysis, plots.

Plot functions live in :mod:`attrition.effects.plotting` and import pyplot only when called.
"""
from .event_study import officer_event_study, plot_event_study
from .officer import (merge_officer, officer_design, officer_did, officer_effect, officer_hazard_ratio,
                      plot_officer_effects)
from .officer_permutation import officer_negative_control, officer_permutation_test, officer_schedules
from .plotting import forest_plot, love_plot, plot_risk_curves, plot_spo_effects, plot_trial_risk_curves
from .power import plot_power_curve, power_curve, power_officer_study, power_stepped_wedge
from .propensity import PropensityModel, aipw_effect, balance_table, ipw_effect, ipw_weights
from .sensitivity import e_value, negative_control_check
from .spo import (
    SPOEffect,
    clone_censor_weight,
    landmark_analysis,
    naive_spo_comparison,
    spo_counting_process,
    spo_effect,
    spo_effect_on_data,
    spo_time_varying_cox,
    true_ccw_risks,
)
from .stress import load_switch_study, plot_switch_study, switch_study, switch_table
from .trials import (SPOTargetTrial, confounding_bias_table, spo_hazard_ratios, spo_target_trial, spo_trial_on_data,
                     trial_effects_table,
                     true_trial_risks)

__all__ = [
    "officer_effect",
    "officer_hazard_ratio",
    "plot_officer_effects",
    "officer_design",
    "spo_effect",
    "spo_effect_on_data",
    "spo_counting_process",
    "spo_time_varying_cox",
    "landmark_analysis",
    "clone_censor_weight",
    "naive_spo_comparison",
    "true_ccw_risks",
    "SPOEffect",
    "SPOTargetTrial",
    "spo_target_trial",
    "spo_trial_on_data",
    "trial_effects_table",
    "spo_hazard_ratios",
    "true_trial_risks",
    "confounding_bias_table",
    "switch_study",
    "load_switch_study",
    "switch_table",
    "plot_switch_study",
    "officer_did",
    "officer_permutation_test",
    "officer_event_study",
    "plot_event_study",
    "officer_schedules",
    "officer_negative_control",
    "merge_officer",
    "power_officer_study",
    "power_curve",
    "power_stepped_wedge",
    "plot_power_curve",
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
    "plot_spo_effects",
    "plot_trial_risk_curves",
]
