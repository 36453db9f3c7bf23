"""A report notebook run through papermill with a force filter, another seed and another as-of date."""
import json

import pytest

from attrition.config import NOTEBOOKS_DIR
from attrition.report import run_report


@pytest.mark.slow
def test_notebook_02_with_force_filter_seed_and_as_of(tmp_path):
    nb = NOTEBOOKS_DIR / "02-where-cases-drop-out.ipynb"
    paths = run_report(out_dir=tmp_path, notebooks=[nb], seed=7, as_of="2022-12-31",
                       forces=["Kent", "Avon & Somerset"], figures_dir=tmp_path / "figures")
    executed = json.loads(paths[0].read_text())
    text = "\n".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code"
                     for o in c.get("outputs", []))
    # the dataset line reflects all three parameters
    assert "synthetic national dataset (seed 7)" in text
    assert "2 forces" in text and "as of 2022-12-31" in text
    # the funnel ran on the filtered data and found open cases at the earlier extraction date
    assert "Report -> conviction for stalking" in text
    injected = [c for c in executed["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(injected) == 1 and "Avon and Somerset" in "".join(injected[0]["source"])
