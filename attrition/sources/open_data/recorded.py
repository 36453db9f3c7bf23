"""Reader for police recorded crime by police force area (Home Office open data tables).

The Home Office publishes offences recorded by financial year, financial quarter, police force area and
offence code (``prc-pfa-mar2013-onwards-tables``: ``Financial Year, Financial Quarter, Force Name, Offence
Description, Offence Group, Offence Subgroup, Offence Code, Number of Offences``, one sheet per year in the
workbook). A table compiled elsewhere loads too with the minimal layout ``Financial Year, Force Name,
Offence Code, Number of Offences`` (quarter optional).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError
from . import _tables

__all__ = ["read_recorded_crime", "RECORDED_COLUMNS"]

_FIELDS = {
    "financial_year": ("financialyear", "year", "yearendingmarch"),
    "quarter": ("financialquarter", "quarter"),
    "force": ("forcename", "force", "policeforcearea", "policeforceareaname", "pfaname", "policeforce"),
    "offence_code": ("offencecode", "homeofficeoffencecode"),
    "offence_description": ("offencedescription", "offence"),
    "offences": ("numberofoffences", "offences", "numberofrecordedoffences", "recordedoffences", "count",
                 "offencesrecorded"),
}
_LABELS = {"financial_year": "Financial Year", "quarter": "Financial Quarter", "force": "Force Name",
           "offence_code": "Offence Code", "offence_description": "Offence Description",
           "offences": "Number of Offences"}
_REQUIRED = ("financial_year", "force", "offence_code", "offences")

#: Columns of :func:`read_recorded_crime`.
RECORDED_COLUMNS = ("financial_year", "quarter", "force", "territorial", "offence_code", "offence_description",
                    "offences", "missing_reason")


def read_recorded_crime(path, *, offence_codes: Sequence[str] | None = ("8Q",), forces="territorial") -> pd.DataFrame:
    """Read police recorded crime by force area into a tidy table of offences recorded.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        ``.csv``, ``.csv.gz``, ``.zip``, ``.xlsx`` or ``.ods``; every sheet with the header is read.
    offence_codes : sequence of str or None, default ("8Q",)
        Home Office offence codes kept (8Q stalking by default; add ``"8L"``, ``"8R"`` for harassment and
        malicious communications - they stay separate rows, never summed with stalking). None keeps all.
    forces : "territorial", "all" or list of str, default "territorial"
        The 43 territorial forces; "all" adds British Transport Police (kept apart by ``territorial``).

    Returns
    -------
    pandas.DataFrame, shape (n_rows, 8)
        :data:`RECORDED_COLUMNS`: ``financial_year`` ("2021/22"), ``quarter`` (Int64 1-4, <NA> if the table has
        none), ``force`` (official name), ``territorial`` (bool), ``offence_code``, ``offence_description``,
        ``offences`` (float64; NaN where the table gives a missing marker, never 0), ``missing_reason``.
        ``attrs["excluded_forces"]`` counts rows outside ``forces``; ``attrs["n_blank"]`` blank rows;
        ``attrs["excluded_rows"]`` rows of other offence codes and rows without a code (notes), by reason.

    Raises
    ------
    DataValidationError
        Unreadable file, missing columns (named), a bad year/quarter/count or unknown force (rows named),
        duplicate rows (same year, quarter, force and offence code).

    References
    ----------
    Home Office. *Police recorded crime and outcomes open data tables*, user guide.
    https://www.gov.uk/government/statistics/police-recorded-crime-open-data-tables
    """
    raw = _tables.read_table(path, what="police recorded crime table", fields=_FIELDS, required=_REQUIRED,
                             labels=_LABELS)
    code = raw["offence_code"].str.upper()
    excluded = {}
    if offence_codes is not None:
        wanted = {str(c).strip().upper() for c in ([offence_codes] if isinstance(offence_codes, str) else offence_codes)}
        keep = code.isin(wanted).to_numpy()
        excluded = {"no offence code (notes)": int(code.isna().sum()),
                    "offence code not selected": int((~keep & code.notna().to_numpy()).sum())}
        raw = raw.loc[keep].reset_index(drop=True)
        code = raw["offence_code"].str.upper()
    fy = _tables.parse_financial_year(raw, "financial_year", _LABELS["financial_year"])
    q = pd.to_numeric(raw["quarter"].str.replace(r"^(?:q|quarter)\s*", "", regex=True, case=False), errors="coerce")
    badq = (raw["quarter"].notna() & ~q.isin([1, 2, 3, 4])).to_numpy()
    if badq.any():
        raise _tables.bad_rows(raw, badq, "quarter", _LABELS["quarter"], "a quarter that is not 1-4",
                               "Financial quarters are 1 (Apr-Jun) to 4 (Jan-Mar).")
    offences, marker = _tables.parse_counts(raw, "offences", _LABELS["offences"])
    raw = raw.assign(financial_year=fy, quarter=q.astype("Int64"), offence_code=code, offences=offences,
                     missing_reason=marker)
    dup = raw.duplicated(["financial_year", "quarter", "force", "offence_code"], keep=False).to_numpy()
    if dup.any():
        raise _tables.bad_rows(raw, dup, "force", _LABELS["force"], "a repeated year, quarter, force and offence",
                               "Each force's offences are counted once per period; remove the overlap.")
    out, info = _tables.normalise_forces(raw, "force", _LABELS["force"], forces)
    out = out[list(RECORDED_COLUMNS)].copy()
    out.attrs["excluded_forces"] = info["excluded"]
    out.attrs["n_blank"] = raw.attrs.get("n_blank", 0)
    out.attrs["excluded_rows"] = excluded
    return out
