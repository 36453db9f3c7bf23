"""Tests of attrition.effects.plotting: what is drawn, where, on which scale."""
from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from attrition.effects import balance_table, forest_plot, love_plot, plot_risk_curves  # noqa: E402
from attrition.exceptions import DataValidationError  # noqa: E402

OKABE_BLUE = "#0072B2"


def _vlines(ax, x):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and np.allclose(ln.get_xdata(), [x, x])]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _estimates(measure="risk_ratio"):
    return pd.DataFrame(
        {
            "measure": measure,
            "estimate": [1.8, 1.3, 1.25],
            "lower 95%": [1.5, 1.05, 1.0],
            "upper 95%": [2.2, 1.6, 1.55],
        },
        index=["crude", "IPW", "AIPW"],
    )


def test_importing_package_does_not_import_pyplot():
    code = "import sys, attrition.effects; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_forest_plot_ratio_log_scale_null_line_and_order():
    ax = forest_plot(_estimates())
    assert ax.get_xscale() == "log"
    # reference line at 1
    assert len(_vlines(ax, 1)) == 1
    # first row at the top
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert_allclose(ax.get_yticks(), [2, 1, 0])
    assert labels == ["crude", "IPW", "AIPW"]
    # points at the estimates, in order top to bottom
    pts = ax.containers[0].lines[0]
    assert_allclose(pts.get_xdata(), [1.8, 1.3, 1.25])
    assert_allclose(pts.get_ydata(), [2, 1, 0])
    # CI segments span the limits
    segs = ax.containers[0].lines[2][0].get_segments()
    assert_allclose([s[:, 0] for s in segs], [[1.5, 2.2], [1.05, 1.6], [1.0, 1.55]])
    assert matplotlib.colors.to_hex(pts.get_color()) == OKABE_BLUE.lower()


def test_forest_plot_difference_linear_scale_and_given_ax():
    df = _estimates("risk_difference").assign(
        estimate=[0.1, 0.03, 0.02], **{"lower 95%": [0.07, 0.0, -0.01], "upper 95%": [0.13, 0.06, 0.05]}
    )
    fig, ax = plt.subplots()
    out = forest_plot(df, ax=ax, color="k")
    assert out is ax and ax.get_xscale() == "linear"
    assert len(_vlines(ax, 0)) == 1
    assert matplotlib.colors.to_hex(ax.containers[0].lines[0].get_color()) == "#000000"


def test_forest_plot_from_effect_tables_with_method_column():
    a = _estimates().iloc[[0]].assign(method="crude")
    b = _estimates().iloc[[1]].assign(method="IPW")
    tab = pd.concat([a, b]).set_index("measure")  # index not unique -> labels use method
    ax = forest_plot(tab)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["crude: risk_ratio", "IPW: risk_ratio"]
    with pytest.raises(DataValidationError, match="log"):
        forest_plot(_estimates().assign(**{"lower 95%": [-1, 1, 1]}), log=True)


def test_love_plot_positions_and_threshold():
    df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0], "age": [30, 40, 50, 20, 30, 40.0], "g": list("ababbb")})
    bt = balance_table(df, "t", ["age", "g"], weights=np.array([1, 2, 1, 1, 1, 2.0]))
    ax = love_plot(bt, threshold=0.1)
    covs = ["age", "g[a]", "g[b]"]
    assert [t.get_text() for t in ax.get_yticklabels()] == covs[::-1]
    un, wt = ax.collections[0], ax.collections[1]
    expect = bt[bt["sample"] == "unadjusted"]["smd"].abs().to_numpy()
    assert_allclose(un.get_offsets()[:, 0], expect)
    assert_allclose(un.get_offsets()[:, 1], [2, 1, 0])
    assert_allclose(wt.get_offsets()[:, 0], bt[bt["sample"] == "weighted"]["smd"].abs().to_numpy())
    assert len(_vlines(ax, 0.1)) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unadjusted", "weighted"]
    with pytest.raises(DataValidationError, match="balance_table"):
        love_plot(pd.DataFrame({"x": [1]}))


def test_plot_risk_curves_steps_and_bands():
    curves = pd.DataFrame(
        {
            "time": [0, 30, 90, 0, 30, 90],
            "strategy": ["officer"] * 3 + ["no officer"] * 3,
            "risk": [0.0, 0.2, 0.3, 0.0, 0.1, 0.15],
            "lower": [0.0, 0.15, 0.24, 0.0, 0.07, 0.11],
            "upper": [0.0, 0.25, 0.36, 0.0, 0.13, 0.19],
        }
    )
    ax = plot_risk_curves(curves)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["officer", "no officer"]
    assert lines[0].get_drawstyle() == "steps-post"
    assert_allclose(lines[1].get_ydata(), [0.0, 0.1, 0.15])
    assert len(ax.collections) == 2  # one CI band per strategy
    assert ax.get_ylim()[0] == 0
    with pytest.raises(DataValidationError, match="columns"):
        plot_risk_curves(curves.drop(columns="upper"))
    with pytest.raises(DataValidationError, match="missing"):
        plot_risk_curves(curves.assign(risk=[np.nan, 0.2, 0.3, 0, 0.1, 0.15]))


def test_log_forest_plot_has_readable_ratio_ticks_across_its_range():
    from attrition.effects.plotting import _log_ticks

    df = pd.DataFrame({"estimate": [1.4, 2.1], "lower 95%": [0.8, 1.2], "upper 95%": [2.4, 2.7]}, index=["a", "b"])
    ax = forest_plot(df, null=1.0)
    ticks = ax.get_xticks()
    assert list(ticks) == [0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.8", "0.9", "1", "1.25", "1.5", "1.75", "2", "2.5"]
    # a wide range keeps at most 8 ticks and always 1
    wide = _log_ticks(0.05, 60)
    assert len(wide) <= 8 and 1.0 in wide and wide[0] >= 0.05 and wide[-1] <= 60
