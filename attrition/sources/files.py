"""Opening tabular files safely: what a file is, how its text is encoded, and how much of it may be read.

Every failure is a :class:`~attrition.exceptions.DataValidationError` whose message names the file, what is wrong
and the file rule it breaks (``err.rule``, one of ``attrition.standard.FILE_RULES``), never a raw traceback from
a parser or decompressor.

* Only regular files are read (not directories, FIFOs, devices or sockets: ``/dev/zero`` never ends).
* The content must match the name: a gzip file is named ``.gz``, Parquet ``.parquet``, a workbook ``.xlsx`` ...
* Text is UTF-8 (a BOM is tolerated), UTF-16 with a BOM (or with the zero bytes of plain UTF-16 text), or else
  Windows-1252; anything else is refused by name.
* Limits: at most ``max_bytes`` of (decompressed) text and ``max_rows`` rows; a compressed stream that expands
  more than :data:`MAX_RATIO`-fold is stopped as soon as that is seen, so a gzip bomb is never read to the end.
"""
from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import release_memory
from ..exceptions import DataValidationError

__all__ = ["MAX_BYTES", "MAX_ROWS", "MAX_RATIO", "Source", "refuse", "check_regular_file", "file_format",
           "read_delimited", "read_parquet", "read_workbook"]

#: Largest amount of (decompressed) text read from one file, in bytes (1 GiB).
MAX_BYTES = 1 << 30
#: Most rows read from one file.
MAX_ROWS = 20_000_000
#: Largest expansion of a compressed file (decompressed / compressed bytes) once 16 MiB are out.
MAX_RATIO = 200
_RATIO_AFTER = 16 << 20
_SNIFF = 1 << 16

_MAGIC = {
    "gzip": b"\x1f\x8b", "zip": b"PK\x03\x04", "parquet": b"PAR1", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd", "ole": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "empty zip": b"PK\x05\x06",
    "7z": b"7z\xbc\xaf\x27\x1c", "pdf": b"%PDF", "png": b"\x89PNG",
}
_WHAT = {"gzip": "a gzip-compressed file", "zip": "a ZIP archive (or an .xlsx/.ods workbook)", "parquet": "a Parquet file",
         "bzip2": "a bzip2-compressed file", "xz": "an xz-compressed file", "zstd": "a Zstandard-compressed file",
         "ole": "an old-style Office file (Excel 97-2003 .xls?)", "empty zip": "an empty ZIP archive",
         "7z": "a 7-Zip archive", "pdf": "a PDF document", "png": "a PNG image"}
_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip"}
_TEXT = (".csv", ".txt", ".tsv")


@dataclass
class Source:
    """Where a table came from, so problems can be located as its user sees them.

    Attributes
    ----------
    path : str
    unit : {"line", "row"}
        ``"line"`` for delimited text and workbooks (the header is line 1, as a spreadsheet numbers rows);
        ``"row"`` for Parquet and data frames (the first data row is row 1).
    first : int
        Number of the first data row in that unit (2 for a one-line header, 1 for rows).
    notes : list of str
        What was done while reading (encoding, delimiter, skipped title rows).
    """

    path: str = "the event log"
    unit: str = "row"
    first: int = 1
    notes: list = field(default_factory=list)

    def where(self, positions) -> str:
        """``"lines 2, 7"`` for 0-based data-row positions."""
        nums = [str(int(p) + self.first) for p in positions]
        return f"{self.unit}{'s' if len(nums) != 1 else ''} {', '.join(nums)}"

    def to_attrs(self) -> dict:
        return {"path": self.path, "unit": self.unit, "first": self.first, "notes": list(self.notes)}

    @classmethod
    def from_attrs(cls, attrs) -> "Source":
        a = attrs.get("source") if isinstance(attrs, dict) else None
        return cls(**a) if isinstance(a, dict) else cls()


def refuse(path, rule: str, message: str, exc=DataValidationError):
    """Raise ``exc`` with a message naming the file and the rule."""
    raise exc(f"{path}: {message} (rule {rule})", rule=rule)


