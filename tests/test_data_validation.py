"""Every validation rule of the victim-journey standard, each with a malformed input."""
import warnings

import numpy as np
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


# --- plausibility rules, one root cause, dayfirst ------------------------------------------------------
PLAUSIBILITY_CASES = [
    ("partial date (year and month)", lambda d: _set(d, "C4", "reported", "timestamp", "2022-01"), "partial_date", "C4"),
    ("partial date (year)", lambda d: _set(d, "C4", "recorded", "timestamp", "2022"), "partial_date", "C4"),
    ("before the offences existed", lambda d: _set(d, "C2", "reported", "timestamp", "2012-11-24"),
     "before_offences_in_force", "C2"),
    ("no suspect (18) then charged", lambda d: pd.concat([d, pd.DataFrame([{
        "case_id": "C4", "force": "Metropolitan Police", "event": "charged", "timestamp": "2022-03-01",
        "offence": "stalking_s2a"}])], ignore_index=True), "contradictory_journey", "C4"),
    ("acquitted then sentenced", lambda d: _set(d, "C1", "court_outcome", "result", "acquitted"),
     "contradictory_journey", "C1"),
    ("discontinued and convicted", lambda d: pd.concat([d, pd.DataFrame([
        {"case_id": "C5", "force": "Kent", "event": "first_hearing", "timestamp": "2022-04-10"},
        {"case_id": "C5", "force": "Kent", "event": "court_outcome", "timestamp": "2022-05-01",
         "result": "convicted_other_offence"}])], ignore_index=True), "contradictory_journey", "C5"),
    ("ids equal but for leading zeros", lambda d: d.assign(case_id=d["case_id"].where(
        ~((d["case_id"] == "C3") & (d["event"] == "recorded")), "C03")), "near_duplicate_id", "C3"),
    ("ids equal but for case and spaces", lambda d: d.assign(case_id=d["case_id"].where(
        ~((d["case_id"] == "C3") & (d["event"] == "recorded")), " c3")), "near_duplicate_id", "C3"),
]


@pytest.mark.parametrize("name,mutate,rule,case", PLAUSIBILITY_CASES, ids=[c[0] for c in PLAUSIBILITY_CASES])
def test_plausibility_rule(hand_events, name, mutate, rule, case):
    from attrition import standard as S

    bad = mutate(hand_events)
    rep = validate_events(bad, today=TODAY)
    # the root cause only: no knock-on rule for the same case
    assert list(rep.problems["rule"]) == [rule], rep.problems[["rule", "message"]].values.tolist()
    assert case in rep.problems["example_case_ids"].iloc[0]
    assert rule in S.RULES
    assert case not in set(rep.valid["case_id"])
    assert len(rep.valid) + len(rep.excluded) == len(bad)
    assert set(rep.valid["case_id"]) == set(hand_events["case_id"]) - {case}


def test_contradictions_come_from_the_standard():
    from attrition import standard as S

    assert len(S.CONTRADICTIONS) == 4
    for rule in S.CONTRADICTIONS:
        for side in ("a", "b"):
            assert rule[side]["event"] in S.EVENTS
            for col, vals in rule[side].items():
                if col not in ("event", "outcome_code"):
                    assert set(vals) <= set(S.ENUMS[col])
    # 14 and 18 are exactly the outcome types that say no suspect was identified and close the case
    ot = S.outcome_types()
    no_suspect = sorted(ot.index[~ot["implies_suspect"] & ot["exit_reason"].isin(["no_suspect", "victim_not_supporting"])])
    assert no_suspect == [14, 18] == S.CONTRADICTIONS[0]["a"]["outcome_code"]


def test_unparseable_report_date_is_reported_once(hand_events):
    """The report of C1 cannot be read: one rule, not also missing_report / before_report / out_of_order."""
    rep = validate_events(_set(hand_events, "C1", "reported", "timestamp", "1st May 2021"), today=TODAY)
    assert list(rep.problems["rule"]) == ["unparseable_timestamp"]
    assert rep.problems["n_rows"].tolist() == [1]
    assert set(rep.excluded["case_id"]) == {"C1"} and len(rep.excluded) == 13


