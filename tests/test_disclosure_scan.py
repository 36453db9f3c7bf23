"""Issue 13, done-when: a scan of every executed notebook and figure of a small-force report finds no count
1-9 and no record-level data (attrition.disclosure_scan); and the scanner can fail (planted leaks)."""
import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from attrition.disclosure_scan import scan_figure_sidecar, scan_report, scan_text
from attrition.figures import save_figure


def _rules(found):
    return sorted({f["rule"] for f in found})


# ---------------------------------------------------------------------------------------------
# the scanner detects what it must (negative tests: planted leaks)
# ---------------------------------------------------------------------------------------------
def test_planted_count_phrases_are_found():
    assert _rules(scan_text("Of these, 7 cases were charged.")) == ["count_phrase"]
    assert _rules(scan_text("victims (n = 3) withdrew")) == ["count_phrase"]
    assert _rules(scan_text("4 of 50 reports")) == ["count_phrase"]
    # counts of forces are not counts of people; 10 or more, [c] and 0 are fine; numbers in longer numbers too
    assert scan_text("only 7 forces; 12 cases; [c] cases; 0 open; 17 cases; 2,855 events; 0.5 cases") == []


def test_planted_table_cell_of_3_is_found():
    # a withheld table: its whole-number columns are counts, except labels such as outcome type codes
    t = pd.DataFrame({"outcome_type": [3, 4], "count": ["[c]", 3]})
    assert [f["excerpt"].split(":")[0] for f in scan_text(t.to_string(index=False))] == ["count = 3"]
    table = pd.DataFrame({"cases": [120, 3, 0], "share": [0.97, 0.024, 0.0]},
                         index=pd.Index(["victim_not_supporting", "acquitted", "other"], name="exit_reason"))
    found = scan_text(table.to_string())
    assert [f["rule"] for f in found] == ["count_cell"] and "cases = 3" in found[0]["excerpt"]
    assert scan_text(table.assign(cases=[120, 30, 0]).to_string()) == []


def test_planted_percentage_implying_4_of_50_is_found():
    table = pd.DataFrame({"denominator": [50, 500], "harassment": [0.080, 0.080]}, index=["2021/22", "2022/23"])
    found = scan_text(table.to_string())
    assert [f["rule"] for f in found] == ["derived_share"] and "of 50" in found[0]["excerpt"]
    # a probability of everyone in the report: 0.007 of 573 cases is 4 cases; 0.021 is 12
    curve = pd.DataFrame({"day 90": ["0.007 (0.002–0.017)", "0.021 (0.011–0.035)"]}, index=["other", "convicted"])
    found = scan_text(curve.to_string(), total=573)
    assert [f["rule"] for f in found] == ["derived_total"] and "0.007" in found[0]["excerpt"]
    per = pd.DataFrame({"cases": ["[c]"], "per 10,000 reports": [157]}, index=["out_of_court"])
    assert _rules(scan_text(per.to_string(), total=573)) == ["derived_total"]  # 157 per 10,000 of 573 = 9
    assert _rules(scan_text("i.e. 157 convictions per 10,000 reports", total=573)) == ["derived_total"]
    assert scan_text("i.e. 244 convictions per 10,000 reports", total=573) == []  # 14


def test_rates_of_fewer_than_10_events_are_withheld_in_text():
    from attrition.disclosure import rate_text

    assert rate_text(0.0157, 9) == "[c]" and rate_text(0.0244, 14) == "0.0244"
    assert rate_text(244.3, 14, fmt="{:.0f}") == "244" and rate_text(0.0, 0) == "0.0000"  # a true zero is shown


def test_planted_case_id_and_event_date_are_found():
    found = scan_text("CR/000123/MPS  reported  2021-03-04", case_ids=["CR/000123/MPS"], event_dates=["2021-03-04"])
    assert _rules(found) == ["case_id", "event_date"]


def test_a_figure_sidecar_records_what_it_drew_and_the_scan_reads_it(tmp_path):
    fig, ax = plt.subplots()
    ax.bar(["A", "B"], [120, 7])
    ax.text(1, 7, "n = 7")
    table = pd.DataFrame({"force": ["A", "B"], "applications": [120, 7]})
    save_figure(fig, "Fig04_planted", out_dir=tmp_path)
    plt.close(fig)
    side = tmp_path / "Fig04_planted.published.json"
    assert "n = 7" in json.loads(side.read_text())["texts"]
    assert _rules(scan_figure_sidecar(side)) == ["figure_text"]
    # the save check's table is recorded too (refused tables are never written: this one passes the check)
    fig, ax = plt.subplots()
    save_figure(fig, "Fig04_table", out_dir=tmp_path, suppressed=table.assign(applications=[120, 0]),
                count_cols=["applications"])
    plt.close(fig)
    assert scan_figure_sidecar(tmp_path / "Fig04_table.published.json") == []


