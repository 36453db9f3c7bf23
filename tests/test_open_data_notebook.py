"""Notebook 09 run through papermill (attrition.report.run_report) on a directory holding every kind of
public table, so no section is skipped; and the file discovery it relies on."""
import json
import re

import pandas as pd
import pytest

from _open_data_util import shaped_2122
from attrition import public
from attrition.config import NOTEBOOKS_DIR
from attrition.exceptions import DataValidationError
from attrition.report import run_report


def _public_dir(tmp_path):
    d = tmp_path / "open-data"
    d.mkdir()
    outcomes, recorded, _ = shaped_2122()
    outcomes.to_csv(d / "prc-outcomes-open-data-mar2022.csv", index=False)
    later = outcomes.assign(**{"Financial Year": "2022/23"})
    later.to_csv(d / "prc-outcomes-open-data-mar2023.csv", index=False)
    pd.concat([recorded, recorded.assign(**{"Financial Year": "2022/23"})]).to_csv(
        d / "prc-pfa-mar2013-onwards-tables.csv", index=False)
    (d / "court-outcomes.csv").write_text("year,force,proceeded,convicted\n2021/22,Kent,120,80\n"
                                          "2021/22,Essex,90,50\n")
    (d / "foi-returns.csv").write_text("Force,Year,SPO applications,Dedicated stalking officers\n"
                                       "Kent,2021/22,25,2\nEssex,2021/22,did not answer,0\n")
    (d / "README.md").write_text("not a table")
    return d


def test_discover_files(tmp_path):
    d = _public_dir(tmp_path)
    found = public.discover_files(d)
    assert {k: [p.name for p in v] for k, v in found.items()} == {
        "outcomes": ["prc-outcomes-open-data-mar2022.csv", "prc-outcomes-open-data-mar2023.csv"],
        "recorded": ["prc-pfa-mar2013-onwards-tables.csv"], "courts": ["court-outcomes.csv"],
        "foi": ["foi-returns.csv"]}
    with pytest.raises(DataValidationError, match="no open-data directory"):
        public.discover_files(tmp_path / "nope")


@pytest.mark.slow
def test_notebook_09_with_every_table(tmp_path):
    d = _public_dir(tmp_path)
    nb = NOTEBOOKS_DIR / "09-national-picture.ipynb"
    [path] = run_report(out_dir=tmp_path / "out", notebooks=[nb], open_data_dir=d)
    executed = json.loads(path.read_text())
    text = "\n".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code"
                     for o in c.get("outputs", []))
    assert "financial years: 2021/22, 2022/23" in text
    assert "skipped" not in text and "not given" not in text
    # headline for 2022/23 (the latest) from the recorded-crime table: 5,948 / 118,411
    assert re.search(r"charged_per_recorded\s+5,948\s+118,411\s+0\.050\s", text)
    assert "police recorded crime" in text
    assert "convicted" in text and "defendants" in text          # court steps of the funnel
    assert "11 to 30" in text and "did not answer" in text         # FOI bands, non-answers kept apart
    assert (tmp_path / "out" / "figures" / "Fig12_open-data-funnel.png").exists()  # not the committed figures/