def test_day_first_dates_one_hint_or_read_with_the_option(hand_events, tmp_path):
    dmy = hand_events.assign(timestamp=pd.to_datetime(hand_events["timestamp"]).dt.strftime("%d/%m/%Y"))
    rep = validate_events(dmy, today=TODAY)
    assert list(rep.problems["rule"]) == ["day_first_date"]
    msg = rep.problems["message"].iloc[0]
    assert "dayfirst=True" in msg and "--dayfirst" in msg
    assert rep.problems["n_rows"].iloc[0] == len(hand_events) and rep.problems["column"].iloc[0] == "timestamp"
    p = write(dmy, tmp_path)
    with pytest.raises(DataValidationError, match=r"day_first_date \[column timestamp\].*first lines: 2, 3, 4, 5, 6"):
        load_events(p, as_of=TODAY)
    got = load_events(p, as_of=TODAY, dayfirst=True)
    want = load_events(write(hand_events, tmp_path, "iso.csv"), as_of=TODAY)
    pd.testing.assert_frame_equal(got, want)
    # 04/05/2021 is 4 May with dayfirst (C1's interim SPO application was on 2021-05-05: 05/05/2021)
    assert got.loc[(got["case_id"] == "C1") & (got["event"] == "arrested"), "timestamp"].iloc[0] == pd.Timestamp("2021-05-04")
    # impossible day-first dates are unparseable, not guessed
    bad = _set(dmy, "C2", "recorded", "timestamp", "31/02/2021")
    assert "unparseable_timestamp" in set(validate_events(bad, today=TODAY, dayfirst=True).problems["rule"])


def test_lines_as_the_file_numbers_them(hand_events, tmp_path):
    bad = _set(hand_events, "C2", "recorded", "event", "teleported")
    pos = int(((bad["case_id"] == "C2") & (bad["event"] == "teleported")).to_numpy().nonzero()[0][0])
    with pytest.raises(DataValidationError, match=rf"first lines: {pos + 2}\)"):
        load_events(write(bad, tmp_path), as_of=TODAY)
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataValidationError, match=rf"first rows: {pos + 1}\)"):
        load_events(tmp_path / "bad.parquet", as_of=TODAY)
    _, rep = load_events(write(bad, tmp_path), as_of=TODAY, errors="exclude", return_report=True) \
        if False else (None, validate_events(read_events(write(bad, tmp_path)), today=TODAY))
    assert rep.excluded.loc[rep.excluded["event"] == "teleported", "where"].tolist() == [f"line {pos + 2}"]


def test_blank_rows_are_noted_not_judged(hand_events, tmp_path):
    text = hand_events.to_csv(index=False).splitlines(keepends=True)
    p = tmp_path / "blank.csv"
    p.write_text("".join(text[:5] + ["\n", ",,,,,,,,,,\n"] + text[5:]))
    ev, rep = load_events(p, as_of=TODAY, return_report=True)
    assert len(ev) == len(hand_events) and rep.n_rows_in == len(hand_events) + 2
    assert any("2 blank row(s) ignored (lines 6, 7)" in n for n in rep.notes), rep.notes


# --- extracts as analysts export them -------------------------------------------------------------------
MAPPING = {"case_id": "Crime Reference", "event": "Event Type", "force": "Force Name", "timestamp": "Date"}


def test_column_mapping_and_mapping_files(hand_events, tmp_path):
    from attrition.sources.events import read_column_mapping

    mapped = hand_events.rename(columns=MAPPING)
    p = write(mapped, tmp_path)
    want = load_events(write(hand_events, tmp_path, "std.csv"), as_of=TODAY)
    pd.testing.assert_frame_equal(load_events(p, as_of=TODAY, columns=MAPPING), want)
    (tmp_path / "m.csv").write_text("standard,column\n" + "".join(f"{k},{v}\n" for k, v in MAPPING.items()))
    (tmp_path / "m.json").write_text(__import__("json").dumps(MAPPING))
    (tmp_path / "m.toml").write_text("".join(f'{k} = "{v}"\n' for k, v in MAPPING.items()))
    for f in ("m.csv", "m.json", "m.toml"):
        assert read_column_mapping(tmp_path / f) == MAPPING
    # a force column named 'Force Name' is never taken for an identifier, mapped or not
    extra = hand_events.assign(**{"Force Name": hand_events["force"]})
    assert "force_name" in load_events(write(extra, tmp_path, "fn.csv"), as_of=TODAY).columns


