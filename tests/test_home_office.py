"""Tests of attrition.sources.open_data.home_office: the Home Office outcomes open-data reader.

Fixtures (tests/data/home_office/, written by make_fixtures.py there) are hand-made; every expected
number below is worked out by hand from the rows listed in make_fixtures.py.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrition.sources.open_data import home_office as ho
from attrition.exceptions import DataQualityWarning, DataValidationError
from attrition.sources.open_data.home_office import (
    FUNNEL_COLUMNS,
    OLD_HEADER,
    cases_to_home_office,
    home_office_funnel_counts,
    load_home_office_outcomes,
)
from attrition.standard import OUTCOME_EXIT_REASON

DATA = Path(__file__).resolve().parent / "data" / "home_office"
OLD_CSV = DATA / "outcomes_2018_19_bom.csv"
WORKBOOK = DATA / "outcomes_2022_24.xlsx"

COLUMNS = [
    "financial_year", "quarter", "force", "territorial", "offence_code", "offence_description",
    "outcome_type", "outcome_code", "of_which", "exit_reason", "count", "missing_reason",
]


def _load_warned(path, **kw):
    """Load a file that is expected to warn; return (table, report, warning messages)."""
    with pytest.warns(DataQualityWarning) as rec:
        table, report = load_home_office_outcomes(path, return_report=True, **kw)
    return table, report, [str(w.message) for w in rec]


def _write_csv(path: Path, rows, header=OLD_HEADER, bom=False, pre=()) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for line in pre:
        w.writerow(line)
    if header is not None:
        w.writerow(header)
    for r in rows:
        w.writerow(r)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    return path


def _row(force="Kent", code="8Q", otype="1", rec="5", clo="4", fy="2019/20", q="1"):
    return [fy, q, force, "Stalking", "VAP", "S&H", code, "", "desc", "group", otype, rec, clo]


def _funnel_row(df, **keys):
    m = np.ones(len(df), dtype=bool)
    for k, v in keys.items():
        m &= (df[k].isna() if v is None else (df[k] == v)).to_numpy(dtype=bool)
    assert m.sum() == 1, keys
    return df.loc[m].iloc[0]


# ------------------------------------------------------------------------------------- old CSV
def test_old_csv_with_bom_reads_every_row():
    table, report, msgs = _load_warned(OLD_CSV)
    assert list(table.columns) == COLUMNS
    assert len(table) == 25
    # BOM stripped: the first column was found by name
    assert set(table["financial_year"]) == {"2018/19"}
    assert table["quarter"].tolist() == [1] * 10 + [2] * 8 + [3] * 4 + [4] * 3
    assert set(table["offence_code"]) == {"8Q", "8L", "8R"}
    assert str(table["quarter"].dtype) == "Int64" and str(table["outcome_code"].dtype) == "Int64"
    assert table["count"].dtype == np.float64 and table["of_which"].dtype == bool
    assert str(table["territorial"].dtype) == "boolean"
    for c in ("financial_year", "force", "offence_code", "outcome_type", "exit_reason", "missing_reason"):
        assert str(table[c].dtype) == "string", c
    assert table["outcome_type"].tolist()[:8] == ["1", "1a", "15", "16", "0", "1", "3", "3a"]
    assert table["exit_reason"].tolist()[:5] == ["charged", "charged", "evidential_victim_supports",
                                                 "victim_not_supporting", "open"]
    # report: 27 rows read, 2 other offences (58A, 105A) excluded with their reason, nothing lost
    assert report.n_rows_read == 27 and report.n_rows_out == 25 and report.balanced
    assert report.sources[["header_row", "rows_read", "rows_out"]].values.tolist() == [[1, 27, 25]]
    assert report.excluded[["reason", "n_rows"]].values.tolist() == [["offence code not selected", 2]]
    assert report.count_column == "recorded_in_quarter"
    assert len(msgs) == 2  # unmatched force + negative counts


def test_old_csv_funnel_counts_by_force_and_year():
    table, _, _ = _load_warned(OLD_CSV)
    f = home_office_funnel_counts(table)
    assert list(f.columns) == ["force", "financial_year", *FUNNEL_COLUMNS]
    assert f["force"].tolist()[:-1] == ["Avon and Somerset", "Devon and Cornwall", "Kent", "London, City of",
                                        "Metropolitan Police"]
    assert pd.isna(f["force"].iloc[-1])  # the unmatched "Atlantis Constabulary", kept
    avon = _funnel_row(f, force="Avon and Somerset")
    # 12 + 30 + 25 + 7 (8Q) + 40 - 2 (8L); the of-which rows 1a (5) and 3a (1) are not added
    assert avon["offences"] == 112 and avon["charged"] == 52 and avon["open"] == 7
    assert avon["evidential_victim_supports"] == 30 and avon["victim_not_supporting"] == 25
    assert avon["out_of_court"] == -2 and avon["n_missing"] == 0
    met = _funnel_row(f, force="Metropolitan Police")  # alias "Metropolitan Police Service" merged
    assert (met["offences"], met["charged"], met["out_of_court"], met["n_missing"]) == (119, 110, 9, 1)
    kent = _funnel_row(f, force="Kent")  # "Kent [Note 6]" and "Kent"
    assert (kent["offences"], kent["charged"], kent["transferred"], kent["n_missing"]) == (5, -1, 6, 3)
    dc = _funnel_row(f, force="Devon and Cornwall")  # trailing space
    assert (dc["offences"], dc["charged"], dc["n_missing"]) == (9, 9, 1)
    city = _funnel_row(f, force="London, City of")
    assert (city["offences"], city["charged"], city["no_suspect"], city["n_missing"]) == (1, 1, 0, 1)
    assert _funnel_row(f, force=None)["charged"] == 2
    # the identity offences = charged + exit reasons + open holds row by row
    parts = f[[c for c in FUNNEL_COLUMNS if c not in ("offences", "n_missing")]].sum(axis=1)
    np.testing.assert_array_equal(parts.to_numpy(), f["offences"].to_numpy())
    # national: BTP (4 + 3) excluded by default, included on request
    nat = home_office_funnel_counts(table, by="financial_year")
    assert nat["offences"].tolist() == [112 + 9 + 5 + 1 + 119 + 2]
    nat_all = home_office_funnel_counts(table, by=(), include_non_territorial=True)
    assert nat_all["offences"].tolist() == [248 + 7] and nat_all["victim_not_supporting"].tolist() == [28]


def test_closed_in_quarter_count():
    table, report, _ = _load_warned(OLD_CSV, count="closed_in_quarter")
    assert report.count_column == "closed_in_quarter"
    avon = _funnel_row(home_office_funnel_counts(table), force="Avon and Somerset")
    # 10 + 28 + 20 + (N/A) + 38 + 1
    assert (avon["offences"], avon["charged"], avon["open"], avon["n_missing"]) == (97, 48, 0, 1)
    assert report.negative_counts.empty
    assert report.missing_counts.set_index("missing_reason")["n_rows"].to_dict() == {
        "N/A": 1, "N/A - offence code expired": 1}


def test_negative_counts_kept_and_reported():
    table, report, msgs = _load_warned(OLD_CSV)
    neg = [m for m in msgs if "negative" in m]
    assert len(neg) == 1
    assert "2 row(s)" in neg[0] and "outcomes_2018_19_bom.csv row 8" in neg[0] and "row 27" in neg[0]
    nc = report.negative_counts
    assert nc["row"].tolist() == [8, 27]
    assert nc["count"].tolist() == [-2.0, -1.0]
    assert nc["force_name"].tolist() == ["Avon & Somerset", "Kent"]
    assert nc["offence_code"].tolist() == ["8L", "8Q"] and nc["outcome_type"].tolist() == ["3", "1"]
    assert sorted(table.loc[table["count"] < 0, "count"]) == [-2.0, -1.0]


def test_row_numbers_survive_chunked_reading(monkeypatch):
    whole, report1, _ = _load_warned(OLD_CSV)
    monkeypatch.setattr(ho, "_CSV_CHUNK", 4)
    chunked, report2, _ = _load_warned(OLD_CSV)
    pd.testing.assert_frame_equal(whole, chunked)
    assert report2.negative_counts["row"].tolist() == [8, 27]
    assert report2.excluded["n_rows"].sum() == 2 and report2.balanced


def test_of_which_rows_flagged_not_summed():
    table, _, _ = _load_warned(OLD_CSV)
    ow = table[table["of_which"]]
    assert ow["outcome_type"].tolist() == ["1a", "3a", "2a"]
    assert ow["outcome_code"].isna().all()
    assert ow["exit_reason"].tolist() == ["charged", "out_of_court", "out_of_court"]  # parent's reason
    assert not table.loc[~table["of_which"], "outcome_code"].isna().any()


def test_force_aliases_notes_and_trailing_spaces():
    table, _, _ = _load_warned(OLD_CSV)
    assert table["force"].iloc[[0, 8, 10, 14, 16, 24]].tolist() == [
        "Avon and Somerset", "London, City of", "Metropolitan Police", "Kent", "Devon and Cornwall",
        "Metropolitan Police"]


def test_unknown_force_reported_and_kept():
    table, report, msgs = _load_warned(OLD_CSV)
    m = [x for x in msgs if "match" in x]
    assert len(m) == 1 and "Atlantis Constabulary" in m[0] and "row 22" in m[0]
    assert report.unmatched_forces.values.tolist() == [["Atlantis Constabulary", 1]]
    row = table.iloc[20]
    assert pd.isna(row["force"]) and pd.isna(row["territorial"]) and row["count"] == 2


def test_british_transport_police_kept_separate():
    table, report, _ = _load_warned(OLD_CSV)
    btp = table[table["force"] == "British Transport Police"]
    assert len(btp) == 2 and not btp["territorial"].any()
    assert table.loc[table["force"].notna() & (table["force"] != "British Transport Police"), "territorial"].all()
    assert report.non_territorial.values.tolist() == [["British Transport Police", 2]]
    f = home_office_funnel_counts(table)
    assert "British Transport Police" not in set(f["force"].dropna())
    f_all = home_office_funnel_counts(table, include_non_territorial=True)
    b = _funnel_row(f_all, force="British Transport Police")
    assert (b["offences"], b["charged"], b["victim_not_supporting"]) == (7, 4, 3)


def test_all_offences_and_codes_are_text():
    table, report, _ = _load_warned(OLD_CSV, offence_codes=None)
    assert len(table) == 27 and report.excluded.empty
    assert table["offence_code"].iloc[23:25].tolist() == ["58A", "105A"]
    only = load_home_office_outcomes(OLD_CSV, offence_codes=["105a"])
    assert only["offence_code"].tolist() == ["105A"] and only["count"].tolist() == [3.0]


# ------------------------------------------------------------------------------------- workbook
def test_workbook_with_decoy_sheets_and_title_rows():
    table, report = load_home_office_outcomes(WORKBOOK, return_report=True)
    assert list(table.columns) == COLUMNS
    src = report.sources
    assert src["sheet"].tolist() == ["Outcomes_Open_Data_Tabel", "outcomes data table 2023-24 "]
    assert src["header_row"].tolist() == [4, 1]
    assert src["rows_read"].tolist() == [12, 3] and src["rows_out"].tolist() == [9, 3]
    assert report.skipped_sheets["sheet"].tolist() == ["Cover_sheet", "Notes", "Summary"]
    assert dict(zip(report.excluded["reason"], report.excluded["n_rows"])) == {
        "blank row": 1, "no offence code": 1, "offence code not selected": 1}
    assert report.balanced and report.n_rows_read == 15 and report.n_rows_out == 12
    # numeric cells read as text codes; "8l" upper-cased; aliases normalised
    assert table["outcome_type"].tolist() == ["1", "1a", "18", "0", "1", "20", "1", "16", "1", "1", "3a", "21"]
    assert table["offence_code"].tolist()[4:6] == ["8L", "8L"]
    assert table["force"].unique().tolist() == ["Avon and Somerset", "Dyfed-Powys", "British Transport Police",
                                                "Metropolitan Police", "Hampshire"]
    f = home_office_funnel_counts(table)
    assert f["force"].tolist() == ["Avon and Somerset", "Dyfed-Powys", "Hampshire", "Metropolitan Police"]
    assert f["offences"].tolist() == [46, 10, 9, 30]
    assert f["charged"].tolist() == [20, 8, 5, 30]
    assert f["open"].tolist() == [11, 0, 0, 0] and f["no_suspect"].tolist() == [15, 0, 0, 0]
    assert f["public_interest"].tolist() == [0, 0, 4, 0] and f["transferred"].tolist() == [0, 2, 0, 0]
    assert f["n_missing"].tolist() == [0, 0, 0, 1]


def test_workbook_closed_count_and_new_markers():
    table, report = load_home_office_outcomes(WORKBOOK, count="closed_in_quarter", return_report=True)
    assert report.missing_counts.set_index("missing_reason")["n_rows"].to_dict() == {"[x]": 1, "blank": 1}
    nat = home_office_funnel_counts(table, by="financial_year")
    assert nat["offences"].tolist() == [18 + 14 + 7 + 2 + 12 + 25, 4]
    assert nat["n_missing"].tolist() == [1, 1]


def test_several_files_stack_and_duplicates_warn():
    with pytest.warns(DataQualityWarning, match="repeat the same") as rec:
        table, report = load_home_office_outcomes([WORKBOOK, WORKBOOK], return_report=True)
    assert len(rec) == 1
    assert len(table) == 24 and len(report.duplicates) == 24 and report.balanced
    assert report.sources["rows_out"].tolist() == [9, 3, 9, 3]
    both, _, _ = _load_warned([OLD_CSV, WORKBOOK])
    assert sorted(both["financial_year"].unique()) == ["2018/19", "2022/23", "2023/24"]


def test_workbook_without_data_sheet(tmp_path):
    from openpyxl import Workbook

    with pytest.raises(DataValidationError, match=r"no data sheet found.*'Cover sheet', 'Notes'"):
        load_home_office_outcomes(DATA / "no_data_sheet.xlsx")
    wb = Workbook()
    wb.active.title = "Summary"
    wb.active.append(["Force Name", "Financial Year", "Outcomes for offences that were recorded in the quarter"])
    wb.active.append(["Kent", "2022/23", 5])
    wb.save(tmp_path / "summary.xlsx")
    with pytest.raises(DataValidationError, match=r"Closest: sheet 'Summary' lacks \["
                                                  r"'Offence Code', 'Outcome Type'\]; its headers: \['Force Name'"):
        load_home_office_outcomes(tmp_path / "summary.xlsx")


# ------------------------------------------------------------------------------------- markers
@pytest.mark.parametrize("marker, reason", [
    ("NA", "NA"), ("N/A", "N/A"), ("n/a", "n/a"), ("N/A - offence code expired", "N/A - offence code expired"),
    ("N/A - data not provided", "N/A - data not provided"), ("--", "--"), (":", ":"), ("", "blank"),
    ("[x]", "[x]"), ("  N/A  ", "N/A"),
])
def test_missing_markers_are_nan_never_zero(tmp_path, marker, reason):
    p = _write_csv(tmp_path / "m.csv", [_row(rec="3"), _row(otype="16", rec=marker)])
    table, report = load_home_office_outcomes(p, return_report=True)
    assert table["count"].iloc[0] == 3.0 and np.isnan(table["count"].iloc[1])
    assert pd.isna(table["missing_reason"].iloc[0]) and table["missing_reason"].iloc[1] == reason
    assert report.missing_counts.values.tolist() == [[reason, 1]]
    f = home_office_funnel_counts(table)
    assert f[["offences", "victim_not_supporting", "n_missing"]].values.tolist() == [[3.0, 0.0, 1]]


def test_thousands_separator_and_float_cells(tmp_path):
    p = _write_csv(tmp_path / "t.csv", [_row(rec="1,234"), _row(otype="2", rec="7.0", q="Q2")])
    table = load_home_office_outcomes(p)
    assert table["count"].tolist() == [1234.0, 7.0] and table["quarter"].tolist() == [1, 2]


# ------------------------------------------------------------------------------------- bad input
def test_empty_csv():
    with pytest.raises(DataValidationError, match="empty"):
        load_home_office_outcomes(DATA / "empty.csv")


def test_blank_lines_only_csv(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("\n,,\n\n")
    with pytest.raises(DataValidationError, match="empty"):
        load_home_office_outcomes(p)


def test_header_only_csv_is_refused(tmp_path):
    p = _write_csv(tmp_path / "h.csv", [])
    with pytest.raises(DataValidationError, match=r"h\.csv: the file has a header row \(line 1\) but no data rows"):
        load_home_office_outcomes(p)


def test_missing_required_column_named_with_headers_found(tmp_path):
    header = [h for h in OLD_HEADER if h != "Outcome Type"]
    p = _write_csv(tmp_path / "x.csv", [_row()[:10] + _row()[11:]], header=header)
    with pytest.raises(DataValidationError, match=r"missing required column\(s\) \['Outcome Type'\]") as e:
        load_home_office_outcomes(p)
    assert "Headers found: ['Financial Year', 'Financial Quarter', 'Force Name'" in str(e.value)


def test_missing_count_column(tmp_path):
    header = list(OLD_HEADER[:12])
    p = _write_csv(tmp_path / "x.csv", [_row()[:12]], header=header)
    assert load_home_office_outcomes(p)["count"].tolist() == [5.0]
    with pytest.raises(DataValidationError, match="closed in the quarter"):
        load_home_office_outcomes(p, count="closed_in_quarter")


def test_header_matched_by_name_not_position(tmp_path):
    order = [12, 11, 10, 6, 2, 1, 0, 3, 4, 5, 7, 8, 9]
    header = ["  FORCE OUTCOMES recorded in quarter", "force_outcomes_for_offences_recorded_in_quarter",
              "outcome type [note 2]", "OFFENCE CODE", "Force name", "financial quarter", "Financial-Year",
              "Offence Description", "Offence Group", "Offence Subgroup", "Offence code expired",
              "Outcome Description", "Outcome Group"]
    r = _row(force="Avon & Somerset", otype="15", rec="11", clo="9")
    p = _write_csv(tmp_path / "y.csv", [[r[i] for i in order]], header=header,
                   pre=[["Police recorded crime outcomes"], ["Title row two"], []])
    table, report = load_home_office_outcomes(p, return_report=True)
    assert report.sources["header_row"].tolist() == [4]
    assert table[["force", "outcome_code", "count"]].values.tolist() == [["Avon and Somerset", 15, 11.0]]
    closed = load_home_office_outcomes(p, count="closed_in_quarter")
    assert closed["count"].tolist() == [9.0]


def test_unknown_outcome_type_names_rows(tmp_path):
    p = _write_csv(tmp_path / "u.csv", [_row(), _row(otype="23"), _row(otype="x"), _row(otype="15")])
    with pytest.raises(DataValidationError, match=r"2 row\(s\) with an unknown outcome type.*'23', 'x'.*"
                                                  r"u\.csv row 3, u\.csv row 4"):
        load_home_office_outcomes(p)


def test_blank_outcome_type_is_open(tmp_path):
    p = _write_csv(tmp_path / "b.csv", [_row(otype="", rec="4")])
    table = load_home_office_outcomes(p)
    assert pd.isna(table["outcome_type"].iloc[0]) and table["outcome_code"].iloc[0] == 0
    assert table["exit_reason"].iloc[0] == "open"
    assert home_office_funnel_counts(table)["open"].tolist() == [4.0]


@pytest.mark.parametrize("field, value, match", [
    ("q", "5", "quarter that is not 1-4"),
    ("fy", "2019", "unreadable financial year"),
    ("fy", "2019/21", "unreadable financial year"),
    ("rec", "lots", "neither a number nor a missing marker"),
    ("rec", "2.5", "non-integer count"),
])
def test_unreadable_values_name_the_row(tmp_path, field, value, match):
    p = _write_csv(tmp_path / "v.csv", [_row(), _row(**{field: value})])
    with pytest.raises(DataValidationError, match=match) as e:
        load_home_office_outcomes(p)
    assert "v.csv row 3" in str(e.value) and repr(value) in str(e.value)


def test_financial_year_spellings(tmp_path):
    p = _write_csv(tmp_path / "f.csv", [_row(fy="2019-20"), _row(fy="2019/2020", otype="2"), _row(fy="2019 to 2020", otype="3")])
    assert load_home_office_outcomes(p)["financial_year"].tolist() == ["2019/20"] * 3


def test_footnotes_excluded_and_count_without_code_warns(tmp_path):
    p = _write_csv(tmp_path / "n.csv", [_row(), ["Source: Home Office"], _row(code="", rec="9")])
    with pytest.warns(DataQualityWarning, match=r"1 row\(s\) with a count but no offence code were excluded \(n\.csv row 4\)"):
        table, report = load_home_office_outcomes(p, return_report=True)
    assert len(table) == 1 and report.excluded["n_rows"].tolist() == [2] and report.balanced


def test_other_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="count must be one of"):
        load_home_office_outcomes(OLD_CSV, count="recorded")
    with pytest.raises(FileNotFoundError):
        load_home_office_outcomes(tmp_path / "nope.csv")
    with open(OLD_CSV, encoding="utf-8-sig") as fh, pytest.raises(TypeError, match="by path"):
        load_home_office_outcomes(fh)
    with pytest.raises(DataValidationError, match="No file given"):
        load_home_office_outcomes([])
    with pytest.raises(ValueError, match="offence_codes is empty"):
        load_home_office_outcomes(OLD_CSV, offence_codes=[])
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(DataValidationError, match="unsupported file type"):
        load_home_office_outcomes(tmp_path / "a.json")
    with pytest.raises(DataValidationError, match="lacks column"):
        home_office_funnel_counts(pd.DataFrame({"count": [1.0]}))
    with pytest.raises(DataValidationError, match="lacks column"):
        home_office_funnel_counts(load_home_office_outcomes(WORKBOOK), by=("region",))


# ------------------------------------------------------------------------------------- round trip
def _hand_cases() -> pd.DataFrame:
    rows = [
        # force, report_date, days_to_recorded, recorded, final, outcome, days_to_police_outcome
        ("Kent", "2022-04-02", 0, "stalking_s2a", "stalking_s2a", 1, 30),
        ("Kent", "2022-04-10", 1, "harassment", "stalking_s4a", 1, 200),      # reclassified -> 8Q
        ("Kent", "2022-05-01", 0, "stalking_s2a", "stalking_s2a", 16, 40),
        ("Kent", "2022-06-30", 2, "stalking_s2a", "stalking_s2a", 16, 10),    # recorded in Q2
        ("Kent", "2023-03-31", 1, "stalking_s2a", "stalking_s2a", 15, 90),    # recorded 2023/24 Q1
        ("Kent", "2023-01-05", 0, "stalking_s2a", "stalking_s2a", None, None),  # open
        ("Kent", "2022-08-01", 0, "criminal_damage", "criminal_damage", 1, 5),  # omitted (no code)
        ("Kent", "2022-08-01", 0, "other", "other", 18, 5),                   # omitted
        ("Kent", "2022-09-09", 0, "malicious_communications", "malicious_communications", 20, 3),
        ("Dyfed-Powys", "2022-04-20", 0, "stalking_s4a", "stalking_s4a", 8, 15),
        ("Dyfed-Powys", "2022-04-21", 0, "stalking_s4a", "stalking_s4a", 8, 16),
        ("Dyfed-Powys", "2022-12-25", 0, "harassment", "harassment", 14, 60),
        ("Dyfed-Powys", "2023-02-01", 0, "stalking_s2a", "harassment", 21, 20),  # stalking downgraded
        ("London, City of", "2023-01-01", 3, "stalking_s2a", "stalking_s2a", 1, 100),
        ("London, City of", "2023-01-01", 3, "stalking_s2a", "stalking_s2a", None, None),
        ("British Transport Police", "2022-05-05", 0, "stalking_s2a", "stalking_s2a", 1, 7),
    ]
    df = pd.DataFrame(rows, columns=["force", "report_date", "days_to_recorded", "recorded_offence",
                                     "final_offence", "outcome_code", "days_to_police_outcome"])
    df.insert(0, "case_id", np.arange(1, len(df) + 1))
    df["report_date"] = pd.to_datetime(df["report_date"])
    df["outcome_code"] = df["outcome_code"].astype("Int64")
    df["days_to_recorded"] = df["days_to_recorded"].astype(float)
    df["days_to_police_outcome"] = df["days_to_police_outcome"].astype(float)
    return df


def _direct_funnel_counts(cases: pd.DataFrame, by=("force", "financial_year")) -> pd.DataFrame:
    """The same counts computed straight from the case table (independently of the HO layout)."""
    from attrition.data import financial_year

    codes = {"stalking_s2a": "8Q", "stalking_s4a": "8Q", "harassment": "8L", "malicious_communications": "8R"}
    offence = cases["final_offence"].astype(object).where(cases["final_offence"].notna(), cases["recorded_offence"])
    c = cases.loc[offence.map(codes).notna().to_numpy() & (cases["force"].astype(str) != "British Transport Police").to_numpy()]
    recorded = c["report_date"] + pd.to_timedelta(c["days_to_recorded"].fillna(0), unit="D")
    code = c["outcome_code"].fillna(0).astype(int)
    bucket = code.map({0: "open", 1: "charged", **OUTCOME_EXIT_REASON})
    d = pd.DataFrame({"force": c["force"].astype(str).to_numpy(),
                      "financial_year": financial_year(recorded).to_numpy(), "bucket": bucket.to_numpy()})
    tab = pd.crosstab([d[k] for k in by], d["bucket"]) if by else d["bucket"].value_counts().to_frame().T
    tab = tab.reindex(columns=[x for x in FUNNEL_COLUMNS if x not in ("offences", "n_missing")], fill_value=0)
    tab.insert(0, "offences", tab.sum(axis=1))
    tab["n_missing"] = 0
    out = tab.reset_index() if by else tab.reset_index(drop=True)
    out.columns.name = None
    return out.astype({c: "float64" for c in FUNNEL_COLUMNS if c != "n_missing"}).astype({"n_missing": "int64"})


def _compare(got: pd.DataFrame, want: pd.DataFrame, by):
    """Equal counts; groups only in ``got`` (quarters with outcomes closed but no offence recorded, which
    the published layout has as rows with a zero count) must be all zero."""
    got = got.copy()
    for k in by:
        got[k] = got[k].astype(str)
        want[k] = want[k].astype(str)
    if by:
        extra = ~got.set_index(list(by)).index.isin(want.set_index(list(by)).index)
        assert (got.loc[extra, list(FUNNEL_COLUMNS)] == 0).all().all()
        got = got.loc[~extra]
    got = got.sort_values(list(by)).reset_index(drop=True) if by else got
    want = want.sort_values(list(by)).reset_index(drop=True) if by else want
    pd.testing.assert_frame_equal(got, want[list(got.columns)], check_dtype=False)


def test_cases_to_home_office_layout():
    out = cases_to_home_office(_hand_cases())
    assert list(out.columns) == list(OLD_HEADER)
    kent8q = out[(out["Force Name"] == "Kent") & (out["Offence Code"] == "8Q")]
    assert kent8q[["Financial Year", "Financial Quarter", "Outcome Type",
                   OLD_HEADER[11]]].values.tolist() == [
        ["2022/23", 1, "1", 2], ["2022/23", 1, "16", 1], ["2022/23", 2, "16", 1],
        ["2022/23", 3, "1", 0], ["2022/23", 4, "0", 1], ["2023/24", 1, "15", 1],
    ]
    # closed-in-quarter counts are by quarter of outcome: the s4a charge 200 days after 2022-04-10 -> Q3
    assert kent8q[OLD_HEADER[12]].tolist() == [1, 1, 1, 1, "N/A", 1]
    charged = out[(out["Force Name"] == "Kent") & (out["Offence Code"] == "8Q") & (out["Outcome Type"] == "1")]
    assert charged[["Financial Quarter", OLD_HEADER[11], OLD_HEADER[12]]].values.tolist() == [[1, 2, 1], [3, 0, 1]]
    assert set(out["Offence Code"]) == {"8Q", "8L", "8R"}
    assert (out.loc[out["Outcome Type"] == "0", OLD_HEADER[12]] == "N/A").all()
    with_cd = cases_to_home_office(_hand_cases(), offence_code_map={**ho.OFFENCE_CODES, "criminal_damage": "58A"})
    assert with_cd.loc[with_cd["Offence Code"] == "58A", OLD_HEADER[11]].tolist() == [1]
    reported = cases_to_home_office(_hand_cases(), date="reported")
    # the 2023-03-31 report stays in 2022/23 (2023/24 rows only hold outcomes closed then)
    # (Kent's 15 closed 2023-06-29 and the City's charge 100 days after 2023-01-01)
    late = reported[reported["Financial Year"] == "2023/24"]
    assert late[["Force Name", "Outcome Type", OLD_HEADER[11], OLD_HEADER[12]]].values.tolist() == [
        ["Kent", "15", 0, 1], ["London, City of", "1", 0, 1]]
    with pytest.raises(DataValidationError, match="lacks column"):
        cases_to_home_office(_hand_cases().drop(columns=["outcome_code"]))
    bad = _hand_cases()
    bad.loc[2, "report_date"] = pd.NaT
    with pytest.raises(DataValidationError, match=r"1 recorded case\(s\) without report_date: cases \[3\]"):
        cases_to_home_office(bad)
    bad = _hand_cases()
    bad["outcome_code"] = bad["outcome_code"].astype("Int64").where(bad["case_id"] != 5, 23)
    with pytest.raises(DataValidationError, match=r"outcome_code outside 0-22 for cases \[5\]"):
        cases_to_home_office(bad)


@pytest.mark.parametrize("by", [("force", "financial_year"), ("financial_year",), ()])
def test_round_trip_hand_built_csv(tmp_path, by):
    cases = _hand_cases()
    p = tmp_path / "ho.csv"
    cases_to_home_office(cases).to_csv(p, index=False, encoding="utf-8-sig")
    table, report = load_home_office_outcomes(p, return_report=True)
    assert report.balanced and report.n_rows_read == report.n_rows_out
    got = home_office_funnel_counts(table, by=by)
    want = _direct_funnel_counts(cases, by=by)
    _compare(got, want, by)
    if by == ("financial_year",):
        assert got["offences"].tolist() == [12, 1] and got["charged"].tolist() == [3, 0]


def test_round_trip_hand_built_workbook(tmp_path):
    cases = _hand_cases()
    p = tmp_path / "ho.xlsx"
    out = cases_to_home_office(cases, date="recorded")
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        pd.DataFrame({"a": ["Cover sheet"]}).to_excel(xw, sheet_name="Cover", index=False, header=False)
        pd.DataFrame({"a": ["Title"], "b": [None]}).to_excel(xw, sheet_name="Data", index=False, header=False)
        out.to_excel(xw, sheet_name="Data", index=False, startrow=2)
    table = load_home_office_outcomes(p, count="recorded_in_quarter")
    _compare(home_office_funnel_counts(table), _direct_funnel_counts(cases), ("force", "financial_year"))


def test_round_trip_synthetic(tmp_path):
    synthetic = pytest.importorskip("attrition.synthetic")
    cases = synthetic.simulate(n_cases=20000, random_state=1).cases
    p = tmp_path / "ho.csv"
    cases_to_home_office(cases).to_csv(p, index=False, encoding="utf-8-sig")
    table, report = load_home_office_outcomes(p, return_report=True)
    assert report.balanced and report.unmatched_forces.empty and report.duplicates.empty
    for by in [("force", "financial_year"), ("financial_year",)]:
        _compare(home_office_funnel_counts(table, by=by), _direct_funnel_counts(cases, by=by), by)
    nat = home_office_funnel_counts(table, by=())
    n_coded = cases["final_offence"].astype(str).isin(["stalking_s2a", "stalking_s4a", "harassment",
                                                       "malicious_communications"]).sum()
    assert nat["offences"].iloc[0] == n_coded
    assert nat["charged"].iloc[0] == (cases.loc[cases["final_offence"].astype(str).isin(
        ["stalking_s2a", "stalking_s4a", "harassment", "malicious_communications"]), "outcome_code"] == 1).sum()


# ------------------------------------------------------------------------------------- workbook errors
def test_empty_and_corrupt_workbooks(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.save(tmp_path / "empty.xlsx")
    with pytest.raises(DataValidationError, match="the workbook is empty"):
        load_home_office_outcomes(tmp_path / "empty.xlsx")
    (tmp_path / "corrupt.xlsx").write_bytes(b"this is not a zip file")
    with pytest.raises(DataValidationError, match="cannot read the spreadsheet"):
        load_home_office_outcomes(tmp_path / "corrupt.xlsx")
    (tmp_path / "zero.xlsx").write_bytes(b"")
    with pytest.raises(DataValidationError, match="empty"):
        load_home_office_outcomes(tmp_path / "zero.xlsx")


def test_corrupt_ods_gives_clear_error(tmp_path):
    (tmp_path / "t.ods").write_bytes(b"PK")
    with pytest.raises(DataValidationError, match=r"t\.ods: cannot read the spreadsheet"):
        load_home_office_outcomes(tmp_path / "t.ods")


def test_workbook_negative_count_located_by_sheet_and_row(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Notes"
    ws.append(["Notes"])
    data = wb.create_sheet("Tabel 1")
    data.append(["Title"])
    data.append(["Financial Year", "Financial Quarter", "Force Name", "Offence Code", "Outcome Type",
                 "Outcomes for offences that were recorded in the quarter"])
    data.append(["2021/22", 3, "Surrey Police", "8Q", 1, 4])
    data.append(["2021/22", 3, "Surrey Police", "8Q", 16, -3])
    wb.save(tmp_path / "neg.xlsx")
    with pytest.warns(DataQualityWarning, match=r"1 row\(s\) have negative counts.*neg\.xlsx \[Tabel 1\] row 4"):
        table, report = load_home_office_outcomes(tmp_path / "neg.xlsx", return_report=True)
    assert report.negative_counts[["sheet", "row", "count"]].values.tolist() == [["Tabel 1", 4, -3.0]]
    assert table["force"].tolist() == ["Surrey", "Surrey"] and table["offence_description"].isna().all()
    with pytest.raises(DataValidationError, match=r"Tabel 1.*missing required column.*closed in the quarter"):
        load_home_office_outcomes(tmp_path / "neg.xlsx", count="closed_in_quarter")


def test_round_trip_closed_in_quarter(tmp_path):
    """Outcomes closed in each financial year, read back from the second count column."""
    from attrition.data import financial_year

    cases = _hand_cases()
    p = tmp_path / "ho.csv"
    cases_to_home_office(cases).to_csv(p, index=False)
    table, report = load_home_office_outcomes(p, count="closed_in_quarter", return_report=True)
    # outcome 0 rows carry "N/A" in the closed column: missing, not zero
    assert report.missing_counts.values.tolist() == [["N/A", 2]]  # the two open cases
    got = home_office_funnel_counts(table, by="financial_year")
    coded = cases["final_offence"].isin(["stalking_s2a", "stalking_s4a", "harassment", "malicious_communications"])
    closed = cases[coded & cases["outcome_code"].notna() & (cases["force"] != "British Transport Police")]
    fy = financial_year(closed["report_date"] + pd.to_timedelta(closed["days_to_police_outcome"], unit="D"))
    want = fy.value_counts().sort_index()
    assert got["financial_year"].tolist() == want.index.tolist() == ["2022/23", "2023/24"]
    assert got["offences"].tolist() == want.tolist() == [9, 2]
    assert got["open"].tolist() == [0, 0] and got["n_missing"].tolist() == [2, 0]


def test_reexported_from_attrition_data():
    from attrition import data

    pd.testing.assert_frame_equal(data.load_home_office_outcomes(WORKBOOK), load_home_office_outcomes(WORKBOOK))


def test_funnel_fitted_both_ways_gives_the_same_numbers(tmp_path):
    """Synthetic cases -> Home Office open-data file -> reader -> funnel, against the funnel fitted on
    counts taken straight from the case table: the same numbers."""
    import warnings

    from attrition.exceptions import StatisticalWarning
    from attrition.funnel import FunnelFitter
    from attrition.sources.open_data.home_office import home_office_funnel_rows
    from attrition.standard import OUTCOME_EXIT_REASON, STALKING_OFFENCES
    from attrition.synthetic import simulate

    cases = simulate(n_cases=20_000, random_state=3, n_years=2, extraction_lag_days=20).cases
    path = tmp_path / "outcomes.csv"
    cases_to_home_office(cases).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_home_office_outcomes(path, offence_codes=("8Q",))  # stalking
        via_file = home_office_funnel_rows(home_office_funnel_counts(table, by=("force",)))
    # straight from the case table: offences recorded as stalking (as the open data count them) and their outcome
    c = cases[cases["final_offence"].isin(STALKING_OFFENCES)]
    code = c["outcome_code"].fillna(0).astype(int)
    direct = pd.DataFrame({"force": c["force"].astype(str), "offences": 1, "charged": (code == 1).astype(int),
                           "open": (code == 0).astype(int)})
    for reason in sorted(set(OUTCOME_EXIT_REASON.values())):
        direct[reason] = code.map(OUTCOME_EXIT_REASON).eq(reason).astype(int)
    direct = home_office_funnel_rows(direct.groupby("force", as_index=False).sum())
    assert direct["count"].sum() == via_file["count"].sum() == len(c)
    fits = []
    for rows in (via_file, direct):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)  # open offences: estimated from closed ones
            fits.append(FunnelFitter(stages=("reported", "charged")).fit(rows, by="force", weights="count", pool=False))
    pd.testing.assert_frame_equal(fits[0].summary, fits[1].summary)
    pd.testing.assert_frame_equal(fits[0].exit_summary_, fits[1].exit_summary_)
    assert (~cases["closed"]).sum() > 50  # the comparison includes open cases
