"""Opening published tables as they come: ``.csv``, ``.csv.gz``, ``.zip``, ``.xlsx``, ``.ods``.

Shared by every open-data reader. A *source* is one table-bearing file: a plain or gzip-compressed
CSV, a member of a zip archive, or a workbook (read whole with python-calamine through pandas, which
is ~20x faster than openpyxl streaming and reads ``.ods`` without odfpy). Header rows are found by
name, below any title and notes rows, with :func:`find_header`.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError

__all__ = ["Source", "expand_sources", "read_sheets", "csv_head", "find_header", "norm_header", "str_cells",
           "HEADER_SCAN_ROWS", "MAX_COUNT"]

HEADER_SCAN_ROWS = 60
#: Largest count accepted in any open-data cell: no force records ten million of one offence in a period.
MAX_COUNT = 10_000_000
CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")
BOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")
_NOTE_RE = re.compile(r"\[\s*note[^\]]*\]", re.IGNORECASE)


@dataclass
class Source:
    """One table-bearing file: ``label`` names it in messages (``archive.zip:member.csv``)."""

    label: str
    kind: str  # "csv" or "book"
    open: Callable[[], io.BufferedIOBase]  # binary handle, decompressed
    path: Path | None = None  # workbook path on disk (zip members are extracted to a temp dir)
    suffix: str = ""


def _suffix(name: str) -> str:
    low = name.lower()
    for s in (*CSV_SUFFIXES, *BOOK_SUFFIXES, ".zip", ".gz"):
        if low.endswith(s):
            return s
    return Path(low).suffix


def expand_sources(paths: Iterable, tmpdir: Path, what: str) -> list[Source]:
    """Turn the user's path(s) into sources; zip archives give one source per table member.

    Raises
    ------
    FileNotFoundError, DataValidationError
        A path does not exist; an empty file; an unsupported type; a zip without a table.
    """
    out: list[Source] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise FileNotFoundError(f"{what} not found: {p}")
        if p.is_dir():
            raise DataValidationError(f"{p}: is a directory; pass the {what} file itself.")
        if p.stat().st_size == 0:
            raise DataValidationError(f"{p.name}: the file is empty; expected the {what}.")
        suf = _suffix(p.name)
        if suf in (".csv", ".txt"):
            out.append(Source(p.name, "csv", lambda p=p: open(p, "rb"), p, suf))
        elif suf in (".csv.gz", ".txt.gz", ".gz"):
            out.append(Source(p.name, "csv", lambda p=p: gzip.open(p, "rb"), p, suf))
        elif suf in BOOK_SUFFIXES:
            out.append(Source(p.name, "book", lambda p=p: open(p, "rb"), p, suf))
        elif suf == ".zip":
            out += _zip_sources(p, tmpdir, what)
        else:
            raise DataValidationError(
                f"{p.name}: unsupported file type {p.suffix!r}; expected .csv, .csv.gz, .zip, .xlsx or .ods.")
    return out


def _zip_sources(p: Path, tmpdir: Path, what: str) -> list[Source]:
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as err:
        raise DataValidationError(f"{p.name}: not a readable zip archive ({err}).") from err
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                   and _suffix(m.filename) in (".csv", ".csv.gz", *BOOK_SUFFIXES)]
        if not members:
            raise DataValidationError(
                f"{p.name}: the zip archive holds no .csv, .xlsx or .ods table "
                f"(members: {[m.filename for m in zf.infolist()][:8]}).")
        out = []
        for m in members:
            label = f"{p.name}:{m.filename}"
            suf = _suffix(m.filename)
            if suf in BOOK_SUFFIXES:
                dest = Path(tmpdir) / f"{len(out)}{suf}"
                with zf.open(m) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.append(Source(label, "book", lambda d=dest: open(d, "rb"), dest, suf))
            else:
                def opener(p=p, name=m.filename, gz=suf.endswith(".gz")):
                    return _ZipMember(p, name, gz)
                out.append(Source(label, "csv", opener, p, suf))
    return out


class _ZipMember(io.RawIOBase):
    """A readable zip member that closes its archive when it is closed (no file handle left to the GC)."""

    def __init__(self, path: Path, name: str, gz: bool):
        self._zf = zipfile.ZipFile(path)
        self._raw = self._zf.open(name)
        self._fh = gzip.GzipFile(fileobj=self._raw) if gz else self._raw

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._fh.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            for h in (self._fh, self._raw, self._zf):
                h.close()
        super().close()


def csv_encoding(src: Source) -> str:
    """``utf-8-sig`` if the whole file decodes as UTF-8, else ``cp1252``."""
    with src.open() as fh:
        dec = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        try:
            while dec.read(1 << 22):
                pass
            return "utf-8-sig"
        except UnicodeDecodeError:
            return "cp1252"


def csv_head(src: Source, encoding: str, n: int = HEADER_SCAN_ROWS) -> list[list[str]]:
    """The first ``n`` rows of a CSV source as lists of cells."""
    with src.open() as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, newline="")
        head = []
        for i, cells in enumerate(csv.reader(text)):
            head.append(cells)
            if i + 1 >= n:
                break
    return head


def read_sheets(src: Source):
    """Every sheet of a workbook source as a raw object DataFrame (no header), via python-calamine.

    Yields
    ------
    (sheet name, pandas.DataFrame)
    """
    try:
        sheets = pd.read_excel(src.path, sheet_name=None, header=None, dtype=object, engine="calamine")
    except ImportError as err:  # pragma: no cover - calamine is a dependency
        raise DataValidationError(
            f"{src.label}: reading spreadsheets needs python-calamine ({err}); save the table as .csv.") from err
    except Exception as err:  # calamine raises its own error types for corrupt files
        raise DataValidationError(f"{src.label}: cannot read the spreadsheet ({type(err).__name__}: {err}).") from err
    yield from sheets.items()


def norm_header(value) -> str:
    """Header cell as a matching key: lower case, letters and digits only, ``[note n]`` and BOM removed."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    s = _NOTE_RE.sub("", str(value).replace("\ufeff", ""))
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def map_header(cells: Sequence, aliases: dict[str, str]) -> dict[str, int]:
    """field -> position for one header row (first occurrence wins); ``aliases`` maps key -> field."""
    out: dict[str, int] = {}
    for i, c in enumerate(cells):
        f = aliases.get(norm_header(c))
        if f is not None and f not in out:
            out[f] = i
    return out


