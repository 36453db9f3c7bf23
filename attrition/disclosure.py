"""Statistical disclosure control for published tables and figures.

Counts of stalking cases broken down by force, year, stage and exit reason quickly become small, and a
small count about a crime with an identifiable victim is disclosive. Every table and figure that
leaves the project goes through :func:`suppress_small_counts`, and :func:`check_disclosure` (called by
:func:`attrition.figures.save_figure`) refuses to publish a table that did not.

Policy
------
* **Primary suppression**: a count ``c`` with ``1 <= c < threshold`` (default
  ``attrition.config.DISCLOSURE_THRESHOLD`` = 10) is withheld. **True zeros are published**: a zero
  says that nothing happened, which reveals nothing about a person, and withholding it would hide
  the pattern the project exists to show (e.g. no charges in a force). This is the Home Office /
  ONS practice for police-recorded crime and outcome tables. Pass ``suppress_zeros=True`` to also
  withhold zeros (e.g. for tables of victims' characteristics, where a zero is itself an
  attribute disclosure).
* **Secondary (complementary) suppression**: a withheld cell must not be recoverable by
  subtracting the published cells from a total. Within every group of rows whose total could be
  published (``by``; the whole table if ``by`` is None), every count column must have either no
  withheld cell or at least two. Where a group has exactly one, the smallest non-zero published
  cell of that column in the group is withheld too (a zero only if no non-zero cell is left; ties go
  to the first row). With ``across_columns=True`` the count columns are also treated as adding up
  along each row (a wide table of exits by reason) and the same rule is applied to every row. The
  rules are applied repeatedly until no group or row has a lone withheld cell.
* **Derived values**: rates, proportions and their confidence limits computed from a withheld count
  are withheld in the same row (by default every float column that is not a count or a ``by`` key, and integer columns named as
  rates, such as ``per 10,000 reports``).
* **Curves**: :func:`publish_curve` (cumulative incidence, Kaplan–Meier) stops a curve where fewer than
  10 cases are at risk and draws a step only once 10 events have pooled since the last one;
  :func:`publish_occupation` shows a state-occupation time only where every state holds 0 or >= 10
  cases and moved by 0 or >= 10 since the last shown time. The plot functions of
  :mod:`attrition.survival.plotting` apply them by default.
* Withheld cells are ``NaN`` in the returned tidy table, whose boolean ``suppressed`` column marks
  rows with any withheld count; :func:`format_table` shows them as ``[c]`` (ONS: confidential).

References
----------
Office for National Statistics (2021). *Statistical disclosure control (SDC) policy for the
  publication of statistics*; and the GSS symbols guidance (``[c]`` = confidential, ``[x]`` = not
  available).
Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E., Spicer, K. and
  de Wolf, P.-P. (2012). *Statistical Disclosure Control*. Wiley. Chapter 4 (primary and secondary
  cell suppression for magnitude and frequency tables).
"""
from __future__ import annotations

import numbers
import re
import warnings

import numpy as np
import pandas as pd

from attrition.config import DISCLOSURE_THRESHOLD
from attrition.exceptions import DataValidationError, DisclosureWarning

__all__ = ["publish_table", "publish_rates", "rate_text", "publish_curve", "publish_occupation", "count_text", "suppress_small_counts", "check_disclosure", "format_table", "MARKER", "MISSING_MARKER"]

#: How a withheld cell is shown in text tables (GSS symbol for "confidential").
MARKER = "[c]"
#: How a missing value that was not withheld is shown in text tables (GSS: "not available").
MISSING_MARKER = "[x]"
_ATTR = "disclosure"


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _as_list(cols, what: str) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    cols = list(cols)
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{what} must be a column name or a list of column names, got {cols!r}")
    return cols


def _check_columns(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{what} {missing!r} not in the table; its columns are {list(df.columns)!r}"
        )


def _check_threshold(threshold) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Integral) or threshold < 1:
        raise ValueError(f"threshold must be a positive integer, got {threshold!r}")
    return int(threshold)


