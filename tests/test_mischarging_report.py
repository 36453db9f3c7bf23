"""Tests for attrition.mischarging_report: the corrected funnel per 10,000 reports, in closed form."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from scipy import stats

from attrition.exceptions import DataValidationError
from attrition.mischarging import MisclassificationCorrection
from attrition.mischarging_report import corrected_funnel_per, plot_corrected_funnel


def hand_correction(alpha=0.05):
    """Review: recorded stalking 48 of 50 true, harassment 30 of 50 true; records 500 stalking, 1000
    harassment (external review, delta method). T = 500 * 0.96 + 1000 * 0.6 = 1080."""
    review = pd.DataFrame({"recorded": ["stalking_s2a", "stalking_s2a", "harassment", "harassment"],
                           "true_stalking": [True, False, True, False], "n": [48, 2, 30, 20]})
    mc = MisclassificationCorrection(alpha=alpha, variance="delta", finite_population=False).fit(review)
    return mc.correct({"stalking_s2a": 500, "harassment": 1000}, downstream={"charged": 108, "convicted": 54})


def test_closed_form_values_and_intervals():
    out = corrected_funnel_per(hand_correction())
    assert out.index.tolist() == ["reported", "charged", "convicted"]
    assert out.columns.tolist() == ["observed", "corrected", "lower 95%", "upper 95%"]
    assert out.attrs["per"] == 10_000
    # observed: per record recorded as stalking (500); corrected: per 1080 true stalking reports
    np.testing.assert_allclose(out["observed"], [10_000, 108 / 500 * 1e4, 54 / 500 * 1e4])
    np.testing.assert_allclose(out["corrected"], [10_000, 1000, 500])
    # delta method: var(T) = 500^2 .96 .04 / 50 + 1000^2 .6 .4 / 50 = 4992; se(v/T) = (v/T) se(T) / T
    se_T = np.sqrt(500**2 * 0.96 * 0.04 / 50 + 1000**2 * 0.6 * 0.4 / 50)
    z = stats.norm.ppf(0.975)
    for stage, v in (("charged", 108), ("convicted", 54)):
        half = z * (v / 1080) * se_T / 1080 * 1e4
        assert out.loc[stage, "lower 95%"] == pytest.approx(v / 1080 * 1e4 - half, rel=1e-12)
        assert out.loc[stage, "upper 95%"] == pytest.approx(v / 1080 * 1e4 + half, rel=1e-12)
    assert out.loc["reported", ["lower 95%", "upper 95%"]].tolist() == [10_000, 10_000]


def test_per_truth_and_alpha_labels():
    out = corrected_funnel_per(hand_correction(alpha=0.1), truth={"charged": 0.1, "convicted": 0.05}, per=100)
    assert out.columns.tolist() == ["observed", "corrected", "lower 90%", "upper 90%", "truth"]
    np.testing.assert_allclose(out["truth"], [100, 10, 5])
    np.testing.assert_allclose(out["corrected"], [100, 10, 5])


def test_bad_input():
    corr = hand_correction()
    with pytest.raises(ValueError, match="per must be a positive number"):
        corrected_funnel_per(corr, per=0)
    with pytest.raises(ValueError, match="per must be a positive number"):
        corrected_funnel_per(corr, per=True)
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame"):
        corrected_funnel_per(corr.to_dict())
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['observed'\]"):
        corrected_funnel_per(corr.drop(columns="observed"))
    with pytest.raises(DataValidationError, match="one 'lower NN%'"):
        corrected_funnel_per(corr.drop(columns="upper 95%"))
    with pytest.raises(DataValidationError, match="no '<stage>_per_report' rows"):
        corrected_funnel_per(corr[~corr["quantity"].str.endswith("_per_report")])
    with pytest.raises(DataValidationError, match="'records' more than once"):
        corrected_funnel_per(pd.concat([corr, corr], ignore_index=True))
    with pytest.raises(DataValidationError, match=r"truth has no value for stage\(s\) \['convicted'\]"):
        corrected_funnel_per(corr, truth={"charged": 0.1})


def test_plot_bars_and_intervals():
    import matplotlib.pyplot as plt

    table = corrected_funnel_per(hand_correction(), truth={"charged": 0.1, "convicted": 0.05})
    ax = plot_corrected_funnel(table)
    try:
        bar_sets = [c for c in ax.containers if isinstance(c, BarContainer)]
        heights = [[round(p.get_height(), 6) for p in c] for c in bar_sets]
        assert heights == [[2160.0, 1080.0], [1000.0, 500.0], [1000.0, 500.0]]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Charged", "Convicted of stalking"]
        assert ax.get_ylabel() == "Per 10,000 stalking reports"
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["Observed (per record recorded as stalking)",
                          "Corrected (per true stalking report), 95% interval", "Truth (synthetic data)"]
        # one error bar per corrected bar, spanning the interval
        assert bar_sets[0].errorbar is None and bar_sets[2].errorbar is None
        segs = bar_sets[1].errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[:, 1] for s in segs],
                                   table.loc[["charged", "convicted"], ["lower 95%", "upper 95%"]].to_numpy())
    finally:
        plt.close(ax.figure)
    fig, ax2 = plt.subplots()
    try:
        assert plot_corrected_funnel(table.drop(columns="truth"), ax=ax2) is ax2
        assert len([c for c in ax2.containers if isinstance(c, BarContainer)]) == 2
    finally:
        plt.close(fig)
    with pytest.raises(DataValidationError, match="needs the output of corrected_funnel_per"):
        plot_corrected_funnel(table.drop(columns="corrected"))
    with pytest.raises(DataValidationError, match="no downstream stage"):
        plot_corrected_funnel(table.loc[["reported"]])
