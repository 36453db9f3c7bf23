"""The synthetic world of issue #14: time zero respected, orders with lifetimes, common random numbers, the
SPO strategy truths and the adversarial switches (each moves what its docstring says)."""
import numpy as np
import pandas as pd
import pytest

from attrition.data import load_events, to_cases
from attrition.exceptions import DataQualityWarning
from attrition.synthetic import DEFAULT_TRUTH, _force_table, simulate, strategy_risks

N = 50_000


@pytest.fixture(scope="module")
def world():
    return simulate(n_cases=N, random_state=7)


def _first(ev, event):
    e = ev[ev["event"] == event]
    return e.groupby("case_id")["timestamp"].min()


def test_no_exposure_before_its_possibility(world):
    ev, cases = world.events, world.cases.set_index("case_id")
    sus = pd.concat([_first(ev, "suspect_identified"), _first(ev, "arrested")], axis=1).min(axis=1)
    need = _first(ev, "spo_need_identified")
    checks = 0
    for later, earlier in (("spo_interim_applied", sus), ("spo_interim_granted", sus), ("spo_need_identified", sus),
                           ("spo_full_applied", need), ("spo_interim_applied", need),
                           ("spo_interim_granted", _first(ev, "spo_interim_applied")),
                           ("spo_full_granted", _first(ev, "spo_full_applied"))):
        t = _first(ev, later)
        assert len(t) > 20, later
        e = earlier.reindex(t.index)
        assert e.notna().all(), f"{later} without its prerequisite"
        assert (t >= e).all(), f"{later} before its prerequisite"
        checks += len(t)
    assert checks > 1500
    # every need is logged: every case with an application has its need logged, and the truth agrees
    apps = ev[ev["event"].isin(["spo_interim_applied", "spo_full_applied"])]["case_id"].unique()
    assert np.isin(apps, need.index).all()
    ct = world.case_truth.set_index("case_id")
    assert set(ct.index[ct["spo_need"] & (ct["spo_need_day"] <= (world.as_of - cases["report_date"]).dt.days.reindex(ct.index))]) \
        == set(need.index)
    assert len(need) > len(apps) * 1.2      # many needs never see an application


def test_breaches_only_while_an_order_exists(world):
    ev, cases = world.events, world.cases.set_index("case_id")
    b = ev[ev["event"] == "order_breach"].copy()
    b["day"] = (b["timestamp"] - cases["report_date"].reindex(b["case_id"]).to_numpy()).dt.days
    counts = b["order_type"].value_counts()
    assert (counts > 30).all(), counts
    c = cases.reindex(b["case_id"])
    day = b["day"].to_numpy()
    kind = b["order_type"].astype(str).to_numpy()
    grant = c[["days_to_spo_interim_granted", "days_to_spo_full_granted"]].min(axis=1).to_numpy()
    spo = kind == "spo"
    assert (day[spo] >= grant[spo]).all() and (day[spo] < grant[spo] + 730).all()
    bail = kind == "bail_conditions"
    end = c["duration"].to_numpy()[bail]    # police outcome, or court outcome if charged, or as_of if open
    assert (day[bail] >= c["days_to_arrested"].to_numpy()[bail]).all() and (day[bail] <= end).all()
    ro = kind == "restraining_order"
    assert c["convicted_any"].to_numpy()[ro].all() and (day[ro] >= c["days_to_court_outcome"].to_numpy()[ro]).all()
    nmo = kind == "non_molestation_order"
    start = world.case_truth.set_index("case_id")["non_molestation_day"].reindex(b["case_id"]).to_numpy()[nmo]
    assert (day[nmo] >= start).all() and (day[nmo] < start + 365).all()
    # repeat breaches (a course of conduct) get a case first recorded as a lesser offence reclassified as
    # stalking (0.36 with 2+ breaches, 0.22 without, on this seed)
    nb, lesser = cases["n_breaches"], ~cases["recorded_offence"].isin(["stalking_s2a", "stalking_s4a"])
    rec = cases["ever_recorded_stalking"]
    assert rec[lesser & (nb >= 2)].mean() > rec[lesser & (nb == 0)].mean() + 0.08


