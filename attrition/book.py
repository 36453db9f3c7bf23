"""The report as one HTML book: an index page, one chapter per executed notebook, every figure captioned.

:func:`build_book` turns the notebooks executed by :func:`attrition.report.run_report` into
``index.html`` (headline findings, contents, list of figures, analyses skipped for lack of data) and one
page per notebook, linked to each other (previous / next / contents). It uses nbconvert's ``lab``
template, extended in ``attrition/templates/book``:

* no script at all: no require.js, widgets, MathJax or mermaid from a CDN, so the pages open offline;
* code folded under a "Code" disclosure triangle (``<details>``), shown on demand;
* text tables printed by the notebooks kept on one line per row, scrolling sideways when wide;
* every figure in a ``<figure>`` with a numbered caption (``Figure 2.1``) saying what it shows (from
  :data:`FIGURE_CAPTIONS`, by figure name, or :data:`SECTION_CAPTIONS`, by notebook and section), the data
  source and its as-of date, and "Synthetic data" where it applies;
* a real ``<title>`` on every page.

:func:`print_pdf` prints the single-page version (``report.html``) to PDF with headless Chromium, when it
is installed.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from attrition import config
from attrition.exceptions import AttritionError

__all__ = ["build_book", "caption_figures", "headline_findings", "print_pdf", "find_chromium", "FIGURE_CAPTIONS", "SECTION_CAPTIONS",
           "BOOK_TITLE", "TEMPLATES_DIR", "INDEX_NAME", "SINGLE_PAGE_NAME"]

#: Title of the book (index page; every chapter's ``<title>`` ends with it).
BOOK_TITLE = "Where stalking cases drop out: the attrition report"
#: Where the nbconvert template ``book`` lives.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: File names of the index page and of the single-page version (for printing).
INDEX_NAME = "index.html"
SINGLE_PAGE_NAME = "report.html"

#: What each report figure shows, by figure name (``attrition.figures.FIGURE_NAME``). The caption adds
#: the figure's number, the data source, the as-of date and, for synthetic data, the synthetic-data mark.
FIGURE_CAPTIONS: dict[str, str] = {
    "Fig01_national-funnel": (
        "The national funnel: of every 10,000 stalking reports, how many are recorded as stalking, have a "
        "suspect identified, are charged, reach court and end in a conviction for stalking (estimand: the "
        "probability of reaching each stage, Aalen–Johansen, so open cases are not counted as losses; 95% "
        "confidence intervals), with the losses at each stage stacked by reason. Right: the stages from charge "
        "on, enlarged on their own scale, each with its number per 10,000 and 95% interval written in the bar; "
        "losses before charge are not drawn there. Exit reasons resting on fewer than 10 cases are pooled as "
        "'withheld'."),
    "Fig02_loss-by-stage-and-reason": (
        "Where and why reports are lost: of every 10,000 reports, how many leave the journey at each stage for "
        "each reason (95% confidence intervals), largest first; together they make up the whole loss between "
        "report and conviction."),
    "Fig03_force-charge-rates": (
        "Charging after a suspect is identified, force by force: each force's chance of a charge once a "
        "suspect is identified, partially pooled towards forces of its size and, where the force-year table records dedicated "
        "stalking officers, of its officer status (full Bayes: the uncertainty in how much to pool is included), with 95% credible intervals and the raw rate (withheld where a count is under 10); each force is "
        "labelled with its number of cases with a suspect identified, and forces whose interval excludes the "
        "national rate are drawn as diamonds (they differ credibly)."),
    "Fig04_spo-applications-by-force": (
        "Stalking Protection Order applications (interim and full) per 1,000 stalking offences recorded, by "
        "force, in the last financial year of the data: applications dated in the year divided by the force's "
        "reports of that year ever recorded as stalking. Bars are coloured by the bands of the published FOI "
        "study (Suzy Lamplugh Trust 2024, year ending March 2023: 12, 8 and 3 of 23 responding forces applied "
        "for 10 or fewer, 11 to 30, more than 30), which band the count of applications, not the rate. Counts "
        "of 1 to 9, and any count that would reveal one, are withheld with their rates and drawn as [c]; a rate "
        "far above the rest is drawn off scale with its value."),
    "Fig05_exit-reasons-by-time-since-report": (
        "Why and when reports leave, by days since the report (first two years; competing risks, Aalen–Johansen; "
        "open cases censored). Left: the cumulative proportion of reports that have left the journey without a "
        "conviction for stalking, stacked by exit reason (a conviction for another offence counts as a loss). "
        "Right: the cumulative incidence of conviction for stalking, which ends the journey but is not "
        "attrition, with its 95% pointwise confidence band on its own scale."),
    "Fig06_journey-state-occupation": (
        "Where reports are, by days since the report over the first year: the probability of being at each "
        "stage of the multi-state journey (reported, recorded as stalking, suspect identified, charged, "
        "prosecuted, convicted of stalking) or of having left it (Aalen–Johansen state occupation). As in the "
        "funnel, a report never recorded as stalking stays 'reported' until it leaves."),
    "Fig07_mischarging-by-year": (
        "Stalking recorded or charged as a lesser offence, by financial year of the report: the share of "
        "stalking reports first recorded (left) and finally recorded after reclassification (middle) as "
        "harassment, malicious communications, criminal damage or another offence, and the share of charged "
        "cases charged as each (right), with 95% Wilson intervals (narrow nationally: each year holds about "
        "120,000 reports)."),
    "Fig08_officer-effects": (
        "Effect of a dedicated stalking officer, force with an officer vs without, naive and adjusted for case mix "
        "and force size. Top: risk ratios of ever being charged (any offence) and ever convicted of stalking "
        "(logistic model, g-computation; force-clustered CR2 95% confidence intervals). Bottom: the hazard ratio "
        "of a charge per day since the suspect was identified, among reports with a suspect (cause-specific Cox "
        "model, force-clustered 95% intervals, t with 42 df; too narrow with 7 forces exposed: they covered the "
        "truth in 84% of 100 simulated datasets). Log scales; 1 means no effect. On synthetic data "
        "the generator's true values are the dotted marks (the true hazard ratio is given the force's own "
        "charging level)."),
    "Fig09_spo-effects": (
        "Stalking Protection Orders, two quantities on separate panels (log scales, 95% intervals; 1 means no "
        "effect). Top: hazard ratios of charge and of victim withdrawal (Home Office outcome 16) while an SPO is "
        "in force vs not (time-varying Cox, time since suspect identification). Bottom: risk ratios at day 180 "
        "of the three target trials -- full application within 28 days of the need vs not (full28), interim "
        "application within 2 days of suspect identification or arrest vs not, in high-risk cases (interim48: "
        "most of its cases had no recognised need, so its 'within' risk is extrapolated), and interim "
        "application within 2 days of the need vs not, in high-risk cases with a need (interim48_need) -- naive "
        "(ever vs never applied) and emulated by clone–censor–weight. On synthetic data each estimate has its "
        "truth beside it (open diamond)."),
    "Fig10_spo-risk-curves": (
        "Cumulative risk of charge and of victim withdrawal under each strategy of the three SPO target trials "
        "(clone–censor–weight, pointwise 95% bootstrap bands): full28 and interim48_need in days since the SPO "
        "need was recognised, interim48 in days since the suspect was identified or arrested, whichever came "
        "first."),
    "Fig11_open-data-force-charge-rates": (
        "Charged per stalking offence recorded, by force, from the Home Office outcomes open data, partially "
        "pooled towards the national rate, with 95% intervals; withheld cells marked."),
    "Fig12_open-data-funnel": (
        "The public-data funnel: stalking offences recorded, outcomes assigned and charges (and, with court "
        "data, defendants proceeded against and convicted), from the published tables."),
}

#: What each figure of the analysis notebooks shows, by (notebook number, section heading without its
#: numbering). A value naming a report figure borrows that figure's caption.
SECTION_CAPTIONS: dict[tuple[str, str], str] = {
    ("02", "The national funnel"): "Fig01_national-funnel",
    ("03", "Charging after a suspect is identified, force by force"): "Fig03_force-charge-rates",
    ("03", "The funnel plot"): (
        "Funnel plot of the charge rate after a suspect is identified: each force's raw rate against the cases "
        "entering the stage, with 95% and 99.8% control limits around the national rate widened for "
        "over-dispersion (additive random effect, Spiegelhalter 2005); forces with fewer than 10 charges or "
        "non-charges are withheld."),
    ("04", "When and why cases leave"): "Fig05_exit-reasons-by-time-since-report",
    ("04", "Do forces with a dedicated stalking officer differ?"): (
        "Cumulative incidence of conviction for stalking in forces with and without a dedicated stalking "
        "officer (competing risks, Aalen–Johansen, 95% bands), by days since the report."),
    ("04", "The multi-state journey"): (
        "The multi-state journey: the probability of being at each stage by days since the report, all "
        "states stacked (left) and the stages after charge zoomed in (right), over the first year."),
    ("04", "Conviction for stalking: Fine–Gray model"): (
        "Probability of conviction for stalking by risk level (among ex-partner cases when the data record the "
        "relationship, else all cases; the figure's title says which): the Fine–Gray model's prediction "
        "(solid) beside the Aalen–Johansen estimate (dashed)."),
    ("04", "Breaches of protective orders"): (
        "Time to a second breach of a protective order after the first, by risk level (cumulative incidence "
        "with 95% bands)."),
    ("05", "How often is stalking recorded as something else?"): (
        "Stalking recorded or charged as a lesser offence: the share of stalking reports first recorded, "
        "recorded after reclassification, and charged as each lesser offence, by financial year (95% Wilson "
        "intervals)."),
    ("05", "The funnel per 10,000 true stalking reports"): (
        "The funnel per 10,000 true stalking reports, as recorded and as corrected by the case-file review "
        "(recorded classification vs the reviewer's judgement)."),
    ("06", "Model-based comparison: naive and adjusted estimates"): (
        "Effect of a dedicated stalking officer on charge (any offence) and on conviction for stalking: risk "
        "ratios, force with an officer vs without, naive and adjusted for case mix and force size (logistic "
        "model, g-computation), with force-clustered CR2 95% confidence intervals on a log scale; 1 means no "
        "effect."),
    ("06", "Within forces: difference in differences and a quarterly event study"): (
        "Event study of the forces that appointed a dedicated officer during the data: the difference in the "
        "charge rate from the quarter before the officer started (quarter -1, the reference), by quarters since "
        "the officer started, with force and calendar-quarter fixed effects and CR2 95% intervals (Bell-McCaffrey "
        "df); leads (before) check the design, lags (after) estimate the effect on those forces."),
    ("06", "How many forces would a study need?"): (
        "Power to detect a dedicated-officer effect: the share of simulated national datasets in which the "
        "effect is detected (p < 0.05), by true hazard ratio and number of forces with an officer."),
    ("07", "Risk under each strategy"): "Fig10_spo-risk-curves",
    ("07", "Effects side by side: hazard ratios and risk ratios"): "Fig09_spo-effects",
    ("07", "Show what breaks: every estimator with each assumption switched off (synthetic worlds)"): (
        "Synthetic worlds, not real cases: the mean bias of each officer and SPO estimator (log ratio; risk "
        "difference for the difference-in-differences rows) over 15 simulated national datasets per setting, "
        "with no adversarial switch and with each switch on, ±1.96 Monte Carlo SE "
        "(tests/studies/adversarial_switches.py; data/reference/adversarial_switches.csv)."),
}

_DATASET_LINE = re.compile(
    r"^(?P<source>synthetic national dataset \(seed \d+\)|event log .+?): [\d,]+ cases, .*?"
    r"\bas of (?P<as_of>\d{4}-\d{2}-\d{2})", re.M)
_OPEN_DATA_LINE = re.compile(r"^(?P<kind>outcomes|recorded|courts|foi)\s*: (?P<files>.+)$", re.M)
_YEARS_LINE = re.compile(r"^financial years: (?P<years>[^;\n]+)", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERING = re.compile(r"^(?:\d+\s*[·.)]\s*|Fig\d\d(?:[–-]\d\d)?\s*·\s*)")


@dataclass
class _Chapter:
    src: Path
    nb: object
    href: str
    number: str
    title: str
    summary: str
    source: str | None = None
    as_of: str | None = None
    synthetic: bool = False
    skipped_whole: str | None = None
    skipped: list = field(default_factory=list)  # (skip line, anchor of its cell)
    figures: list = field(default_factory=list)  # (label, anchor, short caption)


def _text(cell_source) -> str:
    return cell_source if isinstance(cell_source, str) else "".join(cell_source)


def _stream_text(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                out.append(_text(o.get("text", "")))
    return "".join(out)


def _title_and_summary(nb, stem: str) -> tuple[str, str]:
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "papermill-error-cell-tag" in cell.metadata.get("tags", []):
            continue
        lines = _text(cell.source).splitlines()
        for i, line in enumerate(lines):
            m = _HEADING.match(line)
            if m and len(m.group(1)) == 1:
                rest = " ".join(ln.strip() for ln in lines[i + 1:]).strip()
                summary = re.split(r"(?<=[.?!])\s", rest, maxsplit=1)[0] if rest else ""
                return m.group(2), summary
        break
    return stem, ""


def _provenance(nb) -> tuple[str | None, str | None, bool]:
    """(source, as-of, synthetic) from what the notebook printed about its data."""
    text = _stream_text(nb)
    m = _DATASET_LINE.search(text)
    if m:
        source = m.group("source")
        return source, m.group("as_of"), source.startswith("synthetic")
    files = {k: f.strip() for k, f in _OPEN_DATA_LINE.findall(text) if f.strip() != "not given"}
    if files:
        source = "public data: " + "; ".join(f"{k} {v}" for k, v in files.items())
        years = _YEARS_LINE.search(text)
        return source, (f"financial years {years.group('years').strip()}" if years else None), False
    return None, None, False


def _skipped_whole(nb) -> tuple[int | None, str | None]:
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and o.get("ename") == "NotebookSkipped":
                return i, str(o.get("evalue", ""))
    return None, None


def _section_key(heading: str | None) -> str:
    return _NUMBERING.sub("", heading or "").strip()


def _caption_text(name: str | None, number: str, heading: str | None) -> tuple[str, str | None, bool]:
    """(what the figure shows, report figure name or None, whether a caption table had it).

    ``name`` is the report figure whose PNG the picture is, byte for byte (or None). Otherwise the caption
    comes from :data:`SECTION_CAPTIONS`, or from a heading such as "Fig05 · ..." naming one report figure;
    without either, the section heading stands in.
    """
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name], name, True
    entry = SECTION_CAPTIONS.get((number, _section_key(heading)))
    if entry is None and heading:
        named = re.match(r"(Fig\d\d)\s*·", heading.strip())
        same = [k for k in FIGURE_CAPTIONS if named and k.startswith(named.group(1) + "_")]
        entry = same[0] if len(same) == 1 else None
    if entry in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[entry], None, True
    if entry:
        return entry, None, True
    return (f"{_section_key(heading)}." if heading else "A figure of this chapter."), name, False


def _figure_hashes(figures_dir) -> dict[str, str]:
    if figures_dir is None or not Path(figures_dir).is_dir():
        return {}
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p.stem for p in sorted(Path(figures_dir).glob("Fig*.png"))}


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def _caption_html(what: str, name: str | None, chapter: _Chapter, figures_dir, html_dir: Path) -> str:
    parts = [html.escape(what)]
    if name:
        links = []
        for ext in ("png", "svg"):
            f = Path(figures_dir) / f"{name}.{ext}" if figures_dir is not None else None
            if f is not None and f.is_file():
                links.append(f'<a href="{html.escape(_relative(f, html_dir))}">{ext.upper()}</a>')
        files = f" ({', '.join(links)})" if links else ""
        parts.append(f'<span class="book-file">Report figure <code>{html.escape(name)}</code>{files}.</span>')
    if chapter.source:
        when = f", as of {chapter.as_of}" if chapter.as_of and not chapter.as_of.startswith("financial") else (
            f", {chapter.as_of}" if chapter.as_of else "")
        parts.append(f'<span class="book-source">Data: {html.escape(chapter.source + when)}.</span>')
    else:
        parts.append('<span class="book-source">Data: not stated by the notebook.</span>')
    if chapter.synthetic:
        parts.append('<strong class="book-synthetic">Synthetic data: simulated, not real cases.</strong>')
    return " ".join(parts)


def _prepare(chapter: _Chapter, hashes: dict, figures_dir, html_dir: Path) -> None:
    """Fold papermill's error cells, cut a skipped notebook after its skip, caption every figure (in place)."""
    nb = chapter.nb
    cut, why = _skipped_whole(nb)
    cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    if cut is not None:
        kept = nb.cells[: cut + 1]
        cells = [c for c in kept if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
        chapter.skipped_whole = why
        for c in cells:
            if c.cell_type == "code":
                c.outputs = [o for o in c.outputs if o.get("output_type") != "error"]
    nb.cells = cells
    from attrition.report import SKIP_MARK

    chapter.skipped = []
    for cell in nb.cells:  # each skip note: listed on the index, linked to its cell, highlighted
        lines = [ln.strip() for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                 for ln in _text(o.get("text", "")).splitlines() if ln.strip().startswith(SKIP_MARK)]
        if lines:
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "book-skipped"]
            chapter.skipped += [(ln, f"cell-id={cell.get('id', '')}" if cell.get("id") else "") for ln in lines]
    heading = None
    k = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in _text(cell.source).splitlines():
                m = _HEADING.match(line)
                if m and len(m.group(1)) > 1:
                    heading = m.group(2)
            continue
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png") if out.get("output_type") in ("display_data", "execute_result") else None
            if not png:
                continue
            k += 1
            digest = hashlib.sha256(base64.b64decode(png)).hexdigest()
            what, name, listed = _caption_text(hashes.get(digest), chapter.number, heading)
            label = f"Figure {int(chapter.number) if chapter.number.isdigit() else chapter.number}.{k}"
            anchor = f"figure-{chapter.number}-{k}"
            out.setdefault("metadata", {})["attrition"] = {
                "label": label, "anchor": anchor, "alt": f"{label}: {what}",
                "caption_html": _caption_html(what, name, chapter, figures_dir, html_dir),
            }
            chapter.figures.append({"label": label, "anchor": anchor, "caption": what, "name": name,
                                    "section": _section_key(heading), "listed": listed})


