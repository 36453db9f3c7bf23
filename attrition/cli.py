"""Command line: ``attrition simulate | validate | report | headlines | fetch`` (also ``python -m attrition``).

Every command returns an exit code from :func:`main` (0 success, 1 failure, 2 usage error);
errors about the data or the notebooks are printed as one clear message, never a traceback.
Heavy modules are imported inside the command functions so ``attrition --help`` is instant.
"""
from __future__ import annotations

import argparse
import sys

from attrition import __version__, config
from attrition.exceptions import AttritionError

__all__ = ["main", "build_parser"]

PROG = "attrition"


def _error(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}")
    return value


def _date(text: str) -> str:
    """An ISO date argument (``2023-09-30``); ambiguous forms such as ``01/02/2023`` are refused."""
    from attrition._utils import parse_date

    try:
        ts = parse_date(text, name="the date")
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date such as 2023-09-30: {err}") from None
    if ts != ts.normalize():
        raise argparse.ArgumentTypeError(f"expected a date such as 2023-09-30, without a time, got {text!r}")
    return ts.strftime("%Y-%m-%d")


def _mapping_item(text: str) -> tuple[str, str]:
    """``standard=name in the file`` of ``--columns``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected STANDARD=COLUMN such as case_id='Crime Reference', got {text!r}")
    return key.strip(), value.strip().strip("'\"")


# ------------------------------------------------------------------------------------------ commands
def cmd_simulate(args) -> int:
    """Simulate a synthetic national dataset and write it."""
    from attrition.synthetic import simulate

    truth = {}
    if args.years is not None:
        truth["n_years"] = args.years
    if args.first_year is not None:
        truth["first_year"] = args.first_year
    try:
        data = simulate(n_cases=args.cases, random_state=args.seed, as_of=args.as_of, **truth)
        written = data.write(args.out)
    except (AttritionError, ValueError, OSError) as err:
        return _error("simulate", str(err))
    written = written if isinstance(written, (list, tuple)) else [args.out]
    n_cases = len(data.cases) if getattr(data, "cases", None) is not None else args.cases
    print(f"simulated {n_cases:,} cases (seed {args.seed}); wrote:")
    for path in written:
        print(f"  {path}")
    return 0


def cmd_validate(args) -> int:
    """Validate an event log against the victim-journey data standard (optionally writing the valid cases)."""
    from pathlib import Path

    from attrition.data import read_events, validate_events
    from attrition.exceptions import DataValidationError

    if args.exclude and not args.out:
        return _error("validate", "--exclude needs --out PATH for the valid cases (the set-aside rows go to "
                                  "<out stem>.excluded.csv)")
    out = excluded_path = None
    if args.out:
        out = Path(args.out)
        problem = _check_output(out, Path(args.path))
        if problem:
            return _error("validate", problem)
        excluded_path = out.with_name(_stem(out) + ".excluded.csv")
    columns = {}
    try:
        if args.columns_file:
            from attrition.sources.events import read_column_mapping

            columns.update(read_column_mapping(args.columns_file))
        columns.update(dict(args.columns or []))
        options = {}
        if columns:
            options["columns"] = columns
        if args.sheet is not None:
            options["sheet"] = args.sheet
        events = read_events(args.path, **options)
        report = validate_events(events, as_of=args.as_of, **({"dayfirst": True} if args.dayfirst else {}))
    except DataValidationError as err:
        return _error("validate", str(err))
    print(str(report))
    if out is None:
        return 0 if report.ok else 1
    if not args.exclude and not report.ok:
        print(f"nothing written to {out}: the log breaks the rules above (add --exclude to write the valid "
              "cases and set the others aside)", file=sys.stderr)
        return 1
    if report.valid.empty:
        return _error("validate", f"no case passes every rule; nothing written to {out}")
    try:
        _write_events(report.valid, out)
        if args.exclude:
            report.excluded.to_csv(excluded_path, index=False)
    except (OSError, ValueError) as err:
        return _error("validate", f"cannot write {out}: {err}")
    v, x = report.valid, report.excluded
    print(f"wrote {len(v):,} events of {v['case_id'].nunique():,} valid cases to {out}")
    if args.exclude:
        n_x = x["case_id"].nunique() if len(x) else 0
        print(f"set aside {len(x):,} rows of {n_x:,} cases, with their reasons, in {excluded_path}")
    return 0


def _stem(path) -> str:
    name = path.name
    for ext in (".csv.gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _check_output(out, data_path) -> str | None:
    """Why ``out`` cannot be written (checked before any work), or None."""
    import os

    if out.is_dir():
        return f"--out {out} is a directory; give a file name such as clean.csv"
    if not out.name.lower().endswith((".csv", ".csv.gz", ".parquet", ".pq")):
        return f"--out {out}: use a .csv, .csv.gz or .parquet file name"
    try:
        if out.exists() and data_path.exists() and out.resolve() == data_path.resolve():
            return f"--out {out} is the input file; write the valid cases to another file"
    except OSError:
        pass
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        return f"--out {out}: the directory {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"--out {out}: the directory {parent} is not writable"
    return None


def _write_events(events, out) -> None:
    if out.name.lower().endswith((".parquet", ".pq")):
        events.to_parquet(out, index=False)
    else:
        events.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%S")


def cmd_report(args) -> int:
    """Run the report notebooks."""
    from attrition.report import run_report

    extra = {"pdf": True} if args.pdf else {}
    if args.jobs is not None:
        extra["jobs"] = args.jobs
    try:
        columns = {}
        if args.columns_file:
            from attrition.sources.events import read_column_mapping

            columns.update(read_column_mapping(args.columns_file))
        columns.update(dict(args.columns or []))
        run_report(
            data=args.data, out_dir=args.out, html=args.html or args.pdf, seed=args.seed, as_of=args.as_of,
            forces=args.force, forces_path=args.forces, open_data_dir=args.open_data, **extra,
            **({"columns": columns} if columns else {}), **({"dayfirst": True} if args.dayfirst else {}),
        )
    except (AttritionError, ValueError) as err:
        return _error("report", str(err))
    return 0


def cmd_headlines(args) -> int:
    """Headline measures from public data (Home Office outcomes, recorded crime, court outcomes)."""
    import warnings

    from attrition import public
    from attrition.exceptions import DataQualityWarning
    from attrition.sources.open_data import read_court_outcomes, read_outcomes, read_recorded_crime

    forces = "all" if args.include_btp else "territorial"
    codes = tuple(args.offence_code) if args.offence_code else ("8Q",)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataQualityWarning)
            outcomes, report = read_outcomes(args.outcomes, offence_codes=codes, forces=forces, return_report=True)
            recorded = None if args.recorded is None else read_recorded_crime(
                args.recorded, offence_codes=codes, forces=forces)
            courts = None if args.courts is None else read_court_outcomes(args.courts, forces=forces)
        table = public.headlines(outcomes, recorded, courts, year=args.year,
                                 by="force" if args.by == "force" else None)
    except (AttritionError, ValueError, OSError) as err:
        return _error("headlines", str(err))
    for w in caught:
        print(f"{PROG} headlines: note: {w.message}", file=sys.stderr)
    notes = report.notes if args.year is None else report.notes[report.notes["financial_year"] == table["year"].iloc[0]]
    for (year, kind), g in notes.groupby(["financial_year", "kind"], sort=True):
        shown = ", ".join(g["what"].head(6)) + (f" and {len(g) - 6} more" if len(g) > 6 else "")
        print(f"{PROG} headlines: note: {year}: {kind} ({len(g)}): {shown}", file=sys.stderr)
    cols = [c for c in ("year", "force", "offence_code", "measure", "numerator", "denominator", "value")
            if c in table.columns]
    extra = [c for c in table.columns if c not in cols and c not in ("numerator_name",)]
    out = table[cols + extra]
    if args.format == "json":
        print(out.to_json(orient="records", indent=1, double_precision=10))
    else:
        out.to_csv(sys.stdout, index=False, float_format="%.10g", lineterminator="\n")
    return 0


def cmd_fetch(args) -> int:
    """Download the published open-data files into a cache directory."""
    from attrition.sources.open_data.fetch import fetch, load_releases

    try:
        if args.list:
            rel = load_releases(args.releases)
            for r in rel.itertuples(index=False):
                print(f"{r.name:32s} {r.kind:9s} {r.period:16s} {'sha256 on record' if r.sha256 else 'unverified'}")
            return 0
        results = fetch(args.names or None, args.cache, releases=args.releases,
                        require_checksum=args.require_checksum, refresh=args.refresh)
    except (AttritionError, ValueError, OSError) as err:
        return _error("fetch", str(err))
    for r in results:
        note = "" if r.status != "unverified" else "  (no checksum on record: verify, then add it to the table)"
        print(f"{r.status:10s} {r.name}: {r.path} ({r.n_bytes:,} bytes) sha256 {r.sha256}{note}")
    return 0


# ------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``attrition`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Where stalking cases drop out between report and conviction: simulate data, "
                    "validate an event log, run the reproducible report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "simulate", help="simulate a synthetic national dataset with known truth",
        description="Simulate stalking case journeys with known truth (attrition.synthetic.simulate) and "
                    "write them. A .csv or .parquet OUT gets the event log only; a directory gets "
                    "events.parquet, cases.parquet, forces.csv and truth.json.",
    )
    p.add_argument("--cases", type=_positive_int, default=None, metavar="N",
                   help="number of reported cases (default: the national default, 120,000 a year)")
    p.add_argument("--seed", type=_seed, default=config.DEFAULT_SEED, metavar="S",
                   help=f"random seed; the same seed gives identical data (default {config.DEFAULT_SEED})")
    p.add_argument("--out", required=True, metavar="PATH", help="output file (.csv, .parquet) or directory")
    p.add_argument("--years", type=_positive_int, default=None, metavar="N",
                   help="number of financial years to simulate (default 3)")
    p.add_argument("--first-year", type=_positive_int, default=None, metavar="YYYY",
                   help="first financial year, by its starting calendar year (default 2020 = 2020/21)")
    p.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                   help="extraction date (default: six months after the last financial year)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "validate", help="check an event log against the victim-journey data standard",
        description="Read an event log (CSV, Parquet, .xlsx or .ods) and check every rule of the victim-journey "
                    "data standard. Prints a summary; exits 0 if the log is valid, 1 if any rule is broken "
                    "or the file cannot be used (with --exclude --out: 0 if valid cases were written).",
    )
    p.add_argument("path", metavar="PATH",
                   help="event log (.csv, .csv.gz, .parquet, .xlsx or .ods; comma, semicolon or tab separated)")
    p.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                   help="extraction date, ISO (2023-09-30): events after it are errors (default: today)")
    p.add_argument("--columns", type=_mapping_item, action="extend", nargs="+", default=None,
                   metavar="STANDARD=COLUMN",
                   help="column mapping, e.g. --columns case_id='Crime Reference' event='Event Type'")
    p.add_argument("--columns-file", default=None, metavar="FILE",
                   help="column mapping file (.csv with header 'standard,column', .json or .toml)")
    p.add_argument("--dayfirst", action="store_true",
                   help="read timestamps written dd/mm/yyyy as day/month/year")
    p.add_argument("--sheet", default=None, metavar="SHEET",
                   help="workbook sheet, by name or 0-based position (default: the first)")
    p.add_argument("--exclude", action="store_true",
                   help="set aside the cases that break a rule: the valid cases go to --out, the set-aside rows "
                        "with their reasons to <out stem>.excluded.csv; exits 0 if valid cases were written")
    p.add_argument("--out", default=None, metavar="PATH",
                   help="write the validated event log here (.csv or .parquet)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "report", help="run the report notebooks and regenerate the figures",
        description="Execute every notebook notebooks/NN-*.ipynb in order with papermill. Executed copies "
                    "go to --out; figures go to figures/ for the embedded synthetic dataset, or to "
                    "OUT/figures when --data, --seed, --as-of, --force or --forces is given. Analyses the data "
                    "cannot support are skipped with a note, listed at the end; the exit code is 0 unless a "
                    "notebook fails.",
    )
    p.add_argument("--data", default=None, metavar="PATH",
                   help="event log to analyse (default: the embedded synthetic national dataset)")
    p.add_argument("--out", default=None, metavar="DIR", help="directory for executed notebooks (default: report/)")
    p.add_argument("--html", action="store_true",
                   help="also make the report as one HTML book in OUT/html/ (open OUT/html/index.html)")
    p.add_argument("--pdf", action="store_true",
                   help="also print the HTML book to OUT/report.pdf with headless Chromium (implies --html)")
    p.add_argument("--seed", type=_seed, default=None, metavar="S", help="random seed of resampling")
    p.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                   help="extraction date, ISO (2023-09-30): cases open then are censored (default: the date of the "
                        "latest event in the data; for the synthetic data, its own extraction date)")
    p.add_argument("--force", action="extend", nargs="+", default=None, metavar="NAME",
                   help="restrict to these police forces (repeatable; quote names with spaces)")
    p.add_argument("--forces", default=None, metavar="PATH",
                   help="force-year table: force, financial_year, dedicated_stalking_officer, and optionally "
                        "population, foi_responded, spo_applications (docs/data-standard.md)")
    p.add_argument("--columns", type=_mapping_item, action="extend", nargs="+", default=None,
                   metavar="STANDARD=COLUMN",
                   help="column mapping of the event log, e.g. --columns case_id='Crime Reference'")
    p.add_argument("--columns-file", default=None, metavar="FILE",
                   help="column mapping file (.csv with header 'standard,column', .json or .toml)")
    p.add_argument("--dayfirst", action="store_true", help="the event log's dates are dd/mm/yyyy")
    p.add_argument("--open-data", default=None, metavar="DIR",
                   help="directory of public data files (Home Office outcomes ...) for notebook 09")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="notebooks run at the same time (default 2; the outputs are the same for any N)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "headlines", help="headline measures from public data (Home Office outcomes, recorded crime, courts)",
        description="One row per measure with year, (force), measure, numerator, denominator and value: "
                    "charged, evidential difficulties (type 15), victim not supporting (type 16), no outcome "
                    "yet, per offence recorded and per outcome assigned; convictions when court outcomes are "
                    "given. Stalking (8Q) and the 43 territorial forces unless told otherwise.",
    )
    p.add_argument("--outcomes", required=True, nargs="+", metavar="FILE",
                   help="Home Office outcomes open data (.csv, .csv.gz, .zip, .xlsx, .ods; several allowed)")
    p.add_argument("--recorded", default=None, nargs="+", metavar="FILE",
                   help="police recorded crime by force area (denominator of the per-recorded measures)")
    p.add_argument("--courts", default=None, nargs="+", metavar="FILE",
                   help="court outcomes table: year, force, proceeded, convicted")
    p.add_argument("--year", default=None, metavar="YYYY/YY", help="one financial year, e.g. 2021/22")
    p.add_argument("--by", choices=["force"], default=None, help="also by force")
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    p.add_argument("--offence-code", action="extend", nargs="+", default=None, metavar="CODE",
                   help="Home Office offence codes (default 8Q stalking; others are reported apart, never summed)")
    p.add_argument("--include-btp", action="store_true", help="include British Transport Police")
    p.set_defaults(func=cmd_headlines)

    p = sub.add_parser(
        "fetch", help="download the published open-data files into a cache",
        description="Download the Home Office open-data files listed in the package's release table "
                    "(attrition/sources/open_data/releases.csv) into a cache directory, checking sha256.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="release names or kinds (default: all)")
    p.add_argument("--cache", default=None, metavar="DIR", help="cache directory (default data/cache/open-data)")
    p.add_argument("--releases", default=None, metavar="CSV", help="another release table")
    p.add_argument("--list", action="store_true", help="list the releases and exit")
    p.add_argument("--require-checksum", action="store_true", help="refuse releases with no checksum on record")
    p.add_argument("--refresh", action="store_true", help="download again even if cached")
    p.set_defaults(func=cmd_fetch)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``attrition`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 success, 1 failure (invalid data, failed notebook), 2 usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
