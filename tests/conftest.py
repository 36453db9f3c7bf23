"""Shared fixtures: small hand-built journeys and a cached small synthetic dataset."""
from __future__ import annotations

import os
from pathlib import Path

# the same style as `make test` (the Makefile exports these), whichever way pytest is started
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MATPLOTLIBRC", str(Path(__file__).resolve().parents[1] / "attrition" / "standard" / "matplotlibrc"))

import matplotlib  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")


from _journeys import journey  # noqa: E402


@pytest.fixture
def hand_events() -> pd.DataFrame:
    """Seven hand-built journeys whose case-table answers are known (see tests/test_data_cases.py)."""
    rows = []
    # C1: recorded as stalking, suspect, charged as stalking, heard, convicted of stalking
    rows += journey("C1", "Kent",
                    ("reported", "2021-05-01", {"risk": "high", "relationship": "ex_partner"}),
                    ("recorded", "2021-05-02", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2021-05-03"),
                    ("arrested", "2021-05-04"),
                    ("spo_interim_applied", "2021-05-05"),
                    ("spo_interim_granted", "2021-05-06"),
                    ("order_breach", "2021-05-20", {"order_type": "spo"}),
                    ("order_breach", "2021-06-01", {"order_type": "spo"}),
                    ("police_outcome", "2021-06-10", {"outcome_code": 1}),
                    ("charged", "2021-06-10", {"offence": "stalking_s4a"}),
                    ("first_hearing", "2021-06-24"),
                    ("court_outcome", "2021-09-01", {"result": "convicted_stalking"}),
                    ("sentenced", "2021-10-01"))
    # C2: recorded as harassment, never reclassified, closed with outcome 16 -> mischarged at reported
    rows += journey("C2", "Essex",
                    ("reported", "2021-04-10", {"risk": "standard"}),
                    ("recorded", "2021-04-10", {"offence": "harassment"}),
                    ("suspect_identified", "2021-04-15"),
                    ("police_outcome", "2021-05-15", {"outcome_code": 16}))
    # C3: harassment reclassified to stalking, outcome 15 -> exit at suspect_identified, evidential
    rows += journey("C3", "Essex",
                    ("reported", "2022-03-31"),
                    ("recorded", "2022-04-01", {"offence": "harassment"}),
                    ("reclassified", "2022-04-10", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2022-04-11"),
                    ("police_outcome", "2022-06-01", {"outcome_code": 15}))
    # C4: stalking, no suspect, outcome 18 -> exit at recorded_stalking, no_suspect
    rows += journey("C4", "Metropolitan Police",
                    ("reported", "2022-01-01"),
                    ("recorded", "2022-01-03", {"offence": "stalking_s2a"}),
                    ("police_outcome", "2022-02-01", {"outcome_code": 18}))
    # C5: stalking, charged, discontinued (victim withdrawal) -> exit at charged
    rows += journey("C5", "Kent",
                    ("reported", "2022-02-01"),
                    ("recorded", "2022-02-01", {"offence": "stalking_s4a"}),
                    ("spo_need_identified", "2022-02-03"),
                    ("spo_full_applied", "2022-02-20"),
                    ("charged", "2022-03-01", {"offence": "stalking_s4a"}),
                    ("police_outcome", "2022-03-01", {"outcome_code": 1}),
                    ("discontinued", "2022-04-01", {"reason": "victim_withdrawal"}))
    # C6: stalking, charged, heard, convicted of another offence -> exit at prosecuted, mischarged
    rows += journey("C6", "Kent",
                    ("reported", "2022-02-01"),
                    ("recorded", "2022-02-02", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2022-02-02"),
                    ("spo_need_identified", "2022-02-03"),
                    ("spo_full_applied", "2022-03-20"),
                    ("police_outcome", "2022-03-01", {"outcome_code": 1}),
                    ("charged", "2022-03-01", {"offence": "harassment"}),
                    ("first_hearing", "2022-03-15"),
                    ("court_outcome", "2022-05-01", {"result": "convicted_other_offence"}))
    # C7: stalking, suspect identified, still open at as_of -> censored at suspect_identified
    rows += journey("C7", "Dorset",
                    ("reported", "2022-06-01"),
                    ("recorded", "2022-06-01", {"offence": "stalking_s2a"}),
                    ("suspect_identified", "2022-06-05"))
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def small_synthetic():
    """A small synthetic dataset shared across tests (fast)."""
    from attrition.synthetic import simulate

    return simulate(n_cases=30_000, random_state=7)



@pytest.fixture(scope="session")
def one_force_report(tmp_path_factory):
    """`attrition report` on a small real-shaped extract of ONE force (521 cases, as a force would export it:
    string crime references), run once per session: test_report_extracts checks what it says,
    test_disclosure_scan scans everything it published. Notebook 09 reads the public data in its default place
    (``../shared/open-data``) and skips itself where there are none.

    Returns a dict: ``out`` (the report directory), ``err`` (its log), ``events`` (the extract), ``n_cases``.
    """
    import contextlib
    import io

    from attrition.cli import main
    from attrition.synthetic import FORCE_SIZE, simulate

    root = tmp_path_factory.mktemp("one-force-report")
    sim = simulate(n_cases=4_000, random_state=11)
    big = sim.cases["force"].value_counts().index[0]
    ev = sim.events[sim.events["force"] == big].reset_index(drop=True)
    ev["case_id"] = "CR/" + ev["case_id"].astype(str).str.zfill(6) + "/MPS"  # a crime reference, not a row number
    data = root / "one-force.parquet"
    ev.to_parquet(data)
    f = sim.forces
    fy = pd.DataFrame({"Force": f["force"], "Financial Year": f["financial_year"],
                       "Dedicated stalking officer": f["dedicated_stalking_officer"].map({True: "Yes", False: "No"}),
                       "Population": (f["force"].map(FORCE_SIZE) * 1e6).round(-3).astype(int)})
    fy.to_csv(root / "force-years.csv", index=False)
    out = root / "report"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):  # notebook 09 reads the public data beside the project, if there
        code = main(["report", "--out", str(out), "--data", str(data), "--forces", str(root / "force-years.csv")])
    assert code == 0, err.getvalue()[-3000:]
    return {"out": out, "err": err.getvalue(), "events": ev, "n_cases": int(ev["case_id"].nunique())}
