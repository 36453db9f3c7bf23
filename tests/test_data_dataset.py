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


def test_dataset_cache_validates_once_and_keys_on_file_and_options(hand_events, tmp_path, monkeypatch):
    import warnings

    import attrition.data as data_mod

    bad = hand_events.copy()
    bad.loc[0, "event"] = "teleported"
    p = tmp_path / "extract.csv"
    bad.to_csv(p, index=False)
    cache = tmp_path / "cache"
    made = []
    real = data_mod._load_dataset

    def counting(*args, **kwargs):
        made.append(kwargs.get("as_of"))
        warnings.warn("a note made while loading", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(data_mod, "_load_dataset", counting)
    with pytest.warns(UserWarning, match="a note made while loading"):
        first = load_dataset(p, as_of="2022-07-01", cache_dir=cache)
    with pytest.warns(UserWarning, match="a note made while loading"):  # replayed on a hit
        again = load_dataset(p, as_of="2022-07-01", cache_dir=cache)
    assert len(made) == 1 and len(list(cache.glob("dataset-*.pkl"))) == 1
    pd.testing.assert_frame_equal(first.cases, again.cases)
    pd.testing.assert_frame_equal(first.report.excluded, again.report.excluded)
    assert again.cases.attrs == first.cases.attrs and set(again.report.excluded["case_id"]) == {"C1"}
    # another option, or another file content, is another dataset
    with pytest.warns(UserWarning):
        other = load_dataset(p, as_of="2022-06-01", cache_dir=cache)
    assert len(made) == 2 and other.as_of == pd.Timestamp("2022-06-01")
    hand_events.to_csv(p, index=False)
    with pytest.warns(UserWarning):
        fixed = load_dataset(p, as_of="2022-07-01", cache_dir=cache)
    assert len(made) == 3 and "C1" in set(fixed.cases["case_id"])
    # the environment variable turns the cache on (attrition report sets it for its kernels)
    monkeypatch.setenv("ATTRITION_DATASET_CACHE", str(cache))
    with pytest.warns(UserWarning):
        load_dataset(p, as_of="2022-07-01")
    assert len(made) == 3


def test_dataset_cache_keeps_the_readers_errors(tmp_path):
    with pytest.raises(DataValidationError):
        load_dataset(tmp_path / "absent.csv", cache_dir=tmp_path / "cache")
    assert not list(tmp_path.rglob("*.pkl"))  # nothing cached