def caption_figures(notebook, figures_dir=None) -> list[dict]:
    """The caption of every figure an executed notebook shows, as the book would give it.

    Parameters
    ----------
    notebook : str or pathlib.Path
        An executed notebook.
    figures_dir : str or pathlib.Path, optional
        As in :func:`build_book`.

    Returns
    -------
    list of dict
        One per figure, in order: ``label`` ("Figure 2.1"), ``anchor``, ``caption`` (what it shows), ``name``
        (report figure name or None), ``section`` (the heading above it) and ``listed`` (False when neither
        :data:`FIGURE_CAPTIONS` nor :data:`SECTION_CAPTIONS` has it, and the heading stands in).
    """
    import nbformat

    p = Path(notebook)
    nb = nbformat.read(p, as_version=4)
    title, summary = _title_and_summary(nb, p.stem)
    source, as_of, synthetic = _provenance(nb)
    ch = _Chapter(src=p, nb=nb, href=f"{p.stem}.html", number=p.stem[:2], title=title, summary=summary,
                  source=source, as_of=as_of, synthetic=synthetic)
    figures_dir = config.FIGURES_DIR if figures_dir is None else Path(figures_dir)
    _prepare(ch, _figure_hashes(figures_dir), figures_dir, p.parent)
    return ch.figures


