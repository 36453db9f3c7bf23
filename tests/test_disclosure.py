"""Statistical disclosure control on hand-built tables whose correct suppression is worked out by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attrition.disclosure import check_disclosure, format_table, suppress_small_counts
from attrition.exceptions import DataValidationError, DisclosureWarning


def _withheld(out, col="n"):
    return out.index[out[col].isna()].tolist()


def test_primary_threshold_and_true_zeros_published():
    t = pd.DataFrame({"g": list("abcdefg"), "n": [0, 1, 9, 10, 25, 3, 0]})
    with pytest.warns(DisclosureWarning, match=r"withheld 3 count cell\(s\): 3 primary \(counts 1-9\) and 0 secondary"):
        out = suppress_small_counts(t, "n")
    assert _withheld(out) == [1, 2, 5]  # 1, 9, 3; zeros and 10 published; >= 2 withheld: no secondary
    assert out["n"].iloc[[0, 3, 4, 6]].tolist() == [0.0, 10.0, 25.0, 0.0]
    assert out["suppressed"].tolist() == [False, True, True, False, False, True, False]
    assert out.attrs["disclosure"]["n_primary"] == 3 and out.attrs["disclosure"]["n_secondary"] == 0
    # input untouched
    assert t["n"].tolist() == [0, 1, 9, 10, 25, 3, 0] and "suppressed" not in t


def test_suppress_zeros():
    t = pd.DataFrame({"g": list("abcd"), "n": [0, 40, 5, 50]})
    with pytest.warns(DisclosureWarning, match=r"counts 0-9"):
        out = suppress_small_counts(t, "n", suppress_zeros=True)
    assert _withheld(out) == [0, 2]


def test_secondary_complement_is_smallest_nonzero():
    t = pd.DataFrame({"g": list("abcd"), "n": [0, 4, 5, 50]})
    with pytest.warns(DisclosureWarning, match="1 primary .* and 1 secondary"):
        out = suppress_small_counts(t, "n", threshold=5)
    # 4 is primary (threshold 5); the zero is skipped as complement; 5 < 50 -> row 2
    assert _withheld(out) == [1, 2]


def test_secondary_within_by_groups():
    t = pd.DataFrame({
        "force": ["A"] * 4 + ["B"] * 3 + ["C"] * 3 + ["D"] * 3 + ["E"] * 2 + ["F"],
        "n": [50, 3, 20, 12,   5, 0, 40,   2, 7, 100,   30, 0, 0,   4, 0,   6],
    })
    with pytest.warns(DisclosureWarning, match=r"withheld 9 count cell\(s\): 6 primary .* and 3 secondary"):
        out = suppress_small_counts(t, "n", by="force")
    # A: 3 primary, complement 12 (smallest non-zero); B: 5 primary, complement 40 (zero skipped);
    # C: 2 and 7 primary, nothing more; D: nothing; E: 4 primary, only a zero left -> the zero;
    # F: a single row, its total is the cell itself -> nothing to add
    assert _withheld(out) == [1, 3, 4, 6, 7, 8, 13, 14, 15]
    check_disclosure(out)  # reads count_cols and by from attrs


def test_tie_goes_to_first_row():
    t = pd.DataFrame({"g": list("abcd"), "n": [15, 3, 15, 15]})
    with pytest.warns(DisclosureWarning):
        out = suppress_small_counts(t, "n")
    assert _withheld(out) == [0, 1]


def test_two_partitions_force_and_year_grid():
    # 3 x 3 force x year grid; force totals and year totals are both published
    t = pd.DataFrame({
        "force": list("AAABBBCCC"),
        "year": [1, 2, 3] * 3,
        "n": [50, 4, 60, 30, 40, 70, 20, 80, 90],
    })
    with pytest.warns(DisclosureWarning, match="1 primary .* and 5 secondary"):
        out = suppress_small_counts(t, "n", by=[["force"], ["year"]])
    # worked by hand: A2 primary -> A1 (force A) -> C1 (year 1) and B2 (year 2) -> B1 (force B),
    # C2 (force C); then every force and year has two or three withheld cells
    got = sorted(zip(out.loc[out["n"].isna(), "force"], out.loc[out["n"].isna(), "year"]))
    assert got == [("A", 1), ("A", 2), ("B", 1), ("B", 2), ("C", 1), ("C", 2)]
    check_disclosure(out)
    # the year column is an int key, not a derived value
    assert out["year"].tolist() == [1, 2, 3] * 3
    # protecting force totals alone is not enough for the year totals
    with pytest.warns(DisclosureWarning):
        only_force = suppress_small_counts(t, "n", by="force")
    with pytest.raises(DataValidationError, match="lone|alone") as info:
        check_disclosure(only_force, by="year")
    assert info.value.problems["rule"].tolist() == ["lone_suppressed_cell"] * 1
    assert info.value.problems["n_rows"].tolist() == [2]


def test_across_columns_wide_table():
    t = pd.DataFrame({"r1": [50, 40, 70], "r2": [3, 30, 80], "r3": [20, 60, 11]})
    with pytest.warns(DisclosureWarning):
        out = suppress_small_counts(t, ["r1", "r2", "r3"], across_columns=True)
    # worked by hand (see module policy): columns, then rows, repeated to a fixed point
    assert out[["r1", "r2", "r3"]].isna().to_numpy().tolist() == [
        [True, True, True],
        [True, True, False],
        [True, False, True],
    ]
    assert out["suppressed"].tolist() == [True, True, True]
    # without across_columns only the column totals are protected
    with pytest.warns(DisclosureWarning):
        cols_only = suppress_small_counts(t, ["r1", "r2", "r3"])
    assert cols_only[["r1", "r2", "r3"]].isna().to_numpy().tolist() == [
        [False, True, False],
        [False, True, False],
        [False, False, False],
    ]


def test_no_secondary():
    t = pd.DataFrame({"g": list("abc"), "n": [3, 20, 30]})
    with pytest.warns(DisclosureWarning, match="0 secondary"):
        out = suppress_small_counts(t, "n", secondary=False)
    assert _withheld(out) == [0]
    with pytest.raises(DataValidationError, match="recoverable from the total"):
        check_disclosure(out)
    check_disclosure(out, secondary=False)


def test_derived_default_float_columns_and_explicit_mapping():
    t = pd.DataFrame({
        "force": list("ABC"),
        "year": [2022, 2022, 2022],
        "n_reported": [200, 150, 120],
        "n_charged": [20, 3, 40],
        "charge_rate": [0.10, 0.02, 0.333],
        "lower 95%": [0.06, 0.004, 0.25],
        "mean_days": [30.0, 40.0, 50.0],
    })
    with pytest.warns(DisclosureWarning, match=r"plus 6 derived value\(s\)"):
        out = suppress_small_counts(t, ["n_reported", "n_charged"])
    # n_charged 3 primary, complement 20 (row A); every float column of those rows withheld
    assert out["n_charged"].isna().tolist() == [True, True, False]
    assert out["n_reported"].tolist() == [200, 150, 120]
    for col in ("charge_rate", "lower 95%", "mean_days"):
        assert out[col].isna().tolist() == [True, True, False], col
    assert out["year"].tolist() == [2022] * 3

    with pytest.warns(DisclosureWarning, match=r"plus 4 derived value\(s\)"):
        out2 = suppress_small_counts(
            t, ["n_reported", "n_charged"], derived={"charge_rate": ["n_charged"], "lower 95%": "n_charged"}
        )
    assert out2["mean_days"].tolist() == [30.0, 40.0, 50.0]  # not derived from the counts
    assert out2["charge_rate"].isna().tolist() == [True, True, False]
    check_disclosure(out2)
    leaked = out2.copy()
    leaked.loc[1, "charge_rate"] = 0.02
    with pytest.raises(DataValidationError, match="charge_rate") as info:
        check_disclosure(leaked)
    assert info.value.problems["rule"].tolist() == ["derived_from_suppressed"]
    with pytest.raises(ValueError, match="not count columns"):
        suppress_small_counts(t, "n_charged", derived={"charge_rate": ["n_reported"]}, warn=False)


def test_nothing_to_suppress_emits_no_warning():
    t = pd.DataFrame({"g": list("ab"), "n": [0, 10], "rate": [0.0, 1.0]})
    out = suppress_small_counts(t, "n")  # filterwarnings=error would fail on any warning
    assert not out["suppressed"].any()
    assert out["rate"].tolist() == [0.0, 1.0]


def test_warn_false_and_nullable_ints():
    t = pd.DataFrame({"g": list("abc"), "n": pd.array([2, 30, 40], dtype="Int64")})
    out = suppress_small_counts(t, "n", warn=False)
    assert _withheld(out) == [0, 1]


def test_check_disclosure_small_unsuppressed_cell():
    t = pd.DataFrame({"g": list("abc"), "n": [5, 30, 40], "m": [100, 1, 0]})
    with pytest.raises(DataValidationError) as info:
        check_disclosure(t, ["n", "m"])
    p = info.value.problems
    assert p["rule"].tolist() == ["small_count", "small_count"]
    assert p["column"].tolist() == ["n", "m"]
    assert p["example_case_ids"].tolist() == [[0], [1]]
    assert "between 1 and 9" in str(info.value)
    assert check_disclosure(t, ["n", "m"], threshold=1) is t  # nothing below 1 except zero
    with pytest.raises(ValueError, match="count_cols"):
        check_disclosure(t)


def test_check_disclosure_single_row_group_passes():
    t = pd.DataFrame({"g": ["a", "b", "b"], "n": [np.nan, 20.0, 30.0]})
    check_disclosure(t, "n", by="g")  # group a has one row: its total is the withheld cell itself
    with pytest.raises(DataValidationError, match="alone in the table"):
        check_disclosure(t, "n")


def test_property_random_tables_pass_check(tmp_path):
    rng = np.random.default_rng(20240501)
    for _ in range(40):
        n = int(rng.integers(2, 40))
        t = pd.DataFrame({
            "a": rng.integers(0, 4, n),
            "b": rng.integers(0, 3, n),
            "x": rng.choice([0, 1, 2, 5, 9, 10, 15, 40, 300], n),
            "y": rng.choice([0, 3, 12, 50], n),
        })
        out = suppress_small_counts(t, ["x", "y"], by=[["a"], ["b"]], across_columns=True, warn=False)
        check_disclosure(out)
        check_disclosure(out, by=[[]])  # whole-table totals are protected too
        # every primary cell is withheld, nothing published below the threshold
        for c in ("x", "y"):
            small = (t[c] >= 1) & (t[c] < 10)
            assert out.loc[small, c].isna().all()
            published = out[c].dropna()
            assert ((published == 0) | (published >= 10)).all()
            # published values are the original values
            assert (published == t.loc[published.index, c]).all()
        rows = out[["x", "y"]].isna().sum(axis=1)
        assert not (rows == 1).any()


def test_format_table_markers():
    t = pd.DataFrame({"force": ["A", "B", None, "D"], "n": [120, 4, 0, 35], "rate": [0.5, 0.25, np.nan, 0.125],
                      "other": [1.5, np.nan, 2.0, 3.25]})
    with pytest.warns(DisclosureWarning):
        out = suppress_small_counts(t, "n", derived=["rate"])
    txt = format_table(out, decimals=2)
    assert list(txt.columns) == ["force", "n", "rate", "other"]
    assert txt.to_dict("list") == {
        "force": ["A", "B", "[x]", "D"],
        "n": ["120", "[c]", "0", "[c]"],
        "rate": ["0.50", "[c]", "[x]", "[c]"],
        "other": ["1.50", "[x]", "2.00", "3.25"],
    }
    with pytest.raises(ValueError, match="suppress_small_counts"):
        format_table(t)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"count_cols": "missing"}, DataValidationError, "missing"),
        ({"count_cols": "n", "by": "nope"}, DataValidationError, "nope"),
        ({"count_cols": "n", "threshold": 0}, ValueError, "threshold"),
        ({"count_cols": "n", "threshold": 2.5}, ValueError, "threshold"),
        ({"count_cols": []}, ValueError, "at least one"),
        ({"count_cols": "label"}, DataValidationError, "numeric"),
        ({"count_cols": "flag"}, DataValidationError, "numeric"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    t = pd.DataFrame({"n": [1, 20], "label": ["a", "b"], "flag": [True, False]})
    with pytest.raises(exc, match=match):
        suppress_small_counts(t, **kwargs)


@pytest.mark.parametrize(
    ("values", "match"),
    [([1.0, np.nan, 30.0], "missing value"), ([-1, 20, 30], "non-negative whole"), ([1.5, 20, 30], "non-negative whole")],
)
def test_bad_counts_name_column_and_rows(values, match):
    t = pd.DataFrame({"n": values})
    with pytest.raises(DataValidationError, match=match) as info:
        suppress_small_counts(t, "n")
    assert "'n'" in str(info.value)


def test_already_suppressed_table_rejected():
    t = pd.DataFrame({"n": [1, 20, 30]})
    with pytest.warns(DisclosureWarning):
        out = suppress_small_counts(t, "n")
    with pytest.raises(DataValidationError, match="already"):
        suppress_small_counts(out.fillna(0), "n")
