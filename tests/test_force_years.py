"""The force-year table: read, checked and typed like the event log (attrition.sources.force_years)."""
import numpy as np
import pandas as pd
import pytest

from attrition.data import load_dataset
from attrition.exceptions import DataValidationError
from attrition.sources.force_years import read_force_years, validate_force_years


def _table(**cols):
    base = {"Force": ["Kent", "Avon & Somerset", "Essex"], "Financial Year": ["2021/22", "2021-22", "FY2021/2022"],
            "Dedicated Stalking Officer": ["Yes", "0", "true"]}
    base.update(cols)
    return pd.DataFrame(base)


def test_names_years_and_flags_are_normalised():
    fy = validate_force_years(_table(Population=["1,870,000", "1750000", "1840000"]))
    assert fy["force"].tolist() == ["Kent", "Avon and Somerset", "Essex"]
    assert fy["financial_year"].tolist() == ["2021/22"] * 3
    assert fy["dedicated_stalking_officer"].tolist() == [True, False, True]
    # log_size: log population, centred
    logs = np.log([1_870_000, 1_750_000, 1_840_000])
    np.testing.assert_allclose(fy["log_size"], logs - logs.mean(), rtol=1e-12)


def test_every_broken_rule_is_named_with_column_and_spreadsheet_lines():
    bad = _table(**{"Force": ["Kent", "Gotham", "Essex"], "Financial Year": ["2021/22", "2021/23", "2021/22"],
                    "Dedicated Stalking Officer": ["Yes", "maybe", ""], "Population": ["1e6", "-5", "x"]})
    with pytest.raises(DataValidationError) as err:
        validate_force_years(bad, source="fy.csv")
    msg = str(err.value)
    assert msg.startswith("fy.csv breaks 4 rule(s)")
    assert "unknown_force [column force]: ['Gotham'] match no territorial force (lines 3)" in msg
    assert "bad_financial_year [column financial_year]: expected a financial year such as 2021/22 (lines 3)" in msg
    assert "bad_boolean [column dedicated_stalking_officer]" in msg and "(lines 3, 4)" in msg
    assert "bad_number [column population]: expected a positive number (lines 3, 4)" in msg


def test_duplicates_and_missing_columns():
    dup = _table(Force=["Kent", "Kent", "Essex"], **{"Financial Year": ["2021/22", "2021/22", "2021/22"]})
    with pytest.raises(DataValidationError, match=r"duplicate_force_year .* \(lines 2, 3\)"):
        validate_force_years(dup)
    with pytest.raises(DataValidationError, match="required column\\(s\\) \\['dedicated_stalking_officer'\\]"):
        validate_force_years(_table().drop(columns="Dedicated Stalking Officer"))


def test_read_csv_and_xlsx_the_same(tmp_path):
    table = _table(Population=["1870000", "1750000", "1840000"], spo_applications=["3", "", "12"])
    table.to_csv(tmp_path / "fy.csv", index=False)
    table.to_excel(tmp_path / "fy.xlsx", index=False)
    a, b = read_force_years(tmp_path / "fy.csv"), read_force_years(tmp_path / "fy.xlsx")
    pd.testing.assert_frame_equal(a, b)
    assert a["spo_applications"].tolist()[0] == 3 and pd.isna(a["spo_applications"].iloc[1])
    with pytest.raises(DataValidationError, match="No force-year table at"):
        read_force_years(tmp_path / "absent.csv")


def test_load_dataset_takes_the_table_and_derives_size_when_absent(tmp_path, small_synthetic):
    path = tmp_path / "ev.csv"
    small_synthetic.events.to_csv(path, index=False)
    f = small_synthetic.forces
    pd.DataFrame({"force": f["force"], "financial_year": f["financial_year"],
                  "dedicated_stalking_officer": f["dedicated_stalking_officer"]}).to_csv(tmp_path / "fy.csv", index=False)
    data = load_dataset(path, forces_path=tmp_path / "fy.csv")
    assert not data.synthetic and data.provenance == f"Data: ev.csv, as of {data.as_of:%Y-%m-%d}"
    assert data.notes and "log_size) derived from the extract" in data.notes[0]
    per_year = data.cases.groupby(["force", "financial_year"], observed=True).size().groupby("force", observed=True).mean()
    kent = data.forces.loc[data.forces["force"] == "Kent", "log_size"].iloc[0]
    logs = np.log(data.forces["force"].map(per_year.rename(index=str)).to_numpy(float))
    assert kent == pytest.approx(np.log(per_year["Kent"]) - logs.mean(), rel=1e-12)