@pytest.mark.parametrize("columns,match", [
    ({"crime_ref": "Crime Reference"}, "not a field of the standard"),
    ({"case_id": "Crime Ref"}, "'Crime Ref' .*not in the file"),
    ({"case_id": "Event Type", "event": "Event Type"}, "mapped to several fields"),
])
def test_bad_column_mapping(hand_events, tmp_path, columns, match):
    with pytest.raises(DataValidationError, match=match) as err:
        read_events(write(hand_events.rename(columns=MAPPING), tmp_path), columns=columns)
    assert err.value.rule == "column_mapping"


def test_bad_mapping_files(tmp_path):
    from attrition.sources.events import read_column_mapping

    (tmp_path / "a.csv").write_text("from,to\ncase_id,Ref\n")
    (tmp_path / "b.json").write_text("{not json")
    (tmp_path / "c.toml").write_text('case_id = "Ref"\nwho = "x"\n')
    for name, match in [("a.csv", "header 'standard,column'"), ("b.json", "cannot be parsed"),
                        ("c.toml", "'who' is not a field")]:
        with pytest.raises(DataValidationError, match=match) as err:
            read_column_mapping(tmp_path / name)
        assert err.value.rule == "column_mapping"


def test_workbooks_xlsx_and_sheets(hand_events, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "About"
    ws.append(["extract notes"])
    ws2 = wb.create_sheet("Events")
    ws2.append(["Stalking extract"])
    ws2.append([])
    ws2.append(list(hand_events.rename(columns=MAPPING).columns))
    for r in hand_events.itertuples(index=False):
        ws2.append([None if pd.isna(v) else v for v in r])
    ws2.cell(row=5, column=3, value="teleported")          # sheet row 5: the second data row
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(DataValidationError, match="no sheet 'Nope'"):
        read_events(tmp_path / "x.xlsx", sheet="Nope")
    raw = read_events(tmp_path / "x.xlsx", sheet="Events", columns=MAPPING)
    assert len(raw) == len(hand_events)
    rep = validate_events(raw, today=TODAY)
    assert list(rep.problems["rule"]) == ["unknown_event"] and rep.problems["example_rows"].iloc[0] == "5"
    assert any("header found on line 3" in n for n in rep.notes)
    assert read_events(tmp_path / "x.xlsx", sheet=1, columns=MAPPING).shape == raw.shape


# --- identifiers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("col", ["DateOfBirth", "D.O.B.", "Postal Code", "zipcode", "telephone_number", "Mobile No",
                                 "suspect_surname", "NHS No", "home_addr", "Birthday", "NINO", "victim_name",
                                 "First Name", "email_address", "Passport", "PNC ID", "Contact Number"])
def test_identifier_names_real_spellings(hand_events, tmp_path, col):
    with pytest.raises(IdentifierColumnError, match="identifiers") as err:
        read_events(write(hand_events.assign(**{col: "x"}), tmp_path))
    assert err.value.rule == "identifier_column" and col in str(err.value)


@pytest.mark.parametrize("col", ["force_name", "Force Name", "offence_name", "station", "notes", "officer_grade",
                                 "outcome_type_name", "court_name", "contact_date", "first_contact"])
def test_safe_names_pass(hand_events, tmp_path, col):
    ev = read_events(write(hand_events.assign(**{col: "Kent"}), tmp_path))
    assert len(ev) == len(hand_events)


@pytest.mark.parametrize("value,kind", [
    ("Contact: SW1A 1AA", "UK postcodes"), ("M1 1AE", "UK postcodes"), ("a.b@example.org", "e-mail addresses"),
    ("tel 07700 900123", "UK phone numbers"), ("(020) 7946 0018", "UK phone numbers"),
    ("+44 7700 900123", "UK phone numbers"), ("943 476 5919", "NHS numbers"), ("NI: JK123456C", "National Insurance"),
    ("DOB 14/02/1987", "dates of birth"), ("born 1985-03-12", "dates of birth"),
    ("statement from Sarah Jones", "personal names"), ("Mrs Patel called", "personal names"),
    ("JOHN SMITH", "personal names"), ("lives at 12 Acacia Avenue", "street addresses"),
    ("Smith, John", "personal names"), ("near sw1a 1aa", "UK postcodes"),
    ("date of birth: 3 March 1979", "dates of birth"), ("born 3rd Jan 1990", "dates of birth"),
])
def test_identifier_values_refused_without_echo(hand_events, tmp_path, value, kind):
    vals = ["routine"] * len(hand_events)
    vals[3] = value
    with pytest.raises(IdentifierColumnError) as err:
        read_events(write(hand_events.assign(notes=vals), tmp_path))
    msg = str(err.value)
    assert err.value.rule == "identifier_values"
    assert f"column 'notes': {kind}" in msg and "(line 5)" in msg
    assert value not in msg