def test_misrecording_changes_handling(world):
    c = world.cases
    sus = c[c["days_to_suspect_identified"].notna() & c["closed"]]
    lesser = ~sus["recorded_offence"].isin(["stalking_s2a", "stalking_s4a"])
    never = lesser & ~sus["ever_recorded_stalking"]
    # charged less often and an SPO need recognised less often while recorded as a lesser offence
    assert sus.loc[never, "charged"].mean() < 0.75 * sus.loc[~lesser, "charged"].mean()
    need = sus["days_to_spo_need_identified"].notna()
    assert need[never].mean() < 0.6 * need[~lesser].mean()


def test_charge_hazard_is_not_constant(world):
    # the empirical charge hazard (per person-day since suspect identification) falls from the first month
    # to after four months: the generator's piecewise shape (1.5 -> 0.6 before other factors)
    c = world.cases
    s = c[c["days_to_suspect_identified"].notna()]
    t = (s["duration"] - s["days_to_suspect_identified"]).clip(lower=0).to_numpy()
    ev = s["charged"].to_numpy() & (s["days_to_charged"].notna().to_numpy())
    tc = (s["days_to_charged"] - s["days_to_suspect_identified"]).to_numpy()
    early = (ev & (tc < 30)).sum() / np.minimum(t, 30).sum()
    late = (ev & (tc >= 120)).sum() / np.clip(t - 120, 0, None).sum()
    assert early > 1.8 * late


def test_common_random_numbers():
    nat = simulate(n_cases=10_000, random_state=3)
    same = simulate(n_cases=10_000, random_state=3, spo_policy={"full": lambda d, rng: d, "interim": lambda d, rng: d})
    pd.testing.assert_frame_equal(nat.events, same.events)
    # a policy changes SPO events and what they cause, nothing drawn before them
    never = simulate(n_cases=10_000, random_state=3, spo_policy={"full": lambda d, rng: np.full(len(d), np.inf),
                                                                  "interim": lambda d, rng: np.full(len(d), np.inf)})
    assert not never.events["event"].isin(["spo_interim_applied", "spo_full_applied"]).any()
    for e in ("reported", "recorded", "suspect_identified"):
        a, b = (x.events[x.events["event"] == e] for x in (nat, never))
        assert a["timestamp"].equals(b["timestamp"].set_axis(a.index)) if len(a) == len(b) else False, e
    with pytest.raises(ValueError, match="spo_policy"):
        simulate(n_cases=100, random_state=1, spo_policy={"early": lambda d, rng: d})


@pytest.mark.parametrize("trial", ["full28", "interim48", "interim48_need"])
def test_strategy_risks(trial):
    n, seed = 60_000, 5
    tr = strategy_risks(trial, n_cases=n, random_state=seed).set_index(["arm", "outcome"])
    # eligibility decided from the event log of the same simulation
    d = simulate(n_cases=n, random_state=seed)
    ev, cases = d.events, d.cases.set_index("case_id")
    if trial == "full28":
        need = _first(ev, "spo_need_identified")
        interim = _first(ev, "spo_interim_applied").reindex(need.index)
        elig = need.index[~(interim <= need)]
    elif trial == "interim48":
        sus = pd.concat([_first(ev, "suspect_identified"), _first(ev, "arrested")], axis=1).min(axis=1)
        elig = sus.index[cases["risk"].reindex(sus.index).eq("high")]
    else:
        need = _first(ev, "spo_need_identified")
        elig = need.index[cases["risk"].reindex(need.index).eq("high")]
    assert (tr["n_eligible"] == len(elig)).all() and len(elig) > (100 if trial == "interim48_need" else 300)
    tz = d.case_truth.set_index("case_id")[f"time_zero_{trial}"]
    assert set(tz.index[np.isfinite(tz)]) == set(elig)
    # the structural effect: an SPO in force raises the charge hazard and lowers withdrawal
    assert tr.loc[("within", "charge"), "risk"] > tr.loc[("not_within", "charge"), "risk"]
    assert tr.loc[("within", "withdrawal"), "risk"] < tr.loc[("not_within", "withdrawal"), "risk"]
    assert tr.loc[("within", "charge"), "rr"] > 1 and tr.loc[("within", "withdrawal"), "rd"] < 0
    # no SPO effect -> the arms do not differ (common random numbers: exactly)
    null = strategy_risks(trial, n_cases=20_000, random_state=seed, spo_hr_charge=1.0, spo_hr_withdrawal=1.0)
    assert np.allclose(null["rd"], 0.0) and np.allclose(null["rr"], 1.0)


