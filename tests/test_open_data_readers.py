"""Open-data readers on the real Home Office 2018/19 outcomes file (as distributed, gzip; and converted to
.csv, .zip, .xlsx and .ods here) against an independent pandas read, and on hand-made tables.

The real file is Crown copyright, Open Government Licence v3.0 (Home Office, police recorded crime and
outcomes open data tables); it is read from ../shared/open-data/, never copied into the repository.
"""
from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from _open_data_util import COUNT_CLO, COUNT_REC, REAL, frame_rows, independent_read, to_number, write_ods
from attrition.exceptions import DataQualityWarning, DataValidationError
from attrition.sources.open_data import (
    read_court_outcomes, read_foi_returns, read_outcomes, read_recorded_crime,
)
from attrition.sources.open_data.home_office import load_home_office_outcomes
from attrition.sources.forces import territorial_forces

pytestmark = pytest.mark.skipif(not REAL.exists(), reason="shared real open-data file not present")


@pytest.fixture(scope="module")
def real():
    return independent_read()


@pytest.fixture(scope="module")
def real_slice(real):
    """All stalking rows (3,696) plus every 8L and 8R row of quarter 1 (both codes, all 44 bodies)."""
    keep = (real["Offence Code"] == "8Q") | (real["Offence Code"].isin(["8L", "8R"]) & (real["Financial Quarter"] == "1"))
    return real.loc[keep].reset_index(drop=True)


def _by_force(df: pd.DataFrame, code: str, column=COUNT_REC) -> pd.Series:
    d = df[df["Offence Code"] == code]
    return to_number(d[column]).groupby(d["Force Name"]).sum().sort_index()


def _loaded_by_force(table: pd.DataFrame, code: str) -> pd.Series:
    t = table[(table["offence_code"] == code) & ~table["of_which"]]
    return t.groupby("force")["count"].sum().sort_index()


# ------------------------------------------------------------------------------------------ real file
def test_real_gzip_as_distributed_matches_independent_read(real):
    sel = real[real["Offence Code"].isin(["8Q", "8L", "8R"])]
    n_neg = int((to_number(sel[COUNT_REC]) < 0).sum())
    assert n_neg == 14
    with pytest.warns(DataQualityWarning, match=rf"^{n_neg} row\(s\) have negative counts"):
        table, report = read_outcomes(REAL, offence_codes=("8Q", "8L", "8R"), forces="all", return_report=True)
    assert len(report.load.negative_counts) == n_neg
    assert report.load.n_rows_read == 621_280 == len(real)
    assert report.load.balanced
    for code in ("8Q", "8L", "8R"):
        want = _by_force(real, code)
        got = _loaded_by_force(table, code)
        assert len(want) == 44 and got.index.tolist() == want.index.tolist()
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    # the numbers themselves (independent read): national 8Q over the 44 bodies, and one force
    assert _by_force(real, "8Q").sum() == 19_583
    assert _loaded_by_force(table, "8Q")["Kent"] == _by_force(real, "8Q")["Kent"]
    # types 14 and 16 are kept apart, with their (shared) Home Office group alongside
    q = table[table["offence_code"] == "8Q"]
    assert q.loc[q["outcome_type"] == "14", "count"].sum() == to_number(
        real.loc[(real["Offence Code"] == "8Q") & (real["Outcome Type"] == "14"), COUNT_REC]).sum()
    groups = q.drop_duplicates("outcome_type").set_index("outcome_type")["outcome_group"]
    assert groups["14"] == groups["16"] == "Evidential difficulties (victim does not support action)"
    assert groups["15"] == "Evidential difficulties (suspect identified; victim supports action)"


def test_real_whole_file_all_offences_by_force(real):
    """Every offence code, all 621,280 rows: totals by force against the independent read."""
    with pytest.warns(DataQualityWarning):
        table = load_home_office_outcomes(REAL, offence_codes=None)
    assert len(table) == len(real)
    want = to_number(real[COUNT_REC]).groupby(real["Force Name"]).sum().sort_index()
    got = table.loc[~table["of_which"]].groupby("force")["count"].sum().sort_index()
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    # the expired-code marker is kept as missing, never as zero
    assert table["count"].isna().sum() == (real[COUNT_REC] == "N/A - offence code expired").sum() == 140_800


def test_real_default_is_stalking_and_territorial(real):
    with pytest.warns(DataQualityWarning):
        table, report = read_outcomes(REAL, return_report=True)
    assert set(table["offence_code"]) == {"8Q"}
    assert set(table["force"]) == set(territorial_forces())
    assert "British Transport Police" not in set(table["force"])
    terr = real[(real["Offence Code"] == "8Q") & (real["Force Name"] != "British Transport Police")]
    assert table["count"].sum() == to_number(terr[COUNT_REC]).sum() == 19_528
    assert report.notes.values.tolist() == [["2018/19", "force outside scope excluded", "British Transport Police"]]
    assert not report.includes_btp


