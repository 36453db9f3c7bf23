"""`attrition report --data` end to end on small extracts shaped like what forces hold.

Each extract is cut from a small simulated dataset (its own seed, not the default) the way a force or a
researcher would have it: national, one force, two forces with a force-year table, lean (no SPO or order
events, no risk or relationship columns), and an Excel export. Each report must exit 0, write every figure
the data can support, list what it skipped, and show no synthetic truth.
"""
import json
import re

import pandas as pd
import pytest

from attrition.cli import main
from attrition.synthetic import FORCE_SIZE, simulate

pytestmark = pytest.mark.slow

ALL_FIGURES = {f"Fig{n:02d}" for n in range(1, 11)}
#: Text that may appear only in a report on the synthetic data.
SYNTHETIC_ONLY = re.compile(r"synthetic national dataset \(seed|true effect|true hazard|[Tt]ruth \(synthetic|"
                            r"Synthetic data: simulated")


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    root = tmp_path_factory.mktemp("extracts")
    sim = simulate(n_cases=4_000, random_state=11)
    ev = sim.events
    big = sim.cases["force"].value_counts().index
    paths = {}
    paths["national"] = root / "national.csv"
    ev.to_csv(paths["national"], index=False)
    paths["one_force"] = root / "one-force.parquet"
    ev[ev["force"] == big[0]].reset_index(drop=True).to_parquet(paths["one_force"])
    paths["two_forces"] = root / "two-forces.csv"
    # without the optional relationship and online fields (risk kept)
    ev[ev["force"].isin(big[:2])].drop(columns=["relationship", "online"]).to_csv(paths["two_forces"], index=False)
    paths["lean"] = root / "lean.csv"
    lean = ev[~ev["event"].astype(str).str.startswith(("spo_", "order_"))]
    lean.drop(columns=["risk", "relationship", "order_type"]).to_csv(paths["lean"], index=False)
    f = sim.forces
    fy = pd.DataFrame({"Force": f["force"], "Financial Year": f["financial_year"],
                       "Dedicated stalking officer": f["dedicated_stalking_officer"].map({True: "Yes", False: "No"}),
                       "Population": (f["force"].map(FORCE_SIZE) * 1e6).round(-3).astype(int)})
    paths["forces"] = root / "force-years.csv"
    fy.to_csv(paths["forces"], index=False)
    # as a force's case system exports it: a workbook, its own column names, dates dd/mm/yyyy
    export = ev[ev["force"].isin(big[2:5])].rename(columns={
        "case_id": "Crime Reference", "force": "Force Name", "event": "Event Type", "timestamp": "Event Date",
        "outcome_code": "HO Outcome"})
    export["Event Date"] = pd.to_datetime(export["Event Date"]).dt.strftime("%d/%m/%Y")
    paths["excel"] = root / "export.xlsx"
    export.to_excel(paths["excel"], index=False, sheet_name="Stalking")
    return paths


