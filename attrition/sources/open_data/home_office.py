"""Reader for the Home Office police recorded crime *outcomes* open data tables.

The Home Office publishes, every quarter, one row per financial year x quarter x police force x offence
code x outcome type with two counts: the outcomes (so far) of the offences recorded in the quarter, and
the outcomes assigned in the quarter to investigations closed then (whenever the offence was recorded).
This module reads those tables for stalking (offence code 8Q), harassment (8L) and malicious
communications (8R) - or every offence -, in any of the published layouts and file formats, into one tidy table; aggregates it into the
counts the funnel model consumes; and, for testing, writes an attrition case table back out in the
published layout.

Public API
----------
load_home_office_outcomes(path, ...)  -> tidy DataFrame (and a :class:`HomeOfficeLoadReport`)
home_office_funnel_counts(table, by)  -> per-group offences, charged, exit-reason and open counts
cases_to_home_office(cases, ...)      -> case table aggregated to the old open-data layout

The load report (rows read per file/sheet, exclusions with reasons, unmatched force names, negative
and missing counts, duplicates) is returned with ``return_report=True`` rather than stored in
``DataFrame.attrs``: pandas deep-copies ``attrs`` through every operation, and a report that silently
follows filtered copies of the table would describe rows they no longer hold.
"""
from __future__ import annotations

import csv
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataQualityWarning, DataValidationError
from . import _files
from ..forces import load_force_table, normalise_force_names
from ...standard import EXIT_REASONS, OUTCOME_EXIT_REASON, outcome_types

__all__ = [
    "HomeOfficeLoadReport",
    "load_home_office_outcomes",
    "home_office_funnel_counts",
    "cases_to_home_office",
    "OFFENCE_CODES",
    "OLD_HEADER",
    "MISSING_MARKERS",
    "FUNNEL_COLUMNS",
]

#: Home Office offence codes of the attrition offences (offences not listed here have no code).
OFFENCE_CODES: dict[str, str] = {
    "stalking_s2a": "8Q",
    "stalking_s4a": "8Q",
    "harassment": "8L",
    "malicious_communications": "8R",
}
_OFFENCE_DESCRIPTIONS = {"8Q": "Stalking", "8L": "Harassment", "8R": "Malicious Communications"}

#: Header of the older open-data files (year ending March 2019 and before), in published order.
OLD_HEADER: tuple[str, ...] = (
    "Financial Year", "Financial Quarter", "Force Name", "Offence Description", "Offence Group",
    "Offence Subgroup", "Offence Code", "Offence code expired", "Outcome Description", "Outcome Group",
    "Outcome Type", "Force outcomes for offences recorded in quarter", "Force outcomes recorded in quarter",
)

# field -> accepted normalised header names (lower case, letters and digits only, notes removed)
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "financial_year": ("financialyear",),
    "quarter": ("financialquarter", "quarter"),
    "force": ("forcename", "force", "policeforce", "policeforcearea", "policeforceareaname"),
    "offence_code": ("offencecode", "homeofficeoffencecode"),
    "offence_description": ("offencedescription",),
    "offence_group": ("offencegroup",),
    "offence_subgroup": ("offencesubgroup",),
    "offence_code_expired": ("offencecodeexpired",),
    "outcome_type": ("outcometype", "outcometypecode"),
    "outcome_description": ("outcomedescription",),
    "outcome_group": ("outcomegroup",),
    "recorded_in_quarter": (
        "forceoutcomesforoffencesrecordedinquarter",
        "outcomesforoffencesthatwererecordedinthequarter",
        "outcomesforoffencesrecordedinthequarter",
        "outcomesforoffencesrecordedinquarter",
    ),
    "closed_in_quarter": (
        "forceoutcomesrecordedinquarter",
        "outcomesforinvestigationsclosedinthequarter",
        "outcomesforinvestigationsclosedinquarter",
        "outcomesrecordedinthequarter",
    ),
    # minimal layout: one count column compiled elsewhere (used when neither published count is present)
    "count": ("count", "number", "numberofoutcomes", "outcomes", "value", "total", "n"),
}
_ALIAS_TO_FIELD = {a: f for f, aliases in _HEADER_ALIASES.items() for a in aliases}
_HEADER_LABEL = {  # how to name a field in error messages
    "financial_year": "Financial Year", "quarter": "Financial Quarter", "force": "Force Name",
    "offence_code": "Offence Code", "outcome_type": "Outcome Type",
    "recorded_in_quarter": "Force outcomes for offences recorded in quarter / Outcomes for offences that "
                           "were recorded in the quarter",
    "closed_in_quarter": "Force outcomes recorded in quarter / Outcomes for investigations closed in the quarter",
}
_KEY_FIELDS = ("financial_year", "force", "offence_code", "outcome_type")  # quarter is optional
_READ_FIELDS = (*_KEY_FIELDS, "quarter", "offence_description")  # plus the chosen count; other columns are not read
_COUNTS = ("recorded_in_quarter", "closed_in_quarter")

#: Count-cell markers read as missing (compared after stripping, case-insensitively). Any text starting
#: with ``N/A`` or ``NA -`` is also missing. The marker as published is kept in ``missing_reason``.
MISSING_MARKERS: tuple[str, ...] = (
    "na", "n/a", "n/a - offence code expired", "n/a - data not provided", "--", ":", "..", "-",
    "x", "[x]", "[c]", "[z]", "[u]", "[low]",
)
_MISSING_RE = re.compile(r"^(?:n/?a(?:\s*[-:–].*)?|--|:|\.\.|-|x|\[[a-z]+\])$", re.IGNORECASE)

#: Columns of :func:`home_office_funnel_counts` after the group keys.
_HO_EXIT_REASONS: tuple[str, ...] = tuple(r for r in EXIT_REASONS if r in set(OUTCOME_EXIT_REASON.values()))
FUNNEL_COLUMNS: tuple[str, ...] = ("offences", "charged", *_HO_EXIT_REASONS, "open", "n_missing")

#: outcome code -> value of the ``exit_reason`` column ("open" for 0, "charged" for 1).
_CODE_REASON: dict[int, str] = {0: "open", 1: "charged", **OUTCOME_EXIT_REASON}

_OUTPUT_COLUMNS = (
    "financial_year", "quarter", "force", "territorial", "offence_code", "offence_description",
    "outcome_type", "outcome_code", "of_which", "exit_reason", "count", "missing_reason",
)
_HEADER_SCAN_ROWS = 60
_CSV_CHUNK = 250_000
_MAX_LISTED = 8


