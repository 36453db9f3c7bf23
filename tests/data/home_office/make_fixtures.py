"""Write the hand-made Home Office outcomes fixtures used by tests/test_home_office.py.

Run from the repository root: ``.venv/bin/python tests/data/home_office/make_fixtures.py``.
Every value below is typed by hand; the expected numbers in the tests are worked out from them.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import datetime

from openpyxl import Workbook

_FIXED = datetime.datetime(2024, 7, 18, 9, 30)  # fixed metadata times, so re-running gives the same cells

HERE = Path(__file__).resolve().parent

OLD_HEADER = [
    "Financial Year", "Financial Quarter", "Force Name", "Offence Description", "Offence Group",
    "Offence Subgroup", "Offence Code", "Offence code expired", "Outcome Description", "Outcome Group",
    "Outcome Type", "Force outcomes for offences recorded in quarter", "Force outcomes recorded in quarter",
]
VAP, SH = "Violence against the person", "Stalking and harassment"
ST, HA, MC = ("Stalking", "8Q"), ("Harassment", "8L"), ("Malicious Communications", "8R")

# (year, quarter, force as published, (description, code), outcome description, outcome type, rec, closed)
OLD_ROWS = [
    ("2018/19", 1, "Avon & Somerset", ST, "Charged/Summonsed", "1", "12", "10"),                          # line 2
    ("2018/19", 1, "Avon & Somerset", ST, "Charged/Summonsed - of which domestic abuse", "1a", "5", "4"),  # 3
    ("2018/19", 1, "Avon & Somerset", ST, "Evidential difficulties: victim supports", "15", "30", "28"),  # 4
    ("2018/19", 1, "Avon & Somerset", ST, "Evidential difficulties: victim does not support", "16", "25", "20"),  # 5
    ("2018/19", 1, "Avon & Somerset", ST, "Not yet assigned an outcome", "0", "7", "N/A"),               # 6
    ("2018/19", 1, "Avon & Somerset", HA, "Charged/Summonsed", "1", "40", "38"),                          # 7
    ("2018/19", 1, "Avon & Somerset", HA, "Caution - adults", "3", "-2", "1"),                            # 8
    ("2018/19", 1, "Avon & Somerset", HA, "Caution - adults - of which conditional", "3a", "1", "1"),     # 9
    ("2018/19", 1, "London, City of", ST, "Charged/Summonsed", "1", "1", "1"),                            # 10
    ("2018/19", 1, "London, City of", ST, "Investigation complete - no suspect", "18", "NA", "0"),       # 11
    ("2018/19", 2, "Metropolitan Police Service", ST, "Charged/Summonsed", "1", "50", "45"),              # 12
    ("2018/19", 2, "Metropolitan Police Service", ST, "Evidential difficulties", "14", "N/A", "3"),       # 13
    ("2018/19", 2, "Metropolitan Police Service", ST, "Caution - youths", "2", "9", "8"),                 # 14
    ("2018/19", 2, "Metropolitan Police Service", ST, "Caution - youths - of which", "2a", "4", "4"),     # 15
    ("2018/19", 2, "Kent [Note 6]", MC, "Action taken by another body", "20", "6", "6"),                  # 16
    ("2018/19", 2, "Kent [Note 6]", MC, "Charged/Summonsed", "1", "--", "2"),                             # 17
    ("2018/19", 2, "Devon and Cornwall ", ST, "Charged/Summonsed", "1", "9", "9"),                        # 18
    ("2018/19", 2, "Devon and Cornwall ", ST, "Evidential difficulties", "16", "N/A - offence code expired",
     "N/A - offence code expired"),                                                                       # 19
    ("2018/19", 3, "British Transport Police", HA, "Charged/Summonsed", "1", "4", "4"),                  # 20
    ("2018/19", 3, "British Transport Police", HA, "Evidential difficulties", "16", "3", "3"),           # 21
    ("2018/19", 3, "Atlantis Constabulary", ST, "Charged/Summonsed", "1", "2", "2"),                     # 22
    ("2018/19", 3, "Kent [Note 6]", MC, "Community resolution", "8", ":", "1"),                          # 23
    ("2018/19", 4, "Kent", ST, "Formal action not in public interest", "10", "N/A - data not provided", "0"),  # 24
    ("2018/19", 4, "Kent", ("Criminal damage to a dwelling", "58A"), "Charged/Summonsed", "1", "100", "90"),  # 25
    ("2018/19", 4, "Kent", ("Assault with injury", "105A"), "Evidential difficulties", "15", "3", "3"),  # 26
    ("2018/19", 4, "Kent", ST, "Charged/Summonsed", "1", "-1", "0"),                                     # 27
    ("2018/19", 4, "Metropolitan Police", ST, "Charged/Summonsed", "1", "60", "55"),                     # 28
]


def write_old_csv() -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(OLD_HEADER)
    for fy, q, force, (desc, code), odesc, otype, rec, clo in OLD_ROWS:
        group, sub = (VAP, SH) if code in ("8Q", "8L", "8R") else ("Other", "Other")
        w.writerow([fy, q, force, desc, group, sub, code, "", odesc, "", otype, rec, clo])
    # UTF-8 with a byte-order mark, as Excel's "CSV UTF-8" conversions write it
    (HERE / "outcomes_2018_19_bom.csv").write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))


NEW_HEADER = [  # current names, [note n] markers, columns in a different order from the old files
    "Force Name", "Financial Year", "Financial Quarter", "Offence Code", "Offence Description",
    "Offence Group", "Offence Subgroup", "Outcome Type", "Outcome Description", "Outcome Group",
    "Outcomes for offences that were recorded in the quarter [note 3]",
    "Outcomes for investigations closed in the quarter [note 4]",
]


def _new_row(force, fy, q, code, desc, otype, rec, clo):
    return [force, fy, q, code, desc, VAP, SH, otype, "", "", rec, clo]


def _save(wb: Workbook, name: str) -> None:
    wb.properties.created = wb.properties.modified = _FIXED
    wb.save(HERE / name)


def write_workbook() -> None:
    wb = Workbook()
    cover = wb.active
    cover.title = "Cover_sheet"
    cover.append(["Police recorded crime outcomes: open data table"])
    cover.append(["Financial years ending March 2023 and March 2024"])
    cover.append(["Contact: crimestats@homeoffice.gov.uk"])

    notes = wb.create_sheet("Notes")
    notes.append(["Note number", "Note text"])
    notes.append(["Note 3", "Outcomes for offences that were recorded in the quarter"])
    notes.append(["Note 4", "Outcomes for investigations closed in the quarter"])
    notes.append(["Note 5", "Force Name: Hampshire became Hampshire and Isle of Wight in 2022"])

    decoy = wb.create_sheet("Summary")  # a table with some of the columns but no offence code / outcome type
    decoy.append(["Force Name", "Financial Year", "Outcomes for offences that were recorded in the quarter"])
    decoy.append(["Kent", "2022/23", 999])

    data = wb.create_sheet("Outcomes_Open_Data_Tabel")  # sic: sheet names change spelling between releases
    data.append(["Police recorded crime outcomes open data, year ending March 2023"])
    data.append(["This worksheet contains one table. Some cells refer to notes in the Notes worksheet."])
    data.append([None])
    data.append(NEW_HEADER)                                                                  # row 4
    rows = [
        _new_row("Avon and Somerset Constabulary", "2022/23", 1, "8Q", "Stalking", 1, 20, 18),  # 5
        _new_row("Avon and Somerset Constabulary", "2022/23", 1, "8Q", "Stalking", "1a", 6, 5),  # 6
        _new_row("Avon and Somerset Constabulary", "2022/23", 1, "8Q", "Stalking", 18, 15, 14),  # 7
        _new_row("Avon and Somerset Constabulary", "2022/23", 1, "8Q", "Stalking", 0, 11, "[x]"),  # 8
        _new_row("Dyfed Powys", "2022/23", 1, "8L", "Harassment", 1, 8, 7),                      # 9
        _new_row("Dyfed Powys", "2022/23", 1, "8l", "Harassment", 20, 2, 2),                     # 10
        _new_row("British Transport Police", "2022/23", 1, "8Q", "Stalking", 1, 3, 3),           # 11
        _new_row("Metropolitan Police", "2022/23", 2, "8R", "Malicious Communications", 16,
                 "N/A - data not provided", 12),                                                 # 12
        _new_row("Metropolitan Police", "2022/23", 2, "8R", "Malicious Communications", 1, 30, 25),  # 13
        _new_row("Metropolitan Police", "2022/23", 2, "105A", "Assault with injury", 1, 50, 50),     # 14
    ]
    for r in rows:
        data.append(r)
    data.append([None])                                                                      # 15 blank
    data.append(["Source: Home Office, police recorded crime outcomes"])                     # 16 footnote

    data2 = wb.create_sheet("outcomes data table 2023-24 ")  # second data sheet, header on row 1
    data2.append(NEW_HEADER)
    data2.append(_new_row("Hampshire and Isle of Wight", "2023/24", 1, "8Q", "Stalking", 1, 5, 4))
    data2.append(_new_row("Hampshire and Isle of Wight", "2023/24", 1, "8Q", "Stalking", "3a", 1, 1))
    data2.append(_new_row("Hampshire and Isle of Wight", "2023/24", 1, "8Q", "Stalking", 21, 4, None))
    _save(wb, "outcomes_2022_24.xlsx")


def write_error_fixtures() -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Cover sheet"
    ws.append(["Police recorded crime outcomes"])
    wb.create_sheet("Notes").append(["Note 1", "Offence Code is the Home Office offence code"])
    _save(wb, "no_data_sheet.xlsx")
    (HERE / "empty.csv").write_bytes(b"")


if __name__ == "__main__":
    write_old_csv()
    write_workbook()
    write_error_fixtures()
