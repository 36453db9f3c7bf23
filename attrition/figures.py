"""The one way a figure is written: deterministic bytes, checked names, disclosure control.

Every figure in ``figures/`` is written by :func:`save_figure`, so that re-running the notebooks on
the same data and the same pinned stack gives byte-identical files (``git diff`` then shows only
real changes). What varies between runs by default, and how it is pinned here:

* PNG: matplotlib writes ``Software: matplotlib version ...`` -> ``metadata={"Software": None}``.
* SVG: a ``<dc:date>`` and random clip-path / glyph ids -> ``metadata={"Date": None}`` inside
  ``rc_context({"svg.hashsalt": "attrition"})``.
* PDF: ``CreationDate``, ``Creator`` and ``Producer`` -> all ``None``.

The style itself (size, dpi, fonts, palette) comes from ``attrition/standard/matplotlibrc``; see
:func:`attrition.plotting.use_style`.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

from attrition import config

__all__ = ["save_figure", "publish_figure", "show_figure", "set_provenance", "record_published", "FIGURE_NAME",
           "FORMATS", "SIDECAR_SUFFIX"]

#: Suffix of the file written next to a figure with what it published (texts, count tables, curves).
SIDECAR_SUFFIX = ".published.json"

#: Figure names: ``Fig`` + two digits + ``_`` + lower-case words joined by hyphens,
#: e.g. ``Fig01_national-funnel``.
FIGURE_NAME = re.compile(r"Fig\d\d_[a-z0-9]+(?:-[a-z0-9]+)*")
#: Supported formats and the metadata that makes each deterministic.
FORMATS: dict[str, dict] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


_PROVENANCE: list[str | None] = [None]


def set_provenance(text: str | None) -> None:
    """Set the line every later figure carries in its bottom-left corner (``None``: no line).

    Each notebook calls it once with :attr:`attrition.data.Dataset.provenance` ("Synthetic data ...", or the
    data file and its as-of date), so no figure can leave the report without saying what it was made from.
    """
    if text is not None and not isinstance(text, str):
        raise TypeError(f"provenance must be a string or None, got {type(text).__name__}")
    _PROVENANCE[0] = text


def _render(fig, buf, fmt: str) -> None:
    """``fig.savefig`` with the provenance line added below the figure for this one rendering."""
    kwargs = {"format": fmt, "metadata": dict(FORMATS[fmt])}
    text = _PROVENANCE[0]
    if not text:
        fig.savefig(buf, **kwargs)
        return
    stamp = fig.text(0.005, 0.0, text, ha="left", va="top", fontsize=7, color="#555555")
    try:
        fig.savefig(buf, bbox_inches="tight", pad_inches=0.08, **kwargs)
    finally:
        stamp.remove()


_CLIP_ID = re.compile(rb'<clipPath id="([^"]+)">')


def _stable_svg_ids(svg: bytes) -> bytes:
    """Clip-path ids renumbered ``clip1, clip2, ...`` in order of first use.

    matplotlib names a clip path by a hash of the clip rectangle at full float precision, so noise in the
    16th digit of a layout (which the coordinates written to the file, at 6 decimals, do not show) gives a
    different file. The ids are internal to the file, so renumbering them changes nothing drawn.
    """
    ids = list(dict.fromkeys(m.group(1) for m in _CLIP_ID.finditer(svg)))
    if not ids:
        return svg
    order = sorted(ids, key=lambda i: svg.find(b"#" + i + b")"))
    new = {old: f"clip{k}".encode() for k, old in enumerate(order, 1)}
    pattern = re.compile(rb'(id="|url\(#)(' + b"|".join(re.escape(i) for i in ids) + rb')(["\)])')
    return pattern.sub(lambda m: m.group(1) + new[m.group(2)] + m.group(3), svg)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or FIGURE_NAME.fullmatch(name) is None:
        raise ValueError(
            f"figure name {name!r} must look like 'Fig01_national-funnel': 'Fig', two digits, '_', "
            "then lower-case letters/digits joined by single hyphens, without a file extension"
        )
    return name


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be some of {list(FORMATS)}, got {list(formats)!r}")
    if len(set(formats)) != len(formats):
        raise ValueError(f"formats has duplicates: {list(formats)!r}")
    return formats


def _check_published_table(table, count_cols) -> None:
    """Refuse to publish a figure whose data fail disclosure control."""
    from attrition.disclosure import check_disclosure

    meta = getattr(table, "attrs", {}).get("disclosure") or {}
    threshold = max(int(meta.get("threshold", 0)), config.DISCLOSURE_THRESHOLD)
    check_disclosure(table, count_cols, threshold)


def record_published(fig, table, *, kind: str, label: str = "", **meta) -> None:
    """Remember, on the figure, a table whose values the figure draws (for the sidecar of :func:`save_figure`).

    Plot functions that apply a disclosure rule call this with what they actually drew: ``kind="curve"``
    with the published step table (``events``/``at_risk`` name its columns of events per shown step and
    number at risk; ``count_cols`` columns of implied counts), ``kind="table"`` with a count table.
    """
    fig = getattr(fig, "figure", fig)
    cols = list(table.columns)
    rows = table.reset_index(drop=True).astype(object).where(table.notna().to_numpy(), None)
    store = fig.__dict__.setdefault("_attrition_published", [])
    store.append({"kind": kind, "label": str(label), "columns": [str(c) for c in cols],
                  "rows": [{str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                           for r in rows.to_dict("records")], **meta})


def _figure_texts(fig) -> list[str]:
    """Every visible, non-empty text the figure draws: titles, labels, tick labels, legend, annotations."""
    from matplotlib.text import Text

    texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return list(dict.fromkeys(texts))


def _sidecar(fig, table, count_cols) -> bytes:
    """JSON of what a figure published: its texts, the count table it was checked against, its curves."""
    import json

    published = list(getattr(fig, "_attrition_published", []))
    if table is not None:
        meta = getattr(table, "attrs", {}).get("disclosure") or {}
        cols = count_cols if count_cols is not None else meta.get("count_cols", [])
        cols = [cols] if isinstance(cols, str) else list(cols)
        t = table.reset_index(drop=True)
        rows = t.astype(object).where(t.notna().to_numpy(), None).to_dict("records")
        published.append({"kind": "table", "label": "save check", "count_cols": cols,
                          "rows": [{str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                                   for r in rows]})
    body = {"texts": _figure_texts(fig), "published": published}
    return (json.dumps(body, indent=1, default=str, sort_keys=True) + "\n").encode()


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write atomically, and not at all if the file already holds these bytes (keeps mtimes)."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_figure(fig, name: str, *, out_dir=None, formats=("png", "svg"), suppressed=None,
                count_cols=None) -> list[Path]:
    """Write a figure deterministically as ``<out_dir>/<name>.<format>`` for each format.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (the Axes' ``.figure`` if you hold an Axes). It is not closed.
    name : str
        File stem such as ``"Fig01_national-funnel"`` (pattern ``Fig\\d\\d_[a-z0-9-]+``).
    out_dir : str or pathlib.Path, optional
        Directory to write into (created if absent). Default ``attrition.config.FIGURES_DIR``;
        notebooks pass their ``figures_dir`` parameter so reports and tests can write elsewhere.
    formats : sequence of {"png", "svg", "pdf"}, default ("png", "svg")
    suppressed : pandas.DataFrame, optional
        The table the figure was drawn from, after disclosure control
        (:func:`attrition.disclosure.suppress_small_counts`). If given, the figure is written only
        if the table passes :func:`attrition.disclosure.check_disclosure` at the project threshold
        (``attrition.config.DISCLOSURE_THRESHOLD``, or the table's own if higher).
    count_cols : str or list of str, optional
        The count columns of ``suppressed``; default: those recorded by ``suppress_small_counts``.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.

    Raises
    ------
    ValueError
        If the name or a format is not allowed.
    DataValidationError
        If ``suppressed`` fails disclosure control; nothing is written.

    Notes
    -----
    Outside the committed ``figures/`` (a report on real data always writes elsewhere), a sidecar
    ``<name>.published.json`` records what the figure published: every text it draws, the count table of
    ``suppressed`` and the step curves its plot functions recorded (:func:`record_published`), so that
    :func:`attrition.disclosure_scan.scan_report` can check the figure's numbers, not just its pixels.

    Files are written atomically, and left untouched when their bytes would not change. Output is
    byte-identical across runs for the same figure, matplotlib version and fonts (DejaVu Sans as
    bundled with matplotlib); see the module docstring for the metadata that is removed.

    Examples
    --------
    >>> import matplotlib.figure, tempfile
    >>> fig = matplotlib.figure.Figure()
    >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in save_figure(fig, "Fig01_example", out_dir=d)]
    ['Fig01_example.png', 'Fig01_example.svg']
    """
    import matplotlib as mpl

    name = _check_name(name)
    formats = _check_formats(formats)
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if suppressed is not None:
        _check_published_table(suppressed, count_cols)
    out_dir = Path(config.FIGURES_DIR if out_dir is None else out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    written = []
    with mpl.rc_context({"svg.hashsalt": "attrition"}):
        for fmt in formats:
            buf = io.BytesIO()
            _render(fig, buf, fmt)
            path = out_dir / f"{name}.{fmt}"
            data = buf.getvalue()
            _write_if_changed(path, _stable_svg_ids(data) if fmt == "svg" else data)
            written.append(path)
    if out_dir.resolve() != config.COMMITTED_FIGURES_DIR.resolve():
        _write_if_changed(out_dir / f"{name}{SIDECAR_SUFFIX}", _sidecar(fig, suppressed, count_cols))
    return written


def publish_figure(fig, name: str, **kwargs):
    """Save a figure with :func:`save_figure`, close it, and return its PNG for display in a notebook.

    Use as the last line of a notebook cell. The cell's output is then the same whichever matplotlib
    backend the kernel runs (``inline`` in JupyterLab, ``Agg`` under ``make``): an
    ``IPython.display.Image`` of the saved PNG, whose text form nbval compares and whose picture the
    HTML report shows. Without it, the inline backend displays the figure and Agg does not, and
    nbval reports a missing output.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name : str
        As in :func:`save_figure`.
    **kwargs
        Passed to :func:`save_figure` (``out_dir``, ``formats``, ``suppressed``, ``count_cols``);
        ``"png"`` is added to ``formats`` if absent.

    Returns
    -------
    IPython.display.Image
        The PNG exactly as written to disk.

    Raises
    ------
    As :func:`save_figure` (the figure is not closed if saving is refused).
    """
    from IPython.display import Image

    formats = kwargs.pop("formats", ("png", "svg"))
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    if "png" not in formats:
        formats = ("png", *formats)
    paths = save_figure(fig, name, formats=formats, **kwargs)
    import matplotlib.pyplot as plt

    plt.close(fig)
    png = paths[formats.index("png")]
    return Image(data=png.read_bytes(), format="png")


def show_figure(fig):
    """Render a figure to PNG in memory (same settings as :func:`save_figure`), close it, and return it
    for display in a notebook, without writing a file.

    The analysis notebooks show figures with this; ``08-report-figures`` writes them with
    :func:`save_figure`. The output is identical whichever backend the kernel runs.

    Returns
    -------
    IPython.display.Image
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    _render(fig, buf, "png")
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png")