@pytest.mark.parametrize("within", [True, False])
def test_interim48_need_arms_apply_within_or_after_two_days_of_the_need(within):
    """The strategies of the need-based interim trial, simulated: under "within" every interim application of
    an eligible case comes 0-2 days after its need (never before it), under "not within" none does; cases
    outside the trial keep their natural course."""
    from attrition.synthetic import _Arm

    n, seed = 60_000, 5
    nat = simulate(n_cases=n, random_state=seed)
    d = simulate(n_cases=n, random_state=seed, spo_policy={"interim": _Arm(2, within, from_need=True)})
    tz = d.case_truth.set_index("case_id")["time_zero_interim48_need"]
    elig = tz.index[np.isfinite(tz)]
    nat_tz = nat.case_truth.set_index("case_id")["time_zero_interim48_need"]
    assert set(nat_tz.index[np.isfinite(nat_tz)]) == set(elig)  # eligibility is decided before any application
    app, need = _first(d.events, "spo_interim_applied"), _first(d.events, "spo_need_identified")
    day = (app.reindex(elig) - need.reindex(elig)).dt.days.dropna()
    assert (day >= 0).all() and len(day) > 100
    if within:
        assert (day <= 2).all()
        natural = (_first(nat.events, "spo_interim_applied").reindex(elig)
                   - _first(nat.events, "spo_need_identified").reindex(elig)).dt.days
        assert (day <= 2).sum() > 1.5 * (natural <= 2).sum()      # the strategy adds early applications
    else:
        assert (day > 2).all()


def test_officer_confounding_switch():
    T = dict(DEFAULT_TRUTH)
    gap = {}
    for g in (0.0, 2.0):
        diffs = []
        for seed in range(40):
            F = _force_table({**T, "officer_confounding": g}, np.random.default_rng(seed))
            off = np.isfinite(F["officer_from"].to_numpy())
            z = F["quality"].to_numpy() / T["force_sd_quality"]
            diffs.append(z[off].mean() - z[~off].mean())
        gap[g] = np.mean(diffs)
    assert abs(gap[0.0]) < 0.25 and gap[2.0] > 0.8, gap


def test_quality_moves_suspect_identification_not_officers():
    d = simulate(n_cases=20_000, random_state=2, force_sd_quality=0.6)
    ct = d.case_truth
    hi = ct["quality"] > ct["quality"].median()
    assert ct.loc[hi, "p_suspect"].mean() > ct.loc[~hi, "p_suspect"].mean() + 0.03
    # an officer does not change suspect identification (negative-control outcome)
    d0 = simulate(n_cases=20_000, random_state=2, force_sd_quality=0.6, officer_hr_charge=1.0)
    assert np.array_equal(d0.case_truth["p_suspect"], ct["p_suspect"])


def test_risk_missing_mnar_switch():
    assert simulate(n_cases=5_000, random_state=1).cases["risk"].notna().all()
    d = simulate(n_cases=30_000, random_state=1, risk_missing_mnar=0.4)
    miss = d.cases.set_index("case_id")["risk"].isna().reindex(d.case_truth["case_id"]).to_numpy()
    true = d.case_truth["risk"].to_numpy()
    rates = [miss[true == k].mean() for k in range(3)]
    assert rates[0] == 0 and rates[1] == pytest.approx(0.2, abs=0.03) and rates[2] == pytest.approx(0.4, abs=0.04)


def test_escalation_switch():
    base = simulate(n_cases=40_000, random_state=4)
    esc = simulate(n_cases=40_000, random_state=4, escalation=1.0)
    n_need = [(x.events["event"] == "spo_need_identified").sum() for x in (base, esc)]
    ho16 = [x.cases["outcome_code"].eq(16).mean() for x in (base, esc)]
    # about 1.4 times the needs and one point more withdrawals (HO 16) on this seed
    assert n_need[1] > 1.2 * n_need[0] and ho16[1] > ho16[0] + 0.005, (n_need, ho16)


