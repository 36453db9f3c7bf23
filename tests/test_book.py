"""The HTML book of ``attrition report --html``: pages, links, captions, folded code, no script; and the same
pages opened in headless Chromium (loads offline, every image resolves, no console error, code hidden)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from attrition import book
from attrition.cli import main as cli
from attrition.config import COMMITTED_FIGURES_DIR, NOTEBOOKS_DIR
from attrition.report import NOTEBOOK_PATTERN, run_report

from _browser import Browser, chromium_or_skip

PARAMS = "data_path = None\nfigures_dir = None"
LOAD = """\
import matplotlib.pyplot as plt
import pandas as pd
from attrition.data import load_dataset
from attrition.figures import publish_figure, set_provenance, show_figure
from attrition.report import skip
data = load_dataset(data_path)
set_provenance(data.provenance)
print(data)"""
FIGURE = """\
fig, ax = plt.subplots()
ax.bar(["reported", "charged"], [10000, 494])
publish_figure(fig, "Fig01_national-funnel", out_dir=figures_dir)"""
WIDE = 'print(pd.DataFrame({f"column_{i:02d}": [1000 * i] for i in range(40)}).to_string())'
UNLISTED = """\
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
show_figure(fig)"""
SKIP_ONE = 'skip("A tiny analysis", "the test extract has no such thing", "give it one")'
SKIP_ALL = 'from attrition.report import skip_notebook\nskip_notebook("Every analysis here", "the test says so")'


def _notebook(path: Path, cells) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(cells[0]), new_code_cell(PARAMS, metadata={"tags": ["parameters"]})]
    nb.cells += [new_markdown_cell(c[2:]) if c.startswith("M:") else new_code_cell(c) for c in cells[1:]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A report of two tiny notebooks on a 400-case extract, made by run_report(html=True)."""
    root = tmp_path_factory.mktemp("book")
    assert cli(["simulate", "--cases", "400", "--seed", "5", "--out", str(root / "extract.csv")]) == 0
    nbs = [
        _notebook(root / "nbs" / "02-tiny-funnel.ipynb", [
            "# 02 · A tiny funnel\n\nA chapter made by the test. It has two figures.",
            LOAD, "M:## The national funnel", FIGURE, "M:## A wide table", WIDE, SKIP_ONE,
            "M:## 3 · Not in any caption table", UNLISTED]),
        _notebook(root / "nbs" / "03-tiny-skipped.ipynb", ["# 03 · A skipped chapter", SKIP_ALL, "print('never')"]),
    ]
    out = root / "out"
    run_report(data=root / "extract.csv", notebooks=nbs, out_dir=out, html=True, headlines=True)
    return out


class _Page(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.tags, self.ids, self.title, self._in_title, self.stack = [], set(), "", False, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a, list(self.stack)))
        if tag not in ("img", "meta", "br", "hr", "input", "link"):
            self.stack.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def _pages(html_dir):
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(html_dir.glob("*.html"))}


def test_book_files_titles_and_no_script(made):
    pages = _pages(made / "html")
    assert sorted(pages) == ["02-tiny-funnel.html", "03-tiny-skipped.html", "index.html", "report.html"]
    titles = {name: _Page(text).title for name, text in pages.items()}
    assert titles["index.html"] == book.BOOK_TITLE
    assert titles["02-tiny-funnel.html"] == f"02 · A tiny funnel — {book.BOOK_TITLE}"
    assert titles["03-tiny-skipped.html"] == f"03 · A skipped chapter — {book.BOOK_TITLE}"
    for name, text in pages.items():
        assert "<script" not in text.lower(), name  # nothing executes, nothing is fetched from a CDN
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), name


def test_links_resolve_and_chapters_are_chained(made):
    html_dir = made / "html"
    pages = _pages(html_dir)
    parsed = {name: _Page(text) for name, text in pages.items()}
    checked = 0
    for name, page in parsed.items():
        for tag, a, _ in page.tags:
            if tag != "a" or "href" not in a:
                continue
            url = urlsplit(a["href"])
            assert not url.scheme, (name, a["href"])
            target = (html_dir / unquote(url.path)).resolve() if url.path else html_dir / name
            assert target.is_file(), (name, a["href"])
            if url.fragment:
                assert url.fragment in parsed[target.name].ids, (name, a["href"])
            checked += 1
    assert checked > 10

    def nav(name):
        return {a.get("rel"): a["href"] for tag, a, _ in parsed[name].tags if tag == "a" and a.get("rel")}

    assert nav("index.html") == {"next": "02-tiny-funnel.html"}
    assert nav("02-tiny-funnel.html") == {"prev": "index.html", "next": "03-tiny-skipped.html"}
    assert nav("03-tiny-skipped.html") == {"prev": "02-tiny-funnel.html"}
    assert 'href="02-tiny-funnel.html">02 · A tiny funnel</a>' in pages["index.html"]  # the contents
    assert '<a class="book-index" href="index.html">Contents</a>' in pages["03-tiny-skipped.html"]