# ----------------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HomeOfficeLoadReport:
    """What :func:`load_home_office_outcomes` read, kept, excluded and flagged.

    Every row read is either in the returned table or counted in ``excluded`` with its reason, so
    ``n_rows_read == n_rows_out + excluded['n_rows'].sum()`` always holds (``balanced``).

    Attributes
    ----------
    sources : pandas.DataFrame
        One row per data sheet / file read: ``file``, ``sheet`` (``<NA>`` for CSV), ``header_row``
        (1-based row of the header), ``rows_read`` (rows below the header), ``rows_out``.
    skipped_sheets : pandas.DataFrame
        Workbook sheets without the required header: ``file``, ``sheet``.
    excluded : pandas.DataFrame
        ``file``, ``sheet``, ``reason``, ``n_rows``: rows not returned, by reason ("blank row",
        "no offence code" (footnotes), "offence code not selected").
    unmatched_forces : pandas.DataFrame
        ``name`` (as published; ``""`` if blank), ``n_rows``: names matching no force (rows kept, ``force``
        is ``<NA>``).
    non_territorial : pandas.DataFrame
        ``force``, ``n_rows``: rows of bodies that are not territorial forces (e.g. British Transport Police).
    negative_counts : pandas.DataFrame
        One row per negative count (revisions, kept as published): ``file``, ``sheet``, ``row`` (1-based
        row in the file/sheet), ``financial_year``, ``quarter``, ``force_name``, ``offence_code``,
        ``outcome_type``, ``count``.
    missing_counts : pandas.DataFrame
        ``missing_reason`` (marker as published, ``"blank"`` for an empty cell), ``n_rows``.
    duplicates : pandas.DataFrame
        Rows sharing financial year, quarter, force, offence code and outcome type with another row
        (e.g. two overlapping files): same columns as ``negative_counts``.
    count_column : str
        Which count was read (``"recorded_in_quarter"`` or ``"closed_in_quarter"``).
    n_rows_read, n_rows_out : int
    """

    sources: pd.DataFrame
    skipped_sheets: pd.DataFrame
    excluded: pd.DataFrame
    unmatched_forces: pd.DataFrame
    non_territorial: pd.DataFrame
    negative_counts: pd.DataFrame
    missing_counts: pd.DataFrame
    duplicates: pd.DataFrame
    count_column: str
    n_rows_read: int
    n_rows_out: int

    @property
    def balanced(self) -> bool:
        """True if every row read is returned or listed in ``excluded``."""
        return self.n_rows_read == self.n_rows_out + int(self.excluded["n_rows"].sum())

    def __repr__(self) -> str:
        ex = ", ".join(f"{r}: {n}" for r, n in self.excluded.groupby("reason")["n_rows"].sum().items()) or "none"
        return (
            f"HomeOfficeLoadReport({self.count_column}: {self.n_rows_read} rows read from "
            f"{len(self.sources)} sheet(s)/file(s), {self.n_rows_out} returned; excluded {ex}; "
            f"{int(self.unmatched_forces['n_rows'].sum())} rows with unmatched force names, "
            f"{len(self.negative_counts)} negative counts, "
            f"{int(self.missing_counts['n_rows'].sum())} missing counts, {len(self.duplicates)} duplicate rows)"
        )


# ----------------------------------------------------------------------------------------------------
# header handling
# ----------------------------------------------------------------------------------------------------
def _find_header(rows: Iterable[Sequence]) -> tuple[int | None, dict[str, int], list]:
    """First row holding all key fields; else (None, best partial map, its cells)."""
    return _files.find_header(rows, _ALIAS_TO_FIELD, _KEY_FIELDS)


_shown_headers = _files.shown_headers


def _missing_columns_error(where: str, colmap: dict, cells: Sequence, needed: Sequence[str]) -> DataValidationError:
    missing = [_HEADER_LABEL.get(f, f) for f in needed if f not in colmap]
    return DataValidationError(
        f"{where}: missing required column(s) {missing}. Headers found: {_shown_headers(cells)}. "
        "Columns are matched by name (case, spaces, punctuation and [note n] markers ignored); "
        "rename the column or pass the file the Home Office published."
    )


# ----------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------
def _str_col(s: pd.Series) -> pd.Series:
    """Cells as stripped strings (``<NA>`` for empty); numbers written like 3.0 become "3".

    Computed once per distinct value (published columns hold few distinct values), so O(rows) work
    stays in C.
    """
    return _files.str_cells(s)


def _split_block(block: pd.DataFrame, codes: frozenset | None, file: str, sheet, first_row: int):
    """Filter one block of raw rows by offence code; return (selected rows, exclusion counts).

    ``block`` has field names as columns; ``first_row`` is the 1-based file/sheet row of its first row.
    """
    rows = first_row + np.arange(len(block))
    # normalise the few distinct codes, not every cell: O(rows) work stays in C (factorize, take)
    idx, uniq = pd.factorize(block["offence_code"].to_numpy(dtype=object), use_na_sentinel=True)
    norm = _str_col(pd.Series(uniq, dtype=object)).str.upper().to_numpy(dtype=object)
    code = pd.Series(np.append(norm, pd.NA)[idx], index=block.index, dtype="string")
    blank_code = code.isna().to_numpy()
    excluded = []
    if blank_code.any():
        sub = block.loc[blank_code]
        filled = pd.DataFrame({c: _str_col(sub[c]) for c in sub.columns}).notna()
        all_blank = ~filled.any(axis=1).to_numpy()
        n_blank = int(all_blank.sum())
        if n_blank:
            excluded.append((file, sheet, "blank row", n_blank, ()))
        if len(sub) - n_blank:
            # footnotes have no count; a row with a count but no offence code is worth a warning
            has_count = filled[[c for c in _COUNTS if c in filled]].any(axis=1).to_numpy() & ~all_blank
            excluded.append((file, sheet, "no offence code", len(sub) - n_blank, tuple(rows[blank_code][has_count])))
    keep = ~blank_code
    if codes is not None:
        chosen = code.isin(codes).to_numpy()
        n_other = int((keep & ~chosen).sum())
        if n_other:
            excluded.append((file, sheet, "offence code not selected", n_other, ()))
        keep &= chosen
    sel = block.loc[keep].copy()
    sel["offence_code"] = code[keep]
    sel["_file"] = file
    sel["_sheet"] = sheet
    sel["_row"] = rows[keep]
    return sel, excluded


def _where(file: str, sheet) -> str:
    return f"{file}" if sheet is None or sheet is pd.NA else f"{file}, sheet {sheet!r}"


def _read_csv(src, codes, count: str):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return _read_csv_encoded(src, codes, count, encoding)
        except UnicodeDecodeError:
            continue
    raise DataValidationError(f"{src.label}: cannot decode the file as UTF-8 or Windows-1252 text.")


