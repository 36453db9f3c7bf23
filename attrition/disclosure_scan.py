"""Scan what a report published for counts of 1-9 and record-level data (the last line of defence).

:mod:`attrition.disclosure` withholds small counts where tables and figures are made; this module reads
the *outputs* (executed notebooks, and the sidecar :func:`attrition.figures.save_figure` writes next to
each figure with the text and data it drew) and flags anything that still shows or lets a reader derive
a count of 1 to 9 (``attrition.config.DISCLOSURE_THRESHOLD - 1``), or a case id / an individual event
date of the extract. Counts of **forces** are not counts of people and are not flagged.

Rules (each finding names its rule):

``count_phrase``
    A number 1-9 presented as a count of people or cases in text: ``"7 cases"``, ``"n = 3"``,
    ``"4 of 50 reports"`` (cases, reports, offences, victims, suspects, charges, convictions, orders,
    SPOs, applications, breaches, records, rows, journeys, crimes, people).
``count_cell``
    An integer 1-9 in a count column of a printed table: a column named like a count (``n``, ``n_*`` but not
    ``n_*forces``/``n_*clusters``,
    ``cases``, ``reports``, ``offences``, ``entered``, ``converted``, ``exited``, ``open``, ``denominator``,
    ...), or any whole-number column of a table that went through disclosure control (shows ``[c]``) unless
    its name says it is a label (``outcome_type``, a code, year, day, rank, ...).
``derived_share``
    A share ``p`` in a row that also prints its denominator ``N`` (a count column) where ``p * N``
    rounds to 1-9, e.g. ``denominator 50, harassment 0.080`` (4 cases).
``derived_total``
    A probability of the whole report population (a cumulative incidence or state occupation printed
    as ``"p (lo-hi)"``, or a column ``estimate``/``probability``/``share``) times the number of cases
    the report states (``total``), or a rate per 1,000 / 10,000 (a column, or prose such as "57
    convictions per 10,000 reports") times that total, rounding to 1-9.
``figure_table``, ``figure_curve``, ``figure_text``
    A figure's published count table has a count 1-9; a published step curve has a step with 1-9
    events (or a risk set of 1-9); a figure's text (labels, annotations) breaks ``count_phrase`` or
    shows a per-10,000 value implying 1-9 cases.
``case_id``, ``event_date``
    A case id or an event date of the extract (``case_ids``, ``event_dates``) printed anywhere.

The scanner is deliberately simple and errs towards flagging: a finding is a place to look, and the
report's tests require none on a small-force extract.
"""
from __future__ import annotations

import html as _html
import json
import re
from pathlib import Path

import pandas as pd

from attrition.config import DISCLOSURE_THRESHOLD

__all__ = ["scan_text", "scan_notebook", "scan_figure_sidecar", "scan_report", "COUNT_NOUNS"]

#: Nouns that make a number a count of people or cases (forces are not people: not listed).
COUNT_NOUNS = (r"cases?|reports?|offences?|victims?|suspects?|charges?|convictions?|orders?|SPOs?|applications?|"
               r"breach(?:es)?|records?|journeys?|crimes?|people|persons?|sojourns?")
_SMALL = r"(?<![\w.,/\-+\[])([1-9])(?![\d.,%])"
_PHRASES = [
    re.compile(_SMALL + r"[ \t]+(?:" + COUNT_NOUNS + r")\b", re.IGNORECASE),  # on one line
    re.compile(r"\bn[ \t]*=[ \t]*([1-9])(?![\d.,])"),
    re.compile(_SMALL + r"[ \t]+of[ \t]+[\d,]+[ \t]+(?:" + COUNT_NOUNS + r")\b", re.IGNORECASE),
]
_COUNT_HEADER = re.compile(
    r"^(n|n_(?!\w*(?:force|cluster))\w+|\w+_n|counts?|cases|reports|offences|rows|victims|entered|converted|exited|open|denominator|"
    r"total|recorded_stalking|applications|breaches|orders|observed|records|convictions|charges)$", re.IGNORECASE)
#: Whole-number columns that are labels, not counts (outcome type codes, years, days, ranks, ...).
_NOT_COUNT = re.compile(r"type|code|year|_id$|^id$|day|time|rank|^df$|horizon|band|quarter|force|cluster", re.IGNORECASE)
_DENOMINATOR = re.compile(r"^(n|denominator|total|reports|entered)$", re.IGNORECASE)
_NOT_SHARE = re.compile(r"lower|upper|\bci\b|^se$|_se$|^p$|p_value|p_holm|p_reach|share_of_loss|ratio|hr|coef|"
                        r"^df$|e_value|rate|per |published", re.IGNORECASE)
