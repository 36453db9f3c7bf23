"""The synthetic national dataset: calibration to published figures, determinism, known truth."""
import numpy as np
import pandas as pd
import pytest

from attrition.config import PUBLISHED_DIR
from attrition.data import load_default
from attrition.synthetic import DEFAULT_TRUTH, simulate


@pytest.fixture(scope="module")
def default():
    return load_default()


@pytest.fixture(scope="module")
def published():
    return pd.read_csv(PUBLISHED_DIR / "published_figures.csv").set_index("key")["value"]


@pytest.fixture(scope="module")
def ye_mar_2022(default):
    c = default.cases
    return c[c["financial_year"] == "2021/22"]


def test_size_and_years(default):
    c = default.cases
    per_year = c.groupby("financial_year").size()
    assert list(per_year.index) == ["2020/21", "2021/22", "2022/23"]
    assert per_year.between(110_000, 130_000).all()
    assert c["force"].nunique() == 43
    # daily timestamps: many ties
    assert default.events["timestamp"].dt.normalize().eq(default.events["timestamp"]).all()
    assert c["report_date"].nunique() < 1100
    # right censoring at the extraction date
    assert (~c["closed"]).sum() > 100
    assert default.events["timestamp"].max() <= default.as_of


def test_calibrated_charge_rate(ye_mar_2022, published):
    # published: 5% of stalking reports charged (YE Mar 2022); tolerance +-0.5 percentage points
    assert ye_mar_2022["charged"].mean() == pytest.approx(published["charge_rate_reports"], abs=0.005)


def test_calibrated_evidential_difficulty_share(ye_mar_2022, published):
    # published: a quarter of reports dropped for evidential difficulties with victim support (HO 15); +-1.5 pp
    share = (ye_mar_2022["outcome_code"] == 15).mean()
    assert share == pytest.approx(published["evidential_drop_victim_supports_share"], abs=0.015)


def test_calibrated_conviction_rate(ye_mar_2022, published):
    # published: ~1.7% of stalking cases end in a conviction (for stalking); +-0.25 pp. Other offences on top.
    assert ye_mar_2022["convicted_stalking"].mean() == pytest.approx(published["conviction_rate_reports"], abs=0.0025)
    assert ye_mar_2022["convicted_any"].mean() > ye_mar_2022["convicted_stalking"].mean() + 0.005


def test_spo_application_bands(default, published):
    f = default.forces
    last = f[(f["financial_year"] == "2022/23") & f["foi_spo_reported"]]["spo_applications"]
    bands = [(last <= 10).sum(), ((last > 10) & (last <= 30)).sum(), (last > 30).sum()]
    target = [published["forces_spo_applications_le10"], published["forces_spo_applications_11_30"],
              published["forces_spo_applications_gt30"]]
    assert sum(bands) == sum(target) == 23
    assert all(abs(b - t) <= 2 for b, t in zip(bands, target)), (bands, target)


def test_dedicated_officers(default, published):
    f = default.forces
    last = f[f["financial_year"] == "2022/23"]
    assert last["dedicated_stalking_officer"].sum() == published["forces_with_dedicated_officer"] == 7
    # some forces adopt during the period (for difference-in-differences)
    first = f[f["financial_year"] == "2020/21"]
    assert 0 < first["dedicated_stalking_officer"].sum() < 7
    assert last["foi_responded"].sum() == published["foi_forces_answered"]


def test_misrecording_is_common(ye_mar_2022):
    c = ye_mar_2022
    initially_other = (~c["recorded_offence"].isin(["stalking_s2a", "stalking_s4a"])).mean()
    assert 0.35 < initially_other < 0.6
    assert c["exit_reason"].eq("mischarged").mean() > 0.2


def test_determinism():
    a = simulate(n_cases=3000, random_state=42)
    b = simulate(n_cases=3000, random_state=42)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.cases, b.cases)
    pd.testing.assert_frame_equal(a.forces, b.forces)
    c = simulate(n_cases=3000, random_state=43)
    assert not a.events["timestamp"].equals(c.events["timestamp"])


def test_truth_parameters_are_used():
    # no officer effect at all -> true marginal effects exactly null
    d = simulate(n_cases=4000, random_state=1, officer_hr_charge=1.0, officer_or_recording=1.0, officer_or_conviction=1.0)
    assert d.truth["officer_charged_rd"] == pytest.approx(0.0, abs=1e-12)
    assert d.truth["officer_convicted_rr"] == pytest.approx(1.0, abs=1e-12)
    d2 = simulate(n_cases=4000, random_state=1)
    assert d2.truth["officer_charged_rr"] > 1.3
    assert d2.truth["officer_hr_charge"] == DEFAULT_TRUTH["officer_hr_charge"]
    with pytest.raises(ValueError, match="Unknown truth parameter"):
        simulate(n_cases=10, officer_effect=2)
    with pytest.raises(ValueError, match="positive"):
        simulate(n_cases=0)


def test_closed_form_charge_probability_matches_simulation():
    # the closed-form long-run probabilities in case_truth agree with simulated frequencies
    d = simulate(n_cases=200_000, random_state=5)
    ct, c = d.case_truth, d.cases
    observed = c.loc[c["closed"].to_numpy(), "charged"].mean()
    p = np.where(ct["officer"], ct["p_charged_officer1"], ct["p_charged_officer0"])[c["closed"].to_numpy()]
    se = np.sqrt(p.mean() * (1 - p.mean()) / len(p))
    assert abs(observed - p.mean()) < 4 * se


def test_spo_in_force_some_days_after_report(default):
    c = default.cases
    spo = c[c["spo_granted"]]
    granted_day = spo[["days_to_spo_interim_granted", "days_to_spo_full_granted"]].min(axis=1)
    assert (granted_day > 0).mean() > 0.8 and granted_day.median() >= 3 and granted_day.quantile(0.75) > 14
    # confounding by indication: SPOs go to higher-risk cases
    assert c.loc[c["spo_any"], "risk"].eq("high").mean() > 3 * c["risk"].eq("high").mean()


def test_write_round_trip(tmp_path):
    from attrition.data import load_events

    d = simulate(n_cases=2000, random_state=3)
    (p,) = d.write(tmp_path / "events.csv")
    ev = load_events(p, as_of=d.as_of)
    assert len(ev) == len(d.events)
    paths = d.write(tmp_path / "full")
    assert {x.name for x in paths} == {"events.parquet", "cases.parquet", "forces.csv", "truth.json"}
