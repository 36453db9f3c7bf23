"""Victim-journey event logs: read, validate, and derive the case table.

Data flow: event log (the standard, ``attrition/standard/events.schema.json``) -> :func:`read_events` (CSV,
compressed CSV, Parquet, .xlsx or .ods as analysts export them, with a column mapping) ->
:func:`validate_events` -> :func:`to_cases` (one row per case) -> models. Nothing is silently dropped: every
excluded row is listed in a :class:`ValidationReport` with its reason and its line in the file.
"""
from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import standard as S
from .._utils import release_memory
from ..exceptions import DataQualityWarning, DataValidationError, IdentifierColumnError
from ..standard.identifiers import KIND_LABELS, identifier_name, normalise_column, scan_text
from . import files as F
from .files import MAX_BYTES, MAX_ROWS, Source, refuse
from .forces import load_force_table, normalise_force_names

__all__ = ["ValidationReport", "read_events", "read_column_mapping", "validate_events", "load_events", "to_cases",
           "financial_year", "MAX_BYTES", "MAX_ROWS"]

_DAY_NS = 86_400 * 10**9
_N_EXAMPLES = 5
_CATEGORY_COLUMNS = ("force", "event", "offence", "order_type", "decision", "reason", "result", "risk", "relationship")
#: dd/mm/yyyy (or dd-mm-yyyy, dd.mm.yyyy), optionally with a time
_DMY = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
_PARTIAL = r"\d{4}(?:[-/]\d{1,2})?"
#: A time followed by a UTC offset or ``Z`` (``13:20Z``, ``13:20:05+01:00``): the value names its own time zone.
_OFFSET = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"


# --------------------------------------------------------------------------------------------- reading
def _normalise_column(name: str) -> str:
    return normalise_column(name)


def _mapping(columns, where="columns") -> dict:
    """Check a column mapping ``{standard name: name in the file}``."""
    if columns is None:
        return {}
    if not isinstance(columns, dict):
        raise DataValidationError(f"{where}: a column mapping is a dict {{standard name: name in the file}}, "
                                  f"not {type(columns).__name__}", rule="column_mapping")
    out = {}
    for std, src in columns.items():
        key = normalise_column(std)
        if key not in S.FIELDS:
            raise DataValidationError(f"{where}: {std!r} is not a field of the standard; fields: {list(S.FIELDS)} "
                                      "(rule column_mapping)", rule="column_mapping")
        if not isinstance(src, str) or not src.strip():
            raise DataValidationError(f"{where}: the file column for {std!r} must be a non-empty name, got {src!r} "
                                      "(rule column_mapping)", rule="column_mapping")
        out[key] = src
    rev = {}
    for k, v in out.items():
        rev.setdefault(v, []).append(k)
    both = {v: ks for v, ks in rev.items() if len(ks) > 1}
    if both:
        raise DataValidationError(f"{where}: one file column mapped to several fields: {both} (rule column_mapping)",
                                  rule="column_mapping")
    return out