def test_informative_censoring_switch():
    def near_share(d):
        ct = d.case_truth
        lag = ct["closed_day"] - ct["as_of_day"]
        open_ = lag > 0
        return ct.loc[open_ & ct["in_extract"], "closed_day"].size, ((lag > 0) & (lag <= 30) & ct["in_extract"]).sum(), \
            ((lag > 0) & (lag <= 30)).sum()
    # an extract taken while many cases are open
    base = simulate(n_cases=40_000, random_state=6, as_of="2022-12-31")
    cut = simulate(n_cases=40_000, random_state=6, as_of="2022-12-31", informative_censoring=0.8)
    assert base.case_truth["in_extract"].all()
    _, kept_near, all_near = near_share(cut)
    # the docstring's effect size: about two thirds of the cases closing within 30 days of as_of are cut
    assert all_near > 500 and 0.22 < kept_near / all_near < 0.42
    assert len(cut.cases) < len(base.cases)


def test_online_is_an_optional_field_of_the_standard(tmp_path):
    d = simulate(n_cases=3_000, random_state=8)
    assert d.cases["online"].dtype == "boolean" and 0.2 < d.cases["online"].mean() < 0.5
    ct = d.case_truth.set_index("case_id")
    assert (d.cases.set_index("case_id")["online"].astype(bool) == ct["online"].reindex(d.cases["case_id"])).all()
    # online cases more often end in evidential difficulties (HO 15)
    c = d.cases
    assert c.loc[c["online"].astype(bool), "outcome_code"].eq(15).mean() > c.loc[~c["online"].astype(bool), "outcome_code"].eq(15).mean()
    text = ("case_id,force,event,timestamp,offence,online\n"
            "A,Kent,reported,2022-05-04,,yes\nA,Kent,recorded,2022-05-05,harassment,\n"
            "B,Kent,reported,2022-05-04,,0\nC,Kent,reported,2022-05-04,,\n")
    p = tmp_path / "ev.csv"
    p.write_text(text)
    cases = to_cases(load_events(p)).set_index("case_id")
    assert cases.loc["A", "online"] == True and cases.loc["B", "online"] == False and pd.isna(cases.loc["C", "online"])  # noqa: E712
    p.write_text(text.replace(",yes\n", ",maybe\n"))
    with pytest.warns(DataQualityWarning, match="unknown_code"):
        _, rep = load_events(p, errors="exclude", return_report=True)
    assert rep.problems.set_index("rule").loc["unknown_code", "column"] == "online"
    p.write_text("case_id,force,event,timestamp\nA,Kent,reported,2022-05-04\n")
    assert "online" not in to_cases(load_events(p)).columns


def test_report_trends_by_force(world):
    # forces whose PCC committed to raising reports grow; the others stay near flat
    F = _force_table(dict(DEFAULT_TRUTH), np.random.default_rng(7).spawn(4)[0])
    pcc = F.loc[F["report_trend"] > 0.08, "force"]
    assert len(pcc) >= 6
    c = world.cases
    share = c.groupby([c["force"].isin(pcc), "financial_year"], observed=True).size().unstack()
    share = share / share.sum(axis=0)
    growth = share.loc[True, "2022/23"] / share.loc[True, "2020/21"]
    assert growth > 1.15, growth      # about exp(2 * 0.15) relative to the rest


def test_simple_world_has_constant_hazards():
    from attrition.synthetic import SIMPLE_WORLD

    d = simulate(n_cases=5_000, random_state=1, spo_hr_charge=1.0, spo_hr_withdrawal=1.0, **SIMPLE_WORLD)
    assert (d.case_truth["quality"] == 0).all()
    # without an SPO effect the hazards are constant: the competing-risks closed form is the case's truth
    ct = d.case_truth[d.case_truth["suspect"] & ~d.case_truth["officer"]]
    h = ct[[c for c in ct.columns if c.startswith("hazard_")]].to_numpy()
    assert np.allclose(ct["p_charged_officer0"], h[:, 0] / h.sum(1))