def test_every_figure_has_a_numbered_caption_with_its_source(made):
    text = (made / "html" / "02-tiny-funnel.html").read_text(encoding="utf-8")
    page = _Page(text)
    imgs = [(a, stack) for tag, a, stack in page.tags if tag == "img"]
    assert len(imgs) == 2 and all("figure" in stack for _, stack in imgs)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, re.S)
    assert len(captions) == 2
    first, second = captions
    assert first.startswith("<strong>Figure 2.1.</strong> " + book.FIGURE_CAPTIONS["Fig01_national-funnel"][:40])
    assert "Report figure <code>Fig01_national-funnel</code>" in first
    assert '<a href="../figures/Fig01_national-funnel.png">PNG</a>' in first  # the file the report wrote
    assert re.search(r"Data: event log extract\.csv, as of \d{4}-\d{2}-\d{2}\.", first)
    assert "Synthetic data" not in first  # an event log file is real data as far as the report knows
    assert second.startswith("<strong>Figure 2.2.</strong> Not in any caption table.")  # the heading stands in
    assert imgs[0][0]["alt"].startswith("Figure 2.1: The national funnel")


def test_code_is_folded_and_wide_tables_are_kept(made):
    text = (made / "html" / "02-tiny-funnel.html").read_text(encoding="utf-8")
    nb = nbformat.read(made / "02-tiny-funnel.ipynb", as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    assert text.count('<details class="book-code">') == n_code and "<details open" not in text
    wide = next(ln for ln in text.splitlines() if "column_00" in ln)
    assert "column_39" in wide  # one row of the printed table is one line of the page


def test_index_lists_findings_figures_and_skipped_analyses(made):
    text = (made / "html" / "index.html").read_text(encoding="utf-8")
    assert "Headline findings" in text and "Reports charged (any offence)" in text
    # 400 reports give fewer than 10 convictions: withheld, in the sentence and in the table
    assert "Reports ending in a conviction for stalking: [c] (fewer than 10; withheld)." in text
    assert re.search(r"The largest single loss: .+ at the stage '.+', \d+% of all reports \(\d+% of everything", text)
    table = text[text.index("<table"):text.index("</table>")]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", table, re.S)
    assert [r[0] for r in rows] == ["Reports charged (any offence)",
                                    "Reports closed for evidential difficulties, victim supports (HO 15)",
                                    "Reports ending in a conviction for stalking"]
    for _, cases, reports in rows:  # counts of 1 to 9 never shown
        assert all(v in ("0", "[c]") or int(v.replace(",", "")) >= 10 for v in (cases, reports)), (cases, reports)
    assert '<a href="02-tiny-funnel.html#figure-02-1">Figure 2.1</a>' in text
    skipped = text[text.index("Analyses skipped for lack of data"):]
    assert "A tiny analysis — the test extract has no such thing. To include it: give it one." in skipped
    assert "Every analysis here — the test says so." in skipped
    # each skip links to the cell that printed it, highlighted in its chapter
    link = re.search(r'<a href="02-tiny-funnel.html#(cell-id=[^"]+)">02 · A tiny funnel</a>: A tiny analysis', skipped)
    funnel = (made / "html" / "02-tiny-funnel.html").read_text(encoding="utf-8")
    cell = re.search(rf'<div class="([^"]*)" id="{re.escape(link.group(1))}">', funnel) if link else None
    assert cell and "celltag_book-skipped" in cell.group(1).split()
    chapter = (made / "html" / "03-tiny-skipped.html").read_text(encoding="utf-8")
    assert "This chapter was skipped: Every analysis here — the test says so" in chapter
    assert "never" not in chapter and "Traceback" not in chapter and "An Exception was encountered" not in chapter


def test_book_is_byte_stable(made):
    from attrition.data import load_dataset

    executed = sorted(made.glob(NOTEBOOK_PATTERN))
    findings = book.headline_findings(load_dataset(made.parent / "extract.csv"))
    again = book.build_book(executed, made / "again", figures_dir=made / "figures", findings=findings)
    assert [p.name for p in again] == ["index.html", "02-tiny-funnel.html", "03-tiny-skipped.html", "report.html"]
    for page in again:  # same depth as html/, so the same relative links
        assert page.read_bytes() == (made / "html" / page.name).read_bytes(), page.name


def test_report_progress_and_no_kernel_noise(tmp_path, capfd):
    nb = _notebook(tmp_path / "nbs" / "01-quiet.ipynb", ["# 01 · Quiet", "print('hello')"])
    run_report(notebooks=[nb], out_dir=tmp_path / "out", figures_dir=tmp_path / "figs")
    err = capfd.readouterr().err
    assert re.search(r"\[1/1\] 01-quiet\.ipynb done in \d+\.\d s", err)
    assert "without encryption" not in err and "KeyboardInterrupt" not in err
    assert "done in" not in (tmp_path / "out" / "01-quiet.ipynb").read_text()  # times on stderr only


def test_caption_tables_cover_every_committed_figure():
    for nb in sorted(NOTEBOOKS_DIR.glob(NOTEBOOK_PATTERN)):
        for fig in book.caption_figures(nb, COMMITTED_FIGURES_DIR):
            assert fig["listed"], (f"{nb.name}: {fig['label']} under {fig['section']!r} has no caption: add it to "
                                   "attrition.book.FIGURE_CAPTIONS or SECTION_CAPTIONS")
    assert set(book.FIGURE_CAPTIONS) == {p.stem for p in COMMITTED_FIGURES_DIR.glob("Fig*.png")}


def test_synthetic_source_is_marked():
    nb = new_notebook()
    nb.cells = [new_markdown_cell("# 02 · x"), new_code_cell("print(data)")]
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="synthetic national dataset (seed 20220331): 360,000 cases, 1,785,527 events, "
        "43 forces, reported 2020-04-01 to 2023-03-31, as of 2023-09-30; 539 open\n")]
    assert book._provenance(nb) == ("synthetic national dataset (seed 20220331)", "2023-09-30", True)
    ch = book._Chapter(src=Path("02-x.ipynb"), nb=nb, href="02-x.html", number="02", title="x", summary="",
                       source="synthetic national dataset (seed 20220331)", as_of="2023-09-30", synthetic=True)
    text = book._caption_html("What it shows.", None, ch, None, Path("."))
    assert text.endswith("Data: synthetic national dataset (seed 20220331), as of 2023-09-30.</span> "
                         '<strong class="book-synthetic">Synthetic data: simulated, not real cases.</strong>')


