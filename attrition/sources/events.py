"""Victim-journey event logs: read, validate, and derive the case table.

Data flow: event log (the standard, ``attrition/standard/events.schema.json``) -> :func:`validate_events`
-> :func:`to_cases` (one row per case) -> models. Nothing is silently dropped: every excluded row is
listed in a :class:`ValidationReport` with its reason.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import standard as S
from ..exceptions import DataQualityWarning, DataValidationError, IdentifierColumnError
from .forces import load_force_table, normalise_force_names

__all__ = ["ValidationReport", "read_events", "validate_events", "load_events", "to_cases", "financial_year"]

_DAY_NS = 86_400 * 10**9
_N_EXAMPLES = 5
_CATEGORY_COLUMNS = ("force", "event", "offence", "order_type", "decision", "reason", "result", "risk", "relationship")


# --------------------------------------------------------------------------------------------- reading
def _normalise_column(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower().lstrip("\ufeff")).strip("_")


def _check_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Structural checks that make a file unusable as a whole (raise, never exclude)."""
    if df.shape[0] == 0:
        raise DataValidationError("The event log is empty: it has no rows (an empty file or only a header).")
    renamed = {c: _normalise_column(c) for c in df.columns}
    df = df.rename(columns=renamed, copy=True)
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise DataValidationError(f"Duplicate column names after normalisation: {dupes}.")
    ident = sorted(c for c in df.columns if c in S.IDENTIFIER_COLUMNS or any(
        c.startswith(p + "_") or c.endswith("_" + p) for p in ("name", "address", "postcode", "email", "phone", "dob")
    ))
    if ident:
        raise IdentifierColumnError(
            f"Columns {ident} look like direct identifiers (names, dates of birth, addresses, postcodes, phone "
            "numbers, e-mail). The victim-journey standard refuses them: remove these columns and use a "
            "pseudonymous case_id."
        )
    missing = [c for c in S.REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"Missing required column(s) {missing}; the standard needs {list(S.REQUIRED_COLUMNS)}. "
            f"Columns found: {list(df.columns)}."
        )
    for c in S.DETAIL_COLUMNS:
        if c not in df.columns:
            df[c] = pd.NA
    return df


def read_events(path) -> pd.DataFrame:
    """Read an event log from CSV (optionally compressed) or Parquet, without validating its rows.

    Column names are normalised (case, spaces, a UTF-8 BOM). Files that cannot be used at all raise.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv``, ``.csv.gz`` or ``.parquet``/``.pq``.

    Returns
    -------
    pandas.DataFrame
        Every row of the file, with all standard columns present (absent detail columns are added empty).

    Raises
    ------
    DataValidationError
        Missing file, empty file, missing required columns.
    IdentifierColumnError
        A column holds direct identifiers.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(f"No event log at {path}.")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        df = pd.read_parquet(path)
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        try:
            # every column read as categorical text: an event log repeats few distinct values per column,
            # so this keeps memory near the size of the codes (validation cleans the categories)
            df = pd.read_csv(path, dtype="category", keep_default_na=False, na_values=["", "NA"],
                             encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            raise DataValidationError(f"The event log {path} is empty: no header and no rows.") from None
    else:
        raise DataValidationError(f"Unsupported file type {path.suffix!r}: use .csv, .csv.gz or .parquet.")
    return _check_columns(df)


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
        ``example_rows`` (0-based positions in the input: in a CSV with a header the line is position + 2),
        ``message``. Empty when the data are valid.
    excluded : pandas.DataFrame
        Every row not in ``valid``, with ``reason`` (the rule its case broke first).
    notes : list of str
        Repairs that did not exclude anything (force aliases normalised, extra columns kept).
    """

    valid: pd.DataFrame
    problems: pd.DataFrame
    excluded: pd.DataFrame
    n_rows_in: int
    notes: list = field(default_factory=list)

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
                         f"first case_ids: {r.example_case_ids}; first rows: {r.example_rows})")
        lines.append("Fix the rows, or call load_events(..., errors='exclude') to set those cases aside "
                     "(they are returned in the report with their reason).")
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

    def __init__(self, df: pd.DataFrame):
        self.df = df
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
            "example_case_ids": ", ".join(ids[:_N_EXAMPLES]) if len(ids) else "(case_id missing)",
            # 0-based positions in the input; in a CSV with a header, line number = position + 2
            "example_rows": ", ".join(str(i) for i in np.flatnonzero(mask)[:_N_EXAMPLES]),
            "message": message,
        })
        if rule not in self.rules:
            self.rules.append(rule)
        fresh = mask & (self.first_reason < 0)
        self.first_reason[fresh] = self.rules.index(rule)

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
    remap = np.where(empty, -1, codes2)
    out = np.where(codes >= 0, remap[np.maximum(codes, 0)] if len(remap) else -1, -1).astype(np.int32)
    keep = pd.Index(uniq2, dtype=object)
    return out, keep


