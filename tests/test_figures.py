"""save_figure: names, formats, byte-identical output across processes, disclosure gate; the style."""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from attrition import config
from attrition.exceptions import DataValidationError, DisclosureWarning
from attrition.figures import save_figure

DRAW = textwrap.dedent(
    """
    import sys
    from attrition.plotting import use_style, percent_axis, PALETTE, REASON_COLOURS
    use_style()
    import matplotlib.pyplot as plt
    from attrition.figures import save_figure
    fig, ax = plt.subplots()
    ax.bar(["Reported", "Charged", "Convicted"], [1.0, 0.3, 0.05], color=PALETTE[:3], label="share")
    ax.plot([0, 1, 2], [0.9, 0.4, 0.1], color=REASON_COLOURS["acquitted"], label="line")
    ax.fill_between([0, 1, 2], [0.8, 0.3, 0.0], [1.0, 0.5, 0.2], alpha=0.3)
    ax.set_title("Where cases drop out: 5% convicted"); ax.legend(); percent_axis(ax)
    save_figure(fig, "Fig01_test-figure", out_dir=sys.argv[1], formats=("png", "svg", "pdf"))
    """
)


def _draw_in_subprocess(out_dir: Path, hashseed: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MATPLOTLIBRC", "MPLBACKEND")}
    env["PYTHONHASHSEED"] = hashseed
    subprocess.run([sys.executable, "-c", DRAW, str(out_dir)], check=True, env=env, timeout=120)


def _figure() -> Figure:
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 0.5, 0.2])
    ax.set_title("x")
    return fig


def test_byte_identical_across_processes(tmp_path):
    # different processes and hash seeds: nothing may depend on time, ids or set order
    _draw_in_subprocess(tmp_path / "a", "1")
    _draw_in_subprocess(tmp_path / "b", "2")
    for fmt in ("png", "svg", "pdf"):
        a = (tmp_path / "a" / f"Fig01_test-figure.{fmt}").read_bytes()
        b = (tmp_path / "b" / f"Fig01_test-figure.{fmt}").read_bytes()
        assert len(a) > 1000
        assert a == b, fmt
    png = (tmp_path / "a" / "Fig01_test-figure.png").read_bytes()
    svg = (tmp_path / "a" / "Fig01_test-figure.svg").read_bytes()
    pdf = (tmp_path / "a" / "Fig01_test-figure.pdf").read_bytes()
    # the varying metadata is really gone (not just equal because both ran in the same second)
    assert b"Software" not in png and b"matplotlib" not in png
    assert b"<dc:date>" not in svg
    assert b"CreationDate" not in pdf and b"Producer" not in pdf and b"Creator" not in pdf
    # the fixed style was applied: 6.4 x 4.0 in at 150 dpi
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (960, 600)


def test_byte_identical_fresh_figures_same_process(tmp_path):
    a = save_figure(_figure(), "Fig02_same", out_dir=tmp_path / "a", formats=("png", "svg", "pdf"))
    b = save_figure(_figure(), "Fig02_same", out_dir=tmp_path / "b", formats=("png", "svg", "pdf"))
    assert [p.name for p in a] == ["Fig02_same.png", "Fig02_same.svg", "Fig02_same.pdf"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()


def test_svg_ids_use_fixed_salt_even_if_rc_changed(tmp_path):
    with matplotlib.rc_context({"svg.hashsalt": None}):
        (p1,) = save_figure(_figure(), "Fig03_salt", out_dir=tmp_path / "a", formats=("svg",))
        (p2,) = save_figure(_figure(), "Fig03_salt", out_dir=tmp_path / "b", formats=("svg",))
        assert matplotlib.rcParams["svg.hashsalt"] is None  # restored after saving
    assert p1.read_bytes() == p2.read_bytes()


def test_default_formats_and_returned_paths(tmp_path):
    paths = save_figure(_figure(), "Fig04_defaults", out_dir=tmp_path / "new" / "dir")
    assert paths == [tmp_path / "new" / "dir" / "Fig04_defaults.png", tmp_path / "new" / "dir" / "Fig04_defaults.svg"]
    assert all(p.is_file() for p in paths)
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == ["Fig04_defaults.png", "Fig04_defaults.published.json",
                                                                          "Fig04_defaults.svg"]


def test_default_out_dir_is_config_figures_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "FIGURES_DIR", tmp_path / "figs")
    (path,) = save_figure(_figure(), "Fig05_default-dir", formats=("png",))
    assert path == tmp_path / "figs" / "Fig05_default-dir.png"