def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="book", extra_template_basedirs=[str(TEMPLATES_DIR)],
                        exclude_input_prompt=True, exclude_output_prompt=True)


def _render(exporter, nb, name: str, book: dict) -> str:
    resources = {"metadata": {"name": name}, "book": {"css": (TEMPLATES_DIR / "book" / "book.css").read_text(),
                                                      **book}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def _short(what: str, width: int = 110) -> str:
    """The first clause of a caption (up to its first colon or sentence end), for the list of figures."""
    first = re.split(r":\s|(?<=[a-z)])\.\s", what, maxsplit=1)[0].rstrip(".")
    return first if len(first) <= width else first[: width - 1].rsplit(" ", 1)[0] + " …"


def _markdown_escape(text: str) -> str:
    """Text for a markdown cell: markdown's special characters escaped, except inside `code spans`."""
    parts = re.split(r"(`[^`\n]+`)", text)
    return "".join(p if i % 2 else re.sub(r"([\\*_\[\]<>|])", r"\\\1", p) for i, p in enumerate(parts))


def _index_notebook(chapters: list[_Chapter], findings, title: str):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.metadata["title"] = title
    first = next((c for c in chapters if c.source), None)
    intro = [f"# {title}", ""]
    if first is not None:
        when = f", as of {first.as_of}" if first.as_of else ""
        intro.append(f"Data: {_markdown_escape(first.source + when)}.")
        if first.synthetic:
            intro.append('<strong class="book-synthetic">Synthetic data: simulated, not real cases; every '
                         "number below comes from a simulated national dataset calibrated to published "
                         "figures.</strong>")
    intro += ["", "Each chapter is one notebook of the report, run on these data; the code behind each result is "
              "folded under **Code** and opens on demand."]
    cells = [new_markdown_cell("\n".join(intro))]

    find = ["## Headline findings", ""]
    if findings is None:
        find.append("Not computed for this report.")
    elif isinstance(findings, str):
        find.append(_markdown_escape(findings))
    else:
        find.append(findings["table"])
        find.append("")
        find += [f"* {_markdown_escape(s)}" for s in findings.get("notes", [])]
    cells.append(new_markdown_cell("\n".join(find)))

    toc = ["## Contents", ""]
    for i, c in enumerate(chapters, start=1):
        extra = " (skipped: the data cannot support it)" if c.skipped_whole else ""
        summary = f" — {c.summary}" if c.summary else ""
        toc.append(f"{i}. [{_markdown_escape(c.title)}]({c.href}){extra}{summary}")
    cells.append(new_markdown_cell("\n".join(toc)))

    figs = ["## Figures", ""]
    for c in chapters:
        for f in c.figures:
            tag = f" (`{f['name']}`)" if f["name"] else ""
            figs.append(f"* [{f['label']}]({c.href}#{f['anchor']}){tag}: {_markdown_escape(_short(f['caption']))}")
    if len(figs) == 2:
        figs.append("None.")
    cells.append(new_markdown_cell("\n".join(figs)))

    skipped = ["## Analyses skipped for lack of data", ""]
    from attrition.report import SKIP_MARK

    for c in chapters:
        for line, anchor in c.skipped:
            target = f"{c.href}#{anchor}" if anchor else c.href
            skipped.append(f"* [{_markdown_escape(c.title)}]({target}): "
                           f"{_markdown_escape(line.removeprefix(SKIP_MARK).strip())}")
    if len(skipped) == 2:
        skipped.append("None: the data support every analysis of the report.")
    cells.append(new_markdown_cell("\n".join(skipped)))
    for j, cell in enumerate(cells):
        cell["id"] = f"index-{j}"  # stable ids: the page is byte-identical from run to run
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def build_book(notebooks, out_dir, *, figures_dir=None, findings=None, title: str = BOOK_TITLE) -> list[Path]:
    """Render executed notebooks as one HTML book: ``index.html``, one page per notebook, ``report.html``.

    Parameters
    ----------
    notebooks : sequence of str or pathlib.Path
        Executed notebooks (``attrition.report.run_report`` output), in reading order.
    out_dir : str or pathlib.Path
        Where the pages go (created if absent); each chapter is ``<notebook stem>.html``.
    figures_dir : str or pathlib.Path, optional
        Where the report figures of this run were written. A figure shown in a notebook whose PNG is one of
        these files, byte for byte, is captioned with that figure's name and linked to its PNG and SVG.
        Default ``attrition.config.FIGURES_DIR``.
    findings : dict or str, optional
        Headline findings for the index page, from :func:`headline_findings`, or a sentence saying why there
        are none.
    title : str
        The book's title.

    Returns
    -------
    list of pathlib.Path
        ``index.html``, then the chapters in order, then ``report.html`` (every chapter on one page, for
        printing).

    Raises
    ------
    AttritionError
        If no notebook is given or one cannot be read.
    """
    import nbformat

    notebooks = [Path(p) for p in notebooks]
    if not notebooks:
        raise AttritionError("no executed notebooks to make a book of")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = config.FIGURES_DIR if figures_dir is None else Path(figures_dir)
    hashes = _figure_hashes(figures_dir)
    chapters = []
    for p in notebooks:
        try:
            nb = nbformat.read(p, as_version=4)
        except (OSError, ValueError) as err:
            raise AttritionError(f"cannot read executed notebook {p}: {err}") from err
        title_, summary = _title_and_summary(nb, p.stem)
        source, as_of, synthetic = _provenance(nb)
        ch = _Chapter(src=p, nb=nb, href=f"{p.stem}.html", number=p.stem[:2], title=title_, summary=summary,
                      source=source, as_of=as_of, synthetic=synthetic)
        _prepare(ch, hashes, figures_dir, out_dir)
        chapters.append(ch)

    exporter = _exporter()
    written = []
    index_nb = _index_notebook(chapters, findings, title)
    index = out_dir / INDEX_NAME
    nav = {"title": "Contents", "href": INDEX_NAME}
    index.write_text(_render(exporter, index_nb, "index", {
        "nav": True, "index_href": INDEX_NAME, "prev": None,
        "next": {"title": chapters[0].title, "href": chapters[0].href}, "banner": None}), encoding="utf-8")
    written.append(index)
    for i, ch in enumerate(chapters):
        ch.nb.metadata["title"] = f"{ch.title} — {title}"
        prev = chapters[i - 1] if i > 0 else None
        nxt = chapters[i + 1] if i + 1 < len(chapters) else None
        banner = (f"This chapter was skipped: {ch.skipped_whole}" if ch.skipped_whole else None)
        page = out_dir / ch.href
        page.write_text(_render(exporter, ch.nb, ch.src.stem, {
            "nav": True, "index_href": nav["href"], "banner": banner,
            "prev": {"title": prev.title, "href": prev.href} if prev else nav,
            "next": {"title": nxt.title, "href": nxt.href} if nxt else None}), encoding="utf-8")
        written.append(page)
    single = out_dir / SINGLE_PAGE_NAME
    single.write_text(_render(exporter, _single_page(index_nb, chapters, title), "report",
                              {"nav": False, "banner": None}), encoding="utf-8")
    written.append(single)
    return written


def _single_page(index_nb, chapters: list[_Chapter], title: str):
    """Every chapter after the index, on one page; links to chapters become links within the page."""
    from nbformat.v4 import new_markdown_cell

    nb = copy.deepcopy(index_nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        for ch in chapters:
            cell.source = cell.source.replace(f"]({ch.href}#", "](#").replace(f"]({ch.href})", f"](#chapter-{ch.number})")
    for ch in chapters:
        marker = f'<div class="book-chapter" id="chapter-{ch.number}"></div>'
        note = f"\n\n**This chapter was skipped:** {_markdown_escape(ch.skipped_whole)}" if ch.skipped_whole else ""
        start = new_markdown_cell(marker + note)
        start["id"] = f"chapter-{ch.number}-start"  # stable: the page is byte-identical from run to run
        nb.cells.append(start)
        nb.cells += copy.deepcopy(ch.nb.cells)
    seen = set()
    for j, cell in enumerate(nb.cells):  # unique and stable; the ids links point to are kept
        if cell.get("id") in seen or not cell.get("id"):
            cell["id"] = f"cell-{j:04d}"
        seen.add(cell["id"])
    return nb


def headline_findings(dataset, *, year: str = "2021/22") -> dict:
    """Headline findings for the index page, recomputed from the data by the package (not by a notebook).

    Parameters
    ----------
    dataset : attrition.data.Dataset
        What the report analysed (:func:`attrition.data.load_dataset` with the report's parameters).
    year : str, default "2021/22"
        Financial year of the headline measures (the year of the published figures); all years if the data
        hold no report from it.

    Returns
    -------
    dict
        ``table``: HTML table of the headline measures (with the published figures beside them), after
        disclosure control (counts 1 to 9 and the rates computed from them withheld as ``[c]``);
        ``notes``: sentences on the funnel (conviction per 10,000 reports, the largest single loss).
    """
    import warnings

    from attrition.disclosure import count_text, format_table, suppress_small_counts
    from attrition.exceptions import DisclosureWarning
    from attrition.funnel import FunnelFitter
    from attrition.headlines import headline_figures
    from attrition.plotting import REASON_LABELS

    cases = dataset.cases
    fy = year if (cases["financial_year"] == year).any() else None
    head = headline_figures(cases, financial_year=fy)
    cols = ["measure", "cases", "reports", "estimate", "lower 95%", "upper 95%", "published"]
    rates = {c: ["cases", "reports"] for c in ["estimate", "lower 95%", "upper 95%"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        safe = suppress_small_counts(head[cols].reset_index(drop=True), ["cases", "reports"], derived=rates,
                                     warn=False)
    table = format_table(safe, decimals=4).rename(columns={"published": "published (y/e March 2022)"})
    period = f"reports of financial year {fy}" if fy else "reports of all years"
    html_table = (f"<p>Measured on the {html.escape(period)} of the {html.escape(dataset.source)}:</p>\n"
                  + table.to_html(index=False, classes="book-table", border=0, escape=True, na_rep=""))

    notes = []
    funnel = FunnelFitter(alpha=0.05).fit(cases)
    e2e = funnel.end_to_end_.iloc[0]
    reached = int(e2e["reached"])
    if count_text(reached) == "[c]":
        notes.append("Reports ending in a conviction for stalking: [c] (fewer than 10; withheld).")
    else:
        notes.append(f"Of every 10,000 stalking reports, {1e4 * e2e['estimate']:.0f} end in a conviction for "
                     f"stalking (95% CI {1e4 * e2e['lower 95%']:.0f} to {1e4 * e2e['upper 95%']:.0f}; "
                     f"{count_text(reached)} convictions among {count_text(int(e2e['reports']))} reports).")
    loss = funnel.decompose().droplevel("group").sort_values("contribution", ascending=False)
    exited = cases[cases["status"] == "exited"]
    n_exits = exited.groupby([exited["exit_stage"].astype(str), exited["exit_reason"].astype(str)]).size()
    if len(loss) and count_text(int(n_exits.get(tuple(map(str, loss.index[0])), 0))) not in ("[c]", "0"):
        (stage, reason), top = loss.index[0], loss.iloc[0]  # (never a share of fewer than 10 cases)
        notes.append(f"The largest single loss: {REASON_LABELS.get(reason, reason).lower()} at the stage "
                     f"'{str(stage).replace('_', ' ')}', {100 * top['contribution']:.0f}% of all reports "
                     f"({100 * top['share_of_loss']:.0f}% of everything lost between report and conviction).")
    return {"table": html_table, "notes": notes}


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome executable on ``PATH`` (``ATTRITION_CHROMIUM`` first), or None."""
    wanted = os.environ.get("ATTRITION_CHROMIUM")
    if wanted:
        return shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: Chromium flags for a headless, offline, throw-away browser.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def print_pdf(page, pdf, *, chromium: str | None = None, timeout: float = 120) -> Path:
    """Print an HTML page (e.g. the book's ``report.html``) to PDF with headless Chromium.

    Parameters
    ----------
    page : str or pathlib.Path
        The HTML file.
    pdf : str or pathlib.Path
        The PDF to write.
    chromium : str, optional
        Browser executable; default :func:`find_chromium`.
    timeout : float, default 120
        Seconds.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AttritionError
        No Chromium is installed, or it failed to write the PDF.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise AttritionError("no Chromium to print the PDF with: install it (Debian: apt-get install chromium) "
                             "or set ATTRITION_CHROMIUM; the HTML report is complete without it")
    page, pdf = Path(page).resolve(), Path(pdf).resolve()
    with tempfile.TemporaryDirectory(prefix="attrition-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise AttritionError(f"Chromium could not print {page.name}: {err}") from err
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise AttritionError(f"Chromium could not print {page.name} (exit {done.returncode}): {done.stderr[-500:]}")
    return pdf
