"""Tests of attrition.effects.sensitivity: E-values (VanderWeele & Ding 2017, R package EValue) and
negative-control outcomes."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from attrition.effects import aipw_effect, e_value, ipw_effect, negative_control_check
from attrition.exceptions import DataValidationError


def ev(rr):
    """Closed form E-value of a risk ratio >= 1."""
    return rr + math.sqrt(rr * (rr - 1))


def test_paper_example_breastfeeding():
    # VanderWeele & Ding (2017), Ann Intern Med: RR 3.9 (95% CI 1.8 to 8.7) -> E-values 7.26 and 3.0
    out = e_value(3.9, 1.8, 8.7)
    assert_allclose(out.loc["E-value", "point"], 3.9 + math.sqrt(3.9 * 2.9), rtol=1e-12)
    assert round(out.loc["E-value", "point"], 2) == 7.26
    assert_allclose(out.loc["E-value", "lower"], 3.0, atol=1e-12)  # 1.8 + sqrt(1.8 * 0.8) = 3 exactly
    assert np.isnan(out.loc["E-value", "upper"])
    assert_allclose(out.loc["RR"].to_numpy(), [3.9, 1.8, 8.7])
    assert list(out.index) == ["RR", "E-value"] and list(out.columns) == ["point", "lower", "upper"]


def test_protective_estimate_inverted_leukemia_example():
    # EValue::evalues.RR(0.80, 0.71, 0.91), the leukaemia example of the paper: 1.81 and 1.43
    out = e_value(0.80, 0.71, 0.91)
    assert_allclose(out.loc["E-value", "point"], ev(1 / 0.80), rtol=1e-12)
    assert_allclose(out.loc["E-value", "upper"], ev(1 / 0.91), rtol=1e-12)
    assert round(out.loc["E-value", "point"], 2) == 1.81 and round(out.loc["E-value", "upper"], 2) == 1.43
    assert np.isnan(out.loc["E-value", "lower"])
    # symmetry: 1/0.8 has the same E-value
    assert_allclose(e_value(1 / 0.80).loc["E-value", "point"], out.loc["E-value", "point"], rtol=1e-12)


def test_hammond_holl_two_by_two():
    # EValue docs: twoXtwoRR(397, 78557, 51, 108778) then evalues.RR(10.729780, 8.017457, 14.359688)
    out = e_value(10.729780, 8.017457, 14.359688)
    assert_allclose(out.loc["E-value", ["point", "lower"]].to_numpy(float), [ev(10.729780), ev(8.017457)])
    assert_allclose(out.loc["E-value", "point"], 20.94, atol=0.01)


def test_ci_crossing_null_gives_one():
    out = e_value(1.3, 0.9, 1.8)
    assert out.loc["E-value", "lower"] == 1.0
    out = e_value(0.8, 0.6, 1.05)
    assert out.loc["E-value", "upper"] == 1.0
    assert e_value(1.0, 0.8, 1.2).loc["E-value", "point"] == 1.0


def test_hazard_ratio_common_outcome_conversion():
    # EValue::evalues.HR(0.56, 0.46, 0.69, rare = FALSE)
    conv = lambda hr: (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))  # noqa: E731
    out = e_value(0.56, 0.46, 0.69, measure="HR", rare=False)
    assert_allclose(out.loc["RR"].to_numpy(), [conv(0.56), conv(0.46), conv(0.69)], rtol=1e-12)
    assert_allclose(out.loc["RR", "point"], 0.670084, atol=1e-6)
    assert_allclose(out.loc["E-value", "point"], ev(1 / conv(0.56)), rtol=1e-12)
    assert_allclose(out.loc["E-value", "point"], 2.349531, atol=1e-6)
    assert_allclose(out.loc["E-value", "upper"], ev(1 / conv(0.69)), rtol=1e-12)
    # rare outcome: HR taken as RR
    rare = e_value(0.56, 0.46, 0.69, measure="HR", rare=True)
    assert_allclose(rare.loc["E-value", "point"], ev(1 / 0.56), rtol=1e-12)


def test_odds_ratio_conversions():
    # EValue::evalues.OR(0.86, 0.75, 0.99, rare = FALSE): sqrt transform
    out = e_value(0.86, 0.75, 0.99, measure="OR", rare=False)
    assert_allclose(out.loc["RR"].to_numpy(), np.sqrt([0.86, 0.75, 0.99]), rtol=1e-12)
    assert_allclose(out.loc["E-value", "point"], ev(1 / math.sqrt(0.86)), rtol=1e-12)
    assert_allclose(out.loc["E-value", "upper"], ev(1 / math.sqrt(0.99)), rtol=1e-12)
    assert_allclose(e_value(2.5, 1.5, 4, measure="OR", rare=True).loc["E-value", "point"], ev(2.5))


def test_non_null_true_value():
    # EValue's threshold(): toward the true value, and away from it
    assert_allclose(e_value(2.0, true=1.5).loc["E-value", "point"], (2 + math.sqrt(2 * 0.5)) / 1.5)
    assert_allclose(e_value(1.2, true=1.5).loc["E-value", "point"], ev(1.5 / 1.2))


def test_risk_difference_via_baseline_risk():
    out = e_value(0.1, 0.02, 0.18, measure="RD", baseline_risk=0.2)
    assert_allclose(out.loc["RR"].to_numpy(), [1.5, 1.1, 1.9])
    assert_allclose(out.loc["E-value", ["point", "lower"]].to_numpy(float), [ev(1.5), ev(1.1)])
    assert e_value(0.1, -0.02, 0.2, measure="RD", baseline_risk=0.2).loc["E-value", "lower"] == 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="rare"):
        e_value(2.0, measure="OR")
    with pytest.raises(ValueError, match="baseline_risk"):
        e_value(0.1, measure="RD")
    with pytest.raises(ValueError, match="lower"):
        e_value(2.0, 2.5, 3.0)
    with pytest.raises(ValueError, match="positive"):
        e_value(-1.0)
    with pytest.raises(ValueError, match="measure"):
        e_value(2.0, measure="SMD")


# ------------------------------------------------------------------------------------------- negative controls
def _nc_data(seed=11, n=6000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    u = rng.normal(size=n)  # unmeasured confounder
    t = rng.binomial(1, expit(0.8 * x + 0.8 * u))
    nc_measured = rng.binomial(1, expit(-0.5 + 0.9 * x))  # confounded by x only; no effect of t
    nc_unmeasured = rng.binomial(1, expit(-0.5 + 0.9 * x + 1.0 * u))  # also by u
    return pd.DataFrame({"x": x, "t": t, "nc1": nc_measured, "nc2": nc_unmeasured})


def test_negative_control_covers_null_when_confounding_is_measured():
    df = _nc_data()
    out = negative_control_check(ipw_effect, df, "nc1", treatment="t", covariates=["x"])
    assert bool(out["covers_null"]) is True
    assert out["outcome"] == "nc1" and out["null"] == 0.0
    assert out["lower 95%"] <= 0 <= out["upper 95%"]
    # the crude comparison is confounded and fails the check
    crude = negative_control_check(ipw_effect, df, "nc1", treatment="t", covariates=[])
    assert bool(crude["covers_null"]) is False


def test_negative_control_flags_unmeasured_confounding():
    df = _nc_data()
    out = negative_control_check(aipw_effect, df, "nc2", measure="risk_ratio", treatment="t", covariates=["x"])
    assert out["null"] == 1.0
    assert bool(out["covers_null"]) is False and out["lower 95%"] > 1


def test_negative_control_generic_callable_and_errors():
    def fake(df, outcome, shift=0.0):
        return pd.DataFrame(
            {"estimate": [0.02 + shift], "lower 90%": [-0.01 + shift], "upper 90%": [0.05 + shift]},
            index=["risk_difference"],
        )

    assert bool(negative_control_check(fake, None, "nc")["covers_null"]) is True
    assert bool(negative_control_check(fake, None, "nc", shift=0.1)["covers_null"]) is False
    with pytest.raises(DataValidationError, match="no row 'odds_ratio'"):
        negative_control_check(fake, None, "nc", measure="odds_ratio")