def _choose_count(label: str, colmap: dict, cells, count: str) -> str:
    """The count field to read: the one asked for, else a lone generic count column (minimal layout)."""
    if count in colmap:
        return count
    if "count" in colmap and not any(c in colmap for c in _COUNTS):
        return "count"
    raise _missing_columns_error(label, colmap, cells, (count,))


def _read_csv_encoded(src, codes, count: str, encoding: str):
    label = src.label
    head = _files.csv_head(src, encoding, _HEADER_SCAN_ROWS)
    if not any(any(c.strip() for c in r) for r in head):
        raise DataValidationError(f"{label}: the file is empty (no header row, no data).")
    hdr, colmap, cells = _find_header(head)
    if hdr is None:
        raise _missing_columns_error(label, colmap, cells, (*_KEY_FIELDS, count))
    used = _choose_count(label, colmap, cells, count)
    names = {pos: f for f, pos in colmap.items() if f in _READ_FIELDS or f == used}
    width = len(cells)
    blocks, excluded, n_read = [], [], 0
    try:
        with src.open() as fh:
            reader = pd.read_csv(
                fh, skiprows=hdr + 1, header=None, names=list(range(width)), dtype=str,
                keep_default_na=False, na_filter=False, encoding=encoding, chunksize=_CSV_CHUNK,
                skip_blank_lines=False, on_bad_lines="error", engine="c",
            )
            for chunk in reader:
                chunk = chunk[sorted(names)]
                chunk = chunk.rename(columns=names)
                sel, ex = _split_block(chunk, codes, label, None, hdr + 2 + n_read)
                n_read += len(chunk)
                blocks.append(sel)
                excluded += ex
    except pd.errors.ParserError as err:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if m:  # names= fixes the width, so a longer row is an error naming its line
            line = int(m.group(2))
            raise DataValidationError(
                f"{label}, line {line}: {m.group(3)} cells but the header (line {hdr + 1}) has {m.group(1)} "
                f"columns; extra value {_extra_value(src, encoding, line, width)!r}. The row is misaligned: fix "
                "it or the header.") from err
        raise DataValidationError(f"{label}: malformed CSV below the header ({err}).") from err
    except pd.errors.EmptyDataError:
        pass
    if n_read == 0:
        raise DataValidationError(f"{label}: the file has a header row (line {hdr + 1}) but no data rows.")
    src_rows = [(label, None, hdr + 1, n_read)]
    return blocks, excluded, src_rows, [], used


def _extra_value(src, encoding: str, line: int, width: int) -> str:
    """The first cell beyond the header's width on a 1-based file line (for the error message)."""
    with src.open() as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, newline="")
        for i, cells in enumerate(csv.reader(text), start=1):
            if i == line:
                return next((c for c in cells[width:] if c.strip()), "")
    return ""  # pragma: no cover


def _read_workbook(src, codes, count: str):
    label = src.label
    blocks, excluded, srcs, skipped, names = [], [], [], [], []
    best = (None, {}, [])
    any_cells = False
    used = None
    for name, raw in _files.read_sheets(src):
        names.append(name)
        head = list(raw.head(_HEADER_SCAN_ROWS).itertuples(index=False, name=None))
        any_cells |= bool(raw.notna().to_numpy().any()) if raw.size else False
        hdr, colmap, cells = _find_header(head)
        if hdr is None:
            skipped.append((label, name))
            if len(colmap) > len(best[1]):
                best = (name, colmap, cells)
            continue
        used = _choose_count(f"{label}, sheet {name!r}", colmap, cells, count)
        pos_field = sorted((pos, f) for f, pos in colmap.items() if f in _READ_FIELDS or f == used)
        width = len(cells)
        while width and (cells[width - 1] is None or str(cells[width - 1]).strip() in ("", "nan")):
            width -= 1
        data = raw.iloc[hdr + 1:]
        if raw.shape[1] > width:  # cells to the right of the header
            extra = data.iloc[:, width:].notna().any(axis=1).to_numpy()
            if extra.any():
                i = int(np.flatnonzero(extra)[0])
                val = data.iloc[i, width:].dropna().iloc[0]
                raise DataValidationError(
                    f"{label}, sheet {name!r}, row {hdr + 2 + i}: {int(extra.sum())} row(s) have cells to the right "
                    f"of the header's {width} columns (e.g. {val!r}); the table is misaligned. Fix the row or "
                    "the header.")
        block = pd.DataFrame({f: data.iloc[:, pos].to_numpy(dtype=object) for pos, f in pos_field})
        if len(block) == 0:
            raise DataValidationError(
                f"{label}, sheet {name!r}: a header row (row {hdr + 1}) but no data rows below it.")
        sel, ex = _split_block(block, codes, label, name, hdr + 2)
        blocks.append(sel)
        excluded += ex
        srcs.append((label, name, hdr + 1, len(block)))
    if not srcs:
        if not any_cells:
            raise DataValidationError(f"{label}: the workbook is empty.")
        msg = (
            f"{label}: no data sheet found. None of the sheets {names} has a header row (within its "
            f"first {_HEADER_SCAN_ROWS} rows) with the columns "
            f"{[_HEADER_LABEL[f] for f in _KEY_FIELDS]}."
        )
        if best[0] is not None:
            missing = [_HEADER_LABEL.get(f, f) for f in _KEY_FIELDS if f not in best[1]]
            msg += f" Closest: sheet {best[0]!r} lacks {missing}; its headers: {_shown_headers(best[2])}."
        raise DataValidationError(msg)
    return blocks, excluded, srcs, skipped, used


# ----------------------------------------------------------------------------------------------------
# parsing the selected rows
# ----------------------------------------------------------------------------------------------------
def _locations(df: pd.DataFrame, mask) -> str:
    sub = df.loc[mask, ["_file", "_sheet", "_row"]].head(_MAX_LISTED)
    parts = [
        f"{f} row {r}" if s is None or s is pd.NA else f"{f} [{s}] row {r}"
        for f, s, r in sub.itertuples(index=False, name=None)
    ]
    more = int(np.sum(mask)) - len(parts)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _bad_values(df, mask, column, what, todo) -> DataValidationError:
    vals = pd.unique(df.loc[mask, column].astype("string").fillna("<blank>"))[:_MAX_LISTED].tolist()
    return DataValidationError(
        f"{int(np.sum(mask))} row(s) with {what} in column {_HEADER_LABEL.get(column, column)!r}: values "
        f"{vals} at {_locations(df, mask)}. {todo}"
    )