def _run(tmp_path, capsys, *args, public_data=False):
    """Run the report; without ``public_data``, notebook 09 finds no public files and skips itself (fast)."""
    out = tmp_path / "report"
    if not public_data:
        (tmp_path / "no-public-data").mkdir()
        args = (*args, "--open-data", str(tmp_path / "no-public-data"))
    code = main(["report", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    texts = {}
    for nb in sorted(out.glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts[nb.stem] = "\n".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                                   for o in c.get("outputs", []))
    figures = {p.stem.split("_")[0] for p in (out / "figures").glob("Fig*.png")}
    return texts, figures, err


def _no_synthetic_truth(texts):
    for name, text in texts.items():
        assert not SYNTHETIC_ONLY.search(text), f"{name}: {SYNTHETIC_ONLY.search(text).group(0)!r}"


def test_national_extract_with_force_years(extracts, tmp_path, capsys):
    texts, figures, err = _run(tmp_path, capsys, "--data", str(extracts["national"]), "--forces",
                               str(extracts["forces"]), public_data=True)
    assert len(texts) >= 8
    _no_synthetic_truth(texts)
    assert ALL_FIGURES <= figures, sorted(ALL_FIGURES - figures)
    assert "event log national.csv: 4,000 cases" in texts["01-data-standard"]
    # record-level data never printed from a real extract
    assert "Skipped: One journey" in texts["01-data-standard"]
    assert "Skipped: Power curves" in texts["06-dedicated-officers"]
    assert "analysis(es) skipped for lack of data" in err


def test_one_force_extract(one_force_report):
    # the report is shared with test_disclosure_scan (run once per session, tests/conftest.py)
    out, err = one_force_report["out"], one_force_report["err"]
    assert "Traceback" not in err
    texts = {}
    for nb in sorted(out.glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts[nb.stem] = "\n".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                                   for o in c.get("outputs", []))
    figures = {p.stem.split("_")[0] for p in (out / "figures").glob("Fig*.png")}
    _no_synthetic_truth(texts)
    assert "1 forces" in texts["01-data-standard"]
    # a force-level officer comparison is impossible in one force: said, not crashed
    assert "a force-level comparison needs at least 2 of each" in texts["06-dedicated-officers"]
    assert {"Fig02", "Fig05", "Fig06", "Fig07"} <= figures
    assert "Fig08" not in figures


def test_two_force_extract(extracts, tmp_path, capsys):
    texts, figures, err = _run(tmp_path, capsys, "--data", str(extracts["two_forces"]), "--forces",
                               str(extracts["forces"]))
    _no_synthetic_truth(texts)
    assert "2 forces" in texts["01-data-standard"]
    assert {"Fig02", "Fig05", "Fig06", "Fig07"} <= figures
    # two forces are too few clusters for force-clustered errors: the notebook says what it did instead
    assert "standard errors are model-based, not clustered by force" in texts["04-time-to-outcome"]
    # no relationship field: the risk-level curves compare all cases (they once failed on an empty selection)
    assert "Skipped: Conviction by risk level" not in texts["04-time-to-outcome"]


def test_lean_extract_without_spo_order_or_risk(extracts, tmp_path, capsys):
    texts, figures, err = _run(tmp_path, capsys, "--data", str(extracts["lean"]))
    _no_synthetic_truth(texts)
    assert "Skipped: Every SPO analysis in this notebook — the data hold no SPO events" in texts["07-timely-spos"]
    assert "Skipped: Every officer analysis in this notebook — no force-year table" in texts["06-dedicated-officers"]
    assert "`risk` is not in the data, so the model does without it" in texts["04-time-to-outcome"]
    assert {"Fig01", "Fig02", "Fig03", "Fig05", "Fig06", "Fig07"} <= figures
    assert not {"Fig04", "Fig08", "Fig09", "Fig10"} & figures
    # the report lists what it skipped, notebook by notebook
    assert "07-timely-spos: Every SPO analysis in this notebook" in err
    # a notebook that cannot run at all (no public data given) is skipped, and the report goes on
    assert "skipped 09-national-picture.ipynb after" in err and "no Home Office outcomes open data" in err


def test_excel_export_with_its_own_column_names_and_day_first_dates(extracts, tmp_path, capsys):
    texts, figures, err = _run(tmp_path, capsys, "--data", str(extracts["excel"]), "--columns",
                               "case_id=Crime Reference", "force=Force Name", "event=Event Type",
                               "timestamp=Event Date", "outcome_code=HO Outcome", "--dayfirst")
    _no_synthetic_truth(texts)
    assert "event log export.xlsx:" in texts["01-data-standard"] and "3 forces" in texts["01-data-standard"]
    assert "every row passes every rule of the standard" in texts["01-data-standard"]
    assert {"Fig02", "Fig05", "Fig06", "Fig07"} <= figures