def _partitions(by) -> list[list[str]]:
    """``by`` -> list of partitions (each a list of key columns); ``[[]]`` = the whole table."""
    if by is None:
        return [[]]
    if isinstance(by, str):
        return [[by]]
    by = list(by)
    if by and all(isinstance(b, (list, tuple)) for b in by):
        return [_as_list(b, "by") for b in by]
    return [_as_list(by, "by")]


def _count_values(df: pd.DataFrame, count_cols: list[str], *, allow_missing: bool) -> np.ndarray:
    """Counts as a float array, shape (n_rows, n_count_cols); raises on non-counts."""
    out = np.empty((len(df), len(count_cols)), dtype=float)
    for j, col in enumerate(count_cols):
        s = df[col]
        if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
            raise DataValidationError(f"count column {col!r} must be numeric, it has dtype {s.dtype}")
        v = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        bad_na = np.isnan(v)
        if bad_na.any() and not allow_missing:
            rows = list(df.index[bad_na][:5])
            raise DataValidationError(
                f"count column {col!r} has {int(bad_na.sum())} missing value(s) (rows {rows}); "
                "disclosure control needs every count: fill true zeros with 0"
            )
        ok = np.isnan(v) | ((v >= 0) & (v == np.round(v)))
        if not ok.all():
            rows = list(df.index[~ok][:5])
            raise DataValidationError(
                f"count column {col!r} holds values that are not non-negative whole numbers "
                f"(rows {rows}, e.g. {v[~ok][0]!r}); pass only counts as count_cols"
            )
        out[:, j] = v
    return out