@pytest.mark.parametrize("value", ["routine visit", "Kent Police attended", "Jane Street", "Mark Road", "ref 12/3456",
                                   "2021-05-04", "harassment then stalking", "Visit by DC 123", "CR/12345/21",
                                   "Thames Valley", "phoned 3 times", "1234567890", "reviewed 3 March 2021",
                                   "Kent, Essex", "room b12"])
def test_ordinary_text_passes(hand_events, tmp_path, value):
    ev = read_events(write(hand_events.assign(notes=value), tmp_path))
    assert (ev["notes"] == value).all()


def test_nhs_check_digit_and_column_rule():
    import numpy as np

    from attrition.standard.identifiers import nhs_check_digit_ok, scan_text

    # 943 476 5919: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299 = 27*11 + 2 -> check 11-2 = 9
    assert nhs_check_digit_ok(np.array([9, 4, 3, 4, 7, 6, 5, 9, 1, 9])).tolist() == [True]
    assert nhs_check_digit_ok(np.array([9, 4, 3, 4, 7, 6, 5, 9, 1, 8])).tolist() == [False]
    # random ten-digit references pass the check about 1 time in 11: such a column is not an NHS column
    refs = [f"{n:010d}" for n in np.random.default_rng(4).integers(10**9, 10**10, 200)]
    assert "nhs_number" not in scan_text(refs, kinds=["nhs_number"])


def test_date_of_birth_column(hand_events, tmp_path):
    import numpy as np

    dob = (pd.Timestamp("1970-01-01") + pd.to_timedelta(np.arange(len(hand_events)) * 400, unit="D")).strftime("%Y-%m-%d")
    with pytest.raises(IdentifierColumnError, match=r"column 'when': dates of birth \(lines 2, 3, 4, 5, 6 and"):
        read_events(write(hand_events.assign(when=dob), tmp_path))
    # a date column close to the events (e.g. when an incident began) is not personal data
    near = (pd.to_datetime(hand_events["timestamp"]) - pd.Timedelta(days=30)).dt.strftime("%Y-%m-%d")
    assert len(read_events(write(hand_events.assign(when=near), tmp_path))) == len(hand_events)


def test_unknown_values_that_look_personal_are_withheld(hand_events):
    rep = validate_events(_set(hand_events, "C2", "recorded", "offence", "Jane Smith"), today=TODAY)
    assert "Jane Smith" not in str(rep) and "withheld" in str(rep)


# --- limits, file rules --------------------------------------------------------------------------------
def test_limits_by_keyword(hand_events, tmp_path):
    p = write(hand_events, tmp_path)
    with pytest.raises(DataValidationError, match=r"more than max_rows \(10\)") as err:
        read_events(p, max_rows=10)
    assert err.value.rule == "too_many_rows"
    assert len(read_events(p, max_rows=len(hand_events))) == len(hand_events)
    with pytest.raises(DataValidationError, match="more than max_bytes") as err:
        read_events(p, max_bytes=100)
    assert err.value.rule == "too_large"
    import gzip

    (tmp_path / "e.csv.gz").write_bytes(gzip.compress(p.read_bytes()))
    with pytest.raises(DataValidationError, match="decompresses to more than") as err:
        read_events(tmp_path / "e.csv.gz", max_bytes=100)


def test_file_rules_are_documented_in_the_standard():
    from attrition import standard as S
    from attrition.sources import files

    src = (S.SCHEMA_PATH.parent.parent / "sources" / "files.py").read_text() + \
        (S.SCHEMA_PATH.parent.parent / "sources" / "events.py").read_text()
    import re

    used = set(re.findall(r'refuse\([^,]+, "([a-z_]+)"', src))
    assert used == set(S.FILE_RULES), used ^ set(S.FILE_RULES)
    assert files.MAX_BYTES == 1 << 30 and files.MAX_ROWS == 20_000_000