def find_header(rows: Iterable[Sequence], aliases: dict[str, str], required: Sequence[str]):
    """First row holding every ``required`` field: ``(index, colmap, cells)``; else ``(None, best, cells)``."""
    best: tuple[int, dict, list] = (-1, {}, [])
    for i, cells in enumerate(rows):
        m = map_header(cells, aliases)
        if all(f in m for f in required):
            return i, m, list(cells)
        if len(m) > len(best[1]):
            best = (i, m, list(cells))
    return None, best[1], best[2]


def shown_headers(cells: Sequence) -> list[str]:
    return [str(c) for c in cells if c is not None and str(c).strip() not in ("", "nan")]


def str_cells(s: pd.Series) -> pd.Series:
    """Cells as stripped strings (``<NA>`` for empty; 3.0 -> "3"), computed once per distinct value."""
    codes, uniq = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    u = pd.Series(uniq, dtype=object)
    u = u.map(lambda v: v if isinstance(v, str) else (str(int(v)) if isinstance(v, float) and v.is_integer()
                                                       else str(v)))
    u = u.astype("string").str.strip()
    u = u.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    u = u.mask(u == "")
    vals = np.append(u.to_numpy(dtype=object, na_value=pd.NA), pd.NA)[codes]
    return pd.Series(vals, index=s.index, dtype="string")


class TempDir:
    """A temporary directory removed on exit (zip members extracted for calamine)."""

    def __enter__(self) -> Path:
        self._d = tempfile.mkdtemp(prefix="attrition-open-data-")
        return Path(self._d)

    def __exit__(self, *exc):
        shutil.rmtree(self._d, ignore_errors=True)
        return False


def as_paths(path, what: str) -> list[Path]:
    """One path or a sequence of them (never an open file object)."""
    if hasattr(path, "read"):
        raise TypeError(f"{what} files are read by path (str or os.PathLike), not as open file objects.")
    if isinstance(path, (str, os.PathLike)):
        return [Path(path)]
    paths = [Path(p) for p in path]
    if not paths:
        raise DataValidationError(f"No file given: pass the path of a {what} (or a list of them).")
    return paths