@pytest.mark.parametrize("fmt", ["csv", "zip", "xlsx", "ods"])
def test_real_slice_converted(tmp_path, real_slice, fmt):
    """The real rows written as .csv / .zip / .xlsx / .ods here, read back: totals by force agree."""
    s = real_slice
    if fmt == "csv":
        path = tmp_path / "slice.csv"
        s.to_csv(path, index=False, encoding="utf-8-sig")
    elif fmt == "zip":
        path = tmp_path / "slice.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("README.txt", "notes")
            z.writestr("prc-outcomes-slice.csv", s.to_csv(index=False))
    elif fmt == "xlsx":
        path = tmp_path / "slice.xlsx"
        out = s.copy()
        for c in ("Financial Quarter", "Outcome Type", COUNT_REC, COUNT_CLO):
            num = to_number(out[c])
            out[c] = num.where(num.notna(), out[c]).astype(object)
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            pd.DataFrame({"a": ["Cover sheet", "Crown copyright"]}).to_excel(xw, sheet_name="Cover", index=False,
                                                                             header=False)
            pd.DataFrame({"a": ["Outcomes open data, year ending March 2019"]}).to_excel(
                xw, sheet_name="Data", index=False, header=False)
            out.to_excel(xw, sheet_name="Data", index=False, startrow=2)
    else:
        path = write_ods(tmp_path / "slice.ods", {
            "Notes": [["Notes"], ["Source: Home Office"]],
            "Data": [["Title row"], [], *frame_rows(s, ("Financial Quarter", "Outcome Type", COUNT_REC, COUNT_CLO))]})
    with pytest.warns(DataQualityWarning):
        table, report = read_outcomes(path, offence_codes=("8Q", "8L", "8R"), forces="all", return_report=True)
    assert report.load.n_rows_read == len(s) == 3696 + 2 * 44 * 21
    for code in ("8Q", "8L", "8R"):
        want = _by_force(s, code)
        np.testing.assert_array_equal(_loaded_by_force(table, code).to_numpy(), want.to_numpy())
    # and the closed-in-quarter count of the same rows ("NA" markers kept missing)
    closed = read_outcomes(path, count="closed_in_quarter", forces="all")  # no negative closed counts in 8Q
    want = _by_force(s, "8Q", COUNT_CLO)
    np.testing.assert_array_equal(_loaded_by_force(closed, "8Q").to_numpy(), want.to_numpy())


def test_real_gzip_bytes_in_zip_and_cp1252(tmp_path, real_slice):
    s = real_slice[real_slice["Offence Code"] == "8Q"].head(200)
    p = tmp_path / "a.csv.gz"
    p.write_bytes(gzip.compress(s.to_csv(index=False).encode("cp1252", errors="replace")))
    t = read_outcomes(p)
    assert t["count"].sum() == to_number(s.loc[s["Force Name"] != "British Transport Police", COUNT_REC]).sum()


# ------------------------------------------------------------------------------------------ minimal layout
def _minimal(tmp_path, rows, header=("Financial Year", "Force Name", "Offence Code", "Outcome Type", "Count"),
             name="m.csv"):
    p = tmp_path / name
    pd.DataFrame(rows, columns=list(header)).to_csv(p, index=False)
    return p


def test_minimal_layout_without_quarter(tmp_path):
    p = _minimal(tmp_path, [("2021/22", "Kent", "8Q", 1, 30), ("2021/22", "Kent", "8Q", 15, 70),
                            ("2021-22", "Essex Police", "8q", "16", 5), ("2021/22", "Essex", "8Q", 0, 10)])
    t, rep = read_outcomes(p, return_report=True)
    assert t["quarter"].isna().all() and t["financial_year"].unique().tolist() == ["2021/22"]
    assert t["force"].tolist() == ["Kent", "Kent", "Essex", "Essex"]
    assert t["count"].tolist() == [30, 70, 5, 10] and rep.load.count_column == "count"
    assert t["outcome_group"].tolist()[:2] == ["Charged/Summonsed",
                                               "Evidential difficulties (suspect identified; victim supports action)"]
    missing_forces = rep.notes.loc[rep.notes["kind"] == "missing force", "what"]
    assert len(missing_forces) == 41 and "Kent" not in set(missing_forces)


