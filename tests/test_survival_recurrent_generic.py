"""Recurrent events from generic (id, time, event) data against R survival 3.5-3
(tests/results/survival_recurrent.R): the mean cumulative function with its robust (IJ, Lawless-Nadeau)
standard error = survfit(Surv(start, stop, event) ~ 1, id = id) cumhaz / std.chaz, and the time to the
2nd event = 1 - Kaplan-Meier."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.exceptions import DataValidationError
from attrition.survival import mean_cumulative_function, time_to_kth_event

RES = Path(__file__).parent / "results"
D = pd.read_csv(RES / "survival_recurrent_data.csv")


@pytest.mark.parametrize("group", ["all", "a", "b"])
def test_mcf_matches_survfit_with_id(group):
    ref = pd.read_csv(RES / "survival_recurrent_mcf.csv")
    ref = ref[ref.group == group]
    if group == "all":
        got = mean_cumulative_function(D)
    else:
        got = mean_cumulative_function(D, groups="group")
        assert got.group.unique().tolist() == ["a", "b"]
        got = got[got.group == group]
    m = ref.merge(got, on="time", suffixes=("_r", ""))
    assert len(m) == len(ref) == len(got)
    np.testing.assert_allclose(m.mcf, m.cumhaz, rtol=1e-10)
    np.testing.assert_allclose(m.se, m.se_r, rtol=1e-8)


def test_mcf_closed_form():
    # 2 subjects followed to 10 and 5; events: subject 1 at 2 (twice) and 7, subject 2 at 2
    d = pd.DataFrame({"id": [1, 1, 1, 1, 2, 2], "time": [2, 2, 7, 10, 2, 5], "event": [1, 1, 1, 0, 1, 0]})
    got = mean_cumulative_function(d)
    np.testing.assert_allclose(got.mcf, [3 / 2, 3 / 2 + 1])
    # U_1(2) = (2 - 3/2)/2, U_2(2) = (1 - 3/2)/2 -> var = 2 * 0.0625; at 7 only subject 1 at risk: U_1 += 0
    np.testing.assert_allclose(got.se, [np.sqrt(0.125), np.sqrt(0.125)])
    assert got.at_risk.tolist() == [2, 1] and got.n_events.tolist() == [3, 1]


def test_time_to_second_event_matches_km():
    ref = pd.read_csv(RES / "survival_recurrent_k2.csv")
    got = time_to_kth_event(D, 2)
    m = ref.merge(got, on="time", suffixes=("_r", ""))
    assert len(m) == len(ref) and len(got) == len(ref)
    np.testing.assert_allclose(m.probability, m.probability_r, atol=1e-10)
    dead = m.se_r.isna()  # R's se of log S is NaN once S = 0; ours is 0 there
    assert (m.se[dead] == 0).all() and (m.probability_r[dead] == 1).all()
    np.testing.assert_allclose(m.se[~dead], m.se_r[~dead], atol=1e-10)


def test_generic_recurrent_bad_input():
    with pytest.raises(DataValidationError, match="0 .end of follow-up. or 1"):
        mean_cumulative_function(D.assign(event=2))
    with pytest.raises(DataValidationError, match="events > 0"):
        mean_cumulative_function(D.assign(time=np.where(D.event == 1, 0, D.time)))
    with pytest.raises(DataValidationError, match="constant within each subject"):
        mean_cumulative_function(D.assign(group=np.arange(len(D)) % 2), groups="group")
    with pytest.raises(ValueError, match="positive integer"):
        time_to_kth_event(D, 0)
