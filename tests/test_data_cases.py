"""to_cases on hand-built journeys whose answers are known."""
import numpy as np
import pandas as pd
import pytest

from attrition.data import financial_year, to_cases, validate_events
from attrition.exceptions import DataValidationError


@pytest.fixture
def cases(hand_events):
    rep = validate_events(hand_events, today="2022-07-01")
    assert rep.ok, str(rep)
    return to_cases(rep.valid, as_of="2022-07-01").set_index("case_id")


def test_stage_status_and_reason(cases):
    got = cases[["stage_reached", "status", "exit_stage", "exit_reason"]].astype(object).where(lambda d: d.notna(), None)
    expected = {
        "C1": ("convicted", "convicted", None, None),
        "C2": ("reported", "exited", "reported", "mischarged"),
        "C3": ("suspect_identified", "exited", "suspect_identified", "evidential_victim_supports"),
        "C4": ("recorded_stalking", "exited", "recorded_stalking", "no_suspect"),
        "C5": ("charged", "exited", "charged", "victim_not_supporting"),
        "C6": ("prosecuted", "exited", "prosecuted", "mischarged"),
        "C7": ("suspect_identified", "open", None, None),
    }
    for cid, exp in expected.items():
        assert tuple(got.loc[cid]) == exp, cid


def test_durations_and_days(cases):
    # C1 convicted 2021-09-01, reported 2021-05-01: 123 days
    assert cases.loc["C1", "duration"] == 123
    assert cases.loc["C1", "days_to_charged"] == 40
    assert cases.loc["C1", "days_to_convicted"] == 123
    # C3: the stalking classification came with the reclassification on day 10
    assert cases.loc["C3", "days_to_recorded_stalking"] == 10
    assert cases.loc["C3", "days_to_recorded"] == 1
    # C7 open: censored at as_of (2022-07-01) - 2022-06-01 = 30 days
    assert cases.loc["C7", "duration"] == 30 and not cases.loc["C7", "closed"]
    assert np.isnan(cases.loc["C7", "days_to_police_outcome"])
    # C5 charged via the charged event: suspect identification implied by the charge
    assert cases.loc["C5", "days_to_suspect_identified"] == 28


def test_offences_and_flags(cases):
    assert cases.loc["C2", "recorded_offence"] == "harassment" and not cases.loc["C2", "ever_recorded_stalking"]
    assert cases.loc["C3", "final_offence"] == "stalking_s2a" and cases.loc["C3", "ever_recorded_stalking"]
    assert cases.loc["C6", "charged_offence"] == "harassment" and not cases.loc["C6", "charged_stalking"]
    assert cases.loc["C6", "convicted_any"] and not cases.loc["C6", "convicted_stalking"]
    assert cases["charged"].sum() == 3


def test_spo_and_breaches(cases):
    # C1: interim applied 4 days after report but 1 day after arrest -> timely
    assert cases.loc["C1", "spo_interim_applied"] and cases.loc["C1", "spo_interim_timely"]
    assert cases.loc["C1", "spo_granted"]
    # C5: full application 17 days after need -> timely; C6: 45 days -> not timely
    assert cases.loc["C5", "spo_full_timely"] and not cases.loc["C6", "spo_full_timely"]
    assert cases.loc["C1", "n_breaches"] == 2
    assert cases.loc["C1", "days_to_first_breach"] == 19 and cases.loc["C1", "days_to_second_breach"] == 31
    assert cases["n_breaches"].sum() == 2 and np.isnan(cases.loc["C2", "days_to_first_breach"])


def test_financial_year(cases):
    assert cases.loc["C3", "financial_year"] == "2021/22"  # reported 31 March 2022
    assert cases.loc["C7", "financial_year"] == "2022/23"
    fy = financial_year(pd.Series(pd.to_datetime(["2020-04-01", "2021-03-31", None])))
    assert fy.tolist()[:2] == ["2020/21", "2020/21"] and pd.isna(fy.iloc[2])


def test_as_of_censors_and_truncates(hand_events):
    valid = validate_events(hand_events, today="2022-07-01").valid
    early = to_cases(valid, as_of="2021-06-15").set_index("case_id")
    # only C1 and C2 were reported by then; C1 is open (charged on 10 June, no verdict yet)
    assert list(early.index) == ["C1", "C2"]
    assert early.loc["C1", "status"] == "open" and early.loc["C1", "stage_reached"] == "charged"
    assert early.loc["C1", "duration"] == 45
    assert early.loc["C2", "status"] == "exited"
    assert pd.Timestamp(early.attrs["as_of"]) == pd.Timestamp("2021-06-15")


def test_default_as_of_is_last_event(hand_events):
    c = to_cases(validate_events(hand_events, today="2022-07-01").valid)
    assert pd.Timestamp(c.attrs["as_of"]) == pd.Timestamp("2022-06-05")


def test_to_cases_refuses_journeys_without_report(hand_events):
    ev = validate_events(hand_events, today="2022-07-01").valid
    ev = ev[~((ev["case_id"] == "C4") & (ev["event"] == "reported"))]
    with pytest.raises(DataValidationError, match="no 'reported' event"):
        to_cases(ev)


def test_one_row_per_case_no_case_lost(small_synthetic):
    ev, c = small_synthetic.events, small_synthetic.cases
    assert c["case_id"].is_unique
    assert set(c["case_id"]) == set(ev["case_id"])
    # every closed case that is not convicted has an exit stage and a reason; open ones none
    ex = c["status"] == "exited"
    assert c.loc[ex, "exit_reason"].notna().all() and c.loc[ex, "exit_stage"].notna().all()
    assert c.loc[~ex, "exit_reason"].isna().all()
    assert (c["duration"] >= 0).all()
