"""Tests of attrition.survival.gray_test against R cmprsk::cuminc()$Tests
(tests/results/survival_gray.R), frequency-weight equivalence, calibration and bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError
from attrition.survival import gray_test

RES = Path(__file__).parent / "results"


@pytest.fixture(scope="module")
def ref():
    return pd.read_csv(RES / "survival_gray_ref.csv")


@pytest.fixture(scope="module")
def synth():
    return pd.read_csv(RES / "survival_gray_synth_data.csv")


def _check(got, want):
    got = got.assign(cause=got.cause.astype(str)).set_index("cause")
    want = want.assign(cause=want.cause.astype(str)).set_index("cause")
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got.p_value, want.p_value, rtol=1e-6, atol=1e-10)
    assert (got.df == want.df).all()


@pytest.mark.parametrize("rho", [0, 1])
def test_mgus2_vs_cmprsk(ref, rho):
    mg = pd.read_csv(RES / "survival_cif_mgus2_data.csv")
    _check(gray_test(mg.etime, mg.event, mg.sex, rho=rho), ref[(ref.dataset == "mgus2") & (ref.rho == rho)])


@pytest.mark.parametrize("rho", [0, 1])
def test_tied_three_groups_vs_cmprsk(ref, synth, rho):
    _check(gray_test(synth.time, synth.status, synth.group, rho=rho), ref[(ref.dataset == "synth") & (ref.rho == rho)])


def test_single_cause_and_string_events(ref, synth):
    lab = synth.status.map({0: "open", 1: "charged", 2: "nfa", 3: "withdrawn"})
    got = gray_test(synth.time, lab, synth.group, cause="nfa", censor_code="open")
    want = ref[(ref.dataset == "synth") & (ref.rho == 0) & (ref.cause == 2)]
    assert got.cause.tolist() == ["nfa"]
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-6)


def test_frequency_weights_equal_expanded_rows(synth):
    ex = synth.loc[synth.index.repeat(synth.w)]
    a = gray_test(synth.time, synth.status, synth.group, weights=synth.w, rho=1)
    b = gray_test(ex.time, ex.status, ex.group, rho=1)
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_group_labels_permutation_invariant(synth):
    a = gray_test(synth.time, synth.status, synth.group)
    b = gray_test(synth.time, synth.status, synth.group.map({"east": "z", "north": "a", "west": "m"}))
    np.testing.assert_allclose(a.statistic, b.statistic, rtol=1e-10)


def test_bad_input(synth):
    with pytest.raises(DataValidationError, match="at least two groups"):
        gray_test(synth.time, synth.status, np.zeros(len(synth)))
    with pytest.raises(DataValidationError, match=r"cause \[7\] does not occur"):
        gray_test(synth.time, synth.status, synth.group, cause=7)
    with pytest.raises(DataValidationError, match="negative"):
        gray_test(-synth.time, synth.status, synth.group)
    with pytest.raises(DataValidationError, match="groups has 3 values"):
        gray_test([1, 2], [1, 0], ["a", "b", "c"])


@pytest.mark.slow
def test_type_one_error_under_null():
    rng = np.random.default_rng(11)
    reps, n, rej = 600, 200, 0
    for _ in range(reps):
        t = 1 + np.floor(rng.exponential(20, n))
        ev = rng.choice(3, n, p=[0.3, 0.4, 0.3])
        g = rng.integers(0, 2, n)
        rej += gray_test(t, ev, g, cause=1).p_value.iloc[0] < 0.05
    assert 0.03 <= rej / reps <= 0.075
