"""Every validation rule of the victim-journey standard, each with a malformed input."""
import warnings

import pandas as pd
import pytest

from attrition.data import load_events, read_events, validate_events
from attrition.exceptions import DataQualityWarning, DataValidationError, IdentifierColumnError

TODAY = "2022-07-01"


def write(df, tmp_path, name="events.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def test_valid_hand_events_pass(hand_events, tmp_path):
    rep = validate_events(hand_events, today=TODAY)
    assert rep.ok and rep.excluded.empty and len(rep.valid) == len(hand_events)
    ev = load_events(write(hand_events, tmp_path), as_of="2022-07-01")
    assert len(ev) == len(hand_events)


def _set(df, case, event, col, value):
    df = df.copy()
    df[col] = df[col].astype(object)
    m = (df["case_id"] == case) & (df["event"] == event)
    assert m.sum() >= 1
    df.loc[m.idxmax(), col] = value
    return df


def _drop(df, case, event):
    return df[~((df["case_id"] == case) & (df["event"] == event))]


def _dup(df, case, event, **change):
    row = df[(df["case_id"] == case) & (df["event"] == event)].iloc[[0]].copy()
    for k, v in change.items():
        row[k] = v
    return pd.concat([df, row], ignore_index=True)


# (id, mutation, expected rule, expected column, offending case)
ROW_CASES = [
    ("missing case_id", lambda d: _set(d, "C2", "recorded", "case_id", None), "missing_value", "case_id", None),
    ("missing force", lambda d: _set(d, "C2", "recorded", "force", ""), "missing_value", "force", "C2"),
    ("missing event", lambda d: _set(d, "C2", "recorded", "event", None), "missing_value", "event", "C2"),
    ("missing timestamp", lambda d: _set(d, "C2", "recorded", "timestamp", None), "missing_value", "timestamp", "C2"),
    ("unknown event", lambda d: _set(d, "C2", "recorded", "event", "recorded_crime"), "unknown_event", "event", "C2"),
    ("unknown force", lambda d: _set(d, "C2", "recorded", "force", "Gotham"), "unknown_force", "force", "C2"),
    ("non-territorial force", lambda d: d.assign(force=d["force"].where(d["case_id"] != "C3", "British Transport Police")),
     "unknown_force", "force", "C3"),
    ("unparseable timestamp", lambda d: _set(d, "C2", "recorded", "timestamp", "10/04/2021 noon"), "unparseable_timestamp", "timestamp", "C2"),
    ("impossible date", lambda d: _set(d, "C2", "recorded", "timestamp", "2021-02-30"), "unparseable_timestamp", "timestamp", "C2"),
    ("future timestamp", lambda d: _set(d, "C7", "suspect_identified", "timestamp", "2030-01-01"), "future_timestamp", "timestamp", "C7"),
    ("unknown offence", lambda d: _set(d, "C2", "recorded", "offence", "stalking"), "unknown_code", "offence", "C2"),
    ("unknown order type", lambda d: _set(d, "C1", "order_breach", "order_type", "asbo"), "unknown_code", "order_type", "C1"),
    ("unknown court result", lambda d: _set(d, "C1", "court_outcome", "result", "guilty"), "unknown_code", "result", "C1"),
    ("unknown discontinuance reason", lambda d: _set(d, "C5", "discontinued", "reason", "lost file"), "unknown_code", "reason", "C5"),
    ("unknown risk grade", lambda d: _set(d, "C1", "reported", "risk", "very high"), "unknown_code", "risk", "C1"),
    ("outcome code out of range", lambda d: _set(d, "C2", "police_outcome", "outcome_code", 23), "unknown_outcome_code", "outcome_code", "C2"),
    ("outcome code not a number", lambda d: _set(d, "C2", "police_outcome", "outcome_code", "15a"), "unknown_outcome_code", "outcome_code", "C2"),
    ("recorded without offence", lambda d: _set(d, "C4", "recorded", "offence", None), "missing_detail", "offence", "C4"),
    ("police outcome without code", lambda d: _set(d, "C4", "police_outcome", "outcome_code", None), "missing_detail", "outcome_code", "C4"),
    ("breach without order type", lambda d: _set(d, "C1", "order_breach", "order_type", None), "missing_detail", "order_type", "C1"),
    ("exact duplicate row", lambda d: _dup(d, "C4", "recorded"), "duplicate_event", "", "C4"),
    ("second report", lambda d: _dup(d, "C4", "reported", timestamp="2022-01-02"), "repeated_event", "event", "C4"),
    ("second charge", lambda d: _dup(d, "C1", "charged", timestamp="2021-06-11"), "repeated_event", "event", "C1"),
    ("case spans two forces", lambda d: _set(d, "C4", "recorded", "force", "Kent"), "inconsistent_force", "force", "C4"),
    ("no report", lambda d: _drop(d, "C4", "reported"), "missing_report", "event", "C4"),
    ("event before report", lambda d: _set(d, "C4", "recorded", "timestamp", "2021-12-01"), "before_report", "timestamp", "C4"),
    ("conviction before charge", lambda d: _set(d, "C1", "court_outcome", "timestamp", "2021-06-01"), "out_of_order", "timestamp", "C1"),
    ("hearing before charge", lambda d: _set(d, "C6", "first_hearing", "timestamp", "2022-02-20"), "out_of_order", "timestamp", "C6"),
    ("sentence before verdict", lambda d: _set(d, "C1", "sentenced", "timestamp", "2021-08-01"), "out_of_order", "timestamp", "C1"),
    ("SPO granted before applied", lambda d: _set(d, "C1", "spo_interim_granted", "timestamp", "2021-05-04"), "out_of_order", "timestamp", "C1"),
    ("verdict without charge", lambda d: _drop(_drop(d, "C1", "charged"), "C1", "first_hearing"), "missing_prerequisite", "event", "C1"),
    ("discontinued without charge", lambda d: _drop(d, "C5", "charged"), "missing_prerequisite", "event", "C5"),
]


@pytest.mark.parametrize("name,mutate,rule,column,case", ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_rule(hand_events, name, mutate, rule, column, case, tmp_path):
    bad = mutate(hand_events)
    rep = validate_events(bad, today=TODAY)
    assert not rep.ok
    hit = rep.problems[rep.problems["rule"] == rule]
    assert len(hit) >= 1, f"expected rule {rule}, got {rep.problems[['rule', 'column']].values.tolist()}"
    assert column in set(hit["column"])
    if case is not None:
        assert case in ", ".join(hit["example_case_ids"])
    # the error message names the rule, the column and the case
    with pytest.raises(DataValidationError) as err:
        rep.raise_if_invalid()
    assert rule in str(err.value)
    if case is not None:
        assert case in str(err.value)
    # nothing silently lost: valid + excluded == input, and the offending case is excluded whole
    assert len(rep.valid) + len(rep.excluded) == len(bad)
    if case is not None:
        assert case not in set(rep.valid["case_id"])
        assert set(rep.excluded.loc[rep.excluded["case_id"] == case, "reason"].str.len() > 0) == {True}
    # other cases are kept
    assert "C7" in set(rep.valid["case_id"]) or case == "C7"


def test_exclude_mode_warns_and_reports(hand_events, tmp_path):
    bad = _set(hand_events, "C2", "recorded", "offence", "stalking")
    path = write(bad, tmp_path)
    with pytest.raises(DataValidationError, match="unknown_code"):
        load_events(path, as_of="2022-07-01")
    with pytest.warns(DataQualityWarning, match="excluded"):
        ev, rep = load_events(path, errors="exclude", as_of="2022-07-01", return_report=True)
    assert "C2" not in set(ev["case_id"]) and len(ev) + len(rep.excluded) == len(bad)
    assert set(rep.excluded["case_id"]) == {"C2"}
    assert (rep.excluded["reason"].str.contains("unknown_code")).all()


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        read_events(p)
    p.write_text("case_id,force,event,timestamp\n")
    with pytest.raises(DataValidationError, match="empty"):
        read_events(p)


def test_missing_columns(hand_events, tmp_path):
    with pytest.raises(DataValidationError, match=r"(?i)missing required column\(s\) \[.timestamp.\]"):
        read_events(write(hand_events.drop(columns="timestamp"), tmp_path))


@pytest.mark.parametrize("col", ["victim_name", "Date of Birth", "postcode", "email", "Phone Number", "address"])
def test_identifier_columns_refused(hand_events, tmp_path, col):
    with pytest.raises(IdentifierColumnError, match="identifiers"):
        read_events(write(hand_events.assign(**{col: "x"}), tmp_path))


def test_unsupported_mislabelled_and_missing_file(tmp_path):
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(DataValidationError, match=r"x\.docx: unsupported file type '\.docx'") as err:
        read_events(tmp_path / "x.docx")
    assert err.value.rule == "unsupported_type"
    (tmp_path / "x.xlsx").write_text("case_id,force,event,timestamp\n")
    with pytest.raises(DataValidationError, match=r"x\.xlsx: is named '\.xlsx' but is text") as err:
        read_events(tmp_path / "x.xlsx")
    assert err.value.rule == "mislabelled_file"
    with pytest.raises(DataValidationError, match=r"nope\.csv: no such file") as err:
        read_events(tmp_path / "nope.csv")
    assert err.value.rule == "not_found"


def test_bom_and_header_normalisation_and_aliases(hand_events, tmp_path):
    df = hand_events.rename(columns={"case_id": "Case ID", "timestamp": "Timestamp"})
    df["force"] = df["force"].replace({"Metropolitan Police": "Metropolitan Police Service", "Kent": "Kent Police"})
    p = tmp_path / "bom.csv"
    p.write_text("\ufeff" + df.to_csv(index=False), encoding="utf-8")
    ev, rep = load_events(p, as_of="2022-07-01", return_report=True)
    assert len(ev) == len(hand_events)
    assert set(ev["force"].astype(str)) == {"Kent", "Essex", "Metropolitan Police", "Dorset"}
    assert any("normalised" in n for n in rep.notes)


def test_parquet_round_trip(hand_events, tmp_path):
    v = validate_events(hand_events, today=TODAY).valid
    p = tmp_path / "ev.parquet"
    v.to_parquet(p)
    back = load_events(p, as_of="2022-07-01")
    pd.testing.assert_frame_equal(back, v)


def test_report_text(hand_events):
    rep = validate_events(_set(hand_events, "C2", "recorded", "offence", "stalking"), today=TODAY)
    text = str(rep)
    assert "cases:" in text and "date range:" in text and "unknown_code" in text and "C2" in text


def test_many_problems_reported_at_once(hand_events):
    bad = _set(_set(hand_events, "C2", "recorded", "offence", "stalking"), "C4", "recorded", "timestamp", "2021-12-01")
    rep = validate_events(bad, today=TODAY)
    assert {"unknown_code", "before_report"} <= set(rep.problems["rule"])
    assert set(rep.excluded["case_id"]) == {"C2", "C4"}


def test_synthetic_data_are_valid(small_synthetic):
    rep = validate_events(small_synthetic.events, as_of=small_synthetic.as_of)
    assert rep.ok, str(rep)
    assert len(rep.valid) == len(small_synthetic.events)


def test_callers_frame_is_not_modified(hand_events):
    before = hand_events.copy()
    validate_events(hand_events.rename(columns={"case_id": "Case ID"}), today=TODAY)
    validate_events(hand_events, today=TODAY)
    pd.testing.assert_frame_equal(hand_events, before)


def test_row_order_does_not_matter(hand_events):
    a = validate_events(hand_events, today=TODAY).valid
    b = validate_events(hand_events.sample(frac=1.0, random_state=3), today=TODAY).valid
    pd.testing.assert_frame_equal(a, b)
    assert a["case_id"].is_monotonic_increasing


def test_problems_name_the_rows(hand_events):
    bad = hand_events.copy()
    bad.loc[7, "event"] = "teleported"
    rep = validate_events(bad, today=TODAY)
    row = rep.problems.set_index("rule").loc["unknown_event"]
    # a data frame's rows are numbered from 1 (position 7 is row 8); a CSV's by line, header = line 1
    assert row["example_rows"] == "8"
    assert "first rows: 8" in str(rep)
