"""The case table -> multi-state journey (start/stop) table, and the multi-state fit on it."""
import numpy as np
import pandas as pd
import pytest

from attrition.data import to_cases, validate_events
from attrition.exceptions import DataValidationError
from attrition.survival import MultiStateFitter
from attrition.survival.journey import JOURNEY_TRANSITIONS, journey_sojourns


@pytest.fixture
def hand_cases(hand_events):
    return to_cases(validate_events(hand_events, today="2022-07-01").valid, as_of="2022-07-01")


def test_hand_built_sojourns(hand_cases):
    j = journey_sojourns(hand_cases)
    c1 = j[j["case_id"] == "C1"][["start", "stop", "from_state", "to_state"]].astype({"from_state": str, "to_state": str})
    # C1: reported day 0, recorded as stalking day 1, suspect day 2, charged day 40, heard day 54, convicted day 123
    # (times are day + 1)
    assert c1.values.tolist() == [[0.0, 2.0, "reported", "recorded_stalking"],
                                  [2.0, 3.0, "recorded_stalking", "suspect_identified"],
                                  [3.0, 41.0, "suspect_identified", "charged"],
                                  [41.0, 55.0, "charged", "prosecuted"],
                                  [55.0, 124.0, "prosecuted", "convicted"]]
    c7 = j[j["case_id"] == "C7"]
    assert c7["to_state"].isna().tolist() == [False, False, True] and c7["stop"].iloc[-1] == 31.0  # censored at as_of
    # C2: recorded as harassment and never as stalking, so (as in the funnel) it leaves from "reported" on day 35
    # although a suspect was identified
    c2 = j[j["case_id"] == "C2"][["start", "stop", "from_state", "to_state"]].astype({"from_state": str, "to_state": str})
    assert c2.values.tolist() == [[0.0, 36.0, "reported", "exited"]]
    # C3: harassment reclassified as stalking on day 10, suspect day 11, outcome 15 on day 62
    c3 = j[j["case_id"] == "C3"][["start", "stop", "from_state", "to_state"]].astype({"from_state": str, "to_state": str})
    assert c3.values.tolist() == [[0.0, 11.0, "reported", "recorded_stalking"],
                                  [11.0, 12.0, "recorded_stalking", "suspect_identified"],
                                  [12.0, 63.0, "suspect_identified", "exited"]]
    assert set(j["case_id"]) == set(hand_cases["case_id"])   # no case lost
    assert (j["stop"] > j["start"]).all()


def test_same_day_transitions_skip_a_state():
    cases = pd.DataFrame({"case_id": [1, 2], "duration": [0.0, 5.0], "closed": [True, True],
                          "convicted_stalking": [False, True], "days_to_recorded_stalking": [np.nan, 0.0],
                          "days_to_suspect_identified": [np.nan, 2.0],
                          "days_to_charged": [np.nan, 2.0], "days_to_prosecuted": [np.nan, 5.0]})
    j = journey_sojourns(cases)
    assert j.astype({"from_state": str, "to_state": str})[["case_id", "start", "stop", "from_state", "to_state"]].values.tolist() == [
        [1, 0.0, 1.0, "reported", "exited"],
        [2, 0.0, 1.0, "reported", "recorded_stalking"],
        [2, 1.0, 3.0, "recorded_stalking", "charged"],
        [2, 3.0, 6.0, "charged", "convicted"],
    ]


def test_no_censoring_gives_empirical_proportions(small_synthetic):
    c = small_synthetic.cases
    c = c[c["closed"]]
    m = MultiStateFitter(JOURNEY_TRANSITIONS).fit(journey_sojourns(c))
    last = m.state_occupation_[m.state_occupation_["time"] == m.state_occupation_["time"].max()].set_index("state")
    assert last.loc["convicted", "probability"] == pytest.approx(c["convicted_stalking"].mean(), abs=1e-12)
    assert last.loc["exited", "probability"] == pytest.approx(1 - c["convicted_stalking"].mean(), abs=1e-12)


def test_missing_columns():
    with pytest.raises(DataValidationError, match="days_to_charged"):
        journey_sojourns(pd.DataFrame({"case_id": [1], "duration": [1.0], "closed": [True], "convicted_stalking": [False],
                                       "days_to_recorded_stalking": [0.0], "days_to_suspect_identified": [1.0],
                                       "days_to_prosecuted": [np.nan]}))