def _uniques(col: pd.Series):
    """(codes, distinct values as a Series): parse the few distinct cells, then ``take`` back."""
    codes, uniq = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    return codes, pd.Series(np.append(uniq, None), dtype=object)  # last entry: the NA sentinel (-1)


def _take(values, codes) -> np.ndarray:
    return np.asarray(values)[codes]


def _parse_financial_year(df: pd.DataFrame) -> pd.Series:
    codes, u = _uniques(df["financial_year"])
    s = _str_col(u)
    m = s.str.extract(r"^(?:FY\s*)?(\d{4})\s*(?:/|-|–|to)\s*(\d{2}|\d{4})$", flags=re.IGNORECASE)
    start = pd.to_numeric(m[0], errors="coerce")
    end = pd.to_numeric(m[1], errors="coerce")
    ok = (start.notna() & ((end == (start + 1) % 100) | (end == start + 1))).to_numpy()
    if not ok[codes].all():
        raise _bad_values(df, ~ok[codes], "financial_year", "an unreadable financial year",
                          "Expected e.g. '2018/19'.")
    st = start.fillna(0).astype("int64")
    label = (st.astype(str) + "/" + ((st + 1) % 100).map("{:02d}".format)).to_numpy(dtype=object)
    return pd.Series(label[codes], index=df.index, dtype="string")


def _parse_quarter(df: pd.DataFrame) -> pd.Series:
    if "quarter" not in df.columns or df["quarter"].isna().all():  # minimal layout: no quarter column
        return pd.Series(pd.NA, index=df.index, dtype="Int64")
    codes, u = _uniques(df["quarter"])
    s = _str_col(u).str.replace(r"^(?:q|quarter)\s*", "", regex=True, case=False)
    q = pd.to_numeric(s, errors="coerce")
    ok = q.isin([1, 2, 3, 4]).to_numpy()
    if not ok[codes].all():
        raise _bad_values(df, ~ok[codes], "quarter", "a quarter that is not 1-4",
                          "Financial quarters are 1 (Apr-Jun) to 4 (Jan-Mar).")
    return pd.Series(q.to_numpy()[codes], index=df.index).astype("Int64")


def _parse_outcome_type(df: pd.DataFrame):
    codes, u = _uniques(df["outcome_type"])
    s = _str_col(u).str.lower()
    s = s.str.replace(r"^(?:outcome|type)\s*", "", regex=True)
    m = s.str.extract(r"^0*(\d+)([a-z]?)$")
    num = pd.to_numeric(m[0], errors="coerce")
    valid_codes = outcome_types().index
    blank = s.isna()
    ok = (blank | (num.notna() & num.isin(valid_codes))).to_numpy()
    if not ok[codes].all():
        raise _bad_values(
            df, ~ok[codes], "outcome_type", "an unknown outcome type",
            f"Home Office outcome types are {int(valid_codes.min())}-{int(valid_codes.max())}, "
            "with 'of which' sub-rows such as '1a'.",
        )
    of_which = ((m[1].fillna("") != "") & ~blank).to_numpy(dtype=bool)
    base = num.fillna(0).astype("int64")
    otype = (base.astype(str) + m[1].fillna("")).astype("string").mask(blank)
    ocode = base.astype("Int64").mask(of_which)
    reason = base.map(_CODE_REASON).astype("string")
    idx = df.index
    return (pd.Series(otype.array.take(codes), index=idx, dtype="string"),
            pd.Series(ocode.array.take(codes), index=idx, dtype="Int64"),
            pd.Series(of_which[codes], index=idx, dtype=bool),
            pd.Series(reason.array.take(codes), index=idx, dtype="string"))


def _parse_count(df: pd.DataFrame, column: str):
    codes, u = _uniques(df[column])
    text = _str_col(u)
    num = pd.to_numeric(text.str.replace(",", "", regex=False).astype(object), errors="coerce").astype("float64")
    missing = num.isna().to_numpy()
    marker_ok = (text.isna() | text.str.match(_MISSING_RE).fillna(False).astype(bool)).to_numpy()
    bad = (missing & ~marker_ok)[codes]
    if bad.any():
        raise _bad_values(df, bad, column, "a count that is neither a number nor a missing marker",
                          f"Counts must be integers or one of the markers {list(MISSING_MARKERS)}.")
    v = num.to_numpy()
    absurd = (~np.isnan(v) & (np.abs(v) > _files.MAX_COUNT))[codes]
    if absurd.any():
        raise _bad_values(df, absurd, column, "an absurd count",
                          f"Counts above {_files.MAX_COUNT:,} in one cell are not plausible (a unit or "
                          "parsing error, e.g. 1e308); fix the cell.")
    frac = (~np.isnan(v) & (v != np.round(np.where(np.isnan(v), 0, v))))[codes]
    if frac.any():
        raise _bad_values(df, frac, column, "a non-integer count", "Counts of outcomes are whole numbers.")
    reason = text.where(num.isna()).fillna("blank").where(num.isna()).astype("string")
    return (pd.Series(v[codes], index=df.index, dtype="float64"),
            pd.Series(reason.array.take(codes), index=df.index, dtype="string"))


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


def _locate_table(df: pd.DataFrame, mask, count) -> pd.DataFrame:
    sub = df.loc[mask]
    return pd.DataFrame({
        "file": sub["_file"].to_numpy(), "sheet": pd.array(sub["_sheet"].to_numpy(), dtype="string"),
        "row": sub["_row"].to_numpy(dtype="int64"),
        "financial_year": sub["financial_year"].to_numpy(), "quarter": sub["quarter"].to_numpy(),
        "force_name": sub["_force_name"].to_numpy(), "offence_code": sub["offence_code"].to_numpy(),
        "outcome_type": sub["outcome_type"].to_numpy(), "count": count[mask].to_numpy(),
    })


