"""Reader for Freedom of Information returns from police forces: SPO applications and dedicated officers.

One row per force and year. A force that did not answer a question is not a force that answered zero:
cells reading "did not answer", "no response", "not held", "refused", "unknown", "n/k", "..", "-" or blank
are kept as missing (``<NA>``) and named in ``not_answered``; only a written 0 is zero.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import _tables

__all__ = ["read_foi_returns", "FOI_FIELDS", "NOT_ANSWERED"]

#: The FOI questions read, in output order.
FOI_FIELDS = ("spo_interim_applications", "spo_full_applications", "spo_applications", "spo_granted",
              "spo_refused", "spo_not_yet_heard", "dedicated_officers")
_FIELDS = {
    "force": ("force", "forcename", "policeforce", "policeforcearea"),
    "year": ("year", "financialyear", "period"),
    "spo_interim_applications": ("spointerimapplications", "interimspoapplications", "interimapplications",
                                 "interimspo", "interimsposappliedfor"),
    "spo_full_applications": ("spofullapplications", "fullspoapplications", "fullapplications", "fullspo",
                              "fullsposappliedfor"),
    "spo_applications": ("spoapplications", "applications", "totalspoapplications", "sposappliedfor"),
    "spo_granted": ("spogranted", "granted", "sposgranted"),
    "spo_refused": ("sporefused", "refused", "sposrefused"),
    "spo_not_yet_heard": ("sponotyetheard", "notyetheard", "pending", "sposnotyetheard"),
    "dedicated_officers": ("dedicatedofficers", "dedicatedstalkingofficers", "stalkingofficers",
                           "numberofdedicatedstalkingofficers"),
}
_LABELS = {f: f for f in _FIELDS}

#: Cell texts read as "did not answer" (case-insensitive, after stripping).
NOT_ANSWERED = re.compile(
    r"^(?:did not answer|not answered|no answer|no response|no data|not held|information not held|not known|"
    r"unknown|n/?k|refused|withheld|exempt.*|n/?a|--|\.\.|-|x|\[[a-z]+\]|:)$", re.IGNORECASE)


def read_foi_returns(path, *, forces="territorial") -> pd.DataFrame:
    """Read FOI returns (per force and year) on Stalking Protection Orders and dedicated stalking officers.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        Table with ``force``, ``year`` and any of :data:`FOI_FIELDS` (names matched loosely).
    forces : "territorial", "all" or list of str, default "territorial"

    Returns
    -------
    pandas.DataFrame
        ``force``, ``territorial``, ``year`` (as written; financial years normalised to "2022/23"), one
        nullable ``Int64`` column per FOI field (``<NA>``: the force did not answer, or the table lacks the
        question), ``spo_applications`` (given, else interim + full when both answered), ``answered``
        (bool: at least one question answered) and ``not_answered`` (the questions asked but not answered,
        ";"-separated, "" if none).

    Raises
    ------
    DataValidationError
        Missing ``force``/``year``; a cell that is neither a count nor a "did not answer" marker; unknown
        force; a force given twice for one year.
    """
    raw = _tables.read_table(path, what="FOI returns table", fields=_FIELDS, required=("force", "year"),
                             labels=_LABELS)
    asked = [f for f in FOI_FIELDS if f in raw.attrs.get("found", FOI_FIELDS) and raw[f].notna().any()]
    if not asked:
        raise _tables.DataValidationError(
            f"FOI returns table: no question column found; expected some of {list(FOI_FIELDS)}.")
    values = {}
    for f in FOI_FIELDS:
        v, _ = _tables.parse_counts(raw, f, f, missing_re=NOT_ANSWERED)
        values[f] = v
    if raw["spo_applications"].isna().all():
        values["spo_applications"] = values["spo_interim_applications"] + values["spo_full_applications"]
    year = raw["year"].str.strip()
    fy = year.str.match(r"^\d{4}\s*(?:/|-|–|to)\s*\d{2,4}$").fillna(False).to_numpy()
    if fy.any():
        year = year.astype(object)
        year[fy] = _tables.parse_financial_year(raw.loc[fy], "year", "year").to_numpy(dtype=object)
        year = year.astype("string")
    out = pd.DataFrame({"force": raw["force"], "year": year, "_file": raw["_file"], "_sheet": raw["_sheet"],
                        "_row": raw["_row"]})
    for f in FOI_FIELDS:
        out[f] = pd.array(np.where(np.isnan(values[f]), np.nan, values[f]), dtype="Float64").astype("Int64")
    miss = pd.DataFrame({f: out[f].isna() for f in asked})
    out["answered"] = (~miss).any(axis=1).to_numpy()
    labels = np.array([f + ";" for f in asked], dtype=object)
    joined = (miss.to_numpy() * labels).sum(axis=1) if asked else np.full(len(out), "", dtype=object)
    out["not_answered"] = pd.Series(joined, index=out.index, dtype="string").str.rstrip(";")
    dup = out.duplicated(["force", "year"], keep=False).to_numpy()
    if dup.any():
        raise _tables.bad_rows(out, dup, "force", "force", "a force given twice for one year",
                               "Give one row per force and year.")
    out, info = _tables.normalise_forces(out, "force", "force", forces)
    out = out[["force", "territorial", "year", *FOI_FIELDS, "answered", "not_answered"]].copy()
    out.attrs["excluded_forces"] = info["excluded"]
    return out
