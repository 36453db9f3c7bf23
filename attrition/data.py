"""What a notebook analyses: the embedded synthetic dataset or a real extract, in one :class:`Dataset`.

This module sits above the readers (:mod:`attrition.sources`) and the generator
(:mod:`attrition.synthetic`), so neither needs to know the other: synthetic data are one producer of
event logs, a force's extract is another. The event-log functions of :mod:`attrition.sources.events`
are re-exported here, so ``from attrition.data import load_events, to_cases`` keeps working.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .exceptions import DataQualityWarning, DataValidationError
from .sources.events import (ValidationReport, financial_year, load_events, read_events, to_cases,
                             validate_events)
from .sources.forces import load_force_table, normalise_force_names

__all__ = [
    "ValidationReport", "read_events", "validate_events", "load_events", "to_cases", "financial_year",
    "load_default", "load_forces", "load_home_office_outcomes", "load_dataset", "Dataset",
]


# ------------------------------------------------------------------------------------------ helpers
def load_forces() -> pd.DataFrame:
    """The 43 territorial police forces (see :func:`attrition.sources.forces.load_force_table`)."""
    return load_force_table()


def load_default():
    """The embedded default national dataset: :func:`attrition.synthetic.simulate` with the default seed.

    Deterministic and offline (regenerated from the seed, cached for the session).

    Returns
    -------
    attrition.synthetic.SyntheticData
    """
    from .synthetic import default_dataset

    return default_dataset()


def load_home_office_outcomes(path, **kwargs):
    """Read the Home Office police recorded crime outcomes open data (see :mod:`attrition.sources.open_data.home_office`)."""
    from .sources.open_data.home_office import load_home_office_outcomes as _load

    return _load(path, **kwargs)


@dataclass
class Dataset:
    """What a notebook analyses: the event log, the case table and (for synthetic data) forces and truth.

    Attributes
    ----------
    events, cases : pandas.DataFrame
    forces : pandas.DataFrame or None
        Force-year table (synthetic data) or None for a real extract without one.
    truth : dict or None
        True parameters (synthetic data only).
    as_of : pandas.Timestamp
    source : str
        "synthetic (seed N)" or the file read.
    report : ValidationReport or None
    """

    events: pd.DataFrame
    cases: pd.DataFrame
    forces: pd.DataFrame | None
    truth: dict | None
    as_of: pd.Timestamp
    source: str
    report: ValidationReport | None = None

    def __str__(self) -> str:
        c = self.cases
        return (f"{self.source}: {len(c):,} cases, {len(self.events):,} events, {c['force'].nunique()} forces, "
                f"reported {c['report_date'].min():%Y-%m-%d} to {c['report_date'].max():%Y-%m-%d}, "
                f"as of {self.as_of:%Y-%m-%d}; {int((~c['closed']).sum()):,} open")


def load_dataset(data_path=None, *, as_of=None, forces=None, seed=None, errors: str = "exclude") -> Dataset:
    """The one entry point of every notebook: the embedded synthetic data or a real extract.

    Parameters
    ----------
    data_path : str or pathlib.Path, optional
        An event log in the standard (CSV/Parquet). ``None``: the embedded synthetic national dataset.
    as_of : date-like, optional
        Extraction date (cases open then are censored). Default: the data's own.
    forces : list of str, optional
        Restrict to these forces (official names or aliases).
    seed : int, optional
        Seed of the synthetic dataset (default :data:`attrition.config.DEFAULT_SEED`); ignored for files.
    errors : {"exclude", "raise"}
        For files: how rows breaking the standard are handled (see :func:`load_events`).

    Returns
    -------
    Dataset
    """
    from .config import DEFAULT_SEED

    report = None
    if data_path is None:
        from .synthetic import default_dataset, simulate

        seed = DEFAULT_SEED if seed is None else int(seed)
        sim = default_dataset() if seed == DEFAULT_SEED else simulate(random_state=seed)
        events, fy, truth, source = sim.events, sim.forces, sim.truth, f"synthetic national dataset (seed {seed})"
        if as_of is None:
            as_of = sim.as_of
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)  # the report below says it, in the notebook
            events, report = load_events(data_path, errors=errors, as_of=as_of, return_report=True)
        fy, truth, source = None, None, f"event log {Path(data_path).name}"
    if forces is not None:
        wanted = normalise_force_names(pd.Series(list(forces)))
        if wanted.isna().any():
            raise DataValidationError(f"Unknown force name(s) in the force filter: "
                                      f"{[f for f, w in zip(forces, wanted) if pd.isna(w)]}")
        events = events[events["force"].isin(list(wanted))].reset_index(drop=True)
        if fy is not None:
            fy = fy[fy["force"].isin(list(wanted))].reset_index(drop=True)
        if events.empty:
            raise DataValidationError(f"No events for the forces {list(wanted)}.")
    cases = to_cases(events, as_of=as_of)
    return Dataset(events=events, cases=cases, forces=fy, truth=truth, as_of=pd.Timestamp(cases.attrs["as_of"]),
                   source=source, report=report)