_TOTAL_SHARE = re.compile(r"^(estimate|probability|share|cif)$", re.IGNORECASE)
_CI_CELL = re.compile(r"^(\d*\.\d+)\s*\(")
_INT = re.compile(r"^\d{1,3}(,\d{3})*$|^\d+$")
_FLOAT = re.compile(r"^\d*\.\d+$")
_PER_PROSE = re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)\s+(?:\w+\s+){0,3}?per\s+([\d,]+)\s+(?:" + COUNT_NOUNS + r")\b",
                        re.IGNORECASE)
_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_PER = re.compile(r"\bper ([\d,]+)")


def _finding(where, rule, excerpt):
    return {"where": where, "rule": rule, "excerpt": str(excerpt)[:160]}


def _small(x: float, threshold: int) -> bool:
    return 0.5 <= x < threshold - 0.5


# ---------------------------------------------------------------------------------------------
# text tables (pandas' to_string layout: right-aligned columns under their headers)
# ---------------------------------------------------------------------------------------------
def _token_at(line: str, end: int) -> str | None:
    """The cell of ``line`` whose last character is at ``end - 1`` (pandas right-aligns cells), or None.

    A cell printed as ``"0.123 (0.100–0.150)"`` (an estimate with its interval) is returned whole."""
    if end > len(line) or end < 1 or line[end - 1] == " " or (end < len(line) and line[end] != " "):
        return None
    start = line.rfind(" ", 0, end) + 1
    token = line[start:end]
    if token.startswith("(") and start >= 2:
        before = line.rfind(" ", 0, start - 1) + 1
        token = line[before:end]
    return token


def _tables(text: str):
    """Blocks of two or more consecutive non-blank lines (candidate tables)."""
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            block.append(line)
            continue
        if len(block) >= 2:
            yield block
        block = []


