"""Benchmark the open-data readers on the real Home Office outcomes file for 2018/19 (621,280 rows):
read times from .csv.gz (as distributed), .csv, .xlsx and .ods against a plain pandas read of the same file.
Targets (issue 12): the full year in <= 5 s from CSV/gzip and <= 30 s from xlsx/ods on a 2-core machine.

Run: .venv/bin/python benchmarks/bench_open_data.py [--rows N] [--workdir DIR]

The .xlsx (openpyxl, write-only) and .ods (streamed OpenDocument XML) conversions are written once into
--workdir (default: a temporary directory) and reused on later runs with the same --workdir.
The real file is Crown copyright, Open Government Licence v3.0 (Home Office, police recorded crime and
outcomes open data tables); it is read from ../shared/open-data/ and never copied into the repository.
"""
from __future__ import annotations

import argparse
import gzip
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from attrition import config
from attrition.exceptions import DataQualityWarning
from attrition.sources.open_data import read_outcomes
from attrition.sources.open_data.home_office import load_home_office_outcomes

REAL = config.PROJECT_ROOT.parent / "shared" / "open-data" / "prc-outcomes-open-data-2018-19.csv.gz"
NUMERIC = ("Financial Quarter", "Outcome Type", "Force outcomes for offences recorded in quarter",
           "Force outcomes recorded in quarter")


def _timed(label, fn, reps=1):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    print(f"  {label:58s} {best:7.2f} s", flush=True)
    return out, best


def write_xlsx(df: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Outcomes_open_data")
    ws.append(["Outcomes open data, year ending March 2019"])
    ws.append(list(df.columns))
    num = {c: pd.to_numeric(df[c], errors="coerce") for c in NUMERIC}
    cols = [num[c].where(num[c].notna(), df[c]).astype(object) if c in num else df[c] for c in df.columns]
    for row in zip(*cols):
        ws.append(row)
    wb.save(path)


def write_ods(df: pd.DataFrame, path: Path) -> None:
    """Stream an OpenDocument spreadsheet (content.xml written row by row into the zip)."""
    head = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
            '<office:body><office:spreadsheet><table:table table:name="Outcomes_open_data">')
    tail = "</table:table></office:spreadsheet></office:body></office:document-content>"

    def s(v):
        return f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'

    def f(v):
        return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'

    num = {c: pd.to_numeric(df[c], errors="coerce") for c in NUMERIC}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                   '<manifest:file-entry manifest:full-path="/" '
                   'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                   '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                   "</manifest:manifest>")
        with z.open("content.xml", "w", force_zip64=True) as fh:
            fh.write(head.encode())
            fh.write(("<table:table-row>" + "".join(s(c) for c in df.columns) + "</table:table-row>").encode())
            cols = list(df.columns)
            for i in range(0, len(df), 20_000):  # blocks of rows
                block = df.iloc[i:i + 20_000]
                parts = []
                for j, row in enumerate(block.itertuples(index=False, name=None)):
                    cells = [f(num[c].iat[i + j]) if c in num and num[c].iat[i + j] == num[c].iat[i + j]
                             else s(v) for c, v in zip(cols, row)]
                    parts.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
                fh.write("".join(parts).encode())
            fh.write(tail.encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=None, help="only the first N rows (default: the whole year)")
    ap.add_argument("--workdir", default=None, help="where conversions are written and reused")
    args = ap.parse_args()
    warnings.simplefilter("ignore", DataQualityWarning)  # 5 negative counts in 8Q, 280 overall: as published
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-open-data-"))
    work.mkdir(parents=True, exist_ok=True)
    tag = "all" if args.rows is None else str(args.rows)
    raw = pd.read_csv(REAL, dtype=str, keep_default_na=False, encoding="utf-8-sig", nrows=args.rows)
    print(f"real file: {REAL.name}, {len(raw):,} rows x {raw.shape[1]} columns; workdir {work}")
    gz = REAL
    if args.rows is not None:
        gz = work / f"slice-{tag}.csv.gz"
        with gzip.open(gz, "wt", encoding="utf-8-sig", newline="") as fh:
            raw.to_csv(fh, index=False)
    csv = work / f"outcomes-{tag}.csv"
    if not csv.exists():
        raw.to_csv(csv, index=False, encoding="utf-8-sig")
    xlsx, ods = work / f"outcomes-{tag}.xlsx", work / f"outcomes-{tag}.ods"
    if not xlsx.exists():
        _timed("(convert to .xlsx with openpyxl, once)", lambda: write_xlsx(raw, xlsx))
    if not ods.exists():
        _timed("(convert to .ods, streamed, once)", lambda: write_ods(raw, ods))
    print("\nreads (best of 2 for CSV; 1 for spreadsheets):")
    for label, path, reps in (("csv.gz", gz, 2), ("csv", csv, 2)):
        _timed(f"plain pandas read_csv, all columns as text ({label})",
               lambda p=path: pd.read_csv(p, dtype=str, keep_default_na=False), reps)
        _timed(f"read_outcomes, stalking 8Q, 43 forces ({label})", lambda p=path: read_outcomes(p), reps)
        t, _ = _timed(f"load_home_office_outcomes, every offence ({label})",
                      lambda p=path: load_home_office_outcomes(p, offence_codes=None), reps)
    for label, path in (("xlsx", xlsx), ("ods", ods)):
        _timed(f"plain pandas read_excel(engine='calamine') ({label})",
               lambda p=path: pd.read_excel(p, header=1 if label == "xlsx" else 0, dtype=object, engine="calamine"))
        t2, _ = _timed(f"load_home_office_outcomes, every offence ({label})",
                       lambda p=path: load_home_office_outcomes(p, offence_codes=None))
        assert len(t2) == len(raw), (len(t2), len(raw))
        agree = t2.groupby("force")["count"].sum().round(6).equals(t.groupby("force")["count"].sum().round(6))
        print(f"  {'totals by force agree with the CSV read':58s} {agree}")


if __name__ == "__main__":
    main()
