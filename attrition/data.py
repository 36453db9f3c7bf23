"""What a notebook analyses: the embedded synthetic dataset or a real extract, in one :class:`Dataset`.

This module sits above the readers (:mod:`attrition.sources`) and the generator
(:mod:`attrition.synthetic`), so neither needs to know the other: synthetic data are one producer of
event logs, a force's extract is another. The event-log functions of :mod:`attrition.sources.events`
are re-exported here, so ``from attrition.data import load_events, to_cases`` keeps working.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import release_memory
from .config import DATASET_CACHE_ENV
from .disclosure import count_text
from .exceptions import DataQualityWarning, DataValidationError
from .sources.events import (ValidationReport, financial_year, load_events, read_column_mapping, read_events,
                             to_cases, validate_events)
from .sources.force_years import read_force_years
from .sources.forces import load_force_table, normalise_force_names

__all__ = [
    "ValidationReport", "read_events", "read_column_mapping", "validate_events", "load_events", "to_cases",
    "financial_year", "load_default", "load_forces", "load_home_office_outcomes", "load_dataset", "Dataset",
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
        Force-year table: the synthetic one, the user's (``forces_path``, see
        :mod:`attrition.sources.force_years`), or None for a real extract without one.
    truth : dict or None
        True parameters (synthetic data only).
    as_of : pandas.Timestamp
    source : str
        "synthetic national dataset (seed N)" or "event log <file name>".
    report : ValidationReport or None
        The validation of a file (None for synthetic data).
    notes : list of str
        What was derived or set aside while loading (e.g. ``log_size`` from the extract), for the notebook to say.
    """

    events: pd.DataFrame
    cases: pd.DataFrame
    forces: pd.DataFrame | None
    truth: dict | None
    as_of: pd.Timestamp
    source: str
    report: ValidationReport | None = None
    notes: list = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        """True for the simulated dataset (its truth is known); False for a real extract."""
        return self.truth is not None

    @property
    def provenance(self) -> str:
        """One line for every figure and table: synthetic data, or the file and extraction date."""
        if self.synthetic:
            return f"Synthetic data: {self.source.replace('synthetic ', 'simulated ')}, not real cases"
        return f"Data: {self.source.removeprefix('event log ')}, as of {self.as_of:%Y-%m-%d}"

    @property
    def n_forces(self) -> int:
        """Number of forces with at least one case."""
        return int(self.cases["force"].nunique())

    def __str__(self) -> str:
        c = self.cases
        n_open = int((~c["closed"]).sum())
        day = "%Y-%m-%d" if self.synthetic else "%Y-%m"  # a real case's report date is record-level data
        return (f"{self.source}: {len(c):,} cases, {len(self.events):,} events, {self.n_forces} forces, "
                f"reported {c['report_date'].min().strftime(day)} to {c['report_date'].max().strftime(day)}, "
                f"as of {self.as_of:%Y-%m-%d}; {count_text(n_open)} open")


def _derive_log_size(fy: pd.DataFrame, cases: pd.DataFrame, notes: list) -> pd.DataFrame:
    """Give a force-year table ``log_size`` when it has none: log mean reports a year per force (centred)."""
    if "log_size" in fy.columns and fy["log_size"].notna().all():
        return fy
    per_year = cases.groupby(["force", "financial_year"], observed=True).size().groupby("force", observed=True).mean()
    size = fy["force"].astype(str).map(per_year.rename(index=str))
    if size.isna().any():
        size = size.fillna(size.min() if size.notna().any() else 1.0)
    logs = np.log(size.to_numpy(float))
    notes.append("force size (log_size) derived from the extract: mean stalking reports a year per force "
                 "(give `population` in the force-year table to use population instead)")
    return fy.assign(log_size=logs - logs.mean())


def load_dataset(data_path=None, *, as_of=None, forces=None, seed=None, errors: str = "exclude",
                 forces_path=None, columns=None, dayfirst: bool | None = None, cache_dir=None) -> Dataset:
    """The one entry point of every notebook: the embedded synthetic data or a real extract.

    Parameters
    ----------
    data_path : str or pathlib.Path, optional
        An event log in the standard (see :func:`attrition.sources.events.read_events`). ``None``: the
        embedded synthetic national dataset.
    as_of : date-like, optional
        Extraction date, ISO (cases open then are censored). Default: the date of the latest event in the data
        (for the synthetic data, its own extraction date) — as ``attrition report --as-of``. Validation of a
        file checks for future timestamps against this date when given, else against today.
    forces : list of str, optional
        Restrict to these forces (official names or aliases).
    seed : int, optional
        Seed of the synthetic dataset (default :data:`attrition.config.DEFAULT_SEED`); ignored for files.
    errors : {"exclude", "raise"}
        For files: how rows breaking the standard are handled (see :func:`load_events`).
    forces_path : str or pathlib.Path, optional
        A force-year table (:func:`attrition.sources.force_years.read_force_years`): dedicated officers,
        population, FOI answers. Replaces the synthetic one when given with the synthetic data.
    columns : dict, optional
        For files: column mapping, standard name -> column name in the file (see :func:`load_events`).
    dayfirst : bool, optional
        For files: timestamps written dd/mm/yyyy (see :func:`load_events`).
    cache_dir : str or pathlib.Path, optional
        Keep the validated dataset in this directory and reuse it when the same data are loaded again with
        the same options: validate once, then every notebook of a report reads the result (a fraction of a
        second instead of the read, validation and case table). Default: the directory in the environment
        variable ``ATTRITION_DATASET_CACHE`` (``attrition report`` sets it to ``data/cache/datasets``), else
        no cache. The key is the SHA-256 of the event-log and force-year files, every option, the source of
        the ``attrition`` package and the numpy and pandas versions, so a changed file, option or code is
        never served an old result; the warnings raised while loading are raised again on a hit.

    Returns
    -------
    Dataset

    Raises
    ------
    DataValidationError
        The file or the force-year table cannot be used, a force name is unknown, no case is left.
    """
    kwargs = dict(as_of=as_of, forces=forces, seed=seed, errors=errors, forces_path=forces_path, columns=columns,
                  dayfirst=dayfirst)
    cache_dir = cache_dir if cache_dir is not None else os.environ.get(DATASET_CACHE_ENV) or None
    if cache_dir is None:
        return _load_dataset(data_path, **kwargs)
    return _cached_dataset(Path(cache_dir), data_path, kwargs)