# --- a real browser ------------------------------------------------------------------------------
PAGE_STATE = """(() => {
  const details = [...document.querySelectorAll('details.book-code')];
  const pres = [...document.querySelectorAll('.jp-RenderedText pre')];
  return {
    title: document.title,
    images: [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0,
                                            caption: !!(i.closest('figure') && i.closest('figure').querySelector('figcaption'))})),
    details: details.length,
    open: details.filter(d => d.open).length,
    codeVisible: [...document.querySelectorAll('.jp-InputArea-editor')].filter(e => e.checkVisibility()).length,
    whiteSpace: [...new Set(pres.map(p => getComputedStyle(p).whiteSpace))],
    scrolls: pres.some(p => p.scrollWidth > p.clientWidth && getComputedStyle(p).overflowX === 'auto'),
  };
})()"""


def test_book_in_headless_chromium(made):
    chromium = chromium_or_skip()
    html_dir = made / "html"
    with Browser(chromium) as browser:
        for name in ("index.html", "02-tiny-funnel.html", "03-tiny-skipped.html", "report.html"):
            problems = browser.load(html_dir / name)
            assert problems == [], (name, problems)
            state = browser.evaluate(PAGE_STATE)
            assert state["title"] == _Page((html_dir / name).read_text(encoding="utf-8")).title
            assert all(i["ok"] and i["caption"] for i in state["images"]), (name, state["images"])
            assert state["open"] == 0 and state["codeVisible"] == 0, (name, state)  # code hidden by default
            if name == "02-tiny-funnel.html":
                assert len(state["images"]) == 2 and state["details"] > 0
                assert state["whiteSpace"] == ["pre"] and state["scrolls"]  # the wide table scrolls, unwrapped
                browser.evaluate("document.querySelector('details.book-code > summary').click()")
                assert browser.evaluate(PAGE_STATE)["codeVisible"] == 1  # shown on demand
        assert len(state["images"]) == 2  # report.html: every chapter on one page


def test_pdf_of_the_book(made, tmp_path):
    chromium_or_skip()
    pdf = book.print_pdf(made / "html" / book.SINGLE_PAGE_NAME, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000


def test_index_text_is_escaped_but_code_spans_are_kept():
    nb_text = "Skipped: Fig08 — no table with `dedicated_stalking_officer` for <forces> [c]"
    from nbconvert.filters import markdown2html

    rendered = markdown2html(book._markdown_escape(nb_text))
    assert "<code>dedicated_stalking_officer</code>" in rendered
    assert "&lt;forces&gt; [c]" in rendered and "\\" not in rendered


def test_browser_check_sees_what_a_reader_would(tmp_path):
    """The browser check is not blind: a broken image, a console error and a fetch from the network show up."""
    chromium = chromium_or_skip()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>bad</title><script src="https://cdn.invalid/x.js"></script>'
                   '</head><body><img src="missing.png"><script>console.error("boom")</script></body></html>')
    with Browser(chromium) as browser:
        problems = browser.load(bad)
        state = browser.evaluate(PAGE_STATE)
    assert any("boom" in p for p in problems) and any("cdn.invalid" in p for p in problems), problems
    assert any("missing.png" in p or "load failed" in p for p in problems), problems
    assert state["images"] == [{"ok": False, "caption": False}]