def read_column_mapping(path) -> dict:
    """Read a column mapping file: standard field name -> column name in the extract.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` with a header ``standard,column`` (one field per line); ``.json`` with one object
        ``{"case_id": "Crime Reference", ...}``; or ``.toml`` with ``case_id = "Crime Reference"`` lines (at the top
        or in a ``[columns]`` table).

    Returns
    -------
    dict
        ``{standard name: name in the file}``, ready for ``read_events(path, columns=...)``.

    Raises
    ------
    DataValidationError
        Unreadable file, unknown standard name, or one file column mapped twice (rule ``column_mapping``).
    """
    path = Path(path)
    F.check_regular_file(path)
    suffix = path.suffix.lower()
    if path.stat().st_size > 1 << 20:
        refuse(path, "column_mapping", "is too large for a column mapping (over 1 MiB)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        refuse(path, "column_mapping", "is not UTF-8 text")
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
            data = data.get("columns", data)
        elif suffix in (".csv", ".txt"):
            import csv
            import io

            rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
            head = [normalise_column(c) for c in rows[0]] if rows else []
            if head[:2] != ["standard", "column"]:
                refuse(path, "column_mapping", "a CSV column mapping needs the header 'standard,column'")
            bad = [i + 2 for i, r in enumerate(rows[1:]) if len(r) != 2]
            if bad:
                refuse(path, "column_mapping", f"line(s) {bad[:5]} do not have exactly two fields")
            data = {r[0].strip(): r[1].strip() for r in rows[1:]}
        else:
            refuse(path, "column_mapping", "a column mapping is a .csv, .json or .toml file")
    except DataValidationError:
        raise
    except ValueError as err:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        refuse(path, "column_mapping", f"cannot be parsed ({err})")
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        refuse(path, "column_mapping", "must map each standard field name to one column name (text)")
    return _mapping(data, where=str(path))


def _check_columns(df: pd.DataFrame, columns=None) -> pd.DataFrame:
    """Structural checks that make a file unusable as a whole (raise, never exclude).

    Applies the column mapping, normalises the other names, and refuses duplicated, missing or identifying
    columns and identifying values. Returns a new frame (the caller's is never modified).
    """
    src = Source.from_attrs(df.attrs)
    where = src.path
    if df.shape[0] == 0:
        refuse(where, "empty", "the event log is empty: it has no rows (an empty file or only a header)")
    mapping = _mapping(columns)
    raw = [("" if c is None or (isinstance(c, float) and np.isnan(c)) else str(c)) for c in df.columns]
    notes = []
    # unnamed columns: dropped when empty (a trailing delimiter), else kept under a made-up name
    unnamed = [i for i, c in enumerate(raw) if not c.strip() or re.fullmatch(r"Unnamed: \d+", c)]
    drop = [i for i in unnamed if df.iloc[:, i].isna().all()]
    if drop:
        keep = [i for i in range(df.shape[1]) if i not in drop]
        df = df.iloc[:, keep]
        raw = [raw[i] for i in keep]
        notes.append(f"{len(drop)} empty column(s) without a name ignored")
    raw = [c if c.strip() and not re.fullmatch(r"Unnamed: \d+", c) else f"unnamed_{i + 1}" for i, c in enumerate(raw)]
    # the mapping: standard name <- file column (matched as written, else after normalisation)
    new = [normalise_column(c) for c in raw]
    taken = {}
    for std, src_name in mapping.items():
        hits = [i for i, c in enumerate(raw) if c == src_name] or \
               [i for i, c in enumerate(raw) if normalise_column(c) == normalise_column(src_name)]
        if not hits:
            refuse(where, "column_mapping", f"the mapped column {src_name!r} (for {std!r}) is not in the file; "
                                            f"columns found: {raw}")
        if len(hits) > 1:
            refuse(where, "duplicate_column", f"the mapped column {src_name!r} appears {len(hits)} times")
        taken[hits[0]] = std
    for i, std in taken.items():
        new[i] = std
    # a standard name written without its underscores or split differently ('TimeStamp', 'caseid') is that name
    squeezed = {f.replace("_", ""): f for f in S.FIELDS}
    for i, c in enumerate(new):
        if i not in taken and c not in S.FIELDS and c.replace("_", "") in squeezed:
            new[i] = squeezed[c.replace("_", "")]
    mapped_targets = set(taken.values())
    for i, c in enumerate(new):
        if i not in taken and c in mapped_targets:
            new[i] = f"{c}_unmapped"
            notes.append(f"column {raw[i]!r} kept as '{c}_unmapped' (the mapping takes '{c}' from another column)")
    seen = {}
    for i, c in enumerate(new):
        seen.setdefault(c, []).append(i)
    dupes = {c: [raw[i] for i in idx] for c, idx in seen.items() if len(idx) > 1}
    if dupes:
        text = "; ".join(f"{c!r} from columns {v}" for c, v in dupes.items())
        refuse(where, "duplicate_column", f"duplicated column name(s) after normalisation: {text}; keep one of each")
    ident = [raw[i] for i, c in enumerate(new) if identifier_name(c, standard_fields=S.FIELDS)]
    if ident:
        refuse(where, "identifier_column",
               f"columns {ident} look like direct identifiers (names, dates of birth, addresses, postcodes, "
               "phone numbers, e-mail, NHS or NI numbers). The victim-journey standard refuses them: remove these "
               "columns and use a pseudonymous case_id", exc=IdentifierColumnError)
    out = df.copy()
    out.columns = new
    missing = [c for c in S.REQUIRED_COLUMNS if c not in new]
    if missing:
        hint = ("; map your column names with columns={'case_id': 'Crime Reference', ...} (command line: "
                "--columns case_id='Crime Reference')")
        refuse(where, "missing_column", f"missing required column(s) {missing}; the standard needs "
                                        f"{list(S.REQUIRED_COLUMNS)}. Columns found: {raw}{hint}")
    for c in S.DETAIL_COLUMNS:
        if c not in out.columns:
            out[c] = pd.NA
    _check_identifier_values(out, src)
    src.notes = list(dict.fromkeys(src.notes + notes))
    out.attrs = {"source": src.to_attrs()}
    return out


def _row_times(df: pd.DataFrame) -> np.ndarray:
    """Event times (float years) per row for the identifier checks; NaN where the timestamp does not parse."""
    ts = df["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        codes, uniq = pd.factorize(ts)
        text = pd.Index(uniq).astype(str).str.strip()
        parsed = _parse_iso(text)
        parsed = parsed.where(~parsed.isna(), _parse_dayfirst(text))
        years = np.asarray(parsed.year + (parsed.dayofyear - 1) / 365.25, dtype=float)
        return np.where(codes >= 0, years[np.maximum(codes, 0)] if len(years) else np.nan, np.nan)
    d = pd.DatetimeIndex(ts)
    return np.asarray(d.year + (d.dayofyear - 1) / 365.25, dtype=float)


def _check_identifier_values(df: pd.DataFrame, src: Source) -> None:
    """Refuse columns outside the standard whose values look like direct identifiers (without showing them)."""
    extra = [c for c in df.columns if c not in S.FIELDS]
    findings = []
    years = None
    for c in extra:
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            continue
        if years is None:
            years = _row_times(df)
            fallback = np.nanmedian(years) if np.isfinite(years).any() else pd.Timestamp.now().year
            years = np.where(np.isfinite(years), years, fallback)
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            whole = np.isfinite(v) & (v % 1 == 0) & (v >= 1e9) & (v < 1e10)
            if whole.any():
                text = pd.Series(np.where(whole, v, 0).astype(np.int64)).astype(str)
                found = scan_text(text[whole].to_numpy(), kinds=["nhs_number"])
                if "nhs_number" in found:
                    rows = np.flatnonzero(whole)[found["nhs_number"]]
                    findings.append((c, "nhs_number", rows))
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            d = pd.DatetimeIndex(s)
            dy = np.asarray(d.year + (d.dayofyear - 1) / 365.25, dtype=float)
            _dob_column(c, dy, years, findings)
            continue
        codes, uniq = _codes_and_values(s)
        if not len(uniq):
            continue
        text = uniq.astype(str).str.strip()
        # a column of dates: dates of birth when most are decades before the events
        parsed = _parse_iso(text)
        parsed = parsed.where(~parsed.isna(), _parse_dayfirst(text))
        nonempty = np.asarray(text != "", dtype=bool)
        if nonempty.any() and (~parsed.isna())[nonempty].mean() >= 0.9:
            uy = np.asarray(parsed.year + (parsed.dayofyear - 1) / 365.25, dtype=float)
            dy = np.where(codes >= 0, uy[np.maximum(codes, 0)], np.nan)
            _dob_column(c, dy, years, findings)
            continue
        # free text: distinct values, with the median event year of the rows holding each value
        row_year = np.full(len(uniq), np.nan)
        ok = codes >= 0
        if ok.any():
            sums = np.bincount(codes[ok], weights=years[ok], minlength=len(uniq))
            cnt = np.bincount(codes[ok], minlength=len(uniq))
            with np.errstate(invalid="ignore", divide="ignore"):
                row_year = sums / cnt
        found = scan_text(text.to_numpy(dtype=object), row_years=row_year)
        for kind, hit_u in found.items():
            rows = np.flatnonzero((codes >= 0) & hit_u[np.maximum(codes, 0)])
            if len(rows):
                findings.append((c, kind, rows))
    findings += _case_id_identifiers(df)
    if findings:
        parts = [f"column {c!r}: {KIND_LABELS[k]} ({src.where(rows[:_N_EXAMPLES])}"
                 f"{'' if len(rows) <= _N_EXAMPLES else f' and {len(rows) - _N_EXAMPLES:,} more'})"
                 for c, k, rows in findings]
        refuse(src.path, "identifier_values",
               "values look like direct identifiers: " + "; ".join(parts) + ". The victim-journey standard "
               "refuses personal data: delete these columns (or the values) from the extract and keep a "
               "pseudonymous case_id. The values are not shown here", exc=IdentifierColumnError)


#: National Insurance numbers in their own spaced layout, the one form a case id is checked for (an unspaced
#: ``KE123456A`` is a plausible crime reference).
_NI_SPACED = r"\b[A-Za-z]{2} [0-9]{2} [0-9]{2} [0-9]{2} [A-Da-d]\b"


def _case_id_identifiers(df: pd.DataFrame) -> list:
    """``case_id`` values that are plainly personal: e-mail addresses, personal names, spaced NI numbers.

    Crime references look like phone or NHS numbers and postcodes, so those kinds are not looked for; an e-mail
    address, ``Smith, John`` or ``Mrs Jones`` is never a pseudonymous id.
    """
    if "case_id" not in df.columns:
        return []
    ids = df["case_id"]
    if pd.api.types.is_numeric_dtype(ids) and not isinstance(ids.dtype, pd.CategoricalDtype):
        return []
    codes, uniq = _codes_and_values(ids)
    if not len(uniq):
        return []
    # cheap filters first (a log has millions of ids; Arrow's regular expressions, no Python loop): an e-mail
    # address needs an '@'; a name two letters, a space or a comma and a capital ('Mr X', 'John Smith',
    # 'Smith, John'); 'Case 123' and 'KE/0001' pass neither
    trimmed = _arrow_trimmed(uniq)
    any_u = _arrow_matches(trimmed, r"@|[A-Za-z]{2}\.?,? +[A-Z]|[A-Za-z]{2} [0-9]{2} ")
    if not any_u.any():
        return []
    hits = {}
    pos = np.flatnonzero(any_u)
    sub = pd.Index(np.asarray(trimmed.filter(any_u).to_pylist(), dtype=object))
    mail = np.asarray(sub.str.contains("@", regex=False), dtype=bool)
    name = np.asarray(sub.str.contains(r"[A-Za-z]{2}\.?,? +[A-Z]", regex=True), dtype=bool)
    for kind, cand in (("email", mail), ("name", name)):
        if cand.any():
            found = scan_text(sub[cand].to_numpy(dtype=object), kinds=[kind])
            if kind in found:
                hits[kind] = pos[np.flatnonzero(cand)[found[kind]]]
    ni = np.asarray(sub.str.contains(_NI_SPACED, regex=True), dtype=bool)
    if ni.any():
        hits["ni_number"] = pos[ni]
    out = []
    for kind, hit_pos in hits.items():
        hit_u = np.zeros(len(uniq), dtype=bool)
        hit_u[hit_pos] = True
        rows = np.flatnonzero((codes >= 0) & hit_u[np.maximum(codes, 0)])
        if len(rows):
            out.append(("case_id", kind, rows))
    return out


def _codes_and_values(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``(codes, values)``: each row's position among the column's distinct values (-1 = missing) and the
    values, so a check runs once per distinct value (a log has millions of rows, far fewer values)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(), pd.Index(s.cat.categories)
    codes, uniq = pd.factorize(s)
    return codes, pd.Index(uniq)


def _dob_column(c, dated_years, row_years, findings) -> None:
    """A date column outside the standard is dates of birth when most of its dates are decades before the events."""
    gap = row_years - dated_years
    has = np.isfinite(gap)
    if not has.any():
        return
    old = has & (gap >= S.DOB_MIN_YEARS)
    if old.sum() >= 0.5 * has.sum():
        findings.append((c, "date_of_birth", np.flatnonzero(old)))


def _parse_iso(text: pd.Index) -> pd.DatetimeIndex:
    """Parse ISO 8601 text as naive UK local times (NaT where it is not ISO 8601).

    Values with a UTC offset or ``Z`` are converted to Europe/London local time and made naive; values without
    one are read as they are. A column may mix the two, and mix offsets (``Z`` and ``+01:00``), which pandas
    cannot hold in one index.
    """
    text = pd.Index(text, dtype=object).astype(str)
    out = np.full(len(text), np.datetime64("NaT", "ns"))
    if not len(text):
        return pd.DatetimeIndex(out)
    aware = np.asarray(text.str.contains(_OFFSET, regex=True), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if (~aware).any():
            naive = pd.to_datetime(text[~aware], errors="coerce", format="ISO8601")
            if getattr(naive, "tz", None) is not None:
                naive = naive.tz_convert("Europe/London").tz_localize(None)
            out[~aware] = naive.to_numpy().astype("datetime64[ns]")
        if aware.any():
            utc = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
            out[aware] = utc.tz_convert("Europe/London").tz_localize(None).to_numpy().astype("datetime64[ns]")
    return pd.DatetimeIndex(out)


def _parse_dayfirst(text: pd.Index) -> pd.DatetimeIndex:
    """Parse dd/mm/yyyy[ HH:MM[:SS]] text (NaT where it does not match or is not a real date)."""
    g = pd.Series(np.asarray(text, dtype=object), dtype=object).astype(str).str.strip().str.extract(_DMY)
    if g[0].isna().all():
        return pd.DatetimeIndex(np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]"))
    num = g.apply(pd.to_numeric, errors="coerce")
    parts = pd.DataFrame({"year": num[2], "month": num[1], "day": num[0], "hour": num[3].fillna(0),
                          "minute": num[4].fillna(0), "second": num[5].fillna(0)})
    ok = parts[["year", "month", "day"]].notna().all(axis=1)
    out = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(parts[ok], errors="coerce")
    return pd.DatetimeIndex(out)


def read_events(path, *, columns=None, sheet=None, max_bytes: int | None = None,
                max_rows: int | None = None) -> pd.DataFrame:
    """Read an event log as analysts export it, without validating its rows.

    Column names are normalised (case, spaces, punctuation, camelCase, a UTF-8 BOM). Files that cannot be used
    at all raise, naming the file, the file rule and what is wrong.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` / ``.txt`` / ``.tsv`` (optionally ``.gz``, ``.bz2``, ``.xz`` or ``.zip``; comma, semicolon, tab or
        ``|`` separated; UTF-8, UTF-16 with a BOM, or Windows-1252), ``.parquet`` / ``.pq``, or a workbook
        ``.xlsx`` / ``.xlsm`` / ``.xls`` / ``.ods``.
    columns : dict, optional
        Column mapping ``{standard name: name in the file}``, e.g. ``{"case_id": "Crime Reference",
        "event": "Event Type"}`` (see :func:`read_column_mapping` for a mapping file).
    sheet : str or int, optional
        Workbook sheet by name or 0-based position (default the first). The header is the first row holding
        the required column names (title rows above it are skipped).
    max_bytes : int, optional
        Most (decompressed) text read, default :data:`MAX_BYTES` (1 GiB).
    max_rows : int, optional
        Most rows read, default :data:`MAX_ROWS` (20 million).

    Returns
    -------
    pandas.DataFrame
        Every row of the file, with all standard columns present (absent detail columns are added empty).
        ``attrs["source"]`` records the file and how rows are numbered (lines of a CSV or sheet, with the
        header on line 1; rows of a Parquet file, from 1), which the validation report uses.

    Raises
    ------
    DataValidationError
        The file cannot be used; ``err.rule`` names the file rule (``attrition.standard.FILE_RULES``): missing
        or non-regular file, wrong or mislabelled type, damaged archive, unknown encoding, ragged rows, too
        large, duplicated, missing or unmapped columns, nested or out-of-range Parquet columns.
    IdentifierColumnError
        A column name or a column's values look like direct identifiers.
    """
    path = Path(path)
    max_bytes = MAX_BYTES if max_bytes is None else int(max_bytes)
    max_rows = MAX_ROWS if max_rows is None else int(max_rows)
    mapping = _mapping(columns)
    st = F.check_regular_file(path)
    fmt, compression = F.file_format(path)
    F.check_content(path, fmt, compression, st.st_size)
    src = Source(path=str(path))
    wanted = [normalise_column(mapping.get(c, c)) for c in S.REQUIRED_COLUMNS]
    try:
        if fmt == "parquet":
            df = F.read_parquet(path, max_bytes=max_bytes, max_rows=max_rows)
            src.unit, src.first = "row", 1
            header = list(df.columns)
        elif fmt == "workbook":
            src.unit = "line"
            df, header = F.read_workbook(path, sheet=sheet, size=st.st_size, max_bytes=max_bytes,
                                         max_rows=max_rows, source=src, wanted=wanted)
        else:
            src.unit, src.first = "line", 2
            df, header = F.read_delimited(path, compression=compression, size=st.st_size, max_bytes=max_bytes,
                                          max_rows=max_rows, source=src, wanted=wanted)
    except DataValidationError:
        raise
    except MemoryError:
        refuse(path, "too_large", "does not fit in memory; split the extract")
    except Exception as err:  # the last line of defence: a reader failed in a way not foreseen above
        refuse(path, "corrupt_file", f"could not be read ({type(err).__name__}: {err})")
    if sheet is not None and fmt != "workbook":
        src.notes.append("sheet ignored: the file is not a workbook")
    if len(header) == df.shape[1]:
        df.columns = header
    df.attrs = {"source": src.to_attrs()}
    return _check_columns(df, columns=mapping)


# ------------------------------------------------------------------------------------------ validation
@dataclass
class ValidationReport:
    """Outcome of validating an event log against the standard.

    Attributes
    ----------
    valid : pandas.DataFrame
        Typed events of the cases that passed every rule, sorted by case, time and event order.
    problems : pandas.DataFrame
        One row per broken rule: ``rule``, ``column``, ``n_rows``, ``n_cases``, ``example_case_ids``,
        ``example_rows`` (the first offending rows as the file numbers them: lines of a CSV or sheet, whose header
        is line 1; rows of a Parquet file or data frame, from 1 — see ``unit``), ``message``. Empty when the data
        are valid.
    excluded : pandas.DataFrame
        Every row not in ``valid`` (blank rows apart), as read, with ``reason`` (the rule its case broke first)
        and ``where`` (e.g. ``"line 9"``). The event log's own ``reason`` column (why a case was discontinued)
        is kept as ``discontinuance_reason``.
    notes : list of str
        Repairs and observations that excluded nothing (encoding, force aliases, blank rows, extra columns).
    unit : {"line", "row"}
        How ``example_rows`` count.
    """

    valid: pd.DataFrame
    problems: pd.DataFrame
    excluded: pd.DataFrame
    n_rows_in: int
    notes: list = field(default_factory=list)
    unit: str = "row"

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return self.problems.empty

    def raise_if_invalid(self) -> None:
        """Raise :class:`DataValidationError` listing every broken rule."""
        if not self.ok:
            raise DataValidationError(self._problem_text(), problems=self.problems)

    def _problem_text(self) -> str:
        lines = [f"The event log breaks {len(self.problems)} rule(s) of the victim-journey standard:"]
        for r in self.problems.itertuples(index=False):
            col = f" [column {r.column}]" if r.column else ""
            lines.append(f"  - {r.rule}{col}: {r.message} ({r.n_rows} row(s), {r.n_cases} case(s); "
                         f"first case_ids: {r.example_case_ids}; first {self.unit}s: {r.example_rows})")
        lines.append("Fix the rows, or call load_events(..., errors='exclude') (command line: attrition validate "
                     "--exclude --out clean.csv) to set those cases aside; they are listed with their reason.")
        return "\n".join(lines)

    def __str__(self) -> str:
        v = self.valid
        lines = ["Event log validation", "--------------------",
                 f"rows read:      {self.n_rows_in:,}",
                 f"valid events:   {len(v):,}",
                 f"cases:          {v['case_id'].nunique():,}" if len(v) else "cases:          0",
                 f"forces:         {v['force'].nunique():,}" if len(v) else "forces:         0"]
        if len(v):
            lines.append(f"date range:     {v['timestamp'].min():%Y-%m-%d} to {v['timestamp'].max():%Y-%m-%d}")
        lines.append(f"excluded rows:  {len(self.excluded):,}")
        for note in self.notes:
            lines.append(f"note: {note}")
        lines.append("problems:       none" if self.ok else self._problem_text())
        return "\n".join(lines)

class _Problems:
    """Collects broken rules as boolean row masks."""

    def __init__(self, df: pd.DataFrame, positions, first: int):
        self.df = df
        self.positions = positions   # row -> 0-based position in the input (None: the same; blank rows removed)
        self.first = first           # number of the first data row in the file's unit (line 2, row 1)
        self.rows = []
        self.rules: list[str] = []
        self.first_reason = np.full(len(df), -1, dtype=np.int16)  # index into self.rules, -1 = fine

    def add(self, rule: str, column: str | None, mask, message: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        bad = self.df.loc[mask]
        ids = pd.unique(bad["case_id"].dropna().astype(str))
        self.rows.append({
            "rule": rule, "column": column or "", "n_rows": int(mask.sum()), "n_cases": int(len(ids)),
            "example_case_ids": ", ".join(_clip(i) for i in ids[:_N_EXAMPLES]) if len(ids) else "(case_id missing)",
            # as the file numbers them: line (CSV, sheet; header = line 1) or row (Parquet, frame; from 1)
            "example_rows": ", ".join(str(int(i) + self.first) for i in self._pos(np.flatnonzero(mask)[:_N_EXAMPLES])),
            "message": message,
        })
        if rule not in self.rules:
            self.rules.append(rule)
        fresh = mask & (self.first_reason < 0)
        self.first_reason[fresh] = self.rules.index(rule)

    def _pos(self, rows):
        return rows if self.positions is None else self.positions[rows]

    def table(self) -> pd.DataFrame:
        cols = ["rule", "column", "n_rows", "n_cases", "example_case_ids", "example_rows", "message"]
        return pd.DataFrame(self.rows, columns=cols)


def _factorize_stripped(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes into distinct stripped text values; empty text and missing values get code -1."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes, uniq = s.cat.codes.to_numpy(), s.cat.categories
    else:
        codes, uniq = pd.factorize(s)
    text = pd.Index(uniq, dtype=object).map(lambda v: str(v).strip())
    empty = np.asarray(text == "", dtype=bool) if len(text) else np.zeros(0, bool)
    # merge values that are equal once stripped
    codes2, uniq2 = pd.factorize(text)
    lookup = np.concatenate([[-1], np.where(empty, -1, codes2)]).astype(np.int32)  # code -1 (missing) -> -1
    out = lookup[codes.astype(np.intp, copy=False) + 1]
    keep = pd.Index(uniq2, dtype=object)
    return out, keep


def _int_codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """Exact integer codes of a column's values (0 = missing, 1..k the distinct values) and ``k + 1``."""
    if isinstance(s.dtype, pd.CategoricalDtype):  # the reader's columns: the codes are already there
        codes, k = s.cat.codes.to_numpy(), len(s.cat.categories)
    else:
        codes, uniq = pd.factorize(s)
        k = len(uniq)
    return codes.astype(np.int64) + 1, k + 1


def _row_key(df: pd.DataFrame, cols: list) -> np.ndarray:
    """One int64 per row, equal for two rows exactly when their values in ``cols`` are equal (missing equals
    missing, as :meth:`pandas.DataFrame.duplicated`): the columns' codes combined in mixed radix, the running
    key re-coded densely whenever the next product could overflow (pandas' ``get_group_index`` rule)."""
    key, size = _int_codes(df[cols[0]])
    for c in cols[1:]:
        codes, k = _int_codes(df[c])
        if size * k >= 2**62:
            key, uniq = pd.factorize(key)
            key, size = key.astype(np.int64, copy=False), len(uniq)
        key = key * k + codes
        size *= k
    return key


def _duplicated_rows(df: pd.DataFrame, cols: list) -> np.ndarray:
    """``df.duplicated(cols, keep="first")`` on exact integer row keys (:func:`_row_key`): the columns are
    categoricals from the reader, so this costs one pass over their codes and one int64 hash table, not the
    hashing of every value (or pandas' factorizing of every column again)."""
    return pd.Series(_row_key(df, cols), copy=False).duplicated(keep="first").to_numpy()


def _vocab_key(values) -> pd.Index:
    """Matching key of vocabulary values: case, spaces, hyphens and other punctuation folded to ``_``."""
    return pd.Index([re.sub(r"[^a-z0-9]+", "_", str(v).strip().lower()).strip("_") for v in values], dtype=object)


def _recode(codes, uniq, allowed, P, rule, column, message, notes=None) -> pd.Categorical:
    """Categorical with the standard's categories; values outside them are reported under ``rule``.

    Values that differ from the standard's only in case, spaces or punctuation (``Police Outcome``,
    ``High``) are matched, and ``notes`` says so; anything else breaks ``rule``.
    """
    allowed = list(allowed)
    idx = pd.Index(allowed).get_indexer(uniq) if len(uniq) else np.zeros(0, np.int64)
    loose = idx < 0
    if loose.any():
        idx = idx.copy()
        idx[loose] = _vocab_key(allowed).get_indexer(_vocab_key(uniq[loose]))
        matched = loose & (idx >= 0)
        if matched.any() and notes is not None:
            k = int(np.flatnonzero(matched)[0])
            notes.append(f"{column}: {int(matched.sum())} value(s) matched to the standard's spelling regardless of "
                         f"case and spaces (e.g. {str(uniq[k])!r} -> {allowed[idx[k]]!r})")
    bad_u = idx < 0
    if bad_u.any():
        bad = (codes >= 0) & bad_u[np.maximum(codes, 0)]
        P.add(rule, column, bad, message.format(vals=_shown(sorted(map(str, uniq[bad_u]))[:5])))
    new = np.where(codes >= 0, idx[np.maximum(codes, 0)] if len(idx) else -1, -1)
    return pd.Categorical.from_codes(new, categories=list(allowed))


def _first_time(codes, ts, mask, n) -> np.ndarray:
    """Earliest timestamp (int64 ns, NaT as min int) per case among rows in ``mask``."""
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, codes[mask], ts[mask])
    return out




_CLIP = 60   # longest value a message shows whole


def _clip(value: str) -> str:
    """A value as a message shows it: a long one (a 10 MB cell) cut to its start and its length."""
    return value if len(value) <= _CLIP else f"{value[:40]}... ({len(value):,} characters)"


def _shown(values) -> list:
    """Values safe to print in a message: any that look like an identifier are withheld, long ones cut."""
    vals = [str(v) for v in values]
    if not vals:
        return vals
    found = scan_text(vals, kinds=["email", "postcode", "phone", "ni_number", "name", "address"])
    hit = np.zeros(len(vals), dtype=bool)
    for m in found.values():
        hit |= m
    return [("<withheld: looks like personal data>" if h else _clip(v)) for v, h in zip(vals, hit)]


def _near_duplicate_ids(case_id: pd.Series) -> np.ndarray:
    """Rows whose case_id equals another case_id once spaces and leading zeros are removed and case is ignored."""
    s = case_id
    if pd.api.types.is_integer_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
        return np.zeros(len(s), dtype=bool)
    codes, uniq = _codes_and_values(s)
    if len(uniq) < 2:
        return np.zeros(len(s), dtype=bool)
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(uniq.astype(str).to_numpy(dtype=object), type=pa.large_string())
    # fast path: no capital letter, no white space and no leading zero anywhere -> already canonical (and unique)
    if not pc.any(pc.match_substring_regex(arr, r"[A-Z\s]|(^|[^0-9])0[0-9]")).as_py():
        return np.zeros(len(s), dtype=bool)
    # lower case, no white space, no leading zeros in any run of digits ('C 0012' -> 'c12')
    canon = pc.replace_substring_regex(pc.replace_substring_regex(pc.utf8_lower(arr), r"\s+", ""),
                                       r"(^|[^0-9])0+([0-9])", r"\1\2")
    groups = np.asarray(canon.dictionary_encode().indices)          # stays in Arrow: no Python strings
    if len(pd.unique(groups)) == len(groups):
        return np.zeros(len(s), dtype=bool)
    # an id of blanks alone is a missing id (rule missing_value), not a near-duplicate of another blank one
    dup_u = (np.bincount(groups)[groups] > 1) & ~np.asarray(pc.equal(canon, ""), dtype=bool)
    if not dup_u.any():
        return np.zeros(len(s), dtype=bool)
    return (codes >= 0) & dup_u[np.maximum(codes, 0)]


_SCIENTIFIC = r"[+-]?[0-9](?:[.,][0-9]*)?[Ee][+-]?[0-9]{1,3}"


def _scientific_ids(case_id: pd.Series) -> np.ndarray:
    """Rows whose case_id is text like ``1.23457E+11`` (a number a spreadsheet wrote in scientific notation)."""
    s = case_id
    if not (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)):
        return np.zeros(len(s), dtype=bool)
    codes, uniq = _codes_and_values(s)
    if not len(uniq):
        return np.zeros(len(s), dtype=bool)
    sci_u = _arrow_matches(_arrow_trimmed(uniq), f"^(?:{_SCIENTIFIC})$")
    return (codes >= 0) & sci_u[np.maximum(codes, 0)]


def _arrow_trimmed(values: pd.Index):
    """The values as an Arrow string array, surrounding whitespace removed (vectorised: millions of ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.utf8_trim_whitespace(pa.array(np.asarray(values.astype(str), dtype=object), type=pa.string()))


def _arrow_matches(arr, pattern: str) -> np.ndarray:
    """Boolean array: which strings of an Arrow string array contain a match of ``pattern`` (RE2 syntax)."""
    import pyarrow.compute as pc

    return np.asarray(pc.match_substring_regex(arr, pattern).fill_null(False), dtype=bool)


def validate_events(events: pd.DataFrame, *, as_of=None, today=None, dayfirst: bool | None = None,
                    columns=None) -> ValidationReport:
    """Validate an event log against the victim-journey standard.

    Every rule is checked on every row (vectorised), so one call reports all problems at once. A case with
    any broken rule is excluded whole (a partial journey would bias every model); its rows are listed in
    ``report.excluded`` with the reason. A root cause is reported once: case-level rules (``missing_report``,
    ``before_report``, ``out_of_order``, ...) are not checked on cases that already break a row-level rule, so an
    unparseable report date is not also reported as a missing report.

    Parameters
    ----------
    events : pandas.DataFrame
        Event log, e.g. from :func:`read_events` or :func:`attrition.synthetic.simulate`.
    as_of : str or date-like, optional
        Extraction date (ISO ``2023-09-30``; ``01/02/2023`` is refused as ambiguous); timestamps after it are
        "future". Default: today.
    today : date-like, optional
        Override of today's date (for reproducible tests).
    dayfirst : bool, optional
        ``True``: also read timestamps written ``dd/mm/yyyy`` (``dd-mm-yyyy``, ``dd.mm.yyyy``, with an optional
        ``HH:MM[:SS]``). Otherwise only ISO 8601 is read, and values that look like ``dd/mm/yyyy`` break the
        single rule ``day_first_date``, whose message names the option.
    columns : dict, optional
        Column mapping ``{standard name: name in the frame}`` (as in :func:`read_events`).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DataValidationError, IdentifierColumnError
        Structural problems (missing or duplicated columns, identifiers) that make the log unusable as a whole.
    ValueError
        An ambiguous or unreadable ``as_of``.

    Notes
    -----
    Rules (``rule`` in the problems table, ``attrition.standard.RULES``): ``missing_value``, ``unknown_event``,
    ``unknown_force``, ``unparseable_timestamp``, ``day_first_date``, ``partial_date``, ``future_timestamp``,
    ``before_offences_in_force``, ``unknown_code``, ``unknown_outcome_code``, ``missing_detail``,
    ``duplicate_event``, ``repeated_event``, ``inconsistent_force``, ``near_duplicate_id``, ``scientific_case_id``,
    ``missing_report``, ``before_report``, ``out_of_order``, ``missing_prerequisite``, ``contradictory_journey``.

    ``near_duplicate_id`` *excludes* (rather than warns): ids equal up to spaces, leading zeros or letter case are
    almost always one case split by an export (Excel drops leading zeros, systems differ in case), so each part
    is a partial journey; if they really are different cases, the ids cannot be told apart when agencies link
    records, which the standard needs.
    """
    from .._utils import parse_date

    as_of_ts = parse_date(as_of, name="as_of") if as_of is not None else None
    df = _check_columns(events, columns=columns)  # a new frame: the caller's is never modified
    src = Source.from_attrs(df.attrs)
    n_in = len(df)
    df.index = pd.RangeIndex(n_in)
    notes: list[str] = list(src.notes)
    # blank rows (every cell empty: trailing rows of a sheet, empty lines) carry nothing: noted, not judged
    positions = None                      # row -> position in the input; None: the identity (no blank rows)
    cand = df["case_id"].isna().to_numpy() & df["event"].isna().to_numpy()
    blank = np.zeros(n_in, dtype=bool)
    if cand.any():
        blank[cand] = df.loc[cand].isna().all(axis=1).to_numpy()
    if blank.any():
        notes.append(f"{int(blank.sum()):,} blank row(s) ignored ({src.where(np.flatnonzero(blank)[:_N_EXAMPLES])}"
                     f"{' ...' if blank.sum() > _N_EXAMPLES else ''})")
        positions = np.flatnonzero(~blank)
        df = df.loc[~blank].reset_index(drop=True)
    P = _Problems(df, positions, src.first)

    # Columns are cleaned on their distinct values (factorize once, work on the few uniques), so a
    # million-row log costs a few hash passes, not per-row string operations.
    # ---- required values and vocabularies
    clean: dict[str, tuple[np.ndarray, pd.Index]] = {}
    for c in ("case_id", "force", "event", *S.ENUMS):
        if c in clean or c not in df.columns:
            continue
        codes, uniq = _factorize_stripped(df[c]) if c != "case_id" else (None, None)
        clean[c] = (codes, uniq)
    for c in S.REQUIRED_COLUMNS:
        if c == "timestamp":
            miss = df[c].isna().to_numpy()
        elif c == "case_id":     # blanks, tabs or non-breaking spaces alone are no id
            ids = df[c]
            if isinstance(ids.dtype, pd.CategoricalDtype):
                codes = ids.cat.codes.to_numpy()
                blank_u = np.asarray(pd.Index(ids.cat.categories).astype(str).str.strip() == "", dtype=bool)
                miss = (codes < 0) | (blank_u[np.maximum(codes, 0)] if len(blank_u) else False)
            elif ids.dtype == object or pd.api.types.is_string_dtype(ids):
                miss = ids.isna().to_numpy() | ids.astype(str).str.strip().eq("").to_numpy()
            else:
                miss = ids.isna().to_numpy()
        else:
            miss = clean[c][0] < 0
        P.add("missing_value", c, miss, f"'{c}' is required on every row")

    # ---- event vocabulary
    codes, uniq = clean["event"]
    df["event"] = _recode(codes, uniq, S.EVENTS, P, "unknown_event", "event",
                          "unknown event(s) {vals}; allowed: " + str(list(S.EVENTS)), notes)

    # ---- forces
    codes, uniq = clean["force"]
    official = normalise_force_names(pd.Series(uniq, dtype=object))
    force_names = sorted(load_force_table()["force"])
    known = official.isin(force_names).fillna(False).to_numpy()
    bad_u = ~known
    if bad_u.any():
        bad_rows = (codes >= 0) & bad_u[np.maximum(codes, 0)]
        vals = _shown(sorted(uniq[bad_u])[:5])
        P.add("unknown_force", "force", bad_rows,
              f"force name(s) {vals} match no territorial force of England and Wales (see attrition.forces)")
    changed_u = known & (official.fillna("").to_numpy(dtype=object) != uniq.to_numpy(dtype=object))
    if changed_u.any():
        n_changed = int(np.isin(codes, np.flatnonzero(changed_u)).sum())
        k = int(np.flatnonzero(changed_u)[0])
        notes.append(f"{n_changed:,} force name(s) normalised to official names (e.g. {uniq[k]!r} -> {official.iloc[k]!r})")
    target = np.where(known, pd.Index(force_names).get_indexer(official.fillna("")), -1)
    df["force"] = pd.Categorical.from_codes(np.where(codes >= 0, target[np.maximum(codes, 0)], -1), categories=force_names)

    # ---- timestamps (parsed once per distinct value: daily data repeat dates a lot)
    raw_ts = df["timestamp"]
    partial_rows = hint_rows = np.zeros(len(df), dtype=bool)
    if not pd.api.types.is_datetime64_any_dtype(raw_ts):
        tcodes, tuniq = pd.factorize(raw_ts)
        text = pd.Index(tuniq).astype(str).str.strip()
        pv = _parse_iso(text).to_numpy().astype("datetime64[ns]")
        partial_u = np.asarray(text.str.fullmatch(_PARTIAL), dtype=bool) if len(text) else np.zeros(0, bool)
        pv[partial_u] = np.datetime64("NaT", "ns")
        dmy_u = np.isnat(pv) & (np.asarray(text.str.match(_DMY), dtype=bool) if len(text) else np.zeros(0, bool))
        if dmy_u.any():
            if dayfirst:
                pv[dmy_u] = _parse_dayfirst(text[dmy_u]).to_numpy().astype("datetime64[ns]")
            else:
                hint_rows = (tcodes >= 0) & dmy_u[np.maximum(tcodes, 0)]
        partial_rows = (tcodes >= 0) & partial_u[np.maximum(tcodes, 0)] if len(text) else partial_rows
        nat = np.datetime64("NaT", "ns")    # with a unit: np.where of unit-less NaTs has no dtype pandas takes
        ts = pd.Series(np.where(tcodes >= 0, pv[np.maximum(tcodes, 0)] if len(pv) else nat, nat), index=df.index)
    else:
        ts = raw_ts
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("Europe/London").dt.tz_localize(None)
    ts = ts.astype("datetime64[ns]")
    if hint_rows.any():
        P.add("day_first_date", "timestamp", hint_rows,
              "timestamps look like day-first dates (dd/mm/yyyy); they are not read unless you say so: pass "
              "dayfirst=True (command line: --dayfirst) to read them as day/month/year, or export ISO dates "
              "(2022-05-04)")
    P.add("partial_date", "timestamp", partial_rows,
          "timestamp is only a year or a year and month (e.g. 2021 or 2021-01); the standard needs the day")
    P.add("unparseable_timestamp", "timestamp", ts.isna().to_numpy() & raw_ts.notna().to_numpy() & ~hint_rows & ~partial_rows,
          "timestamp is not an ISO 8601 date or date-time (e.g. 2022-05-04 or 2022-05-04T13:20)"
          + ("" if dayfirst else " nor, with dayfirst=True, dd/mm/yyyy"))
    if as_of_ts is not None:
        limit = as_of_ts + pd.Timedelta(days=1) if as_of_ts == as_of_ts.normalize() else as_of_ts
    else:
        limit = pd.Timestamp(today or pd.Timestamp.now()).normalize() + pd.Timedelta(days=1)
    P.add("future_timestamp", "timestamp", (ts >= limit).to_numpy(),
          f"timestamp is after the extraction date ({(limit - pd.Timedelta(days=1)):%Y-%m-%d})")
    earliest = pd.Timestamp(S.EARLIEST_DATE)
    P.add("before_offences_in_force", "timestamp", (ts < earliest).to_numpy(),
          f"timestamp is before {earliest:%d %B %Y}: {S.EARLIEST_DATE_WHY}")
    df["timestamp"] = ts

    # ---- categorical details
    for c, allowed in S.ENUMS.items():
        if c == "event":
            continue
        codes, uniq = clean[c]
        df[c] = _recode(codes, uniq, allowed, P, "unknown_code", c, "value(s) {vals} not in " + str(list(allowed)),
                        notes)

    # ---- yes/no details (``online``): true/false, 1/0, yes/no in any case; missing stays missing
    for c, (yes, no) in S.BOOLEAN_FIELDS.items():
        df[c] = _read_boolean(df[c], yes, no, P, c)

    # ---- outcome codes (on distinct values)
    ocodes, ouniq = pd.factorize(df["outcome_code"])
    onum = pd.to_numeric(pd.Series(ouniq, dtype=object), errors="coerce").to_numpy(dtype=float)
    bad_u = np.isnan(onum) | (onum % 1 != 0) | (onum < 0) | (onum > 22)
    bad_oc = (ocodes >= 0) & bad_u[np.maximum(ocodes, 0)] if len(ouniq) else np.zeros(len(df), bool)
    if bad_oc.any():
        P.add("unknown_outcome_code", "outcome_code", bad_oc,
              f"outcome code(s) {_shown(sorted(str(v) for v in pd.Series(ouniq)[bad_u])[:5])} are not Home Office "
              "outcome types 0-22")
    good = (ocodes >= 0) & ~bad_oc
    vals = np.where(good, onum[np.maximum(ocodes, 0)] if len(ouniq) else 0, 0).astype(np.int64)
    df["outcome_code"] = pd.arrays.IntegerArray(vals, ~good)

    # ---- required details per event (missing in the input, not merely invalid: that is reported above)
    raw_missing = {c: clean[c][0] < 0 for c in S.ENUMS if c in clean}
    raw_missing["outcome_code"] = ocodes < 0
    ev_codes = df["event"].cat.codes.to_numpy()
    for e, cols in S.REQUIRED_DETAILS.items():
        for c in cols:
            m = (ev_codes == S.EVENT_RANK[e]) & raw_missing[c]
            P.add("missing_detail", c, m, f"'{e}' events need '{c}'")

    # ---- duplicates
    del clean
    key = ["case_id", "event", "timestamp", *S.DETAIL_COLUMNS]
    dup = _duplicated_rows(df, key)
    dup &= ~(df["timestamp"].isna().to_numpy() & raw_ts.notna().to_numpy())   # unread dates are not "equal"
    P.add("duplicate_event", None, dup, "the same event appears twice with identical values")
    once = np.isin(ev_codes, [S.EVENT_RANK[e] for e in S.ONCE_EVENTS]) & ~dup
    rep = once & _duplicated_rows(df, ["case_id", "event"])
    P.add("repeated_event", "event", rep,
          f"events that happen once per case ({sorted(S.ONCE_EVENTS)}) appear more than once")

    # ---- ids that differ only in spaces, leading zeros or case: one case split in two (a root cause)
    P.add("near_duplicate_id", "case_id", _near_duplicate_ids(df["case_id"]),
          "case_ids equal once spaces and leading zeros (of any number in them) are removed and letter case is "
          "ignored (e.g. '00123', '123 ' and '123'; 'KE/0045' and 'ke/45'): probably one case split by the export; "
          "give each case one id")

    # ---- ids a spreadsheet turned into rounded numbers (1.23457E+11): lossy, possibly several cases in one
    P.add("scientific_case_id", "case_id", _scientific_ids(df["case_id"]),
          "case_id is a number in scientific notation (e.g. 1.23457E+11): a spreadsheet rounded the id, so its "
          "digits are lost and different cases may now share it; export the id column as text")

    # ---- case-level rules, only on cases whose rows are all usable (one root cause, reported once)
    ecode = df["event"].cat.codes.to_numpy()
    usable = df["case_id"].notna().to_numpy() & df["timestamp"].notna().to_numpy() & (ecode >= 0)
    codes, _ = pd.factorize(df["case_id"])
    n_cases = codes.max() + 1 if len(codes) else 0
    row_bad_case = np.zeros(n_cases + 1, dtype=bool)        # slot n_cases: rows without a case_id
    row_bad_case[np.where(codes >= 0, codes, n_cases)[P.first_reason >= 0]] = True
    judged = ~row_bad_case[:n_cases]                         # per case
    ts_ns = df["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    E = {e: i for i, e in enumerate(S.EVENTS)}
    evv = ecode  # compared with E[...] below
    big = np.iinfo(np.int64).max
    ok_rows = (codes >= 0) & judged[np.maximum(codes, 0)] if n_cases else np.zeros(len(df), bool)

    fcode = df["force"].cat.codes.to_numpy()
    has_f = (fcode >= 0) & (codes >= 0)
    fmin = np.full(n_cases, np.iinfo(np.int64).max)
    fmax = np.full(n_cases, -1)
    np.minimum.at(fmin, codes[has_f], fcode[has_f])
    np.maximum.at(fmax, codes[has_f], fcode[has_f])
    many = (fmax >= 0) & (fmax != fmin) & judged
    P.add("inconsistent_force", "force", many[codes] & ok_rows, "a case's events name more than one force")

    is_rep = (evv == E["reported"]) & usable
    t_rep = _first_time(codes, ts_ns, is_rep, n_cases)
    no_rep = (t_rep == big) & judged
    P.add("missing_report", "event", no_rep[codes] & ok_rows, "the case has no 'reported' event")
    P.add("before_report", "timestamp", usable & ok_rows & ~no_rep[codes] & (ts_ns < t_rep[codes]),
          "event dated before the case's report")
    firsts: dict[str, np.ndarray] = {}

    def first_of(e):
        if e not in firsts:
            firsts[e] = _first_time(codes, ts_ns, usable & (evv == E[e]), n_cases)
        return firsts[e]

    for a, b, why in S.ORDER_RULES:
        ta, tb = first_of(a), first_of(b)
        bad_case = (ta != big) & (tb != big) & (tb < ta) & judged
        P.add("out_of_order", "timestamp", bad_case[codes] & ok_rows & ((evv == E[a]) | (evv == E[b])),
              f"'{b}' before '{a}': {why}")
    for a, b, why in S.REQUIRES_RULES:
        bad_case = (first_of(a) != big) & (first_of(b) == big) & judged
        P.add("missing_prerequisite", "event", bad_case[codes] & ok_rows & (evv == E[a]), f"'{a}' without '{b}': {why}")
    oc_num = df["outcome_code"].to_numpy(dtype=float, na_value=np.nan)

    def matches(cond) -> np.ndarray:
        m = usable & (evv == E[cond["event"]])
        for col, allowed in cond.items():
            if col == "event":
                continue
            if col == "outcome_code":
                m &= np.isin(oc_num, np.asarray(allowed, dtype=float))
            else:
                m &= np.isin(df[col].cat.codes.to_numpy(), [S.ENUMS[col].index(v) for v in allowed])
        return m

    for rule in S.CONTRADICTIONS:
        ma, mb = matches(rule["a"]), matches(rule["b"])
        has = np.zeros((2, n_cases), dtype=bool)
        has[0, codes[ma]] = True
        has[1, codes[mb]] = True
        bad_case = has[0] & has[1] & judged
        P.add("contradictory_journey", "event", bad_case[codes] & ok_rows & (ma | mb),
              f"the journey contradicts itself: {rule['why']}")
    del oc_num, ok_rows, usable, ts_ns, firsts

    problems = P.table()
    bad_rows = P.first_reason >= 0
    in_bad_case = bad_rows.copy()
    if bad_rows.any():
        source_rows = events.reset_index(drop=True)   # the rows as given (names, values), for the excluded table
        if blank.any():
            source_rows = source_rows.loc[~blank].reset_index(drop=True)
        case_rule = np.full(n_cases + 1, -1, dtype=np.int16)   # first broken rule of each case (slot n: no case_id)
        case_of_row = np.where(codes >= 0, codes, n_cases)
        order = np.flatnonzero(bad_rows)[::-1]                 # reversed: the first row's rule wins
        case_rule[case_of_row[order]] = P.first_reason[order]
        in_bad_case = (case_rule[case_of_row] >= 0) & ((codes >= 0) | bad_rows)
        rules = np.asarray(P.rules, dtype=object)
        reason = np.where(bad_rows, rules[np.maximum(P.first_reason, 0)],
                          "case excluded: " + rules[np.maximum(case_rule[case_of_row], 0)].astype(str))
        excluded = source_rows.loc[in_bad_case].copy()
        if "reason" in excluded.columns:   # the standard's discontinuance reason: kept, under another name
            excluded = excluded.rename(columns={"reason": "discontinuance_reason"})
        excluded["reason"] = reason[in_bad_case]
        pos_bad = np.flatnonzero(in_bad_case) if positions is None else positions[in_bad_case]
        excluded["where"] = (pd.Series(pos_bad + src.first, index=excluded.index).astype(str)
                             .radd(src.unit + " "))
    else:
        excluded = events.iloc[:0].copy().assign(reason=pd.Series(dtype=object), where=pd.Series(dtype=object))
    excluded.attrs = {}

    valid = df.loc[~in_bad_case].copy() if in_bad_case.any() else df  # df is already our own copy
    extra = [c for c in valid.columns if c not in S.FIELDS]
    if extra:
        notes.append(f"extra column(s) kept as they are: {extra}")
    valid = _typed(valid)
    valid.attrs = {}
    return ValidationReport(valid=valid, problems=problems, excluded=excluded, n_rows_in=n_in, notes=notes,
                            unit=src.unit)


def _read_boolean(s: pd.Series, yes, no, P, column) -> pd.Series:
    """A yes/no column as pandas' nullable boolean; other values break ``unknown_code``."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    codes, uniq = pd.factorize(s)
    if not len(uniq):
        return pd.Series(pd.array([pd.NA] * len(s), dtype="boolean"), index=s.index)
    key = pd.Index(uniq).map(lambda v: str(int(v)) if isinstance(v, (bool, np.bool_, int, np.integer, float, np.floating))
                                 and float(v) in (0.0, 1.0) else str(v).strip().lower())
    val = np.where(key.isin(list(yes)), 1, np.where(key.isin(list(no)), 0, -1))
    bad_u = val < 0
    if bad_u.any():
        bad = (codes >= 0) & bad_u[np.maximum(codes, 0)]
        P.add("unknown_code", column, bad, f"value(s) {_shown(sorted(str(v) for v in uniq[bad_u])[:5])} in '{column}' are "
                                           "not true/false (also 1/0, yes/no)")
    v = np.where(codes >= 0, val[np.maximum(codes, 0)], -1)
    return pd.Series(pd.arrays.BooleanArray(v == 1, v < 0), index=s.index)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Standard dtypes and order: categoricals for vocabularies, sorted by case, time, event order."""
    for c in _CATEGORY_COLUMNS:
        cats = S.EVENTS if c == "event" else (sorted(load_force_table()["force"]) if c == "force" else S.ENUMS.get(c))
        if isinstance(df[c].dtype, pd.CategoricalDtype) and list(df[c].cat.categories) == list(cats):
            continue
        df[c] = pd.Categorical(df[c].astype(object).where(df[c].notna(), None), categories=list(cats))
    df["outcome_code"] = df["outcome_code"].astype("Int64")
    for c in S.BOOLEAN_FIELDS:
        df[c] = df[c].astype("boolean")
    df["timestamp"] = df["timestamp"].astype("datetime64[ns]")
    cols = list(S.FIELDS) + [c for c in df.columns if c not in S.FIELDS]
    df = df[cols]
    rank = df["event"].cat.codes.to_numpy()
    ts = df["timestamp"].to_numpy()
    cid = _case_order(df["case_id"])
    if len(df) > 1:
        # most extracts (and simulate's output) are already in order: then no sort and no copy
        same_case = cid[1:] == cid[:-1]
        in_order = (np.all(_sorted_pairs(cid)) and np.all(~same_case | (ts[1:] > ts[:-1])
                                                             | ((ts[1:] == ts[:-1]) & (rank[1:] >= rank[:-1]))))
        if in_order:
            return df.reset_index(drop=True)
    order = np.lexsort((rank, ts, cid))
    return df.iloc[order].reset_index(drop=True)


def _case_order(case_id: pd.Series) -> np.ndarray:
    """case_id as numbers that sort as its values do (numbers as numbers, text as text): the ranks of the
    distinct values, so a log of text ids is ordered with one sort of its distinct ids, not a lexsort of
    millions of Python strings. Falls back to the values themselves where they do not compare."""
    if case_id.dtype.kind in "iuf":
        return case_id.to_numpy()
    if isinstance(case_id.dtype, pd.CategoricalDtype):
        codes, uniq = case_id.cat.codes.to_numpy(), case_id.cat.categories
    else:
        codes, uniq = pd.factorize(case_id)
    if len(codes) and codes.min() < 0:
        return case_id.to_numpy(dtype=object)
    try:
        if uniq.is_monotonic_increasing:  # the CSV reader's categories are sorted already
            return codes
        by_value = np.argsort(np.asarray(uniq, dtype=object), kind="stable")
    except TypeError:
        return case_id.to_numpy(dtype=object)
    ranks = np.empty(len(uniq), dtype=np.int64)
    ranks[by_value] = np.arange(len(uniq))
    return ranks[codes]


def _sorted_pairs(a: np.ndarray) -> np.ndarray:
    """Elementwise ``a[i] <= a[i+1]`` for any comparable dtype (object arrays of text or numbers)."""
    try:
        return a[:-1] <= a[1:]
    except TypeError:  # mixed types: let lexsort decide
        return np.zeros(max(len(a) - 1, 0), dtype=bool)




def load_events(path, *, errors: str = "raise", as_of=None, return_report: bool = False, columns=None,
                dayfirst: bool | None = None, sheet=None, max_bytes: int | None = None, max_rows: int | None = None):
    """Read and validate an event log (CSV, compressed CSV, Parquet, .xlsx or .ods).

    Parameters
    ----------
    path : str or pathlib.Path
    errors : {"raise", "exclude"}, default "raise"
        ``"raise"``: any broken rule raises :class:`DataValidationError` naming the rule, the column, the first
        offending case_ids and their lines. ``"exclude"``: cases that break a rule are set aside, a
        :class:`DataQualityWarning` says how many, and the report lists every excluded row with its reason.
    as_of : str or date-like, optional
        Extraction date (timestamps after it are errors); ISO text such as ``2023-09-30``.
    return_report : bool, default False
        Also return the :class:`ValidationReport`.
    columns : dict, optional
        Column mapping ``{standard name: name in the file}`` (:func:`read_events`, :func:`read_column_mapping`).
    dayfirst : bool, optional
        Read ``dd/mm/yyyy`` timestamps (:func:`validate_events`).
    sheet : str or int, optional
        Workbook sheet (default the first).
    max_bytes, max_rows : int, optional
        Reading limits (:data:`MAX_BYTES`, :data:`MAX_ROWS`).

    Returns
    -------
    events : pandas.DataFrame
        Validated, typed event log.
    report : ValidationReport
        Only if ``return_report``.
    """
    if errors not in ("raise", "exclude"):
        raise ValueError(f"errors must be 'raise' or 'exclude', not {errors!r}")
    events = read_events(path, columns=columns, sheet=sheet, max_bytes=max_bytes, max_rows=max_rows)
    report = validate_events(events, as_of=as_of, dayfirst=dayfirst)
    del events
    release_memory()  # the raw frame and validation's temporaries: most of the peak, free but held
    if errors == "raise":
        report.raise_if_invalid()
    elif not report.ok:
        warnings.warn(
            f"{len(report.excluded):,} row(s) of {report.excluded['case_id'].nunique():,} case(s) excluded: "
            + "; ".join(f"{r.rule} ({r.n_cases} cases)" for r in report.problems.itertuples())
            + ". See the validation report (return_report=True).",
            DataQualityWarning, stacklevel=2,
        )
    return (report.valid, report) if return_report else report.valid


# -------------------------------------------------------------------------------------------- cases
def financial_year(dates) -> pd.Series:
    """Financial year (April-March) of each date, as text like ``"2022/23"`` (``<NA>`` where missing)."""
    d = pd.DatetimeIndex(pd.to_datetime(dates))
    ok = ~d.isna()
    start = np.where(ok, d.year - (d.month < 4), 0).astype(np.int64)
    if not ok.any():
        return pd.Series(pd.NA, index=range(len(d)), dtype="string")
    lo, hi = start[ok].min(), start[ok].max()
    labels = np.array([f"{y}/{(y + 1) % 100:02d}" for y in range(lo, hi + 1)], dtype=object)
    out = np.where(ok, labels[np.clip(start - lo, 0, hi - lo)], None)
    return pd.Series(out, dtype="string")


_DAYS_TO = ("recorded", "suspect_identified", "arrested", "spo_need_identified", "spo_interim_applied",
            "spo_interim_granted", "spo_full_applied", "spo_full_granted", "police_outcome", "charged",
            "first_hearing", "court_outcome", "discontinued")


def to_cases(events: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Derive the case table (one row per case) from a validated event log.

    Parameters
    ----------
    events : pandas.DataFrame
        Validated event log (:func:`load_events`, :func:`validate_events` ``.valid`` or
        :func:`attrition.synthetic.simulate` ``.events``).
    as_of : date-like, optional
        Extraction date. Events after it are ignored and cases reported after it do not exist yet; cases
        without a closing outcome by then are open (right-censored). Default: the last event date.

    Returns
    -------
    pandas.DataFrame
        One row per case, sorted by ``case_id``; columns are documented in ``docs/data-standard.md``
        ("The case table"). ``attrs["as_of"]`` holds the extraction date.

    Notes
    -----
    The funnel is nested: a case never recorded (or charged) as stalking leaves at stage ``reported`` with
    reason ``mischarged`` once its journey closes; conviction means conviction for stalking, so a conviction
    for another offence is an exit at ``prosecuted`` with reason ``mischarged``. Stages reached are inferred
    from the furthest evidence (a charge implies an identified suspect; outcome types 15 and 16 imply one).
    """
    missing = [c for c in ("case_id", "force", "event", "timestamp") if c not in events.columns]
    if missing:
        raise DataValidationError(f"to_cases needs the event-log columns {missing}; validate with load_events first.")
    ts_all = events["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(ts_all.max())
    keep = ts_all <= as_of_ts.value
    force_names = sorted(load_force_table()["force"])

    def codes_of(col, categories):
        """Integer codes (-1 missing) of a column against the standard's categories, never object arrays."""
        s = events[col] if col in events.columns else pd.Series(pd.NA, index=events.index)
        if isinstance(s.dtype, pd.CategoricalDtype) and list(s.cat.categories) == list(categories):
            c = s.cat.codes.to_numpy()
        else:
            c = pd.Categorical(s.astype(object).where(s.notna(), None), categories=list(categories)).codes
        return c[keep]

    ecode = codes_of("event", S.EVENTS)
    if (ecode < 0).any():
        raise DataValidationError("to_cases found events outside the standard's vocabulary; validate with load_events first.")
    E = {e: i for i, e in enumerate(S.EVENTS)}
    codes_all, uniques = pd.factorize(events["case_id"].to_numpy()[keep], sort=True)
    n = len(uniques)
    ts = ts_all[keep]
    # sort rows by case, time, event order (ties: events in the standard's logical order)
    order = np.lexsort((ecode, ts, codes_all))
    codes, ts, ecode = codes_all[order], ts[order], ecode[order]
    det = {c: codes_of(c, S.ENUMS[c])[order] for c in ("offence", "result", "reason", "risk", "relationship")}
    det["force"] = codes_of("force", force_names)[order]
    oc_raw = events["outcome_code"] if "outcome_code" in events.columns else pd.Series(pd.NA, index=events.index)
    det["outcome_code"] = pd.to_numeric(oc_raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[keep][order]

    rep_rows = ecode == E["reported"]
    has_rep = np.zeros(n, bool)
    has_rep[codes[rep_rows]] = True
    if not has_rep.all():
        bad = uniques[~has_rep][:_N_EXAMPLES]
        raise DataValidationError(f"{int((~has_rep).sum())} case(s) have no 'reported' event by as_of (e.g. {list(bad)}); "
                                  "validate the event log with load_events / validate_events first.")
    NAT = np.iinfo(np.int64).min

    def first(mask, last=False):
        """Row positions (sorted frame) of the first (or last) row per case among ``mask``."""
        idx = np.flatnonzero(mask)
        c = codes[idx]
        if not len(idx):
            return idx
        edge = np.r_[c[1:] != c[:-1], True] if last else np.r_[True, c[1:] != c[:-1]]
        return idx[edge]

    def times_at(rows):
        out = np.full(n, NAT, dtype=np.int64)
        out[codes[rows]] = ts[rows]
        return out

    def values_at(rows, arr, fill=-1):
        out = np.full(n, fill, dtype=arr.dtype)
        out[codes[rows]] = arr[rows]
        return out

    is_ev = {e: ecode == i for e, i in E.items()}
    r_rep = first(rep_rows)
    t_rep = times_at(r_rep)
    T = {e: times_at(first(is_ev[e])) for e in _DAYS_TO}

    off = det["offence"]
    stalk_codes = [S.OFFENCES.index(o) for o in S.STALKING_OFFENCES]
    stalk = np.isin(off, stalk_codes)
    rec_or_re = is_ev["recorded"] | is_ev["reclassified"]
    recorded_offence = values_at(first(is_ev["recorded"]), off)
    final_offence = values_at(first(rec_or_re, last=True), off)
    charged_offence = values_at(first(is_ev["charged"]), off)
    oc = values_at(first(is_ev["police_outcome"]), det["outcome_code"], fill=np.nan)
    court_result = values_at(first(is_ev["court_outcome"]), det["result"])
    disc_reason = values_at(first(is_ev["discontinued"]), det["reason"])
    R = {r: i for i, r in enumerate(S.ENUMS["result"])}

    t_stalk_rec = times_at(first(rec_or_re & stalk))
    t_stalk_chg = times_at(first(is_ev["charged"] & stalk))
    convicted_stalking = court_result == R["convicted_stalking"]
    convicted_any = convicted_stalking | (court_result == R["convicted_other_offence"])
    t_court = T["court_outcome"]
    t_first_stalk = _nanmin(_nanmin(t_stalk_rec, t_stalk_chg, NAT), np.where(convicted_stalking, t_court, NAT), NAT)
    ever_stalking = t_first_stalk != NAT

    implies = S.outcome_types()["implies_suspect"]
    suspect_codes = np.asarray(implies.index[implies.to_numpy()], dtype=float)
    t_po = T["police_outcome"]
    has_charge = (T["charged"] != NAT) | (oc == 1)
    t_charge_stage = np.where(T["charged"] != NAT, T["charged"], np.where(oc == 1, t_po, NAT))
    t_suspect = _nanmin(_nanmin(T["suspect_identified"], T["arrested"], NAT), t_charge_stage, NAT)
    t_suspect = _nanmin(t_suspect, np.where(np.isin(oc, suspect_codes), t_po, NAT), NAT)
    t_pros = _nanmin(T["first_hearing"], t_court, NAT)

    stage = np.zeros(n, np.int8)
    stage[ever_stalking] = 1
    stage[ever_stalking & (t_suspect != NAT)] = 2
    stage[ever_stalking & has_charge] = 3
    stage[ever_stalking & (t_pros != NAT)] = 4
    stage[ever_stalking & convicted_stalking] = 5

    police_closed = ~np.isnan(oc) & (oc != 0) & (oc != 1)
    court_closed = (t_court != NAT) | (T["discontinued"] != NAT)
    closed = np.where(has_charge, court_closed, police_closed)
    t_close = np.where(has_charge, np.where(t_court != NAT, t_court, T["discontinued"]), t_po)
    status = np.where(stage == 5, 2, np.where(closed, 1, 0)).astype(np.int8)   # open, exited, convicted
    exited = status == 1

    # exit reasons as codes into S.EXIT_REASONS
    X = {r: i for i, r in enumerate(S.EXIT_REASONS)}
    code_to_reason = np.full(23, X["other"], dtype=np.int8)
    for k, v in S.OUTCOME_EXIT_REASON.items():
        code_to_reason[k] = X[v]
    reason = np.full(n, -1, dtype=np.int8)
    classified = (recorded_offence >= 0) | (charged_offence >= 0)
    at0 = exited & (stage == 0)
    reason[at0] = np.where(classified[at0], X["mischarged"], X["not_recorded"])
    pre = exited & ((stage == 1) | (stage == 2))
    reason[pre] = code_to_reason[np.nan_to_num(oc[pre], nan=19).astype(np.int64).clip(0, 22)]
    disc_map = np.array([X[S.DISCONTINUED_EXIT_REASON[r]] for r in S.ENUMS["reason"]] + [-1], dtype=np.int8)
    court_map = np.array([-1, X["mischarged"], X["acquitted"], X["acquitted"], -1], dtype=np.int8)  # by result code
    post = exited & (stage >= 3)
    cr = court_map[court_result[post]]
    reason[post] = np.where(cr >= 0, cr, disc_map[disc_reason[post]])
    reason[post & (reason < 0)] = X["other"]

    end = np.where(status == 0, as_of_ts.value, t_close)
    day = float(_DAY_NS)

    def days(t):
        return np.where(t == NAT, np.nan, (t - t_rep) / day)

    def cat(codes_, categories, ordered=False):
        return pd.Categorical.from_codes(codes_, categories=list(categories), ordered=ordered)

    report_date = pd.DatetimeIndex(t_rep.view("datetime64[ns]"))
    out = pd.DataFrame({
        "case_id": uniques,
        "force": cat(values_at(r_rep, det["force"]), force_names),
        "report_date": report_date,
        "financial_year": financial_year(report_date).to_numpy(),
        "risk": cat(values_at(r_rep, det["risk"]), S.ENUMS["risk"]),
        "relationship": cat(values_at(r_rep, det["relationship"]), S.ENUMS["relationship"]),
        "recorded_offence": cat(recorded_offence, S.OFFENCES),
        "final_offence": cat(final_offence, S.OFFENCES),
        "ever_recorded_stalking": t_stalk_rec != NAT,
        "charged": has_charge,
        "charged_offence": cat(charged_offence, S.OFFENCES),
        "charged_stalking": t_stalk_chg != NAT,
        "outcome_code": pd.arrays.IntegerArray(np.nan_to_num(oc).astype(np.int64), np.isnan(oc)),
        "court_result": cat(court_result, S.ENUMS["result"]),
        "convicted_stalking": convicted_stalking,
        "convicted_any": convicted_any,
        "stage_reached": cat(stage, S.STAGES, ordered=True),
        "stage_index": stage.astype(np.int64),
        "status": cat(status, ["open", "exited", "convicted"]),
        "exit_stage": cat(np.where(exited, stage, -1), S.STAGES, ordered=True),
        "exit_reason": cat(reason, S.EXIT_REASONS),
        "closed": status != 0,
        "duration": (end - t_rep) / day,
    })
    for e in _DAYS_TO:
        out[f"days_to_{e}"] = days(T[e])
    out["days_to_recorded_stalking"] = days(t_first_stalk)
    out["days_to_suspect_identified"] = days(t_suspect)
    out["days_to_charged"] = days(t_charge_stage)
    out["days_to_prosecuted"] = days(t_pros)
    out["days_to_convicted"] = days(np.where(convicted_stalking, t_court, NAT))

    # optional yes/no details of the report (``online``): a column only when the log has any value
    for c in S.BOOLEAN_FIELDS:
        if c in events.columns and events[c].notna().any():
            v = pd.array(events[c], dtype="boolean").to_numpy(dtype=np.int8, na_value=-1)[keep][order]
            got = values_at(r_rep, v)
            out[c] = pd.arrays.BooleanArray(got == 1, got < 0)

    # SPO timeliness
    t_ia, t_arrest = T["spo_interim_applied"], T["arrested"]
    h48 = 2 * _DAY_NS
    d_arr = t_ia - t_arrest
    out["spo_interim_applied"] = t_ia != NAT
    out["spo_interim_timely"] = (t_ia != NAT) & (((t_ia - t_rep) <= h48)
                                                 | ((t_arrest != NAT) & (d_arr >= 0) & (d_arr <= h48)))
    t_fa, t_need = T["spo_full_applied"], T["spo_need_identified"]
    clock = np.where((t_need != NAT) & (t_need <= t_fa), t_need, t_rep)
    out["spo_full_applied"] = t_fa != NAT
    out["spo_full_timely"] = (t_fa != NAT) & ((t_fa - clock) <= 28 * _DAY_NS)
    out["spo_any"] = out["spo_interim_applied"] | out["spo_full_applied"]
    out["spo_granted"] = (T["spo_interim_granted"] != NAT) | (T["spo_full_granted"] != NAT)

    # breaches
    br = np.flatnonzero(is_ev["order_breach"])
    bc = codes[br]
    out["n_breaches"] = np.bincount(bc, minlength=n).astype(np.int64)
    starts = np.r_[True, bc[1:] != bc[:-1]] if len(bc) else np.zeros(0, bool)
    second = np.zeros(len(bc), bool)
    if len(bc):
        grp_start = np.maximum.accumulate(np.where(starts, np.arange(len(bc)), 0))
        second = (np.arange(len(bc)) - grp_start) == 1
    out["days_to_first_breach"] = days(times_at(br[starts]))
    out["days_to_second_breach"] = days(times_at(br[second]))
    out.attrs["as_of"] = as_of_ts.isoformat()  # text, so the table stays serialisable (parquet)
    return out


def _nanmin(a, b, nat):
    """Elementwise minimum of two int64 time arrays where ``nat`` marks missing."""
    return np.where(a == nat, b, np.where(b == nat, a, np.minimum(a, b)))
