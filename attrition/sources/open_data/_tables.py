"""A small reader shared by the recorded-crime, court and FOI readers: find the header, read the rows.

Published tables are small (a recorded-crime year is ~150k rows), so each sheet or CSV is read whole as
text, with the file, sheet and 1-based row of every row kept for error messages.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError
from . import _files

__all__ = ["read_table", "parse_counts", "parse_financial_year", "bad_rows", "normalise_forces", "FORCE_SCOPES"]

FORCE_SCOPES = ("territorial", "all")


def _aliases(spec: dict[str, Sequence[str]]) -> dict[str, str]:
    return {a: f for f, names in spec.items() for a in names}


def read_table(path, *, what: str, fields: dict[str, Sequence[str]], required: Sequence[str],
               labels: dict[str, str]) -> pd.DataFrame:
    """Read every table-bearing sheet/file of ``path`` into one text table.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
    what : str
        What the file is (for messages), e.g. ``"police recorded crime table"``.
    fields : dict
        field -> accepted normalised header names (see :func:`attrition.sources.open_data._files.norm_header`).
    required : sequence of str
        Fields a header row must have.
    labels : dict
        field -> name shown in messages.

    Returns
    -------
    pandas.DataFrame
        One ``string`` column per field found (absent optional fields are all ``<NA>``), plus ``_file``,
        ``_sheet`` and ``_row`` (1-based row in the file or sheet). Fully blank rows are dropped (counted in
        ``attrs["n_blank"]``).

    Raises
    ------
    DataValidationError
        Empty file; no header with the required columns (closest header shown); a header but no rows;
        cells beyond the header's last column (file, sheet and row named).
    """
    aliases = _aliases(fields)
    frames, n_blank = [], 0
    with _files.TempDir() as tmp:
        for src in _files.expand_sources(_files.as_paths(path, what), tmp, what):
            sheets = _csv_sheets(src) if src.kind == "csv" else [
                (name, raw) for name, raw in _files.read_sheets(src)]
            best = (None, {}, [])
            found = 0
            for name, raw in sheets:
                head = list(raw.head(_files.HEADER_SCAN_ROWS).itertuples(index=False, name=None))
                hdr, colmap, cells = _files.find_header(head, aliases, required)
                if hdr is None:
                    if len(colmap) >= len(best[1]):
                        best = (name, colmap, cells)
                    continue
                found += 1
                where = src.label if name is None else f"{src.label}, sheet {name!r}"
                width = len(cells)
                while width and (cells[width - 1] is None or str(cells[width - 1]).strip() in ("", "nan")):
                    width -= 1
                data = raw.iloc[hdr + 1:]
                if data.shape[1] > width:
                    extra = data.iloc[:, width:].apply(lambda c: _files.str_cells(c).notna()).any(axis=1).to_numpy()
                    if extra.any():
                        i = int(np.flatnonzero(extra)[0])
                        val = _files.str_cells(data.iloc[i, width:]).dropna().iloc[0]
                        raise DataValidationError(
                            f"{where}, row {hdr + 2 + i}: {int(extra.sum())} row(s) have cells beyond the header's "
                            f"{width} columns (e.g. {val!r}); the table is misaligned. Fix the row or the header.")
                block = pd.DataFrame({f: _files.str_cells(data.iloc[:, pos]).to_numpy()
                                      for f, pos in colmap.items()}, index=pd.RangeIndex(len(data)))
                block = block.reindex(columns=list(fields))
                for f in fields:
                    block[f] = block[f].astype("string")
                block["_file"] = src.label
                block["_sheet"] = pd.array([name] * len(block), dtype="string")
                block["_row"] = hdr + 2 + np.arange(len(block))
                blank = block[list(colmap)].isna().all(axis=1).to_numpy()
                if len(block) - blank.sum() == 0:
                    raise DataValidationError(f"{where}: a header row (row {hdr + 1}) but no data rows below it.")
                n_blank += int(blank.sum())
                frames.append(block.loc[~blank])
            if not found:
                msg = (f"{src.label}: no table with the columns {[labels[f] for f in required]} "
                       f"(header rows are searched in the first {_files.HEADER_SCAN_ROWS} rows of each sheet).")
                if best[1]:
                    miss = [labels[f] for f in required if f not in best[1]]
                    msg += f" Closest header lacks {miss}; it has {_files.shown_headers(best[2])}."
                raise DataValidationError(msg)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["n_blank"] = n_blank
    return out


def _csv_sheets(src):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with src.open() as fh:
                head = _files.csv_head(src, encoding)
                width = max((len(r) for r in head), default=0)
                if not any(any(c.strip() for c in r) for r in head):
                    raise DataValidationError(f"{src.label}: the file is empty (no header row, no data).")
                try:
                    raw = pd.read_csv(fh, header=None, dtype=str, keep_default_na=False, na_filter=False,
                                      encoding=encoding, skip_blank_lines=False, names=list(range(max(width, 1))),
                                      engine="c")
                except pd.errors.ParserError as err:
                    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
                    if m:
                        raise DataValidationError(
                            f"{src.label}, line {m.group(2)}: {m.group(3)} cells where the table has {m.group(1)} "
                            "columns; the row is misaligned (extra cells). Fix the row or the header.") from err
                    raise DataValidationError(f"{src.label}: malformed CSV ({err}).") from err
            return [(None, raw.replace("", None))]
        except UnicodeDecodeError:
            continue
    raise DataValidationError(f"{src.label}: cannot decode the file as UTF-8 or Windows-1252 text.")


def locations(df: pd.DataFrame, mask, n: int = 8) -> str:
    sub = df.loc[mask, ["_file", "_sheet", "_row"]].head(n)
    parts = [f"{f} row {r}" if s is None or s is pd.NA else f"{f} [{s}] row {r}"
             for f, s, r in sub.itertuples(index=False, name=None)]
    more = int(np.sum(mask)) - len(parts)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def bad_rows(df: pd.DataFrame, mask, column: str, label: str, what: str, todo: str) -> DataValidationError:
    vals = pd.unique(df.loc[mask, column].astype("string").fillna("<blank>"))[:8].tolist()
    return DataValidationError(
        f"{int(np.sum(mask))} row(s) with {what} in column {label!r}: values {vals} at {locations(df, mask)}. {todo}")


_MISSING = re.compile(r"^(?:n/?a(?:\s*[-:–].*)?|--|:|\.\.|-|x|\[[a-z]+\])$", re.IGNORECASE)


def parse_counts(df: pd.DataFrame, column: str, label: str, *, missing_re=_MISSING) -> tuple[pd.Series, pd.Series]:
    """Whole non-negative counts (``,`` separators allowed); markers and blanks are missing (NaN), never 0.

    Returns
    -------
    values : pandas.Series of float64
    marker : pandas.Series of string (the marker as published, "blank", or <NA> where a number was read)
    """
    text = df[column].astype("string")
    num = pd.to_numeric(text.str.replace(",", "", regex=False).astype(object), errors="coerce").astype("float64")
    miss = num.isna()
    ok_marker = text.isna() | text.str.match(missing_re).fillna(False).astype(bool)
    bad = (miss & ~ok_marker).to_numpy()
    if bad.any():
        raise bad_rows(df, bad, column, label, "a value that is neither a count nor a missing marker",
                       "Counts are whole numbers; write a marker such as '..' or leave the cell blank for missing.")
    v = num.to_numpy()
    absurd = ~np.isnan(v) & ((v > _files.MAX_COUNT) | (v < 0))
    if absurd.any():
        raise bad_rows(df, absurd, column, label, "a negative or absurd count",
                       f"Counts are between 0 and {_files.MAX_COUNT:,}.")
    frac = ~np.isnan(v) & (v != np.round(np.where(np.isnan(v), 0, v)))
    if frac.any():
        raise bad_rows(df, frac, column, label, "a non-integer count", "Counts are whole numbers.")
    marker = text.where(miss).fillna("blank").where(miss).astype("string")
    return pd.Series(v, index=df.index), marker


def parse_financial_year(df: pd.DataFrame, column: str, label: str) -> pd.Series:
    """'2018/19', '2018-19', '2018 to 2019', 'FY2018/19' -> '2018/19'."""
    s = df[column].astype("string").str.strip()
    m = s.str.extract(r"^(?:FY\s*|year ending march\s*)?(\d{4})\s*(?:/|-|–|to|_)\s*(\d{2}|\d{4})$", flags=re.IGNORECASE)
    start = pd.to_numeric(m[0], errors="coerce")
    end = pd.to_numeric(m[1], errors="coerce")
    ok = (start.notna() & ((end == (start + 1) % 100) | (end == start + 1))).to_numpy()
    if not ok.all():
        raise bad_rows(df, ~ok, column, label, "an unreadable financial year", "Expected e.g. '2021/22'.")
    st = start.astype("int64")
    return (st.astype(str) + "/" + ((st + 1) % 100).map("{:02d}".format)).astype("string")


def normalise_forces(df: pd.DataFrame, column: str, label: str, forces) -> tuple[pd.DataFrame, dict]:
    """Official force names, ``territorial`` flag, and the force scope applied.

    ``forces``: "territorial" (the 43, default), "all" (also British Transport Police and other bodies), or
    a list of names. Unknown names are an error (listed with their rows), never dropped silently.

    Returns
    -------
    (kept rows with ``force`` and ``territorial`` columns, {"excluded": {force: n_rows}})
    """
    from ..forces import load_force_table, normalise_force_names

    force = normalise_force_names(df[column])
    unknown = force.isna().to_numpy() & df[column].notna().to_numpy()
    if unknown.any():
        raise bad_rows(df, unknown, column, label, "a force name matching no police force",
                       "Use the Home Office force names (attrition.sources.forces.load_force_table()).")
    blank = force.isna().to_numpy()
    if blank.any():
        raise bad_rows(df, blank, column, label, "no force name", "Every row needs a force.")
    kinds = load_force_table(include_non_territorial=True).set_index("force")["kind"]
    df = df.assign(force=force, territorial=force.map(kinds.eq("territorial")).astype(bool))
    keep = select_forces(df, forces)
    excluded = df.loc[~keep, "force"].value_counts(sort=False).to_dict()
    return df.loc[keep].reset_index(drop=True), {"excluded": excluded}


def select_forces(df: pd.DataFrame, forces) -> np.ndarray:
    """Boolean mask of rows in the force scope (see :func:`normalise_forces`)."""
    from ..forces import normalise_force_names

    if isinstance(forces, str) and forces in FORCE_SCOPES:
        return np.ones(len(df), bool) if forces == "all" else df["territorial"].to_numpy(dtype=bool)
    names = [forces] if isinstance(forces, str) else list(forces)
    official = normalise_force_names(pd.Series(names, dtype=object))
    if official.isna().any():
        raise DataValidationError(
            f"unknown force name(s) {[n for n, o in zip(names, official) if pd.isna(o)]}; forces must be "
            f"'territorial', 'all' or a list of police force names.")
    return df["force"].isin(set(official)).to_numpy()