def test_minimal_layout_with_quarter_notes_missing_quarters(tmp_path):
    rows = [("2021/22", q, f, "8Q", 1, 2) for f in territorial_forces() for q in (1, 2, 3, 4)
            if not (f == "Kent" and q == 3)]
    p = _minimal(tmp_path, rows, header=("Financial Year", "Quarter", "Force Name", "Offence Code", "Outcome Type",
                                         "Number of outcomes"))
    _, rep = read_outcomes(p, return_report=True)
    n = rep.notes
    assert n.loc[n["kind"] == "missing quarter", "what"].tolist() == ["Kent Q3"]
    assert (n["kind"] == "missing force").sum() == 0
    # outcome types never seen in the year are noted (only type 1 was given)
    assert n.loc[n["kind"] == "missing outcome type", "what"].tolist()[:3] == ["0", "2", "3"]


# ------------------------------------------------------------------------------------------ bad files
def test_header_only_refused(tmp_path):
    p = _minimal(tmp_path, [])
    with pytest.raises(DataValidationError, match=r"m\.csv: the file has a header row \(line 1\) but no data rows"):
        read_outcomes(p)


def test_absurd_count_refused(tmp_path):
    p = _minimal(tmp_path, [("2021/22", "Kent", "8Q", 1, 3), ("2021/22", "Kent", "8Q", 15, "1e308")])
    with pytest.raises(DataValidationError, match=r"an absurd count in column .*\['1e308'\] at m\.csv row 3"):
        read_outcomes(p)


def test_extra_cells_csv_named_by_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Financial Year,Force Name,Offence Code,Outcome Type,Count\n2021/22,Kent,8Q,1,3\n"
                 "2021/22,Kent,8Q,15,4,oops\n")
    with pytest.raises(DataValidationError, match=r"x\.csv, line 3: 6 cells but the header \(line 1\) has 5 "
                                                  r"columns; extra value 'oops'"):
        read_outcomes(p)


def test_extra_cells_workbook_named_by_row(tmp_path):
    p = write_ods(tmp_path / "x.ods", {"Data": [["Financial Year", "Force Name", "Offence Code", "Outcome Type",
                                                 "Count"], ["2021/22", "Kent", "8Q", 1, 3],
                                                ["2021/22", "Kent", "8Q", 15, 4, "stray"]]})
    with pytest.raises(DataValidationError, match=r"x\.ods, sheet 'Data', row 3: 1 row\(s\) have cells to the right "
                                                  r"of the header's 5 columns \(e\.g\. 'stray'\)"):
        read_outcomes(p)


def test_missing_column_and_unknown_force(tmp_path):
    p = _minimal(tmp_path, [("2021/22", "Kent", "8Q", 3)], header=("Financial Year", "Force Name", "Offence Code",
                                                                    "Count"))
    with pytest.raises(DataValidationError, match=r"m\.csv: missing required column\(s\) \['Outcome Type'"):
        read_outcomes(p)
    p = _minimal(tmp_path, [("2021/22", "Atlantis", "8Q", 1, 3)], name="u.csv")
    with pytest.warns(DataQualityWarning), pytest.raises(
            DataValidationError, match=r"u\.csv: column 'Force Name': 1 row\(s\) have force names matching no police "
                                       r"force: 'Atlantis' \(1 row\(s\)\)"):
        read_outcomes(p)


def test_unsupported_and_empty_zip(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"x")
    with pytest.raises(DataValidationError, match=r"a\.parquet: unsupported file type"):
        read_outcomes(tmp_path / "a.parquet")
    with zipfile.ZipFile(tmp_path / "e.zip", "w") as z:
        z.writestr("readme.txt", "no table here")
    with pytest.raises(DataValidationError, match=r"e\.zip: the zip archive holds no \.csv"):
        read_outcomes(tmp_path / "e.zip")