def _group_codes(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    if not keys:
        return np.zeros(len(df), dtype=np.int64)
    return df.groupby(keys, sort=False, dropna=False, observed=True).ngroup().to_numpy(dtype=np.int64)


#: Integer columns with such names are rates (``per 10,000 reports``), derived like float columns by default.
_RATE_NAME = re.compile(r"\bper\b|rate|share|%", re.IGNORECASE)


def _derived_map(df: pd.DataFrame, count_cols: list[str], by_cols: set[str], derived) -> dict[str, list[str]]:
    """Derived column -> the count columns it is computed from."""
    if derived is None:
        cols = [
            c for c in df.columns
            if c not in count_cols and c not in by_cols and c != "suppressed"
            and (pd.api.types.is_float_dtype(df[c])
                 or (pd.api.types.is_integer_dtype(df[c]) and _RATE_NAME.search(str(c)) is not None))
        ]
        return {c: list(count_cols) for c in cols}
    if isinstance(derived, dict):
        out = {}
        for c, src in derived.items():
            src = _as_list(src, f"derived[{c!r}]")
            bad = [s for s in src if s not in count_cols]
            if bad:
                raise ValueError(f"derived[{c!r}] names {bad!r}, which are not count columns {count_cols!r}")
            out[c] = src
        _check_columns(df, list(out), "derived column(s)")
        return out
    cols = _as_list(derived, "derived")
    _check_columns(df, cols, "derived column(s)")
    return {c: list(count_cols) for c in cols}


# ---------------------------------------------------------------------------------------------
# secondary suppression
# ---------------------------------------------------------------------------------------------
def _fix_groups(values: np.ndarray, mask: np.ndarray, codes: np.ndarray) -> bool:
    """Within each group, give every column with exactly one withheld cell a complement.

    Vectorised over rows; loops over the (few) count columns only. Modifies ``mask`` in place.
    """
    changed = False
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    pos = np.arange(len(codes))
    for j in range(values.shape[1]):
        m = mask[:, j]
        n_supp = np.bincount(codes, weights=m, minlength=n_groups)
        lone = n_supp[codes] == 1
        cand = lone & ~m
        if not cand.any():
            continue
        v = values[cand, j]
        order = np.lexsort((pos[cand], v, v == 0, codes[cand]))  # by group, non-zero first, smallest, first row
        g_sorted = codes[cand][order]
        first = np.r_[True, g_sorted[1:] != g_sorted[:-1]]
        rows = pos[cand][order][first]
        mask[rows, j] = True
        changed = True
    return changed


def _fix_rows(values: np.ndarray, mask: np.ndarray) -> bool:
    """Give every row with exactly one withheld count a complement (columns add up along rows)."""
    lone = mask.sum(axis=1) == 1
    lone &= (~mask).any(axis=1)
    if not lone.any():
        return False
    v = np.where(mask, np.inf, values)[lone]
    key = np.where(v == 0, np.inf, v)  # non-zero first
    # smallest non-zero; if only zeros (or withheld) remain, the first zero
    j = np.where(np.isfinite(key).any(axis=1), np.argmin(key, axis=1), np.argmin(v, axis=1))
    mask[np.flatnonzero(lone), j] = True
    return True


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def suppress_small_counts(
    df: pd.DataFrame,
    count_cols,
    threshold: int = DISCLOSURE_THRESHOLD,
    *,
    secondary: bool = True,
    by=None,
    derived=None,
    across_columns: bool = False,
    suppress_zeros: bool = False,
    warn: bool = True,
) -> pd.DataFrame:
    """Withhold small counts (and what would reveal them) before a table or figure is published.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n_rows, n_cols)
        Tidy table, one row per cell group (e.g. force x year x exit reason), with whole-number,
        non-negative, non-missing counts in ``count_cols``.
    count_cols : str or list of str
        The columns holding counts of cases (or victims, or orders).
    threshold : int, default ``attrition.config.DISCLOSURE_THRESHOLD`` (10)
        Counts ``1 .. threshold - 1`` are withheld (primary suppression).
    secondary : bool, default True
        Apply secondary (complementary) suppression so that no withheld cell can be recovered from a
        total; see the module's policy.
    by : None, str, list of str, or list of lists of str
        Groups of rows whose totals may be published: each list of key columns defines one
        partition, and every group of every partition is protected. None: the whole table is one
        group (its column totals).
    derived : None, list of str, or dict of str to list of str
        Columns computed from the counts (rates, proportions, confidence limits), withheld wherever a
        count they use is withheld. None: every float column that is not a count or ``by`` key,
        computed from all count columns (conservative): every float column that is not
        a count or a ``by`` key, and every integer column named as a rate (``per 10,000 reports``, ``rate``,
        ``share``, ``%``). A dict maps each derived column to the count
        columns it uses.
    across_columns : bool, default False
        The count columns add up along each row (e.g. a wide table of exits by reason with a
        published row total): also protect row totals.
    suppress_zeros : bool, default False
        Also withhold true zeros (primary suppression of ``0 .. threshold - 1``).
    warn : bool, default True
        Emit a :class:`~attrition.exceptions.DisclosureWarning` saying how many cells were withheld
        (only if any were).

    Returns
    -------
    pandas.DataFrame, shape (n_rows, n_cols + 1)
        A copy, same rows and order, with withheld counts and derived values set to ``NaN`` (count
        and derived columns become float64) and a boolean column ``suppressed`` (any count in the
        row withheld). ``result.attrs["disclosure"]`` records ``threshold``, ``count_cols``,
        ``derived`` (mapping), ``by``, ``n_primary``, ``n_secondary`` and ``n_derived``, and is what
        :func:`check_disclosure` and :func:`attrition.figures.save_figure` read.

    Raises
    ------
    DataValidationError
        If a count column is missing, non-numeric, negative, fractional or has missing values, or a
        ``by`` column is missing.
    ValueError
        If ``threshold`` is not a positive integer.

    Warns
    -----
    DisclosureWarning
        Naming how many cells were withheld (primary, secondary, derived).

    Notes
    -----
    Secondary suppression here is the usual greedy heuristic (smallest complement in each group),
    not an optimal (minimum information loss) solution as found by linear programming in tau-ARGUS;
    it guarantees that no withheld cell is the only one in any protected group, column or row,
    which stops recovery by subtraction from a single published total. It does not protect against
    differencing between overlapping tables published separately: publish nested breakdowns from one
    call with every partition in ``by``.

    References
    ----------
    Hundepool, A. et al. (2012). *Statistical Disclosure Control*. Wiley, ch. 4.

    Examples
    --------
    >>> import pandas as pd, warnings
    >>> t = pd.DataFrame({"force": ["A", "B", "C", "D"], "n": [120, 4, 0, 35]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = suppress_small_counts(t, "n")
    >>> out["n"].tolist()
    [120.0, nan, 0.0, nan]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    count_cols = _as_list(count_cols, "count_cols")
    if not count_cols:
        raise ValueError("count_cols must name at least one column")
    _check_columns(df, count_cols, "count column(s)")
    threshold = _check_threshold(threshold)
    partitions = _partitions(by)
    by_cols = {c for p in partitions for c in p}
    _check_columns(df, sorted(by_cols), "by column(s)")
    if "suppressed" in df.columns:
        raise DataValidationError(
            "the table already has a 'suppressed' column: it has been through disclosure control; "
            "suppress the unsuppressed table once, with every partition in `by`"
        )
    derived_map = _derived_map(df, count_cols, by_cols, derived)

    values = _count_values(df, count_cols, allow_missing=False)
    lower = 0 if suppress_zeros else 1
    primary = (values >= lower) & (values < threshold)
    mask = primary.copy()
    if secondary and mask.any():
        codes = [_group_codes(df, keys) for keys in partitions]
        changed = True
        while changed:  # terminates: each pass withholds at least one more cell or stops
            changed = False
            for c in codes:
                changed |= _fix_groups(values, mask, c)
            if across_columns and len(count_cols) > 1:
                changed |= _fix_rows(values, mask)

    out = df.copy()
    for j, col in enumerate(count_cols):
        out[col] = np.where(mask[:, j], np.nan, values[:, j])
    n_derived = 0
    for col, src in derived_map.items():
        hide = mask[:, [count_cols.index(s) for s in src]].any(axis=1)
        vals = out[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        n_derived += int((hide & ~np.isnan(vals)).sum())
        out[col] = np.where(hide, np.nan, vals)
    out["suppressed"] = mask.any(axis=1)

    n_primary = int(primary.sum())
    n_secondary = int(mask.sum()) - n_primary
    out.attrs = dict(df.attrs)
    out.attrs[_ATTR] = {
        "threshold": threshold,
        "count_cols": list(count_cols),
        "derived": {k: list(v) for k, v in derived_map.items()},
        "by": [list(p) for p in partitions] if by is not None else None,
        "secondary": bool(secondary),
        "suppress_zeros": bool(suppress_zeros),
        "across_columns": bool(across_columns),
        "n_primary": n_primary,
        "n_secondary": n_secondary,
        "n_derived": n_derived,
    }
    if warn and mask.any():
        zeros = "0" if suppress_zeros else "1"
        warnings.warn(
            f"disclosure control withheld {int(mask.sum())} count cell(s): {n_primary} primary "
            f"(counts {zeros}-{threshold - 1}) and {n_secondary} secondary, plus {n_derived} derived "
            f"value(s), in {int(mask.any(axis=1).sum())} of {len(df)} row(s)",
            DisclosureWarning,
            stacklevel=2,
        )
    return out


def check_disclosure(
    df: pd.DataFrame,
    count_cols=None,
    threshold: int = DISCLOSURE_THRESHOLD,
    *,
    by=None,
    secondary: bool = True,
    derived=None,
) -> pd.DataFrame:
    """Raise if a table about to be published could disclose a small count.

    Checks, in order: (1) no published count is in ``1 .. threshold - 1`` (zeros are allowed, as
    in :func:`suppress_small_counts`); (2) with ``secondary=True``, no count column has exactly one
    withheld (missing) cell among two or more rows of a ``by`` group (the whole table if ``by`` is
    None), which a published total would reveal; (3) no derived value (rate, limit) is published in
    a row where a count it is computed from is withheld.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n_rows, n_cols)
        The table as it will be published; withheld counts are missing (NaN/NA).
    count_cols : str or list of str, optional
        Count columns. Default: ``df.attrs["disclosure"]["count_cols"]`` as set by
        :func:`suppress_small_counts`.
    threshold : int, default ``attrition.config.DISCLOSURE_THRESHOLD``
    by : None, str, list of str or list of lists of str
        As in :func:`suppress_small_counts`. Default: the table's ``attrs`` if it has them, else the
        whole table.
    secondary : bool, default True
        Check (2).
    derived : None, list or dict
        As in :func:`suppress_small_counts`; default: the table's ``attrs`` (check (3) is skipped for
        a table without them).

    Returns
    -------
    pandas.DataFrame
        ``df`` itself, unchanged, so the call can be chained.

    Raises
    ------
    DataValidationError
        Naming the column, the number of offending cells and example rows; ``.problems`` holds one
        row per broken rule (``rule``, ``column``, ``n_rows``, ``example_case_ids`` (here: row
        labels), ``message``).
    ValueError
        If the count columns cannot be determined.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    meta = df.attrs.get(_ATTR) or {}
    if count_cols is None:
        count_cols = meta.get("count_cols")
        if count_cols is None:
            raise ValueError(
                "check_disclosure cannot tell which columns are counts: pass count_cols, or a table "
                "returned by attrition.disclosure.suppress_small_counts"
            )
    count_cols = _as_list(count_cols, "count_cols")
    _check_columns(df, count_cols, "count column(s)")
    threshold = _check_threshold(threshold)
    if by is None and meta.get("by") is not None:
        by = meta["by"]
    partitions = _partitions(by)
    _check_columns(df, sorted({c for p in partitions for c in p}), "by column(s)")
    if derived is None and "derived" in meta:
        derived = meta["derived"]

    values = _count_values(df, count_cols, allow_missing=True)
    withheld = np.isnan(values)
    problems = []

    def problem(rule, col, rows, message):
        problems.append({
            "rule": rule, "column": col, "n_rows": int(len(rows)),
            "example_case_ids": list(rows[:5]), "message": message,
        })

    small = (values >= 1) & (values < threshold)
    for j, col in enumerate(count_cols):
        if small[:, j].any():
            rows = df.index[small[:, j]]
            problem("small_count", col, rows,
                    f"{len(rows)} published count(s) in {col!r} between 1 and {threshold - 1} "
                    f"(rows {list(rows[:5])})")
    if secondary and withheld.any():
        for keys in partitions:
            codes = _group_codes(df, keys)
            size = np.bincount(codes)
            for j, col in enumerate(count_cols):
                n_w = np.bincount(codes, weights=withheld[:, j], minlength=len(size))
                lone = (n_w == 1) & (size >= 2)
                if lone.any():
                    rows = df.index[withheld[:, j] & lone[codes]]
                    where = f"group(s) of {keys}" if keys else "the table"
                    problem("lone_suppressed_cell", col, rows,
                            f"{len(rows)} withheld cell(s) in {col!r} alone in {where} "
                            f"(rows {list(rows[:5])}): recoverable from the total; apply secondary "
                            "suppression")
    if derived is not None:
        derived_map = _derived_map(df, count_cols, set(), derived)
        for col, src in derived_map.items():
            hide = withheld[:, [count_cols.index(s) for s in src]].any(axis=1)
            shown = df[col].notna().to_numpy()
            if (hide & shown).any():
                rows = df.index[hide & shown]
                problem("derived_from_suppressed", col, rows,
                        f"{len(rows)} value(s) of {col!r} published although a count they are "
                        f"computed from is withheld (rows {list(rows[:5])})")
    if problems:
        table = pd.DataFrame(problems, columns=["rule", "column", "n_rows", "example_case_ids", "message"])
        raise DataValidationError(
            "table fails disclosure control (threshold "
            f"{threshold}); run attrition.disclosure.suppress_small_counts first:\n  "
            + "\n  ".join(p["message"] for p in problems),
            problems=table,
        )
    return df


