"""Run the report: execute every numbered notebook with papermill, optionally render HTML.

``make report`` (``attrition report``) calls :func:`run_report`, which runs
``notebooks/[0-9][0-9]-*.ipynb`` in order. Each notebook has one cell tagged ``parameters``
(papermill injects a cell after it with the values given here):

=============  ===========================================================================
data_path      event log to analyse (CSV/Parquet); ``None`` = the embedded synthetic dataset
as_of          extraction date (ISO string); ``None`` = the data's own
forces         list of official force names to restrict to; ``None`` = all
forces_path    force-year table (dedicated officers, population; ``docs/data-standard.md``); ``None`` = none
columns        column mapping of the event log, standard name -> name in the file; ``None`` = standard names
dayfirst       ``True`` when the event log's dates are dd/mm/yyyy; ``None`` = ISO dates
seed           random seed of any resampling; ``None`` = ``attrition.config.DEFAULT_SEED``
figures_dir    where ``save_figure`` writes; ``None`` = ``attrition.config.FIGURES_DIR``
=============  ===========================================================================

Only parameters that are not ``None`` are injected, so every notebook's own defaults hold otherwise.
The committed notebooks are never overwritten: executed copies go to ``out_dir``.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from attrition import config
from attrition.exceptions import AttritionError, DataValidationError

__all__ = ["run_report", "find_notebooks", "skip", "skip_notebook", "skipped_analyses", "NOTEBOOK_PATTERN", "DEFAULT_OUT_DIR",
           "SKIP_MARK"]

#: Notebooks that make up the report, run in name order.
NOTEBOOK_PATTERN = "[0-9][0-9]-*.ipynb"
#: Where executed notebooks (and ``html/``) go by default (git-ignored).
DEFAULT_OUT_DIR = config.PROJECT_ROOT / "report"
#: Where the notebooks of a report share the validated dataset (see :func:`attrition.data.load_dataset`).
DEFAULT_DATASET_CACHE = config.CACHE_DIR / "datasets"
#: Timing keys removed from executed notebooks so that they carry no timestamps.
_TIMING_KEYS = ("start_time", "end_time", "duration")


#: How a notebook says that an analysis was skipped (the report lists these lines at the end).
SKIP_MARK = "Skipped:"


def skip(what: str, why: str, how: str | None = None) -> None:
    """Say, in a notebook's output, that an analysis cannot be done on the data at hand.

    The line starts with :data:`SKIP_MARK`, so :func:`run_report` lists every skipped analysis at the
    end of the report.

    Parameters
    ----------
    what : str
        The analysis, e.g. ``"Officer effects"``.
    why : str
        What is missing in the data, e.g. ``"no force-year table"``.
    how : str, optional
        How to supply it, e.g. ``"pass --forces PATH (docs/data-standard.md)"``.
    """
    tail = f" To include it: {how.rstrip('.')}." if how else ""
    print(f"{SKIP_MARK} {what} — {why.rstrip('.')}.{tail}")


def skip_notebook(what: str, why: str, how: str | None = None):
    """Stop a notebook that cannot run at all on the data at hand, saying why (see :func:`skip`).

    Raises
    ------
    NotebookSkipped
        Always; :func:`run_report` records the notebook as skipped and runs the next one.
    """
    from attrition.exceptions import NotebookSkipped

    skip(what, why, how)
    raise NotebookSkipped(f"{what} — {why}")


def skipped_analyses(nb) -> list[str]:
    """The skip lines (see :func:`skip`) printed by an executed notebook, in order."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            found += [ln.strip() for ln in str(text).splitlines() if ln.strip().startswith(SKIP_MARK)]
    return found


def _progress(msg: str) -> None:
    print(f"attrition report: {msg}", file=sys.stderr, flush=True)