def load_home_office_outcomes(
    path,
    *,
    offence_codes: Sequence[str] | None = ("8Q", "8L", "8R"),
    count: str = "recorded_in_quarter",
    return_report: bool = False,
):
    """Read the Home Office police recorded crime outcomes open data table into a tidy table.

    Reads the CSV (older releases, often starting with a UTF-8 byte-order mark; plain, ``.csv.gz`` or inside
    a ``.zip``) or the published ``.xlsx``/``.ods`` workbook (python-calamine through pandas: the full
    2018/19 year, 621,280 rows, in about 3 s from ``.csv.gz`` and 17-21 s from ``.ods``/``.xlsx`` on two
    cores - ``benchmarks/bench_open_data.py``). A table compiled elsewhere loads with the minimal layout
    ``Financial Year, Force Name, Offence Code, Outcome Type`` and one count column (``Count``, ``Number``,
    ``Outcomes`` ...; quarter optional, ``<NA>`` when absent). Columns are matched by normalised name (case, spaces, punctuation,
    byte-order mark and ``[note n]`` markers ignored), never by position, so both generations of headers
    work: the older ``Force outcomes for offences recorded in quarter`` / ``Force outcomes recorded in
    quarter`` and the current ``Outcomes for offences that were recorded in the quarter`` / ``Outcomes
    for investigations closed in the quarter``. In a workbook every sheet whose header row (searched in
    its first 60 rows, below any title and notes rows) holds the required columns is read, whatever the
    sheet's name; cover, contents and notes sheets are skipped. Rows are filtered to ``offence_codes``
    as each block is read, so reading is O(rows) in time and memory is bounded by the selected rows.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        ``.csv``, ``.csv.gz``, ``.zip``, ``.xlsx``/``.xlsm`` or ``.ods`` file(s); several files are stacked (a ``DataQualityWarning``
        flags rows repeated across them).
    offence_codes : sequence of str or None, default ("8Q", "8L", "8R")
        Home Office offence codes to keep (stalking, harassment, malicious communications), matched as
        text case-insensitively (``"105A"`` is never read as a number). ``None`` keeps every offence.
    count : {"recorded_in_quarter", "closed_in_quarter"}, default "recorded_in_quarter"
        Which count to read: outcomes (to date) of the offences *recorded* in the quarter, or outcomes
        assigned in the quarter to investigations *closed* then.
    return_report : bool, default False
        Also return a :class:`HomeOfficeLoadReport`. (The report is returned rather than stored in
        ``DataFrame.attrs`` because pandas deep-copies ``attrs`` on every operation.)

    Returns
    -------
    table : pandas.DataFrame, shape (n_rows, 12)
        One row per published row of the selected offences, in file order:
        ``financial_year`` (string, "2018/19"), ``quarter`` (Int64, 1-4), ``force`` (official name from
        :func:`attrition.sources.forces.normalise_force_names`, ``<NA>`` if unmatched), ``territorial`` (boolean;
        False for British Transport Police and other non-territorial bodies, ``<NA>`` if unmatched),
        ``offence_code`` (string, upper case), ``offence_description`` (string as published, or ``<NA>``),
        ``outcome_type`` (string: "1", "15", "1a"; ``<NA>`` if blank), ``outcome_code`` (Int64 0-22; ``<NA>``
        for "of which" rows; 0 if the outcome type is blank), ``of_which`` (bool: sub-rows such as 1a/2a/3a,
        already included in their parent row and never to be added to totals), ``exit_reason`` (string:
        "charged" for outcome 1, "open" for 0 or blank, else the attrition exit reason of the outcome type,
        see :data:`attrition.standard.OUTCOME_EXIT_REASON`; an of-which row carries its parent's),
        ``count`` (float64, the chosen count; NaN where missing, never 0; negative revisions kept),
        ``missing_reason`` (string: the published marker such as "N/A - offence code expired", "blank"
        for an empty cell, ``<NA>`` where the count is present).
    report : HomeOfficeLoadReport
        Only if ``return_report``.

    Raises
    ------
    DataValidationError
        Empty file; a header but no data rows; cells beyond the header's last column (line or row named);
        a count above 10,000,000 in one cell (e.g. 1e308); no sheet with the required header (the message lists the sheets and the closest
        header); a required column missing (named, with the headers found); a financial year, quarter,
        outcome type or count that cannot be read (values and file rows named).
    FileNotFoundError
        ``path`` does not exist.

    Warns
    -----
    DataQualityWarning
        Negative counts (how many, and where); force names that match no force (rows kept, force
        ``<NA>``); duplicate rows; rows with a count but no offence code (excluded).

    Notes
    -----
    Nothing is silently dropped: every row read is either returned or counted in
    ``report.excluded`` with its reason ("blank row", "no offence code" - footnotes below the table -,
    "offence code not selected"), so ``report.balanced`` is True. Count markers read as missing:
    ``NA``, ``N/A``, ``N/A - ...`` (e.g. offence code expired, data not provided), ``--``, ``:``, ``..``,
    ``x`` and the GSS shorthands ``[x]``, ``[c]``, ``[z]``, or an empty cell.

    References
    ----------
    Home Office (2024). *Police recorded crime and outcomes open data tables*, user guide to crime
    outcomes data. https://www.gov.uk/government/statistics/police-recorded-crime-open-data-tables

    Examples
    --------
    >>> table, report = load_home_office_outcomes("prc-outcomes-mar2019.csv", return_report=True)  # doctest: +SKIP
    >>> home_office_funnel_counts(table, by=("financial_year",))  # doctest: +SKIP
    """
    if count not in _COUNTS:
        raise ValueError(f"count must be one of {list(_COUNTS)}, got {count!r}")
    codes = None if offence_codes is None else frozenset(str(c).strip().upper() for c in (
        [offence_codes] if isinstance(offence_codes, str) else offence_codes))
    if codes is not None and not codes:
        raise ValueError("offence_codes is empty; pass None to keep every offence.")

    blocks, excluded, sources, skipped, used = [], [], [], [], set()
    with _files.TempDir() as tmp:
        srcs = _files.expand_sources(_files.as_paths(path, "Home Office outcomes table"), tmp,
                                     "Home Office outcomes table")
        for i, src in enumerate(srcs):
            reader = _read_csv if src.kind == "csv" else _read_workbook
            b, e, s, k, u = reader(src, codes, count)
            for blk in b:
                blk["_fi"] = i
                if u != count:
                    blk[count] = blk.pop(u)
            used.add(u)
            blocks += b
            excluded += e
            sources += [(i, *src_) for src_ in s]
            skipped += k
    if len(used) > 1:
        raise DataValidationError(
            f"the files mix the published count column {count!r} with a generic count column; read them separately.")
    count_read = used.pop() if used else count

    fields = ("financial_year", "quarter", "force", "offence_code", "offence_description", "outcome_type",
              count, "_file", "_sheet", "_row", "_fi")
    df = pd.concat([b.reindex(columns=fields) for b in blocks], ignore_index=True) if blocks else \
        pd.DataFrame(columns=fields)
    n_read = sum(src[4] for src in sources)

    # --- fields ---------------------------------------------------------------------------------
    fy = _parse_financial_year(df)
    quarter = _parse_quarter(df)
    df["financial_year"], df["quarter"] = fy, quarter
    force_name = _str_col(df["force"])
    df["_force_name"] = force_name.fillna("")
    force = normalise_force_names(force_name)
    kinds = load_force_table(include_non_territorial=True).set_index("force")["kind"]
    territorial = force.map(kinds.eq("territorial")).astype("boolean")
    outcome_type, outcome_code, of_which, exit_reason = _parse_outcome_type(df)
    df["outcome_type"] = outcome_type
    value, missing_reason = _parse_count(df, count)

    out = pd.DataFrame({
        "financial_year": fy.astype("string"),
        "quarter": quarter,
        "force": force.astype("string"),
        "territorial": territorial,
        "offence_code": df["offence_code"].astype("string"),
        "offence_description": _str_col(df["offence_description"]).astype("string"),
        "outcome_type": outcome_type,
        "outcome_code": outcome_code,
        "of_which": of_which.to_numpy(dtype=bool),
        "exit_reason": exit_reason,
        "count": value,
        "missing_reason": missing_reason,
    })[list(_OUTPUT_COLUMNS)]

    # --- report ---------------------------------------------------------------------------------
    unmatched_mask = force.isna().to_numpy()
    unmatched = (df.loc[unmatched_mask, "_force_name"].value_counts(sort=False)
                 .rename_axis("name").rename("n_rows").reset_index()) if unmatched_mask.any() else \
        _frame([], ("name", "n_rows"))
    nonterr_mask = (territorial == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    non_territorial = (out.loc[nonterr_mask, "force"].value_counts(sort=False)
                       .rename_axis("force").rename("n_rows").reset_index()) if nonterr_mask.any() else \
        _frame([], ("force", "n_rows"))
    neg_mask = (value < 0).to_numpy()
    negative = _locate_table(df, neg_mask, value)
    miss_mask = value.isna().to_numpy()
    missing = (missing_reason[miss_mask].value_counts(sort=False).rename_axis("missing_reason")
               .rename("n_rows").reset_index()) if miss_mask.any() else _frame([], ("missing_reason", "n_rows"))
    keys = pd.DataFrame({"fy": fy, "q": quarter, "f": force.fillna("?" + df["_force_name"]),
                         "o": df["offence_code"], "t": outcome_type.fillna("")})
    dup_mask = keys.duplicated(keep=False).to_numpy()
    duplicates = _locate_table(df, dup_mask, value)
    report = HomeOfficeLoadReport(
        sources=_frame(
            [(f, sh, h, n, int(((df["_fi"] == i) & (df["_sheet"].isna() if sh is None else df["_sheet"] == sh)).sum()))
             for i, f, sh, h, n in sources],
            ("file", "sheet", "header_row", "rows_read", "rows_out"),
        ).astype({"sheet": "string"}),
        skipped_sheets=_frame(skipped, ("file", "sheet")).astype({"sheet": "string"}),
        excluded=_frame([e[:4] for e in excluded], ("file", "sheet", "reason", "n_rows")).astype(
            {"sheet": "string"}).groupby(["file", "sheet", "reason"], dropna=False, sort=False, as_index=False)[
            "n_rows"].sum(),
        unmatched_forces=unmatched,
        non_territorial=non_territorial,
        negative_counts=negative,
        missing_counts=missing,
        duplicates=duplicates,
        count_column=count_read,
        n_rows_read=int(n_read),
        n_rows_out=len(out),
    )
    if not report.balanced:  # pragma: no cover - internal invariant
        raise AssertionError(f"row accounting broken: {report!r}")

    # --- warnings -------------------------------------------------------------------------------
    counted = [(f, sh, r) for f, sh, _, _, rows in excluded for r in rows]
    if counted:
        where = ", ".join(f"{_where(f, sh)} row {r}" for f, sh, r in counted[:_MAX_LISTED])
        warnings.warn(
            f"{len(counted)} row(s) with a count but no offence code were excluded ({where}"
            f"{' ...' if len(counted) > _MAX_LISTED else ''}); see report.excluded.",
            DataQualityWarning, stacklevel=2,
        )
    if unmatched_mask.any():
        names = unmatched["name"].replace("", "<blank>").tolist()
        warnings.warn(
            f"{int(unmatched_mask.sum())} row(s) have force names matching no police force: "
            f"{names[:_MAX_LISTED]}{' ...' if len(names) > _MAX_LISTED else ''} (at {_locations(df, unmatched_mask)}). "
            "The rows are kept with force <NA>; see report.unmatched_forces.",
            DataQualityWarning, stacklevel=2,
        )
    if neg_mask.any():
        warnings.warn(
            f"{int(neg_mask.sum())} row(s) have negative counts (revisions), kept as published: "
            f"{_locations(df, neg_mask)}; see report.negative_counts.",
            DataQualityWarning, stacklevel=2,
        )
    if dup_mask.any():
        warnings.warn(
            f"{int(dup_mask.sum())} row(s) repeat the same financial year, quarter, force, offence code and "
            f"outcome type (overlapping files?): {_locations(df, dup_mask)}; see report.duplicates.",
            DataQualityWarning, stacklevel=2,
        )
    return (out, report) if return_report else out


# ----------------------------------------------------------------------------------------------------
# aggregation
# ----------------------------------------------------------------------------------------------------
def home_office_funnel_counts(
    table: pd.DataFrame,
    by: str | Sequence[str] = ("force", "financial_year"),
    *,
    include_non_territorial: bool = False,
) -> pd.DataFrame:
    """Aggregate a Home Office outcomes table into the counts the funnel model consumes.

    Parameters
    ----------
    table : pandas.DataFrame, shape (n_rows, >=12)
        Output of :func:`load_home_office_outcomes`.
    by : str or sequence of str, default ("force", "financial_year")
        Grouping columns of ``table`` (e.g. ``("financial_year",)`` for national totals,
        ``("force", "financial_year", "offence_code")`` to keep offences apart). ``()`` gives one row.
    include_non_territorial : bool, default False
        Also count British Transport Police and other non-territorial bodies (``territorial`` False).
        Rows whose force name matched nothing (``territorial`` <NA>) are always counted, under force
        ``<NA>`` (the loader has warned about them).

    Returns
    -------
    pandas.DataFrame, shape (n_groups, len(by) + 12)
        Group keys, then ``offences`` (sum of all outcome counts: the offences recorded, whatever their
        outcome so far), ``charged`` (outcome 1), one column per exit reason a police outcome can give
        (``out_of_court``, ``public_interest``, ``evidential_victim_supports``, ``victim_not_supporting``,
        ``no_suspect``, ``transferred``, ``other`` - see :data:`FUNNEL_COLUMNS` for the order), ``open``
        (outcome 0, not yet assigned) and ``n_missing`` (cells with a missing count; they add nothing to
        the sums, so a group with ``n_missing > 0`` is under-counted). Of-which rows (1a, 2a, ...) are never
        added. Counts are float64 (sums of the published integers, negative revisions included).
        ``offences == charged + sum(exit reasons) + open``.

    Raises
    ------
    DataValidationError
        ``table`` lacks a needed column, or ``by`` names a column it does not have.
    """
    by = [by] if isinstance(by, str) else list(by)
    need = {"count", "exit_reason", "of_which", "territorial", *by}
    miss = sorted(need - set(table.columns))
    if miss:
        raise DataValidationError(
            f"home_office_funnel_counts: table lacks column(s) {miss}; pass the output of load_home_office_outcomes."
        )
    keep = ~table["of_which"].astype(bool).to_numpy()
    if not include_non_territorial:
        keep &= (table["territorial"].astype("boolean") != False).fillna(True).to_numpy(dtype=bool)  # noqa: E712
    t = table.loc[keep]
    value_cols = ["charged", *_HO_EXIT_REASONS, "open"]
    reason = t["exit_reason"].astype("string")
    unknown = sorted(set(reason.dropna().unique()) - set(value_cols))
    if unknown or reason.isna().any():
        raise DataValidationError(
            f"home_office_funnel_counts: unexpected exit_reason values {unknown or ['<NA>']}; "
            "pass the output of load_home_office_outcomes."
        )
    work = pd.DataFrame({c: t[c].to_numpy() for c in by}, index=pd.RangeIndex(len(t)))
    work["_g"] = 0
    keys = [*by, "_g"]
    gb = work.groupby(keys, dropna=False, sort=True, observed=True)
    gid = gb.ngroup().to_numpy()
    n = gb.ngroups
    _, first = np.unique(gid, return_index=True)  # first row of each group, groups in sorted order
    out = work.iloc[first][by].reset_index(drop=True)
    value = t["count"].astype("float64").to_numpy()
    isna = np.isnan(value)
    filled = np.where(isna, 0.0, value)
    reason = reason.to_numpy(dtype=object)
    sums = {c: np.bincount(gid, weights=np.where(reason == c, filled, 0.0), minlength=n) for c in value_cols}
    out["offences"] = np.sum([sums[c] for c in value_cols], axis=0)
    for c in value_cols:
        out[c] = sums[c]
    out["n_missing"] = np.bincount(gid, weights=isna, minlength=n).astype("int64")
    return out[[*by, *FUNNEL_COLUMNS]]


# ----------------------------------------------------------------------------------------------------
# case table -> open-data layout (for testing the reader end to end)
# ----------------------------------------------------------------------------------------------------
def _fy_quarter(dates: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Financial year ("2022/23") and quarter (1 = Apr-Jun) of each date (no NaT)."""
    year = (dates.dt.year - (dates.dt.month < 4)).astype("int64")
    fy = year.astype(str) + "/" + ((year + 1) % 100).astype(str).str.zfill(2)
    q = ((dates.dt.month - 4) % 12) // 3 + 1
    return fy, q.astype("int64")


_OUTCOME_GROUP = {
    "charged": "Charged/Summonsed", "open": "Investigation not yet complete",
    "out_of_court": "Out-of-court (formal and informal)", "public_interest": "Prosecution prevented or not in the public interest",
    "other": "Prosecution prevented or not in the public interest",
    "evidential_victim_supports": "Evidential difficulties (suspect identified; victim supports action)",
    "victim_not_supporting": "Evidential difficulties (victim does not support action)",
    "no_suspect": "Investigation complete - no suspect identified", "transferred": "Action taken by another body/agency",
}


def cases_to_home_office(
    cases: pd.DataFrame,
    *,
    offence_code_map: dict[str, str] | None = None,
    date: str = "recorded",
) -> pd.DataFrame:
    """Aggregate an attrition case table into the older Home Office outcomes open-data layout.

    The inverse of :func:`load_home_office_outcomes` for testing: cases -> rows -> CSV ->
    ``load_home_office_outcomes`` -> :func:`home_office_funnel_counts` reproduces the counts computed
    directly from the case table.

    Parameters
    ----------
    cases : pandas.DataFrame, shape (n_cases, >=4)
        Case table (``attrition.data.to_cases``) with ``force``, ``report_date``, ``outcome_code`` and
        ``final_offence`` and/or ``recorded_offence``; optional ``days_to_recorded`` and
        ``days_to_police_outcome``.
    offence_code_map : dict, optional
        attrition offence -> Home Office offence code. Default :data:`OFFENCE_CODES` (both stalking
        offences -> 8Q, harassment -> 8L, malicious communications -> 8R). Cases whose offence is not
        in the map (e.g. criminal damage; pass ``{"criminal_damage": "58A", ...}`` to include it) and
        cases never recorded as a crime (no offence) are omitted, as they are absent from the published
        table.
    date : {"recorded", "reported"}, default "recorded"
        The quarter an offence counts in: that of recording (``report_date + days_to_recorded``, or
        ``report_date`` where that is missing or the column is absent) - as the Home Office does - or of
        the report.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OLD_HEADER`, one row per financial year x quarter x force x offence code x outcome
        type with at least one offence, sorted. The offence's classification is ``final_offence`` (falling
        back to ``recorded_offence``), as the published table uses the current classification. Outcome type
        is the police ``outcome_code``; cases without one get 0 ("not yet assigned"). ``Force outcomes for
        offences recorded in quarter`` counts the offences recorded in the quarter by outcome;
        ``Force outcomes recorded in quarter`` counts outcomes assigned in the quarter (dated by
        ``report_date + days_to_police_outcome``; "N/A" for outcome 0, and "N/A - data not provided" if
        the case table has no ``days_to_police_outcome``).

    Raises
    ------
    DataValidationError
        A required column is missing, a recorded case has no ``force`` or ``report_date``, or
        ``outcome_code`` holds a value outside 0-22.
    """
    if date not in ("recorded", "reported"):
        raise ValueError(f"date must be 'recorded' or 'reported', got {date!r}")
    cmap = dict(OFFENCE_CODES if offence_code_map is None else offence_code_map)
    offence_cols = [c for c in ("final_offence", "recorded_offence") if c in cases.columns]
    miss = [c for c in ("force", "report_date", "outcome_code") if c not in cases.columns]
    if not offence_cols:
        miss.append("final_offence or recorded_offence")
    if miss:
        raise DataValidationError(f"cases_to_home_office: the case table lacks column(s) {miss}.")
    offence = cases[offence_cols[0]].astype("string")
    if len(offence_cols) > 1:
        offence = offence.fillna(cases[offence_cols[1]].astype("string"))
    code = offence.map(cmap).astype("string")
    report_date = pd.to_datetime(cases["report_date"])
    outcome = pd.to_numeric(cases["outcome_code"], errors="coerce").astype("Int64")
    bad = ~(outcome.isna() | outcome.isin(outcome_types().index)).to_numpy(dtype=bool)
    if bad.any():
        ids = cases.loc[bad, "case_id"].head(_MAX_LISTED).tolist() if "case_id" in cases else np.flatnonzero(bad)[:_MAX_LISTED].tolist()
        raise DataValidationError(f"cases_to_home_office: outcome_code outside 0-22 for cases {ids}.")
    outcome = outcome.fillna(0).astype("int64")
    when = report_date
    if date == "recorded" and "days_to_recorded" in cases.columns:
        when = report_date + pd.to_timedelta(pd.to_numeric(cases["days_to_recorded"]).fillna(0.0), unit="D")
    use = code.notna().to_numpy()
    for col, bad in (("report_date", report_date.isna().to_numpy()), ("force", cases["force"].isna().to_numpy())):
        if (bad & use).any():
            ids = cases.loc[bad & use, "case_id"].head(_MAX_LISTED).tolist() if "case_id" in cases \
                else np.flatnonzero(bad & use)[:_MAX_LISTED].tolist()
            raise DataValidationError(
                f"cases_to_home_office: {int((bad & use).sum())} recorded case(s) without {col}: cases {ids}."
            )
    keys = ["Financial Year", "Financial Quarter", "Force Name", "Offence Code", "Outcome Type"]

    fy, q = _fy_quarter(when[use])
    rec = (pd.DataFrame({keys[0]: fy.to_numpy(), keys[1]: q.to_numpy(), keys[2]: cases.loc[use, "force"].astype(str).to_numpy(),
                         keys[3]: code[use].to_numpy(), keys[4]: outcome[use].to_numpy()})
           .groupby(keys, sort=False).size().rename("rec"))
    if "days_to_police_outcome" in cases.columns:
        d = pd.to_numeric(cases["days_to_police_outcome"])
        closed_use = use & (outcome > 0).to_numpy() & d.notna().to_numpy()
        cfy, cq = _fy_quarter(report_date[closed_use] + pd.to_timedelta(d[closed_use], unit="D"))
        clo = (pd.DataFrame({keys[0]: cfy.to_numpy(), keys[1]: cq.to_numpy(),
                             keys[2]: cases.loc[closed_use, "force"].astype(str).to_numpy(),
                             keys[3]: code[closed_use].to_numpy(), keys[4]: outcome[closed_use].to_numpy()})
               .groupby(keys, sort=False).size().rename("clo"))
        tab = pd.concat([rec, clo], axis=1).fillna(0).astype("int64").reset_index()
        closed = tab["clo"].astype(object).where(tab[keys[4]] != 0, "N/A")
    else:
        tab = rec.reset_index()
        closed = pd.Series("N/A - data not provided", index=tab.index, dtype=object)
    tab["closed"] = closed
    tab = tab.sort_values(keys, kind="stable").reset_index(drop=True)
    ot = outcome_types()
    reason = tab[keys[4]].map(_CODE_REASON)
    subgroup = tab[keys[3]].isin(["8Q", "8L", "8R"])
    out = pd.DataFrame({
        "Financial Year": tab[keys[0]],
        "Financial Quarter": tab[keys[1]].astype("int64"),
        "Force Name": tab[keys[2]],
        "Offence Description": tab[keys[3]].map(_OFFENCE_DESCRIPTIONS).fillna(""),
        "Offence Group": np.where(subgroup, "Violence against the person", ""),
        "Offence Subgroup": np.where(subgroup, "Stalking and harassment", ""),
        "Offence Code": tab[keys[3]],
        "Offence code expired": "",
        "Outcome Description": tab[keys[4]].map(ot["description"]),
        "Outcome Group": reason.map(_OUTCOME_GROUP),
        "Outcome Type": tab[keys[4]].astype(str),
        OLD_HEADER[11]: tab["rec"].astype("int64"),
        OLD_HEADER[12]: tab["closed"],
    })
    return out[list(OLD_HEADER)]


def home_office_funnel_rows(counts: pd.DataFrame, by: str | None = "force") -> pd.DataFrame:
    """Rows for :class:`attrition.funnel.FunnelFitter` from :func:`home_office_funnel_counts`.

    The open data follow a recorded offence to its police outcome only, so the funnel they support has two
    stages: recorded offences (entering as ``"reported"``) and ``"charged"`` (outcome 1). Fit it with
    ``FunnelFitter(stages=("reported", "charged")).fit(rows, by=by, weights="count")``; exit reasons come
    from the outcome types, and offences without an outcome yet are open (estimated from closed ones, with
    a warning, since the open data carry no times).

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of :func:`home_office_funnel_counts` (``offences``, ``charged``, one column per exit reason,
        ``open``), aggregated over what ``by`` does not name.
    by : str or None, default "force"
        Group column kept in the rows.

    Returns
    -------
    pandas.DataFrame
        ``by`` (if given), ``stage_reached``, ``status``, ``exit_reason``, ``count``: one row per group and
        outcome with a positive count. Groups with no offences have no rows.

    Raises
    ------
    DataValidationError
        Missing columns, or counts that do not add up (charged + exits + open != offences) — naming the group.
    """
    from ...standard import EXIT_REASONS

    keys = [by] if by else []
    reasons = [r for r in EXIT_REASONS if r in counts.columns]
    need = keys + ["offences", "charged", "open"]
    missing = [c for c in need if c not in counts.columns]
    if missing:
        raise DataValidationError(f"home_office_funnel_rows needs columns {missing} (from home_office_funnel_counts)")
    agg = counts.groupby(keys, observed=True)[["offences", "charged", "open", *reasons]].sum() if keys else \
        counts[["offences", "charged", "open", *reasons]].sum().to_frame().T
    total = agg["charged"] + agg["open"] + agg[reasons].sum(axis=1)
    bad = (total - agg["offences"]).abs() > 1e-9
    if bad.any():
        g = agg.index[bad.to_numpy()][0]
        raise DataValidationError(f"counts for {by}={g!r} do not add up: charged + exits + open = "
                                  f"{total[bad].iloc[0]:g} but offences = {agg.loc[bad, 'offences'].iloc[0]:g}")
    long = agg.reset_index() if keys else agg.reset_index(drop=True)
    parts = [long[keys].assign(stage_reached="charged", status="open", exit_reason=None, count=long["charged"]),
             long[keys].assign(stage_reached="reported", status="open", exit_reason=None, count=long["open"])]
    parts += [long[keys].assign(stage_reached="reported", status="exited", exit_reason=r, count=long[r]) for r in reasons]
    rows = pd.concat(parts, ignore_index=True)
    return rows[rows["count"] > 0].reset_index(drop=True)