def _duplicated_rows(df: pd.DataFrame, cols: list) -> np.ndarray:
    """``df.duplicated(cols, keep="first")`` in little memory: a 64-bit hash per row first, then an exact
    comparison only among the rows whose hashes collide."""
    h = pd.Series(pd.util.hash_pandas_object(df[cols], index=False).to_numpy())
    out = np.zeros(len(df), dtype=bool)
    cand = np.flatnonzero(h.duplicated(keep=False).to_numpy())
    if cand.size:
        out[cand] = df.iloc[cand][cols].duplicated(keep="first").to_numpy()
    return out


def _recode(codes, uniq, allowed, P, rule, column, message) -> pd.Categorical:
    """Categorical with the standard's categories; values outside them are reported under ``rule``."""
    idx = pd.Index(list(allowed)).get_indexer(uniq) if len(uniq) else np.zeros(0, np.int64)
    bad_u = idx < 0
    if bad_u.any():
        bad = (codes >= 0) & bad_u[np.maximum(codes, 0)]
        P.add(rule, column, bad, message.format(vals=sorted(map(str, uniq[bad_u]))[:5]))
    new = np.where(codes >= 0, idx[np.maximum(codes, 0)] if len(idx) else -1, -1)
    return pd.Categorical.from_codes(new, categories=list(allowed))


def _first_time(codes, ts, mask, n) -> np.ndarray:
    """Earliest timestamp (int64 ns, NaT as min int) per case among rows in ``mask``."""
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, codes[mask], ts[mask])
    return out