def _columns(header: str, rows: list[str]) -> dict[str, list]:
    """Column name -> cells, for the right edges of ``header``'s words that line up with cells in most rows."""
    need = max(1, (len(rows) + 1) // 2)
    cols, prev = {}, 0
    for m in re.finditer(r"\S+", header):
        e = m.end()
        cells = [_token_at(r, e) for r in rows]
        if sum(c is not None for c in cells) >= need:
            name = header[prev:e].strip()
            if m.start() > prev and header[prev:m.start()].strip() and len(cols) == 0 and prev == 0:
                name = m.group(0)  # words left of the first column belong to the index
            cols[name] = cells
            prev = e
    return cols


def _scan_table(block: list[str], where: str, threshold: int, total) -> list[dict]:
    found = []
    has_c = any("[c]" in ln for ln in block)
    for h in range(min(2, len(block) - 1)):
        rows = block[h + 1:]
        aligned = _columns(block[h], rows)
        if not aligned:
            continue
        ints = {n for n, v in aligned.items()
                if any(c and _INT.match(c) for c in v) and all(c is None or c in ("[c]", "-", "[x]") or _INT.match(c) for c in v)}
        counts = ({n for n in aligned if _COUNT_HEADER.match(n) and n in ints}
                  | ({n for n in ints if not _NOT_COUNT.search(n)} if has_c else set()))
        for name in counts:
            for r, c in zip(rows, aligned[name]):
                if c and _INT.match(c) and 1 <= int(c.replace(",", "")) < threshold:
                    found.append(_finding(where, "count_cell", f"{name} = {c}: {r.strip()}"))
        # denominators of the shares in a row: named so, or `cases` next to another count (cases, charged, share)
        # (`cases` is the denominator only when no column is named as one: beside `reports` it is the numerator)
        denominators = ([n for n in counts if _DENOMINATOR.match(n)]
                        or [n for n in counts if n == "cases" and len(counts) > 1])
        for i, r in enumerate(rows):
            row_totals = [int(aligned[n][i].replace(",", "")) for n in denominators
                          if aligned[n][i] and _INT.match(aligned[n][i])]
            for name, vals in aligned.items():
                c = vals[i]
                if name in counts or not c or _NOT_SHARE.search(name):
                    continue
                m = _CI_CELL.match(c)
                p_text = m.group(1) if m else (c if _FLOAT.match(c) else None)
                if p_text is None:
                    continue
                p = float(p_text)
                if not 0 < p <= 1:
                    continue
                for n in row_totals:
                    if _small(p * n, threshold):
                        found.append(_finding(where, "derived_share", f"{name} {c} of {n:,}: {r.strip()}"))
                        break
                if total and (m or _TOTAL_SHARE.match(name)) and _small(p * total, threshold):
                    found.append(_finding(where, "derived_total", f"{name} {c} of {total:,} cases: {r.strip()}"))
            for name, vals in aligned.items():
                per = _PER.search(name)
                c = vals[i]
                if per and total and c and re.match(r"^\d[\d,]*(\.\d+)?$", c):
                    n = float(c.replace(",", "")) / float(per.group(1).replace(",", "")) * total
                    if _small(n, threshold):
                        found.append(_finding(where, "derived_total", f"{name} {c} of {total:,} cases: {r.strip()}"))
        if found or len(aligned) >= 1:
            break
    return found


def scan_text(text: str, *, where: str = "", total: int | None = None, case_ids=(), event_dates=(),
              threshold: int = DISCLOSURE_THRESHOLD) -> list[dict]:
    """Findings in one text output (a printed table, a line of prose); see the module for the rules.

    Parameters
    ----------
    text : str
    where : str
        Where the text comes from (kept in each finding).
    total : int, optional
        Number of cases the report states, for the ``derived_total`` rule.
    case_ids, event_dates : iterables of str
        Case ids and event dates (``YYYY-MM-DD``) of the extract, never to be printed.
    threshold : int, default 10

    Returns
    -------
    list of dict
        ``where``, ``rule``, ``excerpt``.
    """
    text = str(text)
    found = []
    for rx in _PHRASES:
        for m in rx.finditer(text):
            line = text[text.rfind("\n", 0, m.start()) + 1: text.find("\n", m.end()) % (len(text) + 1)]
            found.append(_finding(where, "count_phrase", line.strip() or m.group(0)))
    if total:  # "244 convictions per 10,000 reports" of a stated total
        for m in _PER_PROSE.finditer(text):
            n = float(m.group(1).replace(",", "")) / float(m.group(2).replace(",", "")) * total
            if _small(n, threshold):
                found.append(_finding(where, "derived_total", f"{m.group(0)} of {total:,} cases"))
    for block in _tables(text):
        found += _scan_table(block, where, threshold, total)
    ids = {str(i) for i in case_ids if not str(i).isdigit() or len(str(i)) >= 6}  # '14' could be any number
    if ids:
        for tok in set(re.findall(r"[\w\-/]+", text)):
            if tok in ids:
                found.append(_finding(where, "case_id", tok))
    dates = {str(d) for d in event_dates}
    for d in set(_DATE.findall(text)):
        if d in dates:
            found.append(_finding(where, "event_date", d))
    return found


def _html_tables(html: str) -> list[str]:
    """HTML tables of an output as text tables (pandas' layout), to scan like printed ones."""
    from io import StringIO

    try:
        frames = pd.read_html(StringIO(html))
    except (ValueError, ImportError):
        return [_html.unescape(re.sub(r"<[^>]+>", " ", html))]
    return [f.to_string() for f in frames]


def scan_notebook(path, **kwargs) -> list[dict]:
    """Findings in every code-cell output of an executed notebook (stream, ``text/plain``, ``text/html``).

    ``kwargs`` as in :func:`scan_text`. Images are not read: figures are scanned through their sidecars
    (:func:`scan_figure_sidecar`).
    """
    path = Path(path)
    nb = json.loads(path.read_text())
    found = []
    for k, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            where = f"{path.name} cell {k}"
            texts = []
            if out.get("output_type") == "stream":
                if out.get("name") == "stderr":
                    continue  # warnings and progress, not published
                texts.append("".join(out.get("text", "")))
            data = out.get("data", {})
            if "text/html" in data:
                texts += _html_tables("".join(data["text/html"]))
            elif "text/plain" in data:
                texts.append("".join(data["text/plain"]))
            for t in texts:
                found += scan_text(t, where=where, **kwargs)
    return found


def scan_figure_sidecar(path, *, total: int | None = None, threshold: int = DISCLOSURE_THRESHOLD,
                        case_ids=(), event_dates=()) -> list[dict]:
    """Findings in what a figure published: its sidecar ``<name>.published.json`` (see
    :func:`attrition.figures.save_figure`): every text drawn, the count tables and the step curves."""
    path = Path(path)
    side = json.loads(path.read_text())
    where = path.name.removesuffix(".published.json")
    found = []
    texts = side.get("texts", [])
    joined = "\n".join(texts)
    for rx in _PHRASES:
        found += [_finding(where, "figure_text", m.group(0)) for m in rx.finditer(joined)]
    per = _PER.search(joined)
    if per and total:
        base = float(per.group(1).replace(",", ""))
        for t in texts:
            if re.fullmatch(r"\s*\d[\d,]*\s*", t):
                n = float(t.replace(",", "")) / base * total
                if _small(n, threshold):
                    found.append(_finding(where, "figure_text", f"{t.strip()} per {base:,.0f} of {total:,} cases"))
    found += [f | {"rule": "figure_text"} for f in scan_text("", where=where, case_ids=case_ids)]
    dates = {str(d) for d in event_dates}
    found += [_finding(where, "event_date", d) for d in set(_DATE.findall(joined)) if d in dates]
    for item in side.get("published", []):
        table = pd.DataFrame(item.get("rows", []))
        kind = item.get("kind")
        if table.empty:
            continue
        if kind == "table":
            for col in item.get("count_cols", []):
                v = pd.to_numeric(table[col], errors="coerce")
                bad = table[(v >= 1) & (v < threshold)]
                found += [_finding(where, "figure_table", f"{col} = {x:g}") for x in v[bad.index]]
        elif kind == "curve":
            ev, risk = item.get("events"), item.get("at_risk")
            if ev in table:
                e = pd.to_numeric(table[ev], errors="coerce")
                found += [_finding(where, "figure_curve", f"a step of {x:g} events ({item.get('label', '')})")
                          for x in e[(e >= 1) & (e < threshold)]]
            if risk in table:
                r = pd.to_numeric(table[risk], errors="coerce")
                found += [_finding(where, "figure_curve", f"a risk set of {x:g} ({item.get('label', '')})")
                          for x in r[(r >= 1) & (r < threshold)]]
            for col in item.get("count_cols", []):
                v = pd.to_numeric(table[col], errors="coerce").round()
                found += [_finding(where, "figure_curve", f"{col} implies {x:g} cases ({item.get('label', '')})")
                          for x in v[(v >= 1) & (v < threshold)]]
    return found


def scan_report(out_dir, *, total: int | None = None, case_ids=(), event_dates=(),
                threshold: int = DISCLOSURE_THRESHOLD) -> pd.DataFrame:
    """Scan an ``attrition report`` output directory: every executed notebook and every figure's sidecar.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The report's ``--out`` directory (notebooks ``NN-*.ipynb``, figures in ``figures/``).
    total, case_ids, event_dates, threshold
        As in :func:`scan_text`.

    Returns
    -------
    pandas.DataFrame
        One row per finding (``where``, ``rule``, ``excerpt``); empty when nothing is found.
        ``attrs["scanned"]`` counts the notebooks, outputs and figures read.
    """
    out_dir = Path(out_dir)
    kwargs = {"total": total, "case_ids": case_ids, "event_dates": event_dates, "threshold": threshold}
    found = []
    notebooks = sorted(out_dir.glob("[0-9][0-9]-*.ipynb"))
    n_outputs = 0
    for nb in notebooks:
        cells = json.loads(nb.read_text()).get("cells", [])
        n_outputs += sum(len(c.get("outputs", [])) for c in cells if c.get("cell_type") == "code")
        found += scan_notebook(nb, **kwargs)
    figures = sorted((out_dir / "figures").glob("Fig*.png"))
    sidecars = sorted((out_dir / "figures").glob("Fig*.published.json"))
    missing = {p.stem for p in figures} - {p.name.removesuffix(".published.json") for p in sidecars}
    found += [_finding(name, "figure_unscanned", "no sidecar of published values") for name in sorted(missing)]
    for side in sidecars:
        found += scan_figure_sidecar(side, **kwargs)
    table = pd.DataFrame(found, columns=["where", "rule", "excerpt"]).drop_duplicates(ignore_index=True)
    table.attrs["scanned"] = {"notebooks": len(notebooks), "outputs": n_outputs, "figures": len(figures),
                              "sidecars": len(sidecars)}
    return table