def test_unchanged_file_is_not_rewritten(tmp_path):
    (p,) = save_figure(_figure(), "Fig06_mtime", out_dir=tmp_path, formats=("png",))
    os.utime(p, (1_000_000, 1_000_000))
    save_figure(_figure(), "Fig06_mtime", out_dir=tmp_path, formats=("png",))
    assert p.stat().st_mtime == 1_000_000
    fig = _figure()
    fig.axes[0].set_title("changed")
    save_figure(fig, "Fig06_mtime", out_dir=tmp_path, formats=("png",))
    assert p.stat().st_mtime != 1_000_000
    assert sorted(q.name for q in tmp_path.iterdir()) == ["Fig06_mtime.png", "Fig06_mtime.published.json"]  # no temp files


@pytest.mark.parametrize(
    "name",
    ["fig01_x", "Fig1_x", "Fig001_x", "Fig01-x", "Fig01_National", "Fig01_a b", "Fig01_x.png", "Fig01_",
     "Fig01_a--b", "Fig01_-a", "../Fig01_x", "Fig01_x/y"],
)
def test_bad_names_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="Fig01_national-funnel"):
        save_figure(_figure(), name, out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["Fig01_national-funnel", "Fig12_spo-48h-timeliness", "Fig99_a"])
def test_good_names_accepted(tmp_path, name):
    (p,) = save_figure(_figure(), name, out_dir=tmp_path, formats=("png",))
    assert p.name == f"{name}.png"


@pytest.mark.parametrize("formats", [("jpg",), (), ("png", "png"), ("png", "eps")])
def test_bad_formats_rejected(tmp_path, formats):
    with pytest.raises(ValueError, match="formats"):
        save_figure(_figure(), "Fig01_x", out_dir=tmp_path, formats=formats)


def test_not_a_figure():
    with pytest.raises(TypeError, match="Figure"):
        save_figure("not a figure", "Fig01_x")


def _table():
    return pd.DataFrame({"force": ["A", "B", "C", "D"], "n": [120, 4, 0, 35], "rate": [0.5, 0.25, 0.0, 0.1]})


def test_refuses_to_save_unsuppressed_table(tmp_path):
    from attrition.disclosure import suppress_small_counts

    raw = _table()
    with pytest.raises(DataValidationError, match="between 1 and 9"):
        save_figure(_figure(), "Fig07_refused", out_dir=tmp_path, suppressed=raw, count_cols="n")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="count_cols"):  # cannot tell which columns are counts
        save_figure(_figure(), "Fig07_refused", out_dir=tmp_path, suppressed=raw)
    with pytest.warns(DisclosureWarning):
        safe = suppress_small_counts(raw, "n")
    paths = save_figure(_figure(), "Fig07_refused", out_dir=tmp_path, suppressed=safe)
    assert [p.name for p in paths] == ["Fig07_refused.png", "Fig07_refused.svg"]


