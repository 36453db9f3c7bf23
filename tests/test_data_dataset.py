"""load_dataset: the notebooks' single entry point (synthetic default or a real extract)."""
import pandas as pd
import pytest

from attrition.data import load_dataset
from attrition.exceptions import DataValidationError


def test_file_with_force_filter_and_as_of(hand_events, tmp_path):
    p = tmp_path / "extract.csv"
    hand_events.to_csv(p, index=False)
    d = load_dataset(p, as_of="2022-07-01", forces=["Kent Police"])
    assert set(d.cases["case_id"]) == {"C1", "C5", "C6"}
    assert d.as_of == pd.Timestamp("2022-07-01") and d.truth is None and d.report.ok
    assert "extract.csv" in str(d)


def test_bad_rows_are_excluded_and_reported(hand_events, tmp_path):
    bad = hand_events.copy()
    bad.loc[0, "event"] = "teleported"
    p = tmp_path / "bad.csv"
    bad.to_csv(p, index=False)
    d = load_dataset(p, as_of="2022-07-01")
    assert "C1" not in set(d.cases["case_id"]) and len(d.cases) == 6
    assert set(d.report.excluded["case_id"]) == {"C1"}
    with pytest.raises(DataValidationError, match="unknown_event"):
        load_dataset(p, as_of="2022-07-01", errors="raise")


def test_unknown_force_filter(hand_events, tmp_path):
    p = tmp_path / "extract.csv"
    hand_events.to_csv(p, index=False)
    with pytest.raises(DataValidationError, match="Gotham"):
        load_dataset(p, as_of="2022-07-01", forces=["Gotham"])


def test_synthetic_with_other_seed_is_small_enough_and_differs():
    d = load_dataset(seed=5, forces=["Dorset"], as_of="2022-03-31")
    assert d.cases["force"].astype(str).unique().tolist() == ["Dorset"]
    assert d.cases["report_date"].max() <= pd.Timestamp("2022-03-31")
    assert d.forces["force"].unique().tolist() == ["Dorset"] and d.truth["n_cases"] == 360_000