def format_table(
    df: pd.DataFrame,
    *,
    marker: str = MARKER,
    missing: str = MISSING_MARKER,
    decimals: int = 3,
) -> pd.DataFrame:
    """Render a suppressed table as text, withheld cells shown as ``[c]``.

    For notebooks (text output compares exactly under nbval) and CSV/Excel tables for publication.

    Parameters
    ----------
    df : pandas.DataFrame
        A table returned by :func:`suppress_small_counts` (its ``attrs`` say which cells were
        withheld).
    marker : str, default "[c]"
        Shown for withheld counts and derived values.
    missing : str, default "[x]"
        Shown for other missing values.
    decimals : int, default 3
        Decimals of non-count floats (rates, limits).

    Returns
    -------
    pandas.DataFrame of str, same shape and index, without the ``suppressed`` column.
    """
    meta = df.attrs.get(_ATTR)
    if meta is None:
        raise ValueError("format_table needs a table returned by attrition.disclosure.suppress_small_counts")
    count_cols = meta["count_cols"]
    derived = meta["derived"]
    fmt = f"%.{int(decimals)}f"

    def text(values: np.ndarray, pattern: str) -> np.ndarray:
        filled = np.where(np.isnan(values), 0.0, values)
        return np.char.mod(pattern, filled).astype(object)

    out = {}
    for col in df.columns:
        if col == "suppressed":
            continue
        s = df[col]
        if col in count_cols or col in derived or pd.api.types.is_float_dtype(s):
            v = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            whole = col in count_cols or pd.api.types.is_integer_dtype(s)
            shown = text(np.round(v), "%d") if whole else text(v, fmt)
            if col in count_cols:
                hidden = np.isnan(v)
            elif col in derived:
                hidden = df[derived[col]].isna().any(axis=1).to_numpy()
            else:
                hidden = np.zeros(len(v), dtype=bool)
            shown = np.where(hidden, marker, np.where(np.isnan(v), missing, shown))
            out[col] = pd.Series(shown, index=df.index, dtype=object)
        else:
            out[col] = s.astype("string").fillna(missing).astype(str).astype(object)
    return pd.DataFrame(out, index=df.index)


