"""attrition.public: headline measures and the public-data funnel, on hand-made tables whose answers are
worked out by hand below, and on tables shaped like the 2021/22 publication (118,411 stalking offences
recorded, 5,948 charged: published_figures.csv)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from _open_data_util import CHARGED_2122, RECORDED_2122, TYPE15_2122, shaped_2122, write_ods, frame_rows
from attrition import public
from attrition.cli import main
from attrition.exceptions import DataValidationError
from attrition.headlines import published_figures
from attrition.pooling import pool_proportions
from attrition.sources.open_data import read_court_outcomes, read_foi_returns, read_outcomes, read_recorded_crime


# ------------------------------------------------------------------------------------------------ hand tables
# Kent 2021/22: type 0: 2, 1: 3, 14: 1, 15: 5, 16: 4  -> recorded 15, assigned 13
# Essex 2021/22: type 0: 0, 1: 1, 15: 2, 16: 6, 18: 1 -> recorded 10, assigned 10
# Kent 2022/23: type 1: 4, 15: 4, 16: 2               -> recorded 10, assigned 10
HAND = [
    ("2021/22", "Kent", "8Q", 0, 2), ("2021/22", "Kent", "8Q", 1, 3), ("2021/22", "Kent", "8Q", 14, 1),
    ("2021/22", "Kent", "8Q", 15, 5), ("2021/22", "Kent", "8Q", 16, 4),
    ("2021/22", "Essex", "8Q", 0, 0), ("2021/22", "Essex", "8Q", 1, 1), ("2021/22", "Essex", "8Q", 15, 2),
    ("2021/22", "Essex", "8Q", 16, 6), ("2021/22", "Essex", "8Q", 18, 1),
    ("2022/23", "Kent", "8Q", 1, 4), ("2022/23", "Kent", "8Q", 15, 4), ("2022/23", "Kent", "8Q", 16, 2),
    ("2021/22", "Kent", "8L", 1, 50), ("2021/22", "Kent", "8L", 15, 50),  # harassment: never added to 8Q
]
HEADER = ["Financial Year", "Force Name", "Offence Code", "Outcome Type", "Count"]


@pytest.fixture()
def hand(tmp_path):
    p = tmp_path / "outcomes.csv"
    pd.DataFrame(HAND, columns=HEADER).to_csv(p, index=False)
    r = tmp_path / "recorded.csv"
    r.write_text("Financial Year,Force Name,Offence Code,Number of Offences\n"
                 "2021/22,Kent,8Q,20\n2021/22,Essex,8Q,10\n2022/23,Kent,8Q,12\n2021/22,Kent,8L,100\n")
    c = tmp_path / "courts.csv"
    c.write_text("year,force,proceeded,convicted\n2021/22,Kent,4,2\n2021/22,Essex,2,1\n")
    return p, r, c


def _val(h, measure, **keys):
    m = h["measure"] == measure
    for k, v in keys.items():
        m &= h[k] == v
    row = h.loc[m]
    assert len(row) == 1, (measure, keys, len(row))
    return row.iloc[0]


def test_headlines_hand_national(hand):
    p, r, c = hand
    h = public.headlines(read_outcomes(p), year="2021/22")
    # national 2021/22 stalking: recorded 15 + 10 = 25, assigned 13 + 10 = 23, charged 4, type 15: 7, type 16: 10
    row = _val(h, "charged_per_recorded")
    assert (row["numerator"], row["denominator"], row["value"]) == (4, 25, 4 / 25)
    assert _val(h, "charged_per_outcome")["value"] == 4 / 23
    assert _val(h, "evidential_victim_supports_per_recorded")["value"] == 7 / 25
    assert _val(h, "evidential_victim_supports_per_outcome")["value"] == 7 / 23
    assert _val(h, "victim_not_supporting_per_outcome")["value"] == 10 / 23  # type 16 alone (14 not added)
    assert _val(h, "no_outcome_yet_per_recorded")["value"] == 2 / 25
    assert "convicted_per_recorded" not in set(h["measure"])
    assert set(h["year"]) == {"2021/22"} and "offence_code" not in h.columns  # 8Q only by default
    assert h["scope"].iloc[0] == "2 territorial forces; BTP excluded"
    lo, hi = proportion_confint(4, 25, alpha=0.05, method="wilson")
    np.testing.assert_allclose([row["lower 95%"], row["upper 95%"]], [lo, hi], rtol=1e-12)


def test_headlines_hand_with_recorded_and_courts_by_force(hand):
    p, r, c = hand
    h = public.headlines(read_outcomes(p), read_recorded_crime(r), read_court_outcomes(c), year="2021/22",
                         by="force")
    kent = {m: _val(h, m, force="Kent") for m in ("charged_per_recorded", "charged_per_outcome",
                                                  "convicted_per_recorded", "convicted_per_proceeded")}
    assert (kent["charged_per_recorded"]["numerator"], kent["charged_per_recorded"]["denominator"]) == (3, 20)
    assert kent["charged_per_recorded"]["denominator_source"] == "police recorded crime"
    assert kent["charged_per_outcome"]["value"] == 3 / 13  # per outcome: unaffected by the recorded table
    assert kent["convicted_per_recorded"]["value"] == 2 / 20
    assert kent["convicted_per_proceeded"]["value"] == 2 / 4
    assert "defendants (court year)" in kent["convicted_per_recorded"]["caveat"]
    assert _val(h, "charged_per_recorded", force="Essex")["value"] == 1 / 10
    nat = public.headlines(read_outcomes(p), read_recorded_crime(r), read_court_outcomes(c), year="2021/22")
    assert _val(nat, "convicted_per_recorded")["value"] == 3 / 30
    assert _val(nat, "charged_per_recorded")["value"] == 4 / 30


def test_offence_codes_never_summed(hand):
    p, r, c = hand
    h = public.headlines(read_outcomes(p, offence_codes=("8Q", "8L")), year="2021/22")
    assert _val(h, "charged_per_recorded", offence_code="8Q")["value"] == 4 / 25
    assert _val(h, "charged_per_recorded", offence_code="8L")["value"] == 50 / 100
    comp = public.offence_comparison(read_outcomes(p, offence_codes=("8Q", "8L")), by=("financial_year",))
    row = comp[(comp["financial_year"] == "2021/22")].set_index("offence_code")
    assert row.loc["8Q", "share_of_three"] == 25 / 125 and row.loc["8L", "charged_per_recorded"] == 0.5


def test_funnel_and_exits_hand(hand):
    p, r, c = hand
    f = public.public_funnel(read_outcomes(p), read_recorded_crime(r), read_court_outcomes(c))
    y = f[f["financial_year"] == "2021/22"].set_index("step")
    assert y.index.tolist() == ["recorded", "outcome_assigned", "charged", "proceeded", "convicted"]
    assert y["count"].tolist() == [30, 23, 4, 6, 3]
    assert y.loc["charged", "per_recorded"] == 4 / 30 and y.loc["charged", "per_outcome"] == 4 / 23
    assert y.loc["convicted", "per_previous"] == 3 / 6
    assert np.isnan(y.loc["proceeded", "per_previous"])  # offences -> defendants: not a conversion
    assert y["count_unit"].tolist() == ["offences"] * 3 + ["defendants"] * 2
    assert y["year_basis"].tolist() == ["recording year"] * 3 + ["court year"] * 2
    # without a recorded-crime table the outcomes give the denominator (25) and say so
    f0 = public.public_funnel(read_outcomes(p)).query("financial_year == '2021/22'").set_index("step")
    assert f0.loc["recorded", "count"] == 25 and f0.loc["recorded", "source"].startswith("outcomes open data")
    ex = public.funnel_exits(read_outcomes(p)).query("financial_year == '2021/22'").set_index("outcome_type")
    assert ex.loc[0, "count"] == 2 and ex.loc[0, "step"] == "outcome_assigned"
    assert ex.loc[14, "count"] == 1 and ex.loc[16, "count"] == 10 and ex.loc[15, "per_outcome"] == 7 / 23
    # recorded = charged + every exit, exactly
    assert ex["count"].sum() + 4 == 25


def test_year_on_year_newcombe(hand):
    p, r, c = hand
    y = public.year_on_year(read_outcomes(p), "charged_per_recorded")
    row = y.iloc[0]
    assert (row["year_from"], row["year_to"]) == ("2021/22", "2022/23")
    p1, p2 = 4 / 25, 4 / 10
    l1, u1 = proportion_confint(4, 25, method="wilson")
    l2, u2 = proportion_confint(4, 10, method="wilson")
    assert row["change"] == pytest.approx(p2 - p1)
    assert row["lower 95%"] == pytest.approx(p2 - p1 - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2))
    assert row["upper 95%"] == pytest.approx(p2 - p1 + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2))


def test_compare_forces_uses_pooling(hand):
    p, r, c = hand
    cf = public.compare_forces(read_outcomes(p), year="2021/22")
    want = pool_proportions([1, 3], [10, 15], labels=["Essex", "Kent"])
    pd.testing.assert_frame_equal(cf[want.columns], want)
    assert cf["national"].iloc[0] == 4 / 25
    with pytest.raises(DataValidationError, match="one year"):
        public.compare_forces(read_outcomes(p))


def test_btp_in_or_out(tmp_path):
    p = tmp_path / "o.csv"
    pd.DataFrame([("2021/22", "Kent", "8Q", 1, 3), ("2021/22", "Kent", "8Q", 15, 7),
                  ("2021/22", "British Transport Police", "8Q", 1, 10)], columns=HEADER).to_csv(p, index=False)
    out = public.headlines(read_outcomes(p))
    assert _val(out, "charged_per_recorded")["value"] == 3 / 10
    assert out["scope"].iloc[0] == "1 territorial force; BTP excluded"
    inc = public.headlines(read_outcomes(p, forces="all"))
    assert _val(inc, "charged_per_recorded")["value"] == 13 / 20
    assert inc["scope"].iloc[0] == "1 territorial force; British Transport Police included"


def test_spo_rates_bands(tmp_path, hand):
    p, r, c = hand
    foi = tmp_path / "foi.csv"
    foi.write_text("Force,Year,SPO applications\nKent,2021/22,12\nEssex,2021/22,did not answer\n")
    s = public.spo_rates(read_foi_returns(foi), read_recorded_crime(r), year="2021/22").set_index("force")
    assert s.loc["Kent", "per_1000"] == 1000 * 12 / 20 and s.loc["Kent", "band"] == "11 to 30"
    assert s.loc["Essex", "band"] == "did not answer" and np.isnan(s.loc["Essex", "per_1000"])


# ------------------------------------------------------------------------------------ shaped like 2021/22
@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    d = tmp_path_factory.mktemp("shaped")
    outcomes, recorded, truth = shaped_2122()
    po = d / "prc-outcomes-open-data-mar2022-tables.ods"
    write_ods(po, {"Cover_sheet": [["Police recorded crime and outcomes open data"]],
                   "Notes": [["Note number", "Note text"], ["1", "Counts are provisional"]],
                   "Outcomes_open_data": [["Outcomes open data, year ending March 2022"], ["Source: Home Office"],
                                          *frame_rows(outcomes.astype(object))]})
    pr = d / "prc-pfa-mar2013-onwards-tables.xlsx"
    with pd.ExcelWriter(pr, engine="openpyxl") as xw:
        pd.DataFrame({"a": ["Contents"]}).to_excel(xw, sheet_name="Contents", index=False, header=False)
        recorded.to_excel(xw, sheet_name="2021-22", index=False)
    return po, pr, truth


def test_shaped_2122_gives_published_figures(shaped):
    po, pr, truth = shaped
    pub = published_figures()
    assert truth["recorded"] == RECORDED_2122 == int(pub.loc["stalking_offences_reported", "value"])
    assert truth["charged"] == CHARGED_2122 == int(pub.loc["stalking_offences_charged", "value"])
    h = public.headlines(read_outcomes(po), read_recorded_crime(pr), year="2021/22")
    ch = _val(h, "charged_per_recorded")
    assert (ch["numerator"], ch["denominator"]) == (5948, 118411)
    assert round(ch["value"], 2) == float(pub.loc["charge_rate_reports", "value"]) == 0.05
    t15 = _val(h, "evidential_victim_supports_per_recorded")
    assert (t15["numerator"], t15["denominator"]) == (TYPE15_2122, 118411)
    assert round(t15["value"], 2) == float(pub.loc["evidential_drop_victim_supports_share", "value"]) == 0.25
    assert _val(h, "victim_not_supporting_per_outcome")["value"] == truth["t16"] / (truth["recorded"] - truth["t0"])
    assert set(h["scope"]) == {"43 territorial forces; BTP excluded"}


def test_shaped_2122_cli_csv_and_json(shaped, capsys):
    po, pr, truth = shaped
    assert main(["headlines", "--outcomes", str(po), "--recorded", str(pr), "--year", "2021/22"]) == 0
    out = capsys.readouterr().out
    rows = pd.read_csv(pd.io.common.StringIO(out))
    assert rows.columns[:6].tolist() == ["year", "measure", "numerator", "denominator", "value", "lower 95%"]
    r = rows.set_index("measure")
    assert (r.loc["charged_per_recorded", "numerator"], r.loc["charged_per_recorded", "denominator"]) == (5948, 118411)
    assert r.loc["charged_per_recorded", "value"] == pytest.approx(5948 / 118411, abs=1e-10)
    assert r.loc["evidential_victim_supports_per_recorded", "value"] == pytest.approx(29603 / 118411, abs=1e-10)
    assert main(["headlines", "--outcomes", str(po), "--year", "2021-22", "--by", "force", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert len({r["force"] for r in recs}) == 43 and {r["measure"] for r in recs} >= {"charged_per_recorded"}
    kent = [r for r in recs if r["force"] == "Kent" and r["measure"] == "charged_per_recorded"][0]
    assert kent["value"] == pytest.approx(kent["numerator"] / kent["denominator"])


def test_cli_headlines_errors(tmp_path, capsys):
    p = tmp_path / "h.csv"
    p.write_text(",".join(HEADER) + "\n")
    assert main(["headlines", "--outcomes", str(p)]) == 1
    assert "h.csv: the file has a header row (line 1) but no data rows" in capsys.readouterr().err
    assert main(["headlines", "--outcomes", str(tmp_path / "nope.csv")]) == 1
    assert "not found" in capsys.readouterr().err
    pd.DataFrame(HAND, columns=HEADER).to_csv(p, index=False)
    assert main(["headlines", "--outcomes", str(p), "--year", "1999/00"]) == 1
    assert "no rows for year" in capsys.readouterr().err


def test_funnel_plot_carries_its_source(hand):
    import matplotlib

    matplotlib.use("Agg")
    p, r, c = hand
    o = read_outcomes(p)
    f = public.public_funnel(o, read_recorded_crime(r), read_court_outcomes(c)).query("financial_year == '2021/22'")
    ax = public.plot_public_funnel(f, public.funnel_exits(o).query("financial_year == '2021/22'"))
    public.add_source_note(ax.figure, "Source: Home Office outcomes open data 2021/22, OGL v3.0")
    texts = [t.get_text() for t in ax.figure.texts]
    assert texts == ["Source: Home Office outcomes open data 2021/22, OGL v3.0"]
    bars = [t.get_text() for t in ax.texts]
    assert bars[:3] == ["100.0%\n(30)", "76.7%\n(23)", "13.3%\n(4)"]  # 23/30 and 4/30
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "Not charged:\noutcome"
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_of_which_rows_never_added(tmp_path):
    p = tmp_path / "o.csv"
    pd.DataFrame([("2021/22", "Kent", "8Q", "1", 6), ("2021/22", "Kent", "8Q", "1a", 2),
                  ("2021/22", "Kent", "8Q", "15", 4)], columns=HEADER).to_csv(p, index=False)
    c = public.outcome_counts(read_outcomes(p))
    assert (c["recorded"].iloc[0], c["t1"].iloc[0], c["assigned"].iloc[0]) == (10, 6, 10)
    with pytest.raises(DataValidationError, match=r"outcomes table lacks column\(s\) \['count'\]"):
        public.headlines(read_outcomes(p).drop(columns="count"))


def test_court_counts_only_beside_stalking(hand):
    p, r, c = hand
    h = public.headlines(read_outcomes(p, offence_codes=("8Q", "8L")), courts=read_court_outcomes(c), year="2021/22")
    conv = h[h["measure"] == "convicted_per_recorded"]
    assert conv["offence_code"].tolist() == ["8Q"] and conv["value"].tolist() == [3 / 25]


def test_cli_headlines_notes_gaps_and_report_option(tmp_path, capsys):
    from attrition.cli import build_parser
    from attrition.report import run_report

    p = tmp_path / "o.csv"
    pd.DataFrame(HAND, columns=HEADER).to_csv(p, index=False)
    assert main(["headlines", "--outcomes", str(p), "--year", "2021/22"]) == 0
    err = capsys.readouterr().err
    assert "note: 2021/22: missing force (41): Avon and Somerset, Bedfordshire," in err
    args = build_parser().parse_args(["report", "--open-data", str(tmp_path)])
    assert args.open_data == str(tmp_path)
    with pytest.raises(DataValidationError, match="no open-data directory at"):
        run_report(out_dir=tmp_path / "out", open_data_dir=tmp_path / "missing")