def _elapsed(start: float) -> str:
    """Time since ``start`` (``time.perf_counter()``) for the progress lines: '4.2 s' or '3 min 05 s'."""
    import time

    seconds = time.perf_counter() - start
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def find_notebooks(notebooks=None) -> list[Path]:
    """The notebooks to run, in order.

    Parameters
    ----------
    notebooks : None, str, pathlib.Path or sequence of those
        ``None``: ``attrition.config.NOTEBOOKS_DIR``. A directory: its notebooks matching
        ``[0-9][0-9]-*.ipynb``, sorted by name. A sequence: those notebook files, in the given order
        (a bare name is looked up in ``NOTEBOOKS_DIR``).

    Returns
    -------
    list of pathlib.Path
        Absolute paths.

    Raises
    ------
    AttritionError
        If a directory holds no report notebook, or a listed notebook does not exist.
    """
    if notebooks is None:
        notebooks = config.NOTEBOOKS_DIR
    if isinstance(notebooks, (str, os.PathLike)) and Path(notebooks).is_dir():
        directory = Path(notebooks).resolve()
        found = sorted(directory.glob(NOTEBOOK_PATTERN))
        if not found:
            raise AttritionError(f"no report notebooks matching {NOTEBOOK_PATTERN!r} in {directory}")
        return found
    if isinstance(notebooks, (str, os.PathLike)):
        notebooks = [notebooks]
    out = []
    for nb in notebooks:
        p = Path(nb)
        if not p.exists() and not p.is_absolute() and len(p.parts) == 1:
            p = config.NOTEBOOKS_DIR / p
        if not p.is_file() or p.suffix != ".ipynb":
            raise AttritionError(f"notebook {nb!s} not found (looked for {p})")
        out.append(p.resolve())
    if not out:
        raise AttritionError("no notebooks to run")
    return out


def _check_as_of(as_of) -> str | None:
    if as_of is None:
        return None
    from attrition._utils import parse_date

    ts = parse_date(as_of)  # ISO only: 01/02/2023 is refused as ambiguous, never guessed
    if ts != ts.normalize():
        raise ValueError(f"as_of must be a date without a time of day, got {as_of!r}")
    return ts.strftime("%Y-%m-%d")


def _check_forces(forces) -> list[str] | None:
    if forces is None:
        return None
    if isinstance(forces, str):
        forces = [forces]
    forces = [str(f) for f in forces]
    if not forces:
        raise ValueError("forces must name at least one force (or be None for all)")
    from attrition.sources.forces import normalise_force_names

    official = normalise_force_names(forces)
    unknown = [f for f, ok in zip(forces, official.notna().tolist()) if not ok]
    if unknown:
        raise DataValidationError(
            f"unknown police force name(s) {unknown!r}; use names from attrition.sources.forces.load_force_table()"
        )
    return list(dict.fromkeys(str(o) for o in official))  # de-duplicated, order kept


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    import numbers

    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


#: The project's longest notebooks (2-3 times the others), started first when notebooks run in parallel so that
#: they do not end the run alone; the rest follow in name order. Outputs do not depend on the order.
LONG_FIRST = ("08-report-figures", "07-timely-spos", "06-dedicated-officers", "03-force-comparison")


def _start_rank(path: Path) -> tuple[int, str]:
    stem = Path(path).stem
    return (LONG_FIRST.index(stem) if stem in LONG_FIRST else len(LONG_FIRST), Path(path).name)


@contextlib.contextmanager
def _kernel_env(cache_dir=None):
    """Environment the kernels inherit: fixed hash seed, the project's matplotlib style and the dataset cache."""
    wanted = {"PYTHONHASHSEED": "0", "MATPLOTLIBRC": str(config.MATPLOTLIBRC),
              config.DATASET_CACHE_ENV: str(DEFAULT_DATASET_CACHE)}
    saved = {k: os.environ.get(k) for k in wanted}
    try:
        for k, v in wanted.items():
            os.environ.setdefault(k, v)
        if cache_dir is not None:  # an explicit argument wins over the environment
            os.environ[config.DATASET_CACHE_ENV] = str(Path(cache_dir).resolve())
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _in_worker_thread(func, *args):
    """``func(*args)`` in a pool thread, then close the event loop nbclient opened for this thread (each
    thread gets its own and nothing else closes it: an unclosed loop and its sockets at exit)."""
    try:
        return func(*args)
    finally:
        import asyncio

        from jupyter_core.utils import ensure_event_loop

        loop = ensure_event_loop()
        if not loop.is_running():
            loop.close()
        asyncio.set_event_loop(None)


def _strip_timings(nb) -> None:
    """Remove papermill/nbclient timestamps and durations from a notebook node, in place."""
    pm = nb.metadata.get("papermill", {})
    for k in _TIMING_KEYS:
        pm.pop(k, None)
    for cell in nb.cells:
        cpm = cell.metadata.get("papermill", {})
        for k in _TIMING_KEYS:
            cpm.pop(k, None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []) and "id" in cell:
            cell["id"] = "injected-parameters"  # papermill draws a random id