def publish_table(df: pd.DataFrame, count_cols, *, by=None, across_columns: bool = False, derived=None,
                  index: bool = True, decimals: int = 3, threshold: int | None = None) -> str:
    """A table as text for a notebook or report, after disclosure control: counts 1-9 shown as ``[c]``.

    :func:`suppress_small_counts` (with secondary suppression, so no withheld count can be recovered from
    a total, and with the rates derived from a withheld count withheld too), then :func:`format_table`.

    Parameters
    ----------
    df : pandas.DataFrame
    count_cols : str or list of str
        The count columns.
    by, across_columns, derived
        As in :func:`suppress_small_counts` (``derived`` maps each rate column to the counts it is computed
        from; default: every float column depends on every count of its row).
    index : bool, default True
        Print the index.
    decimals : int, default 3
        Decimals of rates and limits.
    threshold : int, optional
        Default ``attrition.config.DISCLOSURE_THRESHOLD``.

    Returns
    -------
    str
        Withheld counts and the values derived from them as ``[c]``; counts that do not apply (missing in
        ``df``) as ``-``.
    """
    kwargs = {} if threshold is None else {"threshold": threshold}
    count_cols = _as_list(count_cols, "count_cols")
    absent = df[count_cols].isna()  # not applicable (e.g. "converted" at the last stage): shown as "-"
    filled = df.fillna({c: 0 for c in count_cols}) if absent.any().any() else df
    safe = suppress_small_counts(filled, count_cols, by=by, across_columns=across_columns, derived=derived,
                                 warn=False, **kwargs)
    text = format_table(safe, decimals=decimals)
    for c in count_cols:
        text.loc[absent[c].to_numpy(), c] = "-"
    return text.to_string(index=index)


