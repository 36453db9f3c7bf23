"""Reader for court outcomes by police force area: defendants proceeded against and convicted.

The documented simple layout is one row per year and force: ``year, force, proceeded, convicted`` (optional
``offence``). Counts are of *defendants* in the *court year* (the year of the court outcome), so they are
not offences and not the year an offence was recorded: :mod:`attrition.public` carries both caveats with
every rate built on them. The Ministry of Justice *outcomes by offence* data tool layout is not read
directly; filter it to the stalking offences and sum it into this layout.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _tables

__all__ = ["read_court_outcomes", "COURT_COLUMNS"]

_FIELDS = {
    "year": ("year", "financialyear", "courtyear", "calendaryear"),
    "force": ("force", "forcename", "policeforcearea", "policeforceareaname", "pfa"),
    "offence": ("offence", "offencecode", "offencedescription"),
    "proceeded": ("proceeded", "proceededagainst", "defendantsproceededagainst", "numberproceededagainst",
                  "prosecutions"),
    "convicted": ("convicted", "convictions", "defendantsconvicted", "numberconvicted", "foundguilty"),
}
_LABELS = {"year": "year", "force": "force", "offence": "offence", "proceeded": "proceeded",
           "convicted": "convicted"}

#: Columns of :func:`read_court_outcomes`.
COURT_COLUMNS = ("year", "force", "territorial", "offence", "proceeded", "convicted")


def read_court_outcomes(path, *, forces="territorial") -> pd.DataFrame:
    """Read defendants proceeded against and convicted, by year and police force area.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A ``.csv``/``.csv.gz``/``.zip``/``.xlsx``/``.ods`` table with columns ``year, force, proceeded,
        convicted`` (names matched loosely: "Police Force Area", "Proceeded against", "Convicted" ...).
    forces : "territorial", "all" or list of str, default "territorial"

    Returns
    -------
    pandas.DataFrame, shape (n_rows, 6)
        :data:`COURT_COLUMNS`. ``year`` as written, normalised to "2021/22" when it is a financial year
        (a calendar year such as "2022" is kept); ``offence`` "<NA>" if the table has none; ``proceeded``
        and ``convicted`` float64 (NaN for missing markers).

    Raises
    ------
    DataValidationError
        Missing columns; counts that are not whole numbers; convicted > proceeded (rows named); unknown
        force names; repeated year, force and offence.
    """
    raw = _tables.read_table(path, what="court outcomes table", fields=_FIELDS,
                             required=("year", "force", "proceeded", "convicted"), labels=_LABELS)
    year = raw["year"].str.strip()
    is_fy = year.str.match(r"^\d{4}\s*(?:/|-|–|to)\s*\d{2,4}$").fillna(False).to_numpy()
    is_cal = year.str.match(r"^\d{4}$").fillna(False).to_numpy()
    bad = ~(is_fy | is_cal)
    if bad.any():
        raise _tables.bad_rows(raw, bad, "year", "year", "an unreadable year",
                               "Write a calendar year (2022) or a financial year (2021/22).")
    if is_fy.any():
        year = year.astype(object)
        year[is_fy] = _tables.parse_financial_year(raw.loc[is_fy], "year", "year").to_numpy(dtype=object)
        year = year.astype("string")
    proceeded, _ = _tables.parse_counts(raw, "proceeded", "proceeded")
    convicted, _ = _tables.parse_counts(raw, "convicted", "convicted")
    over = (convicted > proceeded).to_numpy()
    if over.any():
        raise _tables.bad_rows(raw, over, "convicted", "convicted", "more convicted than proceeded against",
                               "Convictions are a subset of the defendants proceeded against in the same year.")
    raw = raw.assign(year=year, proceeded=proceeded, convicted=convicted)
    dup = raw.duplicated(["year", "force", "offence"], keep=False).to_numpy()
    if dup.any():
        raise _tables.bad_rows(raw, dup, "force", "force", "a repeated year, force and offence",
                               "Give each force once per year (and offence).")
    out, info = _tables.normalise_forces(raw, "force", "force", forces)
    out = out[list(COURT_COLUMNS)].copy()
    out.attrs["excluded_forces"] = info["excluded"]
    return out