def test_gate_uses_project_threshold_not_a_lower_one(tmp_path):
    from attrition.disclosure import suppress_small_counts

    raw = pd.DataFrame({"g": list("abc"), "n": [7, 100, 200]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lax = suppress_small_counts(raw, "n", threshold=5)  # 7 >= 5: nothing withheld, no warning
    assert lax["n"].tolist() == [7, 100, 200]
    with pytest.raises(DataValidationError, match="small_count|between 1 and 9"):
        save_figure(_figure(), "Fig08_lax", out_dir=tmp_path, suppressed=lax)


def test_style_file_is_packaged_and_applied():
    from attrition.plotting import PALETTE, use_style

    assert config.MATPLOTLIBRC.is_file()
    with matplotlib.rc_context():
        matplotlib.rcParams["figure.dpi"] = 33
        use_style()
        rc = matplotlib.rcParams
        assert rc["figure.dpi"] == 100 and rc["savefig.dpi"] == 150
        assert list(rc["figure.figsize"]) == [6.4, 4.0]
        assert rc["svg.hashsalt"] == "attrition"
        assert rc["font.sans-serif"][0] == "DejaVu Sans"
        assert [c.upper() for c in rc["axes.prop_cycle"].by_key()["color"]] == list(PALETTE)
        assert matplotlib.get_backend()  # backend untouched and usable
        # the style's layout engine accepts the usual layout calls without warnings (filterwarnings=error)
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot([0, 1])
        fig.tight_layout()
        fig.subplots_adjust(left=0.2)
        fig.colorbar(ax.scatter([0], [0], c=[1]))
        fig.savefig(io.BytesIO(), format="png")


def test_importing_package_modules_does_not_import_pyplot():
    code = (
        "import sys; import attrition.figures, attrition.plotting, attrition.disclosure, attrition.report, "
        "attrition.cli; print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


# --- attrition.plotting -------------------------------------------------------------------------
def test_palette_and_stable_colours():
    from attrition import plotting
    from attrition.standard import EXIT_REASONS, STAGES

    assert plotting.PALETTE == ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
    assert tuple(plotting.STAGE_COLOURS) == STAGES
    assert tuple(plotting.REASON_COLOURS) == tuple(EXIT_REASONS)
    assert len(set(plotting.STAGE_COLOURS.values())) == len(STAGES)
    assert len(set(plotting.REASON_COLOURS.values())) == len(EXIT_REASONS)
    assert set(plotting.REASON_LABELS) == set(EXIT_REASONS)
    assert plotting.reason_colours(["acquitted", "no_suspect"]) == ["#000000", "#E69F00"]
    assert plotting.stage_colours() == list(plotting.STAGE_COLOURS.values())
    with pytest.raises(ValueError, match="unknown exit reason"):
        plotting.reason_colours(["withdrawn"])
    with pytest.raises(ValueError, match="unknown stage"):
        plotting.stage_colours(["arrested"])


def test_percent_axis_and_mark_suppressed():
    from attrition.plotting import mark_suppressed, percent_axis

    fig = Figure()
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [0.5, 0.25, 0.0])
    assert percent_axis(ax) is ax
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.yaxis.get_major_formatter()(0.25, 0) == "25%"
    ax2 = fig.add_subplot(2, 1, 2)
    percent_axis(ax2, "x", xmax=100, decimals=1, limits=False)
    assert ax2.xaxis.get_major_formatter()(12.5, 0) == "12.5%"
    assert mark_suppressed(ax, [1, 2], color="red") is ax
    texts = [t for t in ax.texts if t.get_text() == "[c]"]
    assert [t.get_position() for t in texts] == [(1, 0.0), (2, 0.0)]
    assert texts[0].get_color() == "red"
    with pytest.raises(ValueError, match="axis"):
        percent_axis(ax, "z")


def test_publish_figure_saves_closes_and_returns_png(tmp_path):
    import matplotlib.pyplot as plt
    from IPython.display import Image

    from attrition.figures import publish_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    img = publish_figure(fig, "Fig09_published", out_dir=tmp_path, formats="svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Fig09_published.png", "Fig09_published.published.json",
                                                          "Fig09_published.svg"]
    assert isinstance(img, Image) and img.format == "png"
    assert img.data == (tmp_path / "Fig09_published.png").read_bytes()
    assert fig.number not in plt.get_fignums()

    # refused by disclosure control: nothing written, figure left open for the author to fix
    fig2, _ = plt.subplots()
    raw = pd.DataFrame({"n": [3, 50, 60]})
    with pytest.raises(DataValidationError):
        publish_figure(fig2, "Fig10_refused", out_dir=tmp_path, suppressed=raw, count_cols="n")
    assert fig2.number in plt.get_fignums()
    plt.close(fig2)
    assert not (tmp_path / "Fig10_refused.png").exists()


def test_svg_identical_when_layout_differs_in_the_last_float_digits(tmp_path):
    """matplotlib hashes clip rectangles at full precision: noise far below the written 6 decimals used to
    give a different SVG (Fig08 in CI). save_figure renumbers the clip ids, so the files are equal."""
    import matplotlib.pyplot as plt

    files = []
    for k, eps in enumerate((0.0, 1e-14)):
        fig, ax = plt.subplots(figsize=(3, 2 + eps))
        ax.plot([0, 1], [0, 1])
        raw = io.BytesIO()
        fig.savefig(raw, format="svg")
        files.append((raw.getvalue(), save_figure(fig, "Fig01_example", out_dir=tmp_path / str(k), formats="svg")[0]))
        plt.close(fig)
    assert files[0][0] != files[1][0]                  # matplotlib alone: different files
    assert files[0][1].read_bytes() == files[1][1].read_bytes()
    assert b'clip-path="url(#clip1)"' in files[0][1].read_bytes()