def rate_text(rate, count, *, fmt: str = "{:.4f}", threshold: int | None = None) -> str:
    """A rate, or a limit of its interval, for running text: ``"[c]"`` when the count it is computed from
    (e.g. convictions, for a conviction rate on a stated number of reports) is 1 to ``threshold - 1``."""
    threshold = DISCLOSURE_THRESHOLD if threshold is None else int(threshold)
    return MARKER if 0 < float(count) < threshold else fmt.format(rate)


def count_text(n, *, threshold: int | None = None) -> str:
    """A count for running text: ``"[c]"`` for 1 to ``threshold - 1`` (default 1-9), else ``"12,345"``."""
    threshold = DISCLOSURE_THRESHOLD if threshold is None else int(threshold)
    n = int(n)
    return MARKER if 0 < n < threshold else f"{n:,}"


def _pooled_steps(events: np.ndarray, threshold: int) -> np.ndarray:
    """Indices of the steps shown when each shown step must carry >= ``threshold`` events since the last.

    Greedy from the start; the loop runs once per shown step (at most total events / threshold times)."""
    cum = np.cumsum(events)
    shown, last = [], 0.0
    while True:
        i = int(np.searchsorted(cum, last + threshold - 1e-9, side="left"))
        if i >= len(cum):
            return np.asarray(shown, dtype=np.int64)
        shown.append(i)
        last = cum[i]