# ------------------------------------------------------------------------------------------- what it is
def check_regular_file(path: Path) -> os.stat_result:
    """``os.stat`` of a readable regular file, else refuse (not_found, not_a_regular_file)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        refuse(path, "not_found", "no such file")
    except (PermissionError, OSError) as err:
        refuse(path, "not_found", f"cannot be opened ({err.strerror or err})")
    mode = st.st_mode
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        refuse(path, "not_a_regular_file", f"is {kind}, not a file; give the path of an event-log file")
    if not os.access(path, os.R_OK):
        refuse(path, "not_found", "cannot be opened (permission denied)")
    return st


def file_format(path: Path) -> tuple[str, str | None]:
    """``(format, compression)`` from the file name: format in {"text", "parquet", "workbook"}."""
    name = path.name.lower()
    compression = None
    for ext, comp in _COMPRESSIONS.items():
        if name.endswith(ext):
            compression, name = comp, name[: -len(ext)]
            break
    if compression == "zip" and not name.endswith(_TEXT):
        return "text", "zip"          # a plain .zip holding one CSV
    if name.endswith(_TEXT):
        return "text", compression
    if compression is None and name.endswith((".parquet", ".pq")):
        return "parquet", None
    if compression is None and name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        return "workbook", None
    refuse(path, "unsupported_type", f"unsupported file type {path.suffix!r}: use .csv (optionally .gz, .bz2, .xz "
                                     "or .zip), .parquet, .xlsx or .ods")


def _magic(head: bytes) -> str | None:
    for kind, sig in _MAGIC.items():
        if head.startswith(sig):
            return kind
    return None


def check_content(path: Path, fmt: str, compression: str | None, size: int) -> None:
    """Refuse a file whose first bytes say it is something other than its name says (mislabelled_file)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        tail = b""
        if fmt == "parquet" and size >= 8:
            fh.seek(-4, os.SEEK_END)
            tail = fh.read(4)
    kind = _magic(head)
    if size == 0:
        refuse(path, "empty", "is empty (0 bytes)")
    if fmt == "text" and compression is None:
        if kind is not None:
            hint = {"gzip": " name it .csv.gz", "parquet": " name it .parquet", "bzip2": " name it .csv.bz2",
                    "xz": " name it .csv.xz", "zip": " name it .zip, .xlsx or .ods as it is",
                    "ole": " open it in Excel and save it as .xlsx or CSV"}.get(kind, "")
            refuse(path, "mislabelled_file", f"is {_WHAT[kind]}, not delimited text, but is named "
                                             f"{path.suffix!r};{hint or ' save the event log as CSV'}")
        return
    if fmt == "text":
        want = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zip": "zip"}[compression]
        if kind != want:
            what = _WHAT.get(kind, "plain text" if _looks_text(head) else "not a valid " + want + " file")
            refuse(path, "mislabelled_file", f"is named {path.suffix!r} but is {what}; "
                                             f"{'rename it' if kind or _looks_text(head) else 'the file is damaged'}")
        return
    if fmt == "parquet":
        if kind != "parquet":
            what = _WHAT.get(kind, "text (a CSV?)" if _looks_text(head) else "not Parquet")
            refuse(path, "mislabelled_file", f"is named {path.suffix!r} but is {what}")
        if tail != b"PAR1":
            refuse(path, "corrupt_file", "is a truncated or damaged Parquet file (no Parquet footer)")
        return
    ext = path.suffix.lower()
    want = "ole" if ext == ".xls" else "zip"
    if kind != want and not (ext == ".xls" and kind == "zip"):
        what = _WHAT.get(kind, "text (a CSV?)" if _looks_text(head) else "not a workbook")
        refuse(path, "mislabelled_file", f"is named {ext!r} but is {what}")


def _looks_text(head: bytes) -> bool:
    return bool(head) and all(b in b"\t\r\n" or 32 <= b < 127 or b >= 128 for b in head) and b"\x00" not in head