def _cell_label(nb, index) -> str:
    """'cell k (first line)', numbered as in the committed notebook (without papermill's cells)."""
    cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    if index is None or not 0 <= index < len(cells):
        return f"cell {index}"
    cell = cells[index]
    if "injected-parameters" in cell.metadata.get("tags", []):
        return "the injected parameters cell"
    n_injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:index])
    first = next((ln.strip() for ln in str(cell.source).splitlines() if ln.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"cell {index - n_injected + 1} ({first!r})"


def _headline_findings(params: dict, cache_dir=None):
    """Headline findings for the book's index (:func:`attrition.book.headline_findings`) from the data the
    notebooks were given (``params``: the injected parameters, those :func:`attrition.data.load_dataset`
    takes), or a sentence saying why there are none."""
    import inspect

    from attrition.book import headline_findings
    from attrition.data import load_dataset

    accepted = inspect.signature(load_dataset).parameters
    kwargs = {k: v for k, v in params.items() if k in accepted and k != "data_path"}
    kwargs["cache_dir"] = cache_dir  # the dataset the notebooks validated
    try:
        dataset = load_dataset(params.get("data_path"), **kwargs)
        return headline_findings(dataset)
    except (AttritionError, ValueError, KeyError) as err:
        return f"Not available for these data: {str(err).splitlines()[0]}"


def run_report(data=None, out_dir=None, *, html=False, seed=None, as_of=None, forces=None, forces_path=None,
               columns=None, dayfirst=None, open_data_dir=None, notebooks=None, figures_dir=None,
               kernel_name="python3", headlines=None, pdf=False, jobs=None, cache_dir=None) -> list[Path]:
    """Execute the report notebooks with papermill, a few at a time.

    Parameters
    ----------
    data : str or pathlib.Path, optional
        Event log (CSV or Parquet, see :func:`attrition.data.read_events`) injected as ``data_path``.
        ``None``: the notebooks use the embedded synthetic national dataset.
    out_dir : str or pathlib.Path, optional
        Where executed copies of the notebooks are written (``<out_dir>/<name>.ipynb``) and, with
        ``html=True``, ``<out_dir>/html/<name>.html``. Default ``<project>/report`` (git-ignored).
        Never the notebooks' own directory.
    html : bool, default False
        Also make the HTML book (:func:`attrition.book.build_book`) in ``<out_dir>/html``: ``index.html``
        (headline findings, contents, figures, skipped analyses), one page per notebook, and ``report.html``
        (all on one page).
    seed : int, optional
        Injected as ``seed``.
    as_of : date-like, optional
        Extraction date, injected as an ISO string ``"YYYY-MM-DD"``.
    forces : str or list of str, optional
        Forces to restrict the analysis to; any official spelling is accepted and normalised to
        the force table's names.
    forces_path : str or pathlib.Path, optional
        Force-year table (:mod:`attrition.sources.force_years`), injected as ``forces_path``; checked
        before any notebook runs.
    columns : dict, optional
        Column mapping of ``data`` (standard name -> column name in the file), injected as ``columns``.
    dayfirst : bool, optional
        ``True`` when the dates of ``data`` are written dd/mm/yyyy, injected as ``dayfirst``.
    notebooks : None, directory, or sequence of notebook paths
        See :func:`find_notebooks`. Default: every ``[0-9][0-9]-*.ipynb`` in
        ``attrition.config.NOTEBOOKS_DIR``.
    figures_dir : str or pathlib.Path, optional
        Injected as ``figures_dir``. Default: the notebooks' default (``figures/``) when the report
        runs on the embedded dataset with default settings; ``<out_dir>/figures`` as soon as
        ``data``, ``seed``, ``as_of``, ``forces``, ``forces_path`` or ``open_data_dir`` is given, so the
        committed figures are only ever regenerated from the embedded data (asking for them explicitly then
        is an error).
    kernel_name : str, default "python3"
    open_data_dir : str or pathlib.Path, optional
        Directory of public data files (Home Office outcomes open data, recorded crime, court outcomes,
        FOI returns), injected as ``open_data_dir`` when given (notebook 09 reads it).
    headlines : bool, optional
        With ``html``: recompute the headline findings of the index page from the data (loads the dataset
        once more in this process). Default: only when the project's own notebooks are run
        (``notebooks=None``).
    pdf : bool, default False
        With ``html``: also print ``report.html`` to ``<out_dir>/report.pdf`` with headless Chromium
        (:func:`attrition.book.print_pdf`); an error if no Chromium is installed.
    jobs : int, optional
        Notebooks run at the same time (each in its own kernel). Default: 2, or 1 on a one-core machine.
        No notebook reads what another writes (each loads the dataset itself and notebooks 08 and 09 write
        figures of different names), so the executed notebooks and figures are the same for any ``jobs``.
    cache_dir : str or pathlib.Path, optional
        Where the notebooks share the validated dataset (:func:`attrition.data.load_dataset`'s
        ``cache_dir``, passed to the kernels as ``ATTRITION_DATASET_CACHE``): the data are read and
        validated once, by the first notebook, and read back by the others. Default
        ``data/cache/datasets`` (or the ``ATTRITION_DATASET_CACHE`` already set).

    Returns
    -------
    list of pathlib.Path
        The executed notebooks, in name order.

    Raises
    ------
    AttritionError
        A notebook failed: the message names the notebook, the cell (numbered as in the committed
        notebook, with its first line) and the error; the executed copy up to the failure is in
        ``out_dir``. Also for a missing notebook directory or a kernel that cannot start.
    DataValidationError
        ``data`` does not exist, or a force name is unknown.
    ValueError
        Bad ``as_of``, ``seed`` or ``out_dir``.

    Notes
    -----
    Kernels run with the notebook's own directory as working directory, ``PYTHONHASHSEED=0``,
    ``MATPLOTLIBRC`` set to the project style (unless already set) and the dataset cache. When a notebook
    fails, the notebooks not yet started are not run, those running are finished, and the error of the first
    failing notebook in name order is raised. Papermill's and nbclient's
    start/end times and durations are removed from the executed notebooks, so two runs give identical files;
    progress and the time each notebook took go to stderr only. Kernels talk over IPC sockets and are not
    interrupted before shutdown (:class:`attrition._kernels.QuietKernelManager`), so the log carries no
    kernel noise.
    """
    import time

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from attrition._kernels import QuietKernelManager

    if pdf and not html:
        raise ValueError("pdf=True prints the HTML book: give html=True as well")
    if headlines is None:
        headlines = notebooks is None
    nb_paths = find_notebooks(notebooks)
    out_dir = Path(DEFAULT_OUT_DIR if out_dir is None else out_dir).resolve()
    sources = {p.parent for p in nb_paths}
    if out_dir in sources:
        raise ValueError(
            f"out_dir {out_dir} is the notebooks' own directory: executed copies would overwrite the "
            "committed notebooks; choose another directory (default: report/)"
        )
    committed = config.COMMITTED_FIGURES_DIR.resolve()
    if out_dir == committed or committed in out_dir.parents:
        raise ValueError(f"out_dir {out_dir} is inside the committed figures {committed}; choose another directory "
                         "(default: report/)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a directory")
    if data is not None:
        data = Path(data).resolve()
        if not data.is_file():
            raise DataValidationError(f"no event log at {data} (a regular file is needed)")
    if forces_path is not None:
        from attrition.sources.force_years import read_force_years

        forces_path = Path(forces_path).resolve()
        read_force_years(forces_path)  # fail now, naming the rule, rather than in every notebook
    as_of = _check_as_of(as_of)
    seed = _check_seed(seed)
    forces = _check_forces(forces)
    custom = any(v is not None for v in (data, seed, as_of, forces, forces_path, open_data_dir))
    if figures_dir is None and custom:
        figures_dir = out_dir / "figures"
    if custom and Path(figures_dir).resolve() == config.COMMITTED_FIGURES_DIR.resolve():
        raise ValueError(f"figures_dir {config.COMMITTED_FIGURES_DIR} holds the committed figures of the synthetic report; "
                         "figures of other data or settings go elsewhere (default: OUT/figures)")
    params = {
        "data_path": None if data is None else str(data),
        "as_of": as_of,
        "forces": forces,
        "forces_path": None if forces_path is None else str(forces_path),
        "columns": None if not columns else {str(k): str(v) for k, v in dict(columns).items()},
        "dayfirst": True if dayfirst else None,
        "seed": seed,
        "figures_dir": None if figures_dir is None else str(Path(figures_dir).resolve()),
    }
    if open_data_dir is not None:
        open_data_dir = Path(open_data_dir).resolve()
        if not open_data_dir.is_dir():
            raise DataValidationError(f"no open-data directory at {open_data_dir}")
        params["open_data_dir"] = str(open_data_dir)
    params = {k: v for k, v in params.items() if v is not None}

    if jobs is None:
        jobs = 2 if (os.cpu_count() or 1) > 1 else 1
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(nb_paths)
    first_start = time.perf_counter()

    failed_at = [n + 1]  # the first failing notebook so far (1-based); later ones are not started

    def run_one(i, src):
        if i > failed_at[0]:
            return None
        try:
            return _run_one(i, src)
        except AttritionError:
            failed_at[0] = min(failed_at[0], i)
            raise

    def _run_one(i, src):
        dst = out_dir / src.name
        _progress(f"[{i}/{n}] running {src.name}")
        started = time.perf_counter()
        try:
            # the kernel starts in the notebook's folder through nbclient's resources, not papermill's cwd=,
            # which changes the working directory of this whole process: two notebooks run at once in threads
            # would restore each other's directory in the wrong order and leave the caller somewhere else
            nb = papermill.execute_notebook(
                src, dst, parameters=params, kernel_name=kernel_name,
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                kernel_manager_class=QuietKernelManager, resources={"metadata": {"path": str(src.parent)}},
            )
        except PapermillExecutionError as err:
            if err.ename == "NotebookSkipped":
                _progress(f"[{i}/{n}] skipped {src.name} after {_elapsed(started)}: {err.evalue}")
                nb = nbformat.read(dst, as_version=4)
                _strip_timings(nb)
                nbformat.write(nb, dst)
                return dst
            failed = nbformat.read(dst, as_version=4) if dst.exists() else None
            where = _cell_label(failed, err.cell_index) if failed is not None else f"cell {err.cell_index}"
            raise AttritionError(
                f"notebook {src.name} failed in {where}: {err.ename}: {err.evalue}\n"
                f"The executed copy, with the full traceback, is {dst}"
            ) from None
        except Exception as err:  # kernel could not start, died, timed out, ...
            raise AttritionError(f"notebook {src.name} could not be run: {type(err).__name__}: {err}") from err
        _strip_timings(nb)
        nbformat.write(nb, dst)
        _progress(f"[{i}/{n}] {src.name} done in {_elapsed(started)}")
        return dst

    cache = Path(cache_dir or os.environ.get(config.DATASET_CACHE_ENV) or DEFAULT_DATASET_CACHE).resolve()
    executed = []
    with _kernel_env(cache):
        if jobs == 1 or n < 2:
            executed = [run_one(i, src) for i, src in enumerate(nb_paths, start=1)]
        else:
            from concurrent.futures import ThreadPoolExecutor

            # threads only wait on the kernels (separate processes), which do the work
            pool = ThreadPoolExecutor(max_workers=min(jobs, n), thread_name_prefix="notebook")
            try:
                numbered = list(enumerate(nb_paths, start=1))
                futures = {i: pool.submit(_in_worker_thread, run_one, i, src)
                           for i, src in sorted(numbered, key=lambda t: _start_rank(t[1]))}
                for i, _ in numbered:  # in name order: the first failure in that order is the one raised
                    executed.append(futures[i].result())
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    _progress(f"done: {n} notebook(s) in {out_dir} in {_elapsed(first_start)}")
    if html:
        from attrition.book import SINGLE_PAGE_NAME, build_book, print_pdf

        findings = None
        if headlines:
            _progress("computing the headline findings for the index page")
            findings = _headline_findings(params, cache_dir=cache)
        pages = build_book(executed, out_dir / "html", figures_dir=figures_dir or config.FIGURES_DIR,
                           findings=findings)
        for page in pages:
            _progress(f"wrote {page.relative_to(out_dir)}")
        if pdf:
            written = print_pdf(out_dir / "html" / SINGLE_PAGE_NAME, out_dir / "report.pdf")
            _progress(f"wrote {written.relative_to(out_dir)}")
    skipped = [(p.stem, line) for p in executed for line in skipped_analyses(nbformat.read(p, as_version=4))]
    if skipped:
        _progress(f"{len(skipped)} analysis(es) skipped for lack of data:")
        for stem, line in skipped:
            _progress(f"  {stem}: {line.removeprefix(SKIP_MARK).strip()}")
    return executed
