"""The force-year table: what a force (or the FOI returns) says about itself, one row per force and year.

Case-level extracts say nothing about whether a force had a dedicated stalking officer, how large it is or
whether it answered an FOI request; the models of notebooks 03, 04 and 06 need that. A user supplies it as
a small CSV/Excel file (``attrition report --forces PATH``, papermill parameter ``forces_path``), documented
in ``docs/data-standard.md`` ("The force-year table"). It is validated like the event log: a broken rule
names the file, the column and the lines.

=============================  ========  =====================================================================
column                         required  meaning
=============================  ========  =====================================================================
``force``                      yes       force name (any official spelling; normalised to the Home Office name)
``financial_year``             yes       ``2021/22`` (also ``2021-22``, ``2021/2022``, ``FY2021/22``)
``dedicated_stalking_officer`` yes       at least one dedicated stalking officer that year: yes/no, 1/0, true/false
``population``                 no        resident population of the police force area (people); gives ``log_size``
``log_size``                   no        log force size (any consistent scale); derived from ``population`` if absent
``foi_responded``              no        the force answered the FOI request that year (yes/no)
``spo_applications``           no        SPO applications (interim and full) that year; blank = not reported
=============================  ========  =====================================================================

Without ``population`` or ``log_size``, :func:`attrition.data.load_dataset` derives ``log_size`` from the
extract itself (reports per year per force), and says so.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from .forces import normalise_force_names

__all__ = ["read_force_years", "validate_force_years", "FORCE_YEAR_COLUMNS", "REQUIRED_FORCE_YEAR_COLUMNS"]

#: Columns of the force-year table the package understands (others are kept as they are).
FORCE_YEAR_COLUMNS = ("force", "financial_year", "dedicated_stalking_officer", "population", "log_size",
                      "foi_responded", "spo_applications")
REQUIRED_FORCE_YEAR_COLUMNS = ("force", "financial_year", "dedicated_stalking_officer")

_TRUE = {"1", "yes", "y", "true", "t"}
_FALSE = {"0", "no", "n", "false", "f"}
_FY = re.compile(r"^\s*(?:fy\s*)?(\d{4})\s*[/\-]\s*(\d{2}|\d{4})\s*$", re.I)


def _normalise_column(name) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower().lstrip("\ufeff")).strip("_")


def _lines(mask: np.ndarray, k: int = 5) -> str:
    """First ``k`` offending lines as a spreadsheet shows them (header = line 1)."""
    rows = np.flatnonzero(mask)[:k] + 2
    more = " ..." if mask.sum() > k else ""
    return ", ".join(map(str, rows)) + more


def _financial_year(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    m = text.str.extract(_FY)
    start = pd.to_numeric(m[0], errors="coerce")
    end = pd.to_numeric(m[1].str[-2:], errors="coerce")
    ok = start.notna() & ((start + 1) % 100 == end)
    out = (start.astype("Int64").astype("string") + "/" + end.astype("Int64").astype("string").str.zfill(2))
    return out.where(ok)


def _boolean(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False).to_numpy()] = True
    out[text.isin(_FALSE).fillna(False).to_numpy()] = False
    return out


def validate_force_years(table: pd.DataFrame, *, source: str = "the force-year table") -> pd.DataFrame:
    """Check and type a force-year table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per force and financial year (see the module docstring for the columns).
    source : str
        How to name the table in messages (the file name when read from a file).

    Returns
    -------
    pandas.DataFrame
        ``force`` (official name), ``financial_year`` (``YYYY/YY``), ``dedicated_stalking_officer`` (bool),
        ``log_size`` (float, if ``population`` or ``log_size`` was given), the optional columns typed, and any
        other column unchanged. Row order is kept.

    Raises
    ------
    DataValidationError
        Every broken rule at once, each with its column and lines (header = line 1): ``missing_column``,
        ``unknown_force``, ``bad_financial_year``, ``bad_boolean``, ``bad_number``, ``duplicate_force_year``.
    """
    df = table.rename(columns=_normalise_column).copy()
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise DataValidationError(f"{source}: duplicated column(s) {dup} (after normalising case and spaces).")
    missing = [c for c in REQUIRED_FORCE_YEAR_COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{source}: rule missing_column: required column(s) {missing} are absent; the force-year table needs "
            f"{list(REQUIRED_FORCE_YEAR_COLUMNS)} (optional: population or log_size, foi_responded, "
            f"spo_applications). Columns found: {list(table.columns)}. See docs/data-standard.md.")
    if df.empty:
        raise DataValidationError(f"{source}: the force-year table has a header but no rows.")
    problems = []

    force = normalise_force_names(df["force"].astype("string").fillna(""))
    bad = force.isna().to_numpy()
    if bad.any():
        vals = sorted(set(df.loc[bad, "force"].astype(str)))[:5]
        problems.append(f"unknown_force [column force]: {vals} match no territorial force "
                        f"(lines {_lines(bad)})")
    df["force"] = force

    fy = _financial_year(df["financial_year"])
    bad = fy.isna().to_numpy()
    if bad.any():
        problems.append(f"bad_financial_year [column financial_year]: expected a financial year such as 2021/22 "
                        f"(lines {_lines(bad)})")
    df["financial_year"] = fy

    for col in ("dedicated_stalking_officer", "foi_responded"):
        if col not in df.columns:
            continue
        b = _boolean(df[col])
        blank = df[col].isna() | df[col].astype("string").str.strip().eq("")
        bad = (b.isna() & ~blank).to_numpy() | (blank.to_numpy() & (col == "dedicated_stalking_officer"))
        if bad.any():
            problems.append(f"bad_boolean [column {col}]: expected yes/no, 1/0 or true/false"
                            f"{' (required on every row)' if col == 'dedicated_stalking_officer' else ''} "
                            f"(lines {_lines(bad)})")
        df[col] = b

    for col, positive in (("population", True), ("log_size", False), ("spo_applications", False)):
        if col not in df.columns:
            continue
        raw = df[col]
        blank = raw.isna() | raw.astype("string").str.strip().eq("")
        num = pd.to_numeric(raw.astype("string").str.replace(",", "", regex=False).str.strip(), errors="coerce")
        bad = (num.isna() & ~blank) | ~np.isfinite(num.fillna(0.0))
        if positive:
            bad |= num.notna() & (num <= 0)
        if col == "spo_applications":
            bad |= num.notna() & ((num < 0) | (num != np.round(num)))
        if bad.any():
            what = {"population": "a positive number", "log_size": "a finite number",
                    "spo_applications": "a whole number of applications (blank = not reported)"}[col]
            problems.append(f"bad_number [column {col}]: expected {what} (lines {_lines(bad.to_numpy())})")
        df[col] = num.astype("Int64") if col == "spo_applications" else num

    ok = df["force"].notna() & df["financial_year"].notna()
    dup = ok & df.duplicated(["force", "financial_year"], keep=False)
    if dup.any():
        problems.append(f"duplicate_force_year [columns force, financial_year]: one row per force and year "
                        f"(lines {_lines(dup.to_numpy())})")
    if problems:
        raise DataValidationError(f"{source} breaks {len(problems)} rule(s) of the force-year table "
                                  "(docs/data-standard.md):\n  - " + "\n  - ".join(problems))

    if "log_size" not in df.columns and "population" in df.columns and df["population"].notna().all():
        logs = np.log(df["population"].to_numpy(float))
        df["log_size"] = logs - logs.mean()
    df["dedicated_stalking_officer"] = df["dedicated_stalking_officer"].astype(bool)
    return df.reset_index(drop=True)


def read_force_years(path) -> pd.DataFrame:
    """Read and validate a force-year table from CSV or Excel/ODS.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` (UTF-8, with or without a byte-order mark), ``.xlsx`` or ``.ods`` (first sheet).

    Returns
    -------
    pandas.DataFrame
        As :func:`validate_force_years`.

    Raises
    ------
    DataValidationError
        The file is missing, unreadable, or breaks a rule (file, rule, column and lines named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"No force-year table at {path} (a regular file is needed).")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
            table = pd.read_excel(path, dtype=str, engine="calamine")
        elif suffix in (".csv", ".txt"):
            table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        else:
            raise DataValidationError(f"{path}: unsupported file type {suffix!r} for the force-year table; "
                                      "use .csv, .xlsx or .ods.")
    except DataValidationError:
        raise
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as err:
        raise DataValidationError(f"{path}: cannot be read as a force-year table: "
                                  f"{type(err).__name__}: {str(err).splitlines()[0][:200]}") from None
    return validate_force_years(table, source=str(path.name))