# ------------------------------------------------------------------------------------------ recorded crime
def test_recorded_crime_published_layout_sheets_per_year(tmp_path):
    head = ["Financial Year", "Financial Quarter", "Force Name", "Offence Description", "Offence Group",
            "Offence Subgroup", "Offence Code", "Number of Offences"]
    y1 = [head, ["2020/21", 1, "Kent", "Stalking", "VAP", "S&H", "8Q", 120],
          ["2020/21", 1, "Kent", "Harassment", "VAP", "S&H", "8L", 999],
          ["2020/21", 2, "Dyfed-Powys Police", "Stalking", "VAP", "S&H", "8Q", 15],
          ["2020/21", 1, "British Transport Police", "Stalking", "VAP", "S&H", "8Q", 4]]
    y2 = [["Police recorded crime, 2021-22"], [], head, ["2021/22", 1, "Kent", "Stalking", "VAP", "S&H", "8Q", 130],
          ["2021/22", 2, "Kent", "Stalking", "VAP", "S&H", "8Q", ".."]]
    p = write_ods(tmp_path / "prc-pfa.ods", {"Contents": [["Contents"]], "2020-21": y1, "2021-22": y2})
    t = read_recorded_crime(p)
    assert t[["financial_year", "quarter", "force", "offence_code", "offences"]].astype(object).where(
        t[["financial_year", "quarter", "force", "offence_code", "offences"]].notna(), None).values.tolist() == [
        ["2020/21", 1, "Kent", "8Q", 120.0], ["2020/21", 2, "Dyfed-Powys", "8Q", 15.0],
        ["2021/22", 1, "Kent", "8Q", 130.0], ["2021/22", 2, "Kent", "8Q", None]]
    assert t["missing_reason"].tolist()[-1] == ".." and t.attrs["excluded_forces"] == {"British Transport Police": 1}
    assert t.attrs["excluded_rows"] == {"no offence code (notes)": 0, "offence code not selected": 1}
    both = read_recorded_crime(p, offence_codes=("8Q", "8L"), forces="all")
    assert both.groupby("offence_code")["offences"].sum().to_dict() == {"8L": 999.0, "8Q": 269.0}


def test_recorded_crime_minimal_and_errors(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("Financial Year,Force Name,Offence Code,Number of Offences\n2021/22,Kent,8Q,\"1,234\"\n")
    t = read_recorded_crime(p)
    assert t["offences"].tolist() == [1234.0] and t["quarter"].isna().all()
    p.write_text("Financial Year,Force Name,Offence Code,Number of Offences\n2021/22,Kent,8Q,5\n2021/22,Kent,8Q,6\n")
    with pytest.raises(DataValidationError, match=r"a repeated year, quarter, force and offence.*r\.csv row 2, r\.csv row 3"):
        read_recorded_crime(p)
    p.write_text("Financial Year,Force Name,Offence Code,Number of Offences\n2021/22,Kent,8Q,-5\n")
    with pytest.raises(DataValidationError, match=r"negative or absurd count.*r\.csv row 2"):
        read_recorded_crime(p)
    p.write_text("Financial Year,Force Name,Offence Code\n2021/22,Kent,8Q\n")
    with pytest.raises(DataValidationError, match=r"Closest header lacks \['Number of Offences'\]"):
        read_recorded_crime(p)


# ------------------------------------------------------------------------------------------ courts, FOI
def test_court_outcomes(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("year,force,proceeded,convicted\n2021/22,Kent,40,25\n2021-22,Essex Police,10,4\n"
                 "2021/22,British Transport Police,2,1\n")
    t = read_court_outcomes(p)
    assert t[["year", "force", "proceeded", "convicted"]].values.tolist() == [
        ["2021/22", "Kent", 40.0, 25.0], ["2021/22", "Essex", 10.0, 4.0]]
    p.write_text("Year,Police Force Area,Proceeded against,Convicted\n2022,Kent,4,5\n")
    with pytest.raises(DataValidationError, match=r"more convicted than proceeded against.*c\.csv row 2"):
        read_court_outcomes(p)


def test_foi_did_not_answer_is_not_zero(tmp_path):
    p = tmp_path / "foi.csv"
    p.write_text(
        "Force,Year,Interim SPO applications,Full SPO applications,Granted,Refused,Not yet heard,"
        "Dedicated stalking officers\n"
        "Kent,2022/23,3,5,6,1,1,0\n"
        "Essex,2022/23,did not answer,did not answer,Not held,,, 2\n"
        "Surrey,2022-23,0,0,0,0,0,Did Not Answer\n")
    t = read_foi_returns(p)
    kent, essex, surrey = (t.set_index("force").loc[f] for f in ("Kent", "Essex", "Surrey"))
    assert kent["spo_applications"] == 8 and kent["dedicated_officers"] == 0 and kent["not_answered"] == ""
    assert pd.isna(essex["spo_applications"]) and pd.isna(essex["spo_granted"]) and essex["dedicated_officers"] == 2
    assert essex["not_answered"] == ("spo_interim_applications;spo_full_applications;spo_granted;spo_refused;"
                                     "spo_not_yet_heard")
    assert surrey["spo_applications"] == 0 and pd.isna(surrey["dedicated_officers"])
    assert surrey["not_answered"] == "dedicated_officers" and bool(surrey["answered"])
    p.write_text("Force,Year,Granted\nKent,2022/23,lots\n")
    with pytest.raises(DataValidationError, match=r"neither a count nor a missing marker.*\['lots'\] at foi\.csv row 2"):
        read_foi_returns(p)