# ---------------------------------------------------------------------------------- limited byte streams
class _Limited(io.RawIOBase):
    """Counts what a decompressor yields; stops past ``max_bytes`` or a ``MAX_RATIO`` expansion."""

    def __init__(self, inner, raw, path, max_bytes):
        self._inner, self._raw, self._path, self._max = inner, raw, path, max_bytes
        self.total = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self._inner.readinto(b)
        self.total += n
        if self.total > self._max:
            refuse(self._path, "too_large", f"decompresses to more than {_size(self._max)} (max_bytes); "
                                            "split the extract or raise max_bytes")
        if self.total > _RATIO_AFTER and self._raw is not None:
            used = max(self._raw.tell(), 1)
            if self.total > MAX_RATIO * used:
                refuse(self._path, "too_large", f"expands more than {MAX_RATIO}-fold when decompressed "
                                                f"({_size(used)} gave {_size(self.total)}): a decompression bomb "
                                                "or not an event log; reading stopped")
        return n

    def close(self):
        try:
            self._inner.close()
            if self._raw is not None:
                self._raw.close()
        finally:
            super().close()


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def _open_bytes(path: Path, compression: str | None, size: int, max_bytes: int):
    """A binary stream of the file's content (decompressed and limited); None for a plain file."""
    if compression is None:
        if size > max_bytes:
            refuse(path, "too_large", f"is {_size(size)}, more than max_bytes ({_size(max_bytes)}); split the "
                                      "extract or raise max_bytes")
        return None
    if compression == "zip":
        try:
            zf = zipfile.ZipFile(path)
            members = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            refuse(path, "corrupt_file", f"is not a readable ZIP archive ({err})")
        if len(members) != 1:
            zf.close()
            refuse(path, "corrupt_file", f"a ZIP archive must hold exactly one CSV file; this one holds "
                                         f"{len(members)} files")
        info = members[0]
        if info.file_size > max_bytes:
            zf.close()
            refuse(path, "too_large", f"holds {_size(info.file_size)} of text, more than max_bytes ({_size(max_bytes)})")
        if info.file_size > _RATIO_AFTER and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            zf.close()
            refuse(path, "too_large", f"expands more than {MAX_RATIO}-fold when decompressed: a decompression "
                                      "bomb or not an event log; not read")
        try:
            inner = zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as err:
            zf.close()
            refuse(path, "corrupt_file", f"cannot open {info.filename!r} in the archive ({err})")
        return io.BufferedReader(_Limited(inner, None, path, max_bytes))
    raw = open(path, "rb")
    inner = {"gzip": lambda: gzip.GzipFile(fileobj=raw, mode="rb"), "bzip2": lambda: bz2.BZ2File(raw, "rb"),
             "xz": lambda: lzma.LZMAFile(raw, "rb")}[compression]()
    return io.BufferedReader(_Limited(inner, raw, path, max_bytes), buffer_size=1 << 20)


_DECOMPRESS_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, zipfile.BadZipFile, OSError)


def _read_head(path, compression, size, max_bytes) -> bytes:
    stream = _open_bytes(path, compression, size, max_bytes)
    try:
        if stream is None:
            with open(path, "rb") as fh:
                return fh.read(_SNIFF)
        return stream.read(_SNIFF)
    except DataValidationError:
        raise
    except _DECOMPRESS_ERRORS as err:
        refuse(path, "corrupt_file", f"is a damaged or truncated {compression} file ({err})")
    finally:
        if stream is not None:
            stream.close()


