"""The Home Office outcomes open data as the public-data analyses use them.

:func:`read_outcomes` wraps :func:`attrition.sources.open_data.home_office.load_home_office_outcomes` with
the defaults a national picture needs: stalking (8Q) alone unless other codes are asked for, the 43
territorial forces (British Transport Police only when asked), every outcome type on its own (14 and 16
apart) with the Home Office outcome group alongside, and notes on what the file lacks (forces, quarters,
outcome types) returned as data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError
from ..forces import territorial_forces
from . import _tables
from .home_office import HomeOfficeLoadReport, load_home_office_outcomes

__all__ = ["read_outcomes", "OutcomesReport", "OUTCOME_GROUPS", "outcome_group", "completeness_notes"]

#: Home Office outcome group of each outcome type (as in the published tables; 14 and 16 share a group).
OUTCOME_GROUPS: dict[int, str] = {
    0: "Not yet assigned an outcome",
    1: "Charged/Summonsed",
    2: "Out-of-court (formal)", 3: "Out-of-court (formal)", 6: "Out-of-court (formal)",
    7: "Out-of-court (informal)", 8: "Out-of-court (informal)",
    4: "Taken into consideration",
    5: "Prosecution prevented or not in the public interest", 9: "Prosecution prevented or not in the public interest",
    10: "Prosecution prevented or not in the public interest", 11: "Prosecution prevented or not in the public interest",
    12: "Prosecution prevented or not in the public interest", 13: "Prosecution prevented or not in the public interest",
    17: "Prosecution prevented or not in the public interest",
    14: "Evidential difficulties (victim does not support action)",
    16: "Evidential difficulties (victim does not support action)",
    15: "Evidential difficulties (suspect identified; victim supports action)",
    18: "Investigation complete – no suspect identified",
    19: "Retired outcome type",
    20: "Responsibility for further investigation transferred to another body",
    21: "Further investigation to support formal action not in the public interest – police decision",
    22: "Diversionary, educational or intervention activity",
}
#: Outcome types of the current framework (19 is retired).
CURRENT_TYPES = tuple(k for k in sorted(OUTCOME_GROUPS) if k != 19)


def outcome_group(codes) -> pd.Series:
    """Home Office outcome group of each outcome code (``<NA>`` for missing codes)."""
    s = pd.Series(codes).astype("Int64")
    return s.map(OUTCOME_GROUPS).astype("string")


@dataclass(frozen=True)
class OutcomesReport:
    """What :func:`read_outcomes` read and what the table lacks.

    Attributes
    ----------
    load : HomeOfficeLoadReport
        The reader's row accounting (every row read is returned or excluded with a reason).
    notes : pandas.DataFrame
        ``financial_year``, ``kind`` ("missing force", "missing quarter", "missing outcome type",
        "non-territorial excluded"), ``what`` (the force, "Kent Q3", the outcome type) - one row per gap.
    offence_codes : tuple of str or None
    forces : str or tuple of str
        The force scope (``"territorial"``: the 43 territorial forces, British Transport Police excluded).
    """

    load: HomeOfficeLoadReport
    notes: pd.DataFrame
    offence_codes: tuple | None
    forces: object = field(default="territorial")

    @property
    def includes_btp(self) -> bool:
        return self.forces == "all" or (not isinstance(self.forces, str) and "British Transport Police" in self.forces)


def completeness_notes(table: pd.DataFrame, forces="territorial") -> pd.DataFrame:
    """Gaps in an outcomes table: forces, quarters and outcome types absent from a financial year.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`read_outcomes` (or of ``load_home_office_outcomes``).
    forces : "territorial", "all" or list of str
        The forces expected (the 43 territorial forces by default).

    Returns
    -------
    pandas.DataFrame
        ``financial_year``, ``kind``, ``what``; empty when nothing is missing.
    """
    rows = []
    if isinstance(forces, str):
        expected = set(territorial_forces())
    else:
        expected = set(table["force"].dropna().unique()) | set(forces)
    t = table.loc[~table["of_which"].to_numpy(dtype=bool)]
    for fy, g in t.groupby("financial_year", sort=True):  # a handful of years
        present = set(g["force"].dropna().unique())
        rows += [(fy, "missing force", f) for f in sorted(expected - present)]
        if g["quarter"].notna().any():
            have = g.groupby("force", observed=True)["quarter"].agg(lambda q: set(q.dropna().astype(int)))
            for f, qs in have.items():
                rows += [(fy, "missing quarter", f"{f} Q{q}") for q in (1, 2, 3, 4) if q not in qs]
        types = set(g["outcome_code"].dropna().astype(int))
        rows += [(fy, "missing outcome type", str(k)) for k in CURRENT_TYPES if k not in types and k != 22]
    return pd.DataFrame(rows, columns=["financial_year", "kind", "what"])


def read_outcomes(
    path,
    *,
    offence_codes: Sequence[str] | None = ("8Q",),
    count: str = "recorded_in_quarter",
    forces="territorial",
    return_report: bool = False,
):
    """Read the Home Office outcomes open data for the public-data funnel and headline figures.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        ``.csv``, ``.csv.gz``, ``.zip``, ``.xlsx`` or ``.ods`` in any published header generation, or the
        minimal layout ``Financial Year, Force Name, Offence Code, Outcome Type`` plus one count column
        (quarter optional).
    offence_codes : sequence of str or None, default ("8Q",)
        Stalking alone by default. Other codes (``("8Q", "8L", "8R")``) stay separate rows, keyed by
        ``offence_code``; every aggregate in :mod:`attrition.public` keeps them apart. None reads all.
    count : {"recorded_in_quarter", "closed_in_quarter"}
        Outcomes to date of the offences recorded in the period (the default, and the basis of the
        published "5% of reports charged"), or outcomes assigned in the period.
    forces : "territorial", "all" or list of str, default "territorial"
        The 43 territorial forces; "all" keeps British Transport Police (flagged by ``territorial``).
    return_report : bool, default False

    Returns
    -------
    table : pandas.DataFrame
        The columns of ``load_home_office_outcomes`` plus ``outcome_group`` (Home Office group of the
        outcome type); rows outside ``forces`` removed (counted in ``report.notes``), of-which rows kept
        (flagged ``of_which``; never summed).
    report : OutcomesReport
        Only if ``return_report``.

    Raises
    ------
    DataValidationError
        As ``load_home_office_outcomes``; also force names the force table does not know (rows named).
    """
    if offence_codes is not None and isinstance(offence_codes, str):
        offence_codes = (offence_codes,)
    table, load = load_home_office_outcomes(path, offence_codes=offence_codes, count=count, return_report=True)
    if not load.unmatched_forces.empty:
        um = load.unmatched_forces
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        files = ", ".join(Path(p).name for p in paths)
        shown = ", ".join(f"{n!r} ({k:,} row(s))" for n, k in zip(um["name"].head(8), um["n_rows"].head(8)))
        raise DataValidationError(
            f"outcomes table {files}: column 'Force Name': {int(um['n_rows'].sum()):,} row(s) have force names "
            f"matching no police force: {shown}{' ...' if len(um) > 8 else ''}; use the Home Office names "
            "(attrition.sources.forces.load_force_table()).", rule="unknown_force")
    table["territorial"] = table["territorial"].astype(bool)
    keep = _tables.select_forces(table, forces)
    dropped = table.loc[~keep, ["financial_year", "force"]].drop_duplicates()
    table = table.loc[keep].reset_index(drop=True)
    table["outcome_group"] = outcome_group(table["outcome_code"].fillna(
        pd.to_numeric(table["outcome_type"].str.extract(r"^(\d+)")[0], errors="coerce").astype("Int64"))).to_numpy()
    notes = completeness_notes(table, forces)
    if len(dropped):
        notes = pd.concat([notes, pd.DataFrame({"financial_year": dropped["financial_year"].to_numpy(),
                                                "kind": "force outside scope excluded",
                                                "what": dropped["force"].to_numpy()})], ignore_index=True)
    report = OutcomesReport(load=load, notes=notes,
                            offence_codes=None if offence_codes is None else tuple(str(c).upper() for c in offence_codes),
                            forces=forces if isinstance(forces, str) else tuple(forces))
    return (table, report) if return_report else table