_CACHE_KEEP = 4  # datasets kept in a cache directory (the oldest used go first)


def _file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _code_digest() -> str:
    """SHA-256 of the package's source and standard tables: any change to the code invalidates the cache."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".csv", ".json") and p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _cache_key(data_path, kwargs) -> str:
    key = {k: (str(v) if k == "as_of" and v is not None else v) for k, v in kwargs.items()}
    for name, path in (("forces_path", kwargs["forces_path"]), ("data", data_path)):
        # the content, and the path (messages and the dataset's source name the file)
        key[name] = None if path is None else [str(Path(path).resolve()), _file_digest(path)]
    key["code"] = _code_digest()
    key["versions"] = [np.__version__, pd.__version__]
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an exclusive lock on ``lock_path`` (POSIX ``flock``; elsewhere no lock, at worst the work is done
    twice): notebooks started together wait for the first one's validation instead of repeating it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+b")
    except OSError:
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_cached(path: Path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        return None  # absent or unreadable: made again


def _replay(caught) -> None:
    for w in caught:
        warnings.warn_explicit(w["message"], w["category"], w["filename"], w["lineno"], module=w["module"])


def _cached_dataset(cache_dir: Path, data_path, kwargs) -> Dataset:
    """:func:`_load_dataset` through the on-disk cache (pickles written atomically, under a lock, so concurrent
    notebooks never read half a file nor validate twice). On a hit the warnings recorded when the dataset
    was made are raised again."""
    try:
        key = _cache_key(data_path, kwargs)
    except OSError:  # an unreadable file: no cache, and the reader's own error names the rule
        return _load_dataset(data_path, **kwargs)
    path = cache_dir / f"dataset-{key}.pkl"
    hit = _read_cached(path)
    if hit is None:
        with _exclusive(cache_dir / f"dataset-{key}.lock"):
            hit = _read_cached(path)  # made by another process while this one waited
            if hit is None:
                with warnings.catch_warnings(record=True) as records:
                    warnings.simplefilter("always")
                    dataset = _load_dataset(data_path, **kwargs)
                caught, seen = [], set()
                for r in records:  # once per (text, category, place), as the "default" filter shows them
                    k = (str(r.message), r.category, r.filename, r.lineno)
                    if k not in seen:
                        seen.add(k)
                        caught.append({"message": str(r.message), "category": r.category, "filename": r.filename,
                                       "lineno": r.lineno, "module": Path(r.filename).stem})
                hit = (dataset, caught)
                _write_cached(cache_dir, path, hit)
    else:
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept longest
    dataset, caught = hit
    _replay(caught)
    return dataset


def _write_cached(cache_dir: Path, path: Path, value) -> None:
    try:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in sorted(cache_dir.glob("dataset-*.pkl"), key=lambda p: p.stat().st_mtime)[:-_CACHE_KEEP]:
            old.unlink(missing_ok=True)
            old.with_suffix(".lock").unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full disk: no cache, the same result


def _load_dataset(data_path=None, *, as_of=None, forces=None, seed=None, errors: str = "exclude",
                  forces_path=None, columns=None, dayfirst: bool | None = None) -> Dataset:
    from ._utils import parse_date
    from .config import DEFAULT_SEED

    report, notes = None, []
    as_of = None if as_of is None else parse_date(as_of)
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
            events, report = load_events(data_path, errors=errors, as_of=as_of, return_report=True,
                                         columns=columns, dayfirst=dayfirst)
        if events.empty:
            raise DataValidationError(f"{Path(data_path).name}: no case passes the standard, so there is nothing "
                                      f"to analyse; run `attrition validate {data_path}` to see why.")
        fy, truth, source = None, None, f"event log {Path(data_path).name}"
    if forces_path is not None:
        fy = read_force_years(forces_path)
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
    release_memory()  # the case table's temporaries (1M cases: ~600 MiB free but held by the allocator)
    if forces_path is not None:
        fy = _derive_log_size(fy, cases, notes)
    return Dataset(events=events, cases=cases, forces=fy, truth=truth, as_of=pd.Timestamp(cases.attrs["as_of"]),
                   source=source, report=report, notes=notes)