def validate_events(events: pd.DataFrame, *, as_of=None, today=None) -> ValidationReport:
    """Validate an event log against the victim-journey standard.

    Every rule is checked on every row (vectorised), so one call reports all problems at once. A case with
    any broken rule is excluded whole (a partial journey would bias every model); its rows are listed in
    ``report.excluded`` with the reason.

    Parameters
    ----------
    events : pandas.DataFrame
        Event log, e.g. from :func:`read_events` or :func:`attrition.synthetic.simulate`.
    as_of : date-like, optional
        Extraction date; timestamps after it are "future". Default: today.
    today : date-like, optional
        Override of today's date (for reproducible tests).

    Returns
    -------
    ValidationReport

    Notes
    -----
    Rules (``rule`` in the problems table): ``missing_value``, ``unknown_event``, ``unknown_force``,
    ``unparseable_timestamp``, ``future_timestamp``, ``unknown_code``, ``unknown_outcome_code``,
    ``missing_detail``, ``duplicate_event``, ``repeated_event``, ``inconsistent_force``,
    ``missing_report``, ``before_report``, ``out_of_order``, ``missing_prerequisite``.
    """
    df = _check_columns(events)  # rename() returns a new frame: the caller's is never modified
    n_in = len(df)
    df.index = pd.RangeIndex(n_in)
    notes: list[str] = []
    P = _Problems(df)

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
        elif c == "case_id":
            miss = df[c].isna().to_numpy() | df[c].astype(str).str.strip().eq("").to_numpy() if df[c].dtype == object \
                else df[c].isna().to_numpy()
        else:
            miss = clean[c][0] < 0
        P.add("missing_value", c, miss, f"'{c}' is required on every row")

    # ---- event vocabulary
    codes, uniq = clean["event"]
    df["event"] = _recode(codes, uniq, S.EVENTS, P, "unknown_event", "event",
                          "unknown event(s) {vals}; allowed: " + str(list(S.EVENTS)))

    # ---- forces
    codes, uniq = clean["force"]
    official = normalise_force_names(pd.Series(uniq, dtype=object))
    force_names = sorted(load_force_table()["force"])
    known = official.isin(force_names).fillna(False).to_numpy()
    bad_u = ~known
    if bad_u.any():
        bad_rows = (codes >= 0) & bad_u[np.maximum(codes, 0)]
        vals = sorted(uniq[bad_u])[:5]
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
    if not pd.api.types.is_datetime64_any_dtype(raw_ts):
        tcodes, tuniq = pd.factorize(raw_ts)
        parsed = pd.to_datetime(pd.Index(tuniq).astype(str).str.strip(), errors="coerce", format="ISO8601")
        if getattr(parsed, "tz", None) is not None:
            parsed = parsed.tz_convert("Europe/London").tz_localize(None)
        pv = parsed.to_numpy().astype("datetime64[ns]")
        ts = pd.Series(np.where(tcodes >= 0, pv[np.maximum(tcodes, 0)], np.datetime64("NaT")), index=df.index)
    else:
        ts = raw_ts
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("Europe/London").dt.tz_localize(None)
    ts = ts.astype("datetime64[ns]")
    P.add("unparseable_timestamp", "timestamp", ts.isna() & raw_ts.notna(),
          "timestamp is not an ISO 8601 date or date-time (e.g. 2022-05-04 or 2022-05-04T13:20)")
    limit = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(today or pd.Timestamp.now()).normalize() + pd.Timedelta(days=1)
    if as_of is not None:
        limit = limit + pd.Timedelta(days=1) if limit == limit.normalize() else limit
    P.add("future_timestamp", "timestamp", (ts >= limit).to_numpy(),
          f"timestamp is after the extraction date ({(limit - pd.Timedelta(days=1)):%Y-%m-%d})")
    df["timestamp"] = ts

    # ---- categorical details
    for c, allowed in S.ENUMS.items():
        if c == "event":
            continue
        codes, uniq = clean[c]
        df[c] = _recode(codes, uniq, allowed, P, "unknown_code", c, "value(s) {vals} not in " + str(list(allowed)))

    # ---- outcome codes (on distinct values)
    ocodes, ouniq = pd.factorize(df["outcome_code"])
    onum = pd.to_numeric(pd.Series(ouniq, dtype=object), errors="coerce").to_numpy(dtype=float)
    bad_u = np.isnan(onum) | (onum % 1 != 0) | (onum < 0) | (onum > 22)
    bad_oc = (ocodes >= 0) & bad_u[np.maximum(ocodes, 0)] if len(ouniq) else np.zeros(len(df), bool)
    if bad_oc.any():
        P.add("unknown_outcome_code", "outcome_code", bad_oc,
              f"outcome code(s) {sorted(str(v) for v in pd.Series(ouniq)[bad_u])[:5]} are not Home Office outcome types 0-22")
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
    P.add("duplicate_event", None, dup, "the same event appears twice with identical values")
    once = np.isin(ev_codes, [S.EVENT_RANK[e] for e in S.ONCE_EVENTS]) & ~dup
    rep = once & _duplicated_rows(df, ["case_id", "event"])
    P.add("repeated_event", "event", rep,
          f"events that happen once per case ({sorted(S.ONCE_EVENTS)}) appear more than once")

    # ---- case-level rules (only on rows whose own fields are usable)
    ecode = df["event"].cat.codes.to_numpy()
    usable = df["case_id"].notna().to_numpy() & df["timestamp"].notna().to_numpy() & (ecode >= 0)
    codes, _ = pd.factorize(df["case_id"])
    n_cases = codes.max() + 1 if len(codes) else 0
    ts_ns = df["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    E = {e: i for i, e in enumerate(S.EVENTS)}
    evv = ecode  # compared with E[...] below
    big = np.iinfo(np.int64).max

    fcode = df["force"].cat.codes.to_numpy()
    has_f = (fcode >= 0) & (codes >= 0)
    fmin = np.full(n_cases, np.iinfo(np.int64).max)
    fmax = np.full(n_cases, -1)
    np.minimum.at(fmin, codes[has_f], fcode[has_f])
    np.maximum.at(fmax, codes[has_f], fcode[has_f])
    many = (fmax >= 0) & (fmax != fmin)
    P.add("inconsistent_force", "force", many[codes], "a case's events name more than one force")

    is_rep = (evv == E["reported"]) & usable
    t_rep = _first_time(codes, ts_ns, is_rep, n_cases)
    no_rep = t_rep == big
    P.add("missing_report", "event", no_rep[codes], "the case has no 'reported' event")
    P.add("before_report", "timestamp", usable & ~no_rep[codes] & (ts_ns < t_rep[codes]),
          "event dated before the case's report")
    firsts: dict[str, np.ndarray] = {}

    def first_of(e):
        if e not in firsts:
            firsts[e] = _first_time(codes, ts_ns, usable & (evv == E[e]), n_cases)
        return firsts[e]

    for a, b, why in S.ORDER_RULES:
        ta, tb = first_of(a), first_of(b)
        bad_case = (ta != big) & (tb != big) & (tb < ta)
        P.add("out_of_order", "timestamp", bad_case[codes] & ((evv == E[a]) | (evv == E[b])), f"'{b}' before '{a}': {why}")
    for a, b, why in S.REQUIRES_RULES:
        bad_case = (first_of(a) != big) & (first_of(b) == big)
        P.add("missing_prerequisite", "event", bad_case[codes] & (evv == E[a]), f"'{a}' without '{b}': {why}")

    problems = P.table()
    bad_rows = P.first_reason >= 0
    in_bad_case = bad_rows.copy()
    if bad_rows.any():
        case_rule = np.full(n_cases + 1, -1, dtype=np.int16)   # first broken rule of each case (slot n: no case_id)
        case_of_row = np.where(codes >= 0, codes, n_cases)
        order = np.flatnonzero(bad_rows)[::-1]                 # reversed: the first row's rule wins
        case_rule[case_of_row[order]] = P.first_reason[order]
        in_bad_case = (case_rule[case_of_row] >= 0) & ((codes >= 0) | bad_rows)
        rules = np.asarray(P.rules, dtype=object)
        reason = np.where(bad_rows, rules[np.maximum(P.first_reason, 0)],
                          "case excluded: " + rules[np.maximum(case_rule[case_of_row], 0)].astype(str))
        excluded = events.reset_index(drop=True).loc[in_bad_case].copy()
        excluded["reason"] = reason[in_bad_case]
    else:
        excluded = events.iloc[:0].copy().assign(reason=pd.Series(dtype=object))

    valid = df.loc[~in_bad_case].copy() if in_bad_case.any() else df  # df is already our own copy
    extra = [c for c in valid.columns if c not in S.FIELDS]
    if extra:
        notes.append(f"extra column(s) kept as they are: {extra}")
    valid = _typed(valid)
    return ValidationReport(valid=valid, problems=problems, excluded=excluded, n_rows_in=n_in, notes=notes)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Standard dtypes and order: categoricals for vocabularies, sorted by case, time, event order."""
    for c in _CATEGORY_COLUMNS:
        cats = S.EVENTS if c == "event" else (sorted(load_force_table()["force"]) if c == "force" else S.ENUMS.get(c))
        if isinstance(df[c].dtype, pd.CategoricalDtype) and list(df[c].cat.categories) == list(cats):
            continue
        df[c] = pd.Categorical(df[c].astype(object).where(df[c].notna(), None), categories=list(cats))
    df["outcome_code"] = df["outcome_code"].astype("Int64")
    df["timestamp"] = df["timestamp"].astype("datetime64[ns]")
    cols = list(S.FIELDS) + [c for c in df.columns if c not in S.FIELDS]
    df = df[cols]
    rank = df["event"].cat.codes.to_numpy()
    ts = df["timestamp"].to_numpy()
    cid = df["case_id"].to_numpy()
    if len(df) > 1:
        # most extracts (and simulate's output) are already in order: then no sort and no copy
        same_case = cid[1:] == cid[:-1]
        in_order = (np.all(_sorted_pairs(cid)) and np.all(~same_case | (ts[1:] > ts[:-1])
                                                             | ((ts[1:] == ts[:-1]) & (rank[1:] >= rank[:-1]))))
        if in_order:
            return df.reset_index(drop=True)
    order = np.lexsort((rank, ts, cid))
    return df.iloc[order].reset_index(drop=True)


def _sorted_pairs(a: np.ndarray) -> np.ndarray:
    """Elementwise ``a[i] <= a[i+1]`` for any comparable dtype (object arrays of text or numbers)."""
    try:
        return a[:-1] <= a[1:]
    except TypeError:  # mixed types: let lexsort decide
        return np.zeros(max(len(a) - 1, 0), dtype=bool)


def load_events(path, *, errors: str = "raise", as_of=None, return_report: bool = False):
    """Read and validate an event log (CSV or Parquet).

    Parameters
    ----------
    path : str or pathlib.Path
    errors : {"raise", "exclude"}, default "raise"
        ``"raise"``: any broken rule raises :class:`DataValidationError` naming the rule, the column and
        the first offending case_ids. ``"exclude"``: cases that break a rule are set aside, a
        :class:`DataQualityWarning` says how many, and the report lists every excluded row with its reason.
    as_of : date-like, optional
        Extraction date (timestamps after it are errors).
    return_report : bool, default False
        Also return the :class:`ValidationReport`.

    Returns
    -------
    events : pandas.DataFrame
        Validated, typed event log.
    report : ValidationReport
        Only if ``return_report``.
    """
    if errors not in ("raise", "exclude"):
        raise ValueError(f"errors must be 'raise' or 'exclude', not {errors!r}")
    report = validate_events(read_events(path), as_of=as_of)
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