def publish_curve(curve: pd.DataFrame, *, by="cause", time: str = "time", events: str = "n_event",
                  at_risk: str = "at_risk", threshold: int | None = None, start=None) -> pd.DataFrame:
    """A step curve (cumulative incidence, Kaplan–Meier) as it may be published: no step reveals 1-9 cases.

    The rule (the same for every curve the project draws or tabulates):

    * **Risk set**: the curve stops at the last time with at least ``threshold`` (10) cases at risk; the
      steps of a curve on a smaller risk set reveal individual exits.
    * **Pooled steps**: a step is shown only once at least ``threshold`` events of that curve have
      happened since the last shown step; until then the curve holds its last shown value. Each shown
      value is the exact estimate at its time, so read at any day the curve is the estimate at the
      last pooled step on or before that day. Events after the last full pool are not drawn.

    Parameters
    ----------
    curve : pandas.DataFrame
        Tidy step table, one row per (curve, time), as returned by
        :func:`attrition.survival.cumulative_incidence` (``time``, ``cause``, ``estimate``, CIs,
        ``at_risk``, ``n_event``; ``group`` if grouped).
    by : str or list of str, default "cause"
        Columns naming one curve (``group`` is added when present).
    time, events, at_risk : str
        Column names: time, events at that time (of this curve), number at risk.
    threshold : int, optional
        Default ``attrition.config.DISCLOSURE_THRESHOLD``.
    start : dict, optional
        Value of the curve before its first step, per value of the first ``by`` column (default 0, and
        1 for ``"survival"``).

    Returns
    -------
    pandas.DataFrame
        The shown steps (``events`` now counts the events pooled into each step) and one last row per
        curve at its last time with ``threshold`` at risk, holding the last shown value (``events`` 0);
        ``attrs["disclosure"]`` records the rule.
    """
    thr = DISCLOSURE_THRESHOLD if threshold is None else _check_threshold(threshold)
    keys = _as_list(by, "by") + (["group"] if "group" in curve.columns and "group" not in _as_list(by, "by") else [])
    _check_columns(curve, [time, events, at_risk, *keys], "curve column(s)")
    values = [c for c in curve.columns if c not in (time, events, at_risk, *keys)
              and pd.api.types.is_numeric_dtype(curve[c])]
    start = {"survival": 1.0, **(start or {})}
    parts = []
    for key, part in curve.sort_values(time, kind="stable").groupby(keys, sort=False, observed=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        risk = part[at_risk].to_numpy(float)
        keep = np.minimum.accumulate(risk) >= thr
        part = part[keep]
        if part.empty:
            continue
        shown = part.iloc[_pooled_steps(part[events].to_numpy(float), thr)].copy()
        if len(shown):
            cum = np.cumsum(part[events].to_numpy(float))[_pooled_steps(part[events].to_numpy(float), thr)]
            shown[events] = np.diff(np.r_[0.0, cum])
        last = part.iloc[[-1]].copy()
        if len(shown):
            last[values] = shown[values].iloc[[-1]].to_numpy()
        else:
            v0 = float(start.get(key[0], 0.0))
            last[values] = [0.0 if c == "se" else v0 for c in values]
        last[events] = 0.0
        if len(shown) and shown[time].iloc[-1] == last[time].iloc[0]:
            last = last.iloc[:0]
        parts.append(pd.concat([shown, last]))
    out = (pd.concat(parts, ignore_index=True) if parts else curve.iloc[:0].copy())
    out.attrs = dict(curve.attrs)
    out.attrs[_ATTR] = {"rule": "curve", "threshold": thr, "events": events, "at_risk": at_risk, "by": keys}
    return out


def publish_occupation(occupation, n: float | None = None, *, threshold: int | None = None) -> pd.DataFrame:
    """State-occupation probabilities as they may be published: no time shows or implies 1-9 cases.

    A probability ``p`` of being in a state, on a population of ``n`` cases, implies about ``p * n``
    cases in that state, and the change between two drawn times implies how many moved. The rule: a
    time is shown only if every state's implied count is 0 or at least ``threshold`` (10), and every
    state's implied count has changed by 0 or at least ``threshold`` since the last shown time; the
    curves hold their last shown value in between (the stacked areas still add up to 1). The first time
    (everyone in the starting state) is always shown; the curves end at the last shown time (on a small
    extract that can be early: later times would each reveal a few cases).

    Parameters
    ----------
    occupation : MultiStateFitter or pandas.DataFrame
        A fitted :class:`attrition.survival.MultiStateFitter` or its ``state_occupation_`` table (``time``,
        ``state``, ``probability``, CI columns).
    n : float, optional
        Number of cases the probabilities are of. Default for a fitter: the number at risk in the
        starting state at the first transition (every case).
    threshold : int, optional
        Default ``attrition.config.DISCLOSURE_THRESHOLD``.

    Returns
    -------
    pandas.DataFrame
        Rows of the shown times, same columns plus ``implied_cases`` (``p * n``,
        rounded); ``attrs["disclosure"]`` records the rule and ``n``.
    """
    thr = DISCLOSURE_THRESHOLD if threshold is None else _check_threshold(threshold)
    if isinstance(occupation, pd.DataFrame):
        table = occupation
        if n is None:
            raise ValueError("publish_occupation needs n (the number of cases) with a table")
    else:
        occupation._check_fitted()
        table = occupation.state_occupation_
        if n is None:
            th = occupation.transition_hazards_
            n = float(th.loc[th["from"] == occupation.start_state_, "n_at_risk"].max())
    wide = table.pivot_table(index="time", columns="state", values="probability", aggfunc="first", observed=True)
    wide = wide.sort_index().ffill().fillna(0.0)
    implied = np.round(wide.to_numpy(float) * float(n))
    ok = (implied == 0) | (implied >= thr)
    shown, last = [0], implied[0]
    for i in range(1, len(implied)):
        change = np.abs(implied[i] - last)
        if ok[i].all() and ((change == 0) | (change >= thr)).all() and (change > 0).any():
            shown.append(i)
            last = implied[i]
    times = wide.index.to_numpy()
    out = table[table["time"].isin(times[shown])].copy()  # ends at the last shown time: no value held beyond it
    out["implied_cases"] = np.round(out["probability"].to_numpy(float) * float(n))
    out = out.sort_values(["state", "time"], kind="stable").reset_index(drop=True)
    out.attrs = dict(table.attrs)
    out.attrs[_ATTR] = {"rule": "occupation", "threshold": thr, "n": float(n)}
    return out


def publish_rates(flags: pd.DataFrame, by, *, per: int = 1000, decimals: int = 2,
                  threshold: int | None = None) -> str:
    """Rates per ``per`` cases of yes/no flags by group, as text, after disclosure control.

    A rate per 1,000 of a group whose size is published elsewhere reveals its count, so each rate is
    withheld (``[c]``) where its count, or the group's size, is 1 to ``threshold - 1``, with secondary
    suppression over the groups (the national counts are published).

    Parameters
    ----------
    flags : pandas.DataFrame of bool or 0/1, shape (n_cases, n_flags)
        One row per case.
    by : pandas.Series, shape (n_cases,)
        The group of each case (e.g. risk level).
    per : int, default 1000
    decimals : int, default 2
    threshold : int, optional
        Default ``attrition.config.DISCLOSURE_THRESHOLD``.

    Returns
    -------
    str
        One row per group, one column ``"<flag> per 1,000"`` per flag.
    """
    kwargs = {} if threshold is None else {"threshold": threshold}
    g = flags.astype(int).groupby(by, observed=True)
    counts = g.sum()
    counts["cases"] = g.size()
    names = {c: f"{c} per {per:,}" for c in flags.columns}
    for c, name in names.items():
        counts[name] = per * counts[c] / counts["cases"]
    safe = suppress_small_counts(counts.reset_index(), [*flags.columns, "cases"], warn=False,
                                 derived={name: [c, "cases"] for c, name in names.items()}, **kwargs)
    text = format_table(safe, decimals=decimals).set_index(counts.index.name or "index")
    return text[list(names.values())].to_string()