# ------------------------------------------------------------------------------------------ encodings
def sniff_encoding(path, head: bytes) -> str:
    """Encoding of delimited text from its first bytes (see the module notes); refuse what is not text."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        refuse(path, "encoding", "is UTF-32 text, which is not supported; save it as UTF-8")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
        refuse(path, "encoding", "is binary data (it contains zero bytes), not text; an event log must be CSV "
                                 "text, Parquet or a workbook")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        refuse(path, "encoding", "is not UTF-8, UTF-16 or Windows-1252 text; save it as UTF-8 CSV")


def _sniff_sep(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    sep = max(counts, key=lambda d: (counts[d], d == ","))
    return sep if counts[sep] else ","


def _header_fields(path, text: str, wanted=()) -> tuple[str, list[str], int]:
    """Delimiter, header names and the number of lines above the header, from the first lines of decoded text.

    The header is the first line that holds every name in ``wanted`` (normalised), searched in the first 20
    lines, so title lines above a table (as spreadsheets export them) are skipped; else the first line.
    """
    lines = text.splitlines()
    # a file of blanks and delimiters alone (",,,", ";;", tabs) has no header
    if not any(ln.strip(" \t,;|\"'\x00\ufeff") for ln in lines):
        refuse(path, "empty", "has no header line (only blank lines, spaces or delimiters)")
    first = next((ln for ln in lines if ln.strip()), "")
    skip = 0
    if wanted:
        from ..standard.identifiers import normalise_column

        want = set(wanted)
        for i, ln in enumerate(lines[:20]):
            try:
                names = next(csv.reader([ln], delimiter=_sniff_sep(ln)), [])
            except csv.Error:
                continue
            if want <= {normalise_column(n) for n in names}:
                skip, first = i, ln
                break
    sep = _sniff_sep(first)
    try:
        header = next(csv.reader(io.StringIO("\n".join(lines[skip:])), delimiter=sep))
    except (csv.Error, StopIteration):
        header = first.split(sep)
    return sep, header, skip


# ------------------------------------------------------------------------------------------ readers
def read_delimited(path: Path, *, compression, size: int, max_bytes: int, max_rows: int, source: Source,
                   wanted=()):
    """Read delimited text as categorical columns; returns ``(frame, header)``.

    The header is parsed separately, so duplicated names are seen as they are (pandas would rename them). It is
    the first line within the first 20 that holds every name in ``wanted`` (else the first line), so title lines
    above the table are skipped; line numbers stay the file's (``source.first``).
    """
    head = _read_head(path, compression, size, max_bytes)
    enc = sniff_encoding(path, head)
    text = head.decode(enc, errors="ignore")
    sep, header, skip = _header_fields(path, text.lstrip("\ufeff"), wanted)
    if skip:
        source.first = skip + 2
        source.notes.append(f"header found on line {skip + 1} ({skip} title line(s) above it skipped)")
    names = {"utf-8-sig": None, "utf-8": None, "cp1252": "Windows-1252", "utf-16": "UTF-16",
             "utf-16-le": "UTF-16 (little-endian, no BOM)", "utf-16-be": "UTF-16 (big-endian, no BOM)"}
    if names.get(enc):
        source.notes.append(f"read as {names[enc]} text")
    if sep != ",":
        source.notes.append(f"fields separated by {'tab' if sep == chr(9) else repr(sep)}")
    enc_read = "utf-8-sig" if enc == "utf-8" else enc

    def attempt(encoding, **kw):
        stream = _open_bytes(path, compression, size, max_bytes)
        try:
            return pd.read_csv(path if stream is None else stream, dtype="category", keep_default_na=False,
                               na_values=["", "NA"], encoding=encoding, sep=sep, skip_blank_lines=False,
                               nrows=max_rows + 1, skiprows=skip or None, **kw)
        finally:
            if stream is not None:
                stream.close()

    try:
        try:
            df = attempt(enc_read)
        except UnicodeDecodeError:
            if enc not in ("utf-8", "utf-8-sig"):
                raise
            enc_read = "cp1252"      # UTF-8 at the start, something else later: Windows-1252 is the usual
            df = attempt(enc_read)
            source.notes.append("read as Windows-1252 text (not valid UTF-8)")
    except DataValidationError:
        raise
    except UnicodeDecodeError as err:
        refuse(path, "encoding", f"is not valid {names.get(enc) or 'UTF-8'} or Windows-1252 text (byte "
                                 f"{err.start} of a block); save it as UTF-8 CSV")
    except pd.errors.EmptyDataError:
        refuse(path, "empty", "has no header and no rows")
    except pd.errors.ParserError as err:
        _parser_error(path, err, compression, size, max_bytes, enc_read, sep, len(header), skip)
    except _DECOMPRESS_ERRORS as err:
        refuse(path, "corrupt_file", f"is a damaged or truncated {compression or ''} file ({err})".replace("  ", " "))
    except MemoryError:
        refuse(path, "too_large", "does not fit in memory; split the extract")
    if not isinstance(df.index, pd.RangeIndex):
        # every data row has more fields than the header: pandas would silently take the first fields as an index
        lines, n_bad, extra_filled = _ragged_lines(path, compression, size, max_bytes, enc_read, sep, len(header),
                                                   with_content=True, skip=skip)
        if extra_filled or not n_bad:
            _refuse_ragged(path, lines, n_bad, len(header), sep)
        import warnings

        with warnings.catch_warnings():   # the extra fields are all empty: a delimiter at the end of each row
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            df = attempt(enc_read, index_col=False)
        source.notes.append(f"{n_bad:,} row(s) end with an empty field the header does not have (ignored)")
    if len(df) > max_rows:
        refuse(path, "too_many_rows", f"has more than max_rows ({max_rows:,}) rows; split the extract or raise max_rows")
    return df, header


def _parser_error(path, err, compression, size, max_bytes, encoding, sep, n_header, skip=0):
    msg = str(err)
    if "EOF inside string" in msg or "EOF following escape" in msg:
        import re
        m = re.search(r"row (\d+)", msg)
        where = f" (a quote opened in data row {int(m.group(1)) + 1}, line {int(m.group(1)) + 2} or later, is never closed)" if m else ""
        refuse(path, "csv_syntax", f"ends inside a quoted field{where}; check the quotes")
    if "Expected" in msg and "fields" in msg:
        lines, n_bad = _ragged_lines(path, compression, size, max_bytes, encoding, sep, n_header, skip=skip)
        _refuse_ragged(path, lines, n_bad, n_header, sep)
    refuse(path, "csv_syntax", f"cannot be parsed as delimited text ({msg.strip()})")


def _refuse_ragged(path, lines, n_bad, n_header, sep):
    shown = ", ".join(f"line {ln} ({k} fields)" for ln, k in lines)
    hint = (" (the first line has a single field: is there a title line above the header? remove it)"
            if n_header == 1 else f"; quote fields that contain the delimiter {sep!r}")
    refuse(path, "ragged_rows", f"{n_bad:,} row(s) have more fields than the header's {n_header}: {shown}"
                                f"{' ...' if n_bad > len(lines) else ''}{hint}")


def _ragged_lines(path, compression, size, max_bytes, encoding, sep, n_header, limit=5, with_content=False,
                  skip=0):
    """Lines (as an editor numbers them) whose row has more fields than the header: the first few and a count
    (and, with ``with_content``, whether any of the extra fields holds something)."""
    stream = _open_bytes(path, compression, size, max_bytes)
    fh = io.TextIOWrapper(stream if stream is not None else open(path, "rb"), encoding=encoding,
                          errors="replace", newline="")
    bad, n_bad, filled = [], 0, False
    try:
        for _ in range(skip):        # title lines above the header
            fh.readline()
        reader = csv.reader(fh, delimiter=sep)
        next(reader, None)
        for row in reader:
            if len(row) > n_header:
                n_bad += 1
                filled = filled or any(f.strip() for f in row[n_header:])
                if len(bad) < limit:
                    bad.append((reader.line_num + skip, len(row)))
    except csv.Error:
        pass
    finally:
        fh.close()
    return (bad, n_bad, filled) if with_content else (bad, n_bad)


def read_parquet(path: Path, *, max_bytes: int, max_rows: int):
    """Read Parquet after checking its metadata: row count, nested columns, dates pandas cannot hold."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        meta = pf.metadata
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as err:
        refuse(path, "corrupt_file", f"is not a readable Parquet file ({err})")
    if meta.num_rows > max_rows:
        refuse(path, "too_many_rows", f"has {meta.num_rows:,} rows, more than max_rows ({max_rows:,})")
    nbytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if nbytes > 4 * max_bytes:
        refuse(path, "too_large", f"holds {_size(nbytes)} of uncompressed data, more than 4 x max_bytes")
    names = list(schema.names)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        refuse(path, "duplicate_column", f"column(s) {dup} appear more than once")
    nested = [f.name for f in schema if pa.types.is_nested(f.type)]
    if nested:
        refuse(path, "nested_column", f"column(s) {nested} hold lists, structs or maps; the standard needs one "
                                      "value per cell")
    try:
        table = pf.read()
    except (pa.ArrowException, OSError, ValueError) as err:
        refuse(path, "corrupt_file", f"is a damaged Parquet file ({err})")
    import datetime as _dt

    lo, hi = _dt.datetime(1677, 9, 22), _dt.datetime(2262, 4, 11)   # what pandas' nanoseconds can hold
    for f in table.schema:
        if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
            col = table.column(f.name)
            as_ts = col.cast(pa.timestamp("us")) if pa.types.is_date(f.type) else col
            if pa.types.is_timestamp(f.type) and f.type.tz is not None:
                as_ts = as_ts.cast(pa.timestamp(f.type.unit))
            lo_s, hi_s = pa.scalar(lo, pa.timestamp("us")), pa.scalar(hi, pa.timestamp("us"))
            bad = pc.or_(pc.less(as_ts.cast(pa.timestamp("us")), lo_s), pc.greater(as_ts.cast(pa.timestamp("us")), hi_s))
            bad = np.asarray(bad.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            if bad.any():
                where = Source(unit="row", first=1).where(np.flatnonzero(bad)[:5])
                refuse(path, "timestamp_out_of_range", f"column {f.name!r} has dates outside the years 1678-2261 "
                                                       f"in {int(bad.sum())} row(s) ({where}); check the dates")
    # an empty (or blank) string is a missing value, as an empty cell of a CSV is: tools that write Parquet from
    # text often store "" where a value is absent
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            col = table.column(i)
            blank = pc.equal(pc.utf8_trim_whitespace(col), "")
            if pc.any(blank).as_py():
                table = table.set_column(i, f, pc.if_else(blank, pa.scalar(None, f.type), col))
    try:
        df = table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as err:
        refuse(path, "corrupt_file", f"cannot be converted to a table ({type(err).__name__}: {err})")
    del table
    release_memory()  # Arrow's pool keeps the whole decoded file otherwise (5M events: 360 MiB)
    return df


def read_workbook(path: Path, *, sheet, size: int, max_bytes: int, max_rows: int, source: Source,
                  wanted=()):
    """Read one sheet of an .xlsx/.ods/.xls workbook as text; returns ``(frame, header)``.

    The header is the first row within the first 20 that holds every name in ``wanted`` (else the first
    non-empty row), so title rows above a table are skipped; line numbers stay the sheet's row numbers.
    """
    if path.suffix.lower() != ".xls":
        try:
            with zipfile.ZipFile(path) as zf:
                total = sum(i.file_size for i in zf.infolist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            refuse(path, "corrupt_file", f"is a damaged workbook ({err})")
        if total > max_bytes:
            refuse(path, "too_large", f"unpacks to {_size(total)}, more than max_bytes ({_size(max_bytes)})")
        if total > _RATIO_AFTER and total > MAX_RATIO * max(size, 1):
            refuse(path, "too_large", f"expands more than {MAX_RATIO}-fold when unpacked: not read")
    try:
        book = pd.ExcelFile(path, engine="calamine")
        sheets = list(book.sheet_names)
    except Exception as err:  # calamine raises its own error types for every kind of damage
        refuse(path, "corrupt_file", f"is not a readable workbook ({type(err).__name__}: {err})")
    if sheet is None:
        chosen = sheets[0] if sheets else None
    elif sheet in sheets:
        chosen = sheet
    elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit()):
        k = int(sheet)
        chosen = sheets[k] if 0 <= k < len(sheets) else None
    else:
        chosen = None
    if chosen is None:
        book.close()
        refuse(path, "sheet_not_found", f"has no sheet {sheet!r}; sheets: {sheets}")
    try:
        raw = pd.read_excel(book, sheet_name=chosen, header=None, dtype=object, nrows=max_rows + 25)
    except Exception as err:
        refuse(path, "corrupt_file", f"sheet {chosen!r} cannot be read ({type(err).__name__}: {err})")
    finally:
        book.close()
    if len(sheets) > 1:
        source.notes.append(f"read sheet {chosen!r} of {len(sheets)}")
    filled = raw.notna().any(axis=1).to_numpy()
    if not filled.any():
        refuse(path, "empty", f"sheet {chosen!r} is empty")
    from ..standard.identifiers import normalise_column

    want = set(wanted)
    first_filled = int(np.flatnonzero(filled)[0])
    h = first_filled
    for i in range(first_filled, min(first_filled + 20, len(raw))):
        names = {normalise_column(v) for v in raw.iloc[i].dropna().astype(str)}
        if want and want <= names:
            h = i
            break
    if h > first_filled:
        source.notes.append(f"header found on line {h + 1} of sheet {chosen!r} (rows above it skipped)")
    header = ["" if pd.isna(v) else str(v) for v in raw.iloc[h]]
    data = raw.iloc[h + 1:].reset_index(drop=True)
    if len(data) > max_rows:
        refuse(path, "too_many_rows", f"has more than max_rows ({max_rows:,}) rows")
    for c in data.columns:   # cells as text (dates as ISO text), as a CSV export would give them
        s = data[c]
        data[c] = s.astype(str).where(s.notna(), None)
    source.first = h + 2
    return data, header