def test_a_curve_step_of_fewer_than_10_events_is_found_and_publish_curve_pools_it(tmp_path):
    from attrition.survival import cumulative_incidence, plot_cumulative_incidence

    durations = list(range(1, 61))
    events = [1] * 25 + [0] * 35  # 25 exits, one a day, then censoring
    cif = cumulative_incidence(durations, events)
    for withhold, expect in [(None, ["figure_curve"]), (10, [])]:
        ax = plot_cumulative_incidence(cif, withhold_below=withhold)
        save_figure(ax.figure, "Fig05_planted", out_dir=tmp_path)
        plt.close(ax.figure)
        assert _rules(scan_figure_sidecar(tmp_path / "Fig05_planted.published.json")) == expect
    drawn = json.loads((tmp_path / "Fig05_planted.published.json").read_text())["published"][0]["rows"]
    assert [r["n_event"] for r in drawn] == [10.0, 10.0, 0.0]  # two pooled steps of 10; the last 5 not drawn
    assert drawn[-1]["time"] == 51  # stops at the last time with 10 at risk


# ---------------------------------------------------------------------------------------------
# the done-when: a small-force report publishes nothing disclosive
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_small_force_report_publishes_no_count_under_10_and_no_record_level_data(one_force_report):
    out, ev = one_force_report["out"], one_force_report["events"]
    as_of = pd.to_datetime(ev["timestamp"]).max().strftime("%Y-%m-%d")  # the extraction date, not an event's
    dates = set(pd.to_datetime(ev["timestamp"]).dt.strftime("%Y-%m-%d")) - {as_of}
    found = scan_report(out, total=one_force_report["n_cases"], case_ids=ev["case_id"].unique(), event_dates=dates)
    scanned = found.attrs["scanned"]
    print(f"scanned {scanned}; {len(found)} finding(s)")
    assert one_force_report["n_cases"] == 521  # the largest force of a 4,000-case simulation
    assert scanned["notebooks"] == 9 and scanned["outputs"] >= 60
    # Fig01-07 (Fig08-10 cannot be made on one force), and Fig11-12 of notebook 09 where public data are at hand
    assert scanned["figures"] == scanned["sidecars"] >= 7
    # Fig04 on small data is written with [c] marks, not refused
    assert (out / "figures" / "Fig04_spo-applications-by-force.png").is_file()
    fig04 = json.loads((out / "figures" / "Fig04_spo-applications-by-force.published.json").read_text())
    assert "[c]" in fig04["texts"] and [r["applications"] for r in fig04["published"][0]["rows"]] == [None]
    assert found.empty, "\n" + found.to_string()


def test_out_never_resolves_to_the_committed_figures(tmp_path):
    from attrition.config import COMMITTED_FIGURES_DIR, PROJECT_ROOT
    from attrition.report import run_report

    data = tmp_path / "events.csv"
    data.write_text("case_id,force,event,timestamp\n")
    link = tmp_path / "root"
    link.symlink_to(PROJECT_ROOT)
    before = sorted(p.name for p in COMMITTED_FIGURES_DIR.iterdir())
    for out in (PROJECT_ROOT, link, COMMITTED_FIGURES_DIR, link / "figures" / "x"):
        with pytest.raises(ValueError, match="committed figures"):
            run_report(data, out_dir=out)
    with pytest.raises(ValueError, match="committed figures"):
        run_report(out_dir=COMMITTED_FIGURES_DIR)  # not even with the embedded data
    assert sorted(p.name for p in COMMITTED_FIGURES_DIR.iterdir()) == before


def test_cases_beside_reports_is_the_numerator_not_the_denominator():
    """The headline table prints `cases` (the numerator) and `reports` (the denominator): a share of 33 of 166
    is 33 cases, not 0.1988 x 33 = 7; but a share whose numerator would be 1-9 of the reports is found."""
    def table(share):
        return pd.DataFrame({"measure": ["HO15", "charged"], "cases": [33, 40], "reports": [166, 166],
                             "estimate": [share, 0.2410]}, index=pd.Index(["ho15", "charge"], name="key")).to_string()

    assert scan_text(table(0.1988)) == []
    assert _rules(scan_text(table(0.0482))) == ["derived_share"]  # 0.0482 x 166 = 8