# --- parse_date ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,want", [("2023-09-30", "2023-09-30"), ("2023-9-3", "2023-09-03"),
                                        ("2023-09-30T12:30", "2023-09-30 12:30")])
def test_parse_date_iso(value, want):
    from attrition._utils import parse_date

    assert parse_date(value) == pd.Timestamp(want)


@pytest.mark.parametrize("value,match", [("01/02/2023", "ambiguous"), ("1.2.2023", "ambiguous"),
                                         ("2023-02-30", "not a real date"), ("yesterday", "ISO date"),
                                         (None, "missing"), (20230201, "not int")])
def test_parse_date_refuses(value, match):
    from attrition._utils import parse_date

    with pytest.raises(ValueError, match=match) as err:
        parse_date(value, name="as_of")
    assert "as_of" in str(err.value)


def test_validate_refuses_ambiguous_as_of(hand_events):
    with pytest.raises(ValueError, match="ambiguous"):
        validate_events(hand_events, as_of="01/07/2022")


def test_vocabulary_matched_regardless_of_case_and_spaces_with_a_note(hand_events):
    """Exports often write 'Police Outcome' or 'High': matched to the standard, and the report says so."""
    ev = hand_events.copy()
    ev["event"] = ev["event"].str.replace("_", " ").str.title()
    ev["risk"] = ev["risk"].where(ev["risk"].isna(), ev["risk"].astype(str).str.upper())
    report = validate_events(ev, as_of="2024-01-01")
    plain = validate_events(hand_events, as_of="2024-01-01")
    assert report.ok and len(report.valid) == len(plain.valid) == len(hand_events)
    pd.testing.assert_series_equal(report.valid["event"], plain.valid["event"])
    event_note = next(n for n in report.notes if n.startswith("event: "))
    n_spellings = hand_events["event"].nunique()
    assert event_note.startswith(f"event: {n_spellings} value(s) matched to the standard's spelling regardless of case")
    assert any(n.startswith("risk: ") and "-> 'high'" in n or n.startswith("risk: ") and "-> 'medium'" in n
               or n.startswith("risk: ") and "-> 'standard'" in n for n in report.notes)
    # a value that is not the standard's in any spelling still breaks the rule
    bad = hand_events.copy()
    bad.loc[0, "event"] = "Phoned Victim"
    assert "unknown_event" in set(validate_events(bad, as_of="2024-01-01").problems["rule"])


def test_duplicate_rows_and_case_order_on_integer_keys():
    from attrition.sources.events import _case_order, _duplicated_rows

    df = pd.DataFrame({"a": pd.Categorical(["x", "x", None, None, "y", "x"]),
                       "t": pd.to_datetime(["2022-01-01", "2022-01-01", None, None, "2022-01-02", "2022-01-02"]),
                       "n": pd.array([1, 1, None, None, 1, 1], dtype="Int64")})
    # missing equals missing, as DataFrame.duplicated
    np.testing.assert_array_equal(_duplicated_rows(df, ["a", "t", "n"]), [False, True, False, True, False, False])
    np.testing.assert_array_equal(_duplicated_rows(df, ["a", "t", "n"]), df.duplicated(["a", "t", "n"]))
    # many wide columns: the running key is re-coded before it overflows, and stays exact
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({f"c{i}": rng.integers(0, 2**20, 2000) for i in range(6)})
    wide = pd.concat([wide, wide.iloc[::7]], ignore_index=True)
    np.testing.assert_array_equal(_duplicated_rows(wide, list(wide.columns)), wide.duplicated())
    # text ids sort as text whatever the order of the categories; numbers as numbers
    ids = pd.Series(pd.Categorical(["9", "10", "2", "10"], categories=["9", "2", "10"]))
    np.testing.assert_array_equal(np.argsort(_case_order(ids), kind="stable"),
                                  np.argsort(np.array(["9", "10", "2", "10"], dtype=object), kind="stable"))
    np.testing.assert_array_equal(_case_order(pd.Series(["b", "a", "b"])), [1, 0, 1])
    np.testing.assert_array_equal(_case_order(pd.Series([30, 4])), [30, 4])
