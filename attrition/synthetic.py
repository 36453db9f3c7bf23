"""A synthetic national dataset of stalking journeys with known truth.

Real case-level data are not public, so ``attrition`` ships a structural model of the journey from report
to conviction, calibrated to the published national figures (``data/published/published_figures.csv``)
and with known true effects of dedicated stalking officers and timely Stalking Protection Orders.

The model, per case (times in days, daily timestamps):

1. **Report** uniformly over ``n_years`` financial years; force drawn in proportion to its approximate
   size; case mix ``risk`` (standard/medium/high) and ``relationship``.
2. **Recording**: recorded as stalking with probability ``expit(a + u_f + officer)``, otherwise as a
   lesser offence (harassment, malicious communications, criminal damage, other); a share of those are
   later reclassified as stalking.
3. **Suspect identification** (less likely for strangers); otherwise outcome 18/14 (no suspect).
4. **Police investigation** from suspect identification: competing exponential hazards of charge (1),
   evidential difficulties with victim support (15), victim not supporting (16), public interest (21),
   out-of-court (8), other (17) and transfer (20). Higher risk raises the charge and the SPO hazards
   (confounding by indication). A dedicated officer multiplies the charge hazard by
   ``officer_hr_charge``. Once an **SPO** is in force (granted some days after the need is identified:
   the immortal time), the charge hazard is multiplied by ``spo_hr_charge`` and the victim-withdrawal
   hazard by ``spo_hr_withdrawal``.
5. **Court**: a share of charges is discontinued; the rest are heard and end in a conviction for stalking
   (only if charged as stalking; odds raised by a dedicated officer), for another offence, acquittal or
   dismissal.
6. **Breaches** of orders arrive as a Poisson process after suspect identification.
7. Everything after the extraction date ``as_of`` is cut off (right censoring).

Because step 4 is a two-piece constant-hazard model, every case's long-run probability of each outcome
under "officer" and "no officer" is known in closed form; ``truth`` holds the resulting marginal effects
(averaged over the simulated cases) next to the structural parameters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from . import standard as S
from ._utils import check_random_state
from .config import DEFAULT_SEED
from .sources.forces import load_force_table

__all__ = ["simulate", "SyntheticData", "DEFAULT_TRUTH", "default_dataset", "FORCE_SIZE", "true_stage_rates"]

#: Approximate resident population (millions, rounded, 2021) of each police force area. Used only to
#: give the synthetic forces realistic relative sizes.
FORCE_SIZE = {
    "Avon and Somerset": 1.75, "Bedfordshire": 0.69, "Cambridgeshire": 0.90, "Cheshire": 1.08,
    "Cleveland": 0.57, "Cumbria": 0.50, "Derbyshire": 1.06, "Devon and Cornwall": 1.80, "Dorset": 0.78,
    "Durham": 0.64, "Dyfed-Powys": 0.52, "Essex": 1.84, "Gloucestershire": 0.65, "Greater Manchester": 2.87,
    "Gwent": 0.60, "Hampshire": 2.00, "Hertfordshire": 1.20, "Humberside": 0.93, "Kent": 1.87,
    "Lancashire": 1.53, "Leicestershire": 1.10, "Lincolnshire": 0.77, "London, City of": 0.01,
    "Merseyside": 1.43, "Metropolitan Police": 8.80, "Norfolk": 0.92, "North Wales": 0.69,
    "North Yorkshire": 0.83, "Northamptonshire": 0.79, "Northumbria": 1.46, "Nottinghamshire": 1.17,
    "South Wales": 1.33, "South Yorkshire": 1.38, "Staffordshire": 1.13, "Suffolk": 0.76, "Surrey": 1.20,
    "Sussex": 1.70, "Thames Valley": 2.45, "Warwickshire": 0.60, "West Mercia": 1.30, "West Midlands": 2.92,
    "West Yorkshire": 2.35, "Wiltshire": 0.73,
}

#: Structural parameters of the default national dataset. Pass any of them to :func:`simulate` to change it.
DEFAULT_TRUTH: dict = {
    "reports_per_year": 120_000,
    "first_year": 2020,            # first financial year 2020/21
    "n_years": 3,
    "extraction_lag_days": 183,     # as_of = end of the last financial year + this
    # case mix
    "p_risk": (0.60, 0.30, 0.10),   # standard, medium, high
    "p_relationship": (0.50, 0.05, 0.25, 0.10, 0.10),  # ex_partner, family, acquaintance, stranger, unknown
    # recording
    "p_recorded_stalking": 0.55,    # initially recorded as stalking (national mean)
    "force_sd_recording": 0.5,      # force random effect, logit scale
    "p_reclassified": 0.35,         # misrecorded cases later reclassified as stalking
    "misrecord_offences": {"harassment": 0.60, "malicious_communications": 0.25, "criminal_damage": 0.05, "other": 0.10},
    "officer_or_recording": 1.5,    # dedicated officer: odds ratio of recording as stalking
    # suspect
    "p_suspect": 0.86,
    "or_suspect_stranger": 0.25,
    # police investigation: baseline cause-specific hazards per day, from suspect identification
    "hazards": {"charge": 0.00115, "ho15": 0.0076, "ho16": 0.0141, "ho21": 0.00075, "ho8": 0.0005,
                "ho17": 0.0002, "ho20": 0.00025},
    "hr_charge_risk": (1.0, 1.4, 2.0),       # standard, medium, high
    "hr_withdrawal_risk": (1.0, 1.1, 1.2),
    "force_sd_charge": 0.30,                 # force random effect on log charge hazard
    "force_size_charge": -0.10,              # log-hazard per log(size): larger forces charge less
    "year_trend_charge": -0.05,              # log-hazard per year
    "officer_hr_charge": 1.8,                # TRUE effect of a dedicated officer on the charge hazard
    # SPOs
    "p_spo_need_risk": (0.004, 0.015, 0.06),  # per case, by risk, before the force multiplier
    "spo_need_mean_days": 6.0,
    "p_spo_interim": 0.35,                    # share of SPO needs that go for an interim order first
    "spo_full_delay_mean_days": 30.0,         # need -> full application (force-varying)
    "spo_grant_delay_days": (1.0, 14.0),      # application -> grant, interim and full
    "p_spo_granted": 0.78, "p_spo_refused": 0.05,
    "spo_hr_charge": 1.5,                     # TRUE effect of an SPO in force on the charge hazard
    "spo_hr_withdrawal": 0.6,                 # TRUE effect on the victim-withdrawal (HO 16) hazard
    # court
    "p_charged_as_stalking": 0.85,            # when recorded as stalking at charge
    "p_discontinued": 0.20,
    "p_discontinued_reason": (0.5, 0.4, 0.1),  # victim_withdrawal, evidential, public_interest
    "p_convicted_stalking": 0.69,             # prosecuted on a stalking charge
    "officer_or_conviction": 1.4,             # TRUE effect of a dedicated officer on conviction odds
    "p_convicted_other_given_stalking_charge": 0.12,
    "p_convicted_lesser": 0.70,               # prosecuted on a lesser charge
    # breaches
    "breach_rate_per_year": (0.25, 0.5, 1.0),  # by risk
    # forces
    "n_officer_forces_initial": 4, "n_officer_forces_adopting": 3,   # 7 by the last year
    "n_foi_responding": 27,
    "foi_spo_bands": (12, 8, 3),             # forces reporting <=10, 11-30, >30 SPO applications
    "foi_spo_targets": (4.0, 19.0, 52.0),    # expected applications in the last year per band
}


@dataclass
class SyntheticData:
    """A simulated national dataset.

    Attributes
    ----------
    events : pandas.DataFrame
        Event log in the victim-journey standard.
    cases : pandas.DataFrame
        Case table (:func:`attrition.data.to_cases` of ``events`` at ``as_of``).
    forces : pandas.DataFrame
        Force-year table: force, ons_code, region, financial_year, dedicated_stalking_officer,
        foi_responded, foi_spo_reported, spo_applications, log_size.
    truth : dict
        Structural parameters and the true marginal effects.
    as_of : pandas.Timestamp
        Extraction date.
    """

    events: pd.DataFrame
    cases: pd.DataFrame
    forces: pd.DataFrame
    truth: dict
    as_of: pd.Timestamp
    case_truth: pd.DataFrame = field(repr=False, default=None)

    def write(self, path) -> list[Path]:
        """Write the dataset. A ``.csv``/``.parquet`` path gets the event log only; a directory gets
        ``events.parquet``, ``cases.parquet``, ``forces.csv`` and ``truth.json``."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            path.parent.mkdir(parents=True, exist_ok=True)
            ev = self.events.copy()
            ev["timestamp"] = ev["timestamp"].dt.strftime("%Y-%m-%d")
            ev.to_csv(path, index=False)
            return [path]
        if path.suffix.lower() in (".parquet", ".pq"):
            path.parent.mkdir(parents=True, exist_ok=True)
            self.events.to_parquet(path, index=False)
            return [path]
        path.mkdir(parents=True, exist_ok=True)
        out = [path / "events.parquet", path / "cases.parquet", path / "forces.csv", path / "truth.json"]
        self.events.to_parquet(out[0], index=False)
        self.cases.to_parquet(out[1], index=False)
        self.forces.to_csv(out[2], index=False)
        out[3].write_text(json.dumps(_jsonable(self.truth), indent=1, sort_keys=True) + "\n")
        return out


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d")
    return x


def _fy_label(y: int) -> str:
    return f"{y}/{(y + 1) % 100:02d}"


def _force_table(truth: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Force-level traits: size, random effects, officers, FOI response and SPO propensity."""
    ft = load_force_table()[["force", "ons_code", "region", "country"]].copy()
    nf = len(ft)
    size = ft["force"].map(FORCE_SIZE).to_numpy(float)
    log_size = np.log(size / np.exp(np.log(size).mean()))
    u_rec = rng.normal(0, truth["force_sd_recording"], nf)
    u_chg = truth["force_size_charge"] * log_size + rng.normal(0, truth["force_sd_charge"], nf)
    # centre the force effects on the report-weighted national mean, so national rates do not drift by seed
    u_rec -= np.average(u_rec, weights=size)
    u_chg -= np.average(u_chg, weights=size)
    # officers: larger forces more likely to have one (force-level confounding by size)
    n_init, n_adopt = truth["n_officer_forces_initial"], truth["n_officer_forces_adopting"]
    eligible = ft["force"] != "London, City of"
    w = np.where(eligible, size / size[eligible].sum(), 0.0)
    chosen = rng.choice(nf, size=n_init + n_adopt, replace=False, p=w)
    officer_from = np.full(nf, np.inf)
    officer_from[chosen[:n_init]] = 0
    officer_from[chosen[n_init:]] = truth["n_years"] - 1  # adopt at the start of the last year
    # FOI: responding forces include all officer forces; SPO bands among the first responders
    others = np.setdiff1d(np.arange(nf), chosen)
    respond = np.r_[chosen, rng.choice(others, truth["n_foi_responding"] - len(chosen), replace=False)]
    responded = np.isin(np.arange(nf), respond)
    bands = truth["foi_spo_bands"]
    reporting = rng.permutation(respond)[: sum(bands)]
    target = np.empty(nf)
    band_of = rng.choice(3, size=nf, p=np.asarray(bands) / sum(bands))
    band_of[reporting] = np.repeat([0, 1, 2], bands)
    target[:] = np.asarray(truth["foi_spo_targets"])[band_of] * rng.uniform(0.8, 1.2, nf)
    return ft.assign(size=size, log_size=log_size, u_rec=u_rec, u_chg=u_chg, officer_from=officer_from,
                     foi_responded=responded, foi_spo_reported=np.isin(np.arange(nf), reporting),
                     spo_band=band_of, spo_target=target)


def simulate(n_cases: int | None = None, *, random_state=None, as_of=None, **truth) -> SyntheticData:
    """Simulate a national dataset of stalking journeys with known truth.

    Parameters
    ----------
    n_cases : int, optional
        Number of reports. Default ``reports_per_year * n_years`` (360,000).
    random_state : None, int or numpy.random.Generator
        Seed; the same seed gives identical data.
    as_of : date-like, optional
        Extraction date. Default: ``extraction_lag_days`` after the end of the last financial year.
    **truth
        Any key of :data:`DEFAULT_TRUTH` (e.g. ``officer_hr_charge=1.0`` for no officer effect).

    Returns
    -------
    SyntheticData

    Raises
    ------
    ValueError
        Unknown truth parameter or an invalid value.

    Examples
    --------
    >>> from attrition.synthetic import simulate
    >>> data = simulate(n_cases=20_000, random_state=1)
    >>> round(data.cases["charged"].mean(), 2)  # doctest: +SKIP
    0.05
    """
    unknown = sorted(set(truth) - set(DEFAULT_TRUTH))
    if unknown:
        raise ValueError(f"Unknown truth parameter(s) {unknown}; see attrition.synthetic.DEFAULT_TRUTH.")
    T = {**DEFAULT_TRUTH, **truth}
    if n_cases is None:
        n_cases = int(T["reports_per_year"] * T["n_years"])
    if int(n_cases) < 1:
        raise ValueError(f"n_cases must be a positive integer, got {n_cases!r}")
    n = int(n_cases)
    rng = check_random_state(random_state)
    events, F, case_truth, marginal, as_of, start = _simulate_journeys(n, T, rng, as_of)
    from .sources.events import to_cases

    cases = to_cases(events, as_of=as_of)
    forces = _force_year_table(F, T, events, start)
    truth_out = {**T, **marginal, "as_of": as_of, "n_cases": n}
    return SyntheticData(events=events, cases=cases, forces=forces, truth=truth_out, as_of=as_of, case_truth=case_truth)


def _simulate_journeys(n: int, T: dict, rng: np.random.Generator, as_of):
    """The structural model (see the module docstring); returns the event log and per-case truth.

    A separate function so that its many per-case arrays are freed before the case table is built.
    """
    rng_forces, rng_cases = rng.spawn(2)
    F = _force_table(T, rng_forces)
    start = pd.Timestamp(f"{T['first_year']}-04-01")
    n_days = int((pd.Timestamp(f"{T['first_year'] + T['n_years']}-04-01") - start).days)
    as_of = pd.Timestamp(as_of) if as_of is not None else start + pd.Timedelta(days=n_days + T["extraction_lag_days"] - 1)
    horizon = float((as_of - start).days)

    r = rng_cases
    w = F["size"].to_numpy() / F["size"].sum()
    f = r.choice(len(F), size=n, p=w)
    t0 = np.floor(r.uniform(0, n_days, n))                    # report day
    year = np.searchsorted(_fy_starts(start, T["n_years"]), t0, side="right") - 1
    risk = r.choice(3, size=n, p=T["p_risk"])
    rel = r.choice(5, size=n, p=T["p_relationship"])
    officer = (year >= F["officer_from"].to_numpy()[f]).astype(float)

    # --- recording
    a_rec = logit(T["p_recorded_stalking"])
    p_rec = expit(a_rec + F["u_rec"].to_numpy()[f] + np.log(T["officer_or_recording"]) * officer)
    rec_stalk = r.random(n) < p_rec
    s4a = r.random(n) < 0.3
    mis_names = list(T["misrecord_offences"])
    mis = r.choice(len(mis_names), size=n, p=list(T["misrecord_offences"].values()))
    t_rec = t0 + r.geometric(0.6, n) - 1
    reclass = ~rec_stalk & (r.random(n) < T["p_reclassified"])
    u_reclass = r.random(n)

    # --- suspect
    p_s = expit(logit(T["p_suspect"]) + np.log(T["or_suspect_stranger"]) * (rel == 3))
    suspect = r.random(n) < p_s
    t_s = t0 + r.exponential(5.0, n)
    arrested = suspect & (r.random(n) < 0.55)
    t_arrest = t_s + r.exponential(2.0, n)
    t_nosuspect = t0 + r.exponential(35.0, n)
    code_nosuspect = np.where(r.random(n) < 0.8, 18, 14)

    # --- SPO: need, application, grant (only while the investigation is open, checked below)
    need_p = np.asarray(T["p_spo_need_risk"])[risk]
    spo_mult = _spo_multiplier(F, T, need_p, f, year)
    p_need = np.clip(need_p * spo_mult[f], 0, 1)
    need = suspect & (r.random(n) < p_need)
    t_need = t_s + r.exponential(T["spo_need_mean_days"], n)
    interim = r.random(n) < T["p_spo_interim"]
    full_delay_mean = T["spo_full_delay_mean_days"] * np.exp(r.normal(0, 0.5, len(F)))[f]
    t_int_app = np.minimum(t_need, t0 + r.exponential(1.0, n))   # interim: fast, from report
    t_full_app = t_need + r.exponential(full_delay_mean)
    t_app = np.where(interim, t_int_app, t_full_app)
    u_grant = r.random(n)
    granted = u_grant < T["p_spo_granted"]
    refused = (u_grant >= T["p_spo_granted"]) & (u_grant < T["p_spo_granted"] + T["p_spo_refused"])
    d_int, d_full = T["spo_grant_delay_days"]
    t_grant = t_app + np.where(interim, r.exponential(d_int, n), r.exponential(d_full, n))

    # --- police investigation: two-piece competing hazards from suspect identification
    H = T["hazards"]
    causes = ["charge", "ho15", "ho16", "ho21", "ho8", "ho17", "ho20"]
    codes_of = np.array([1, 15, 16, 21, 8, 17, 20])
    base = np.column_stack([np.full(n, H[c]) for c in causes])
    base[:, 0] *= (np.asarray(T["hr_charge_risk"])[risk] * np.exp(F["u_chg"].to_numpy()[f]
                   + T["year_trend_charge"] * year))
    base[:, 2] *= np.asarray(T["hr_withdrawal_risk"])[risk]
    off_mult = np.where(officer > 0, T["officer_hr_charge"], 1.0)
    spo_on = np.ones((n, len(causes)))
    spo_on[:, 0] = T["spo_hr_charge"]
    spo_on[:, 2] = T["spo_hr_withdrawal"]
    rates0 = base.copy()
    rates0[:, 0] *= off_mult
    rates1 = rates0 * spo_on
    R0, R1 = rates0.sum(1), rates1.sum(1)
    d_spo = np.where(need & granted, t_grant - t_s, np.inf)          # SPO in force from here
    e1 = r.exponential(1.0, n)
    first_piece = e1 / R0 < d_spo
    # an SPO already in force at suspect identification (d_spo < 0) applies from then on
    t_out_rel = np.where(first_piece, e1 / R0, np.maximum(d_spo, 0) + r.exponential(1.0, n) / R1)
    probs = np.where(first_piece[:, None], rates0 / R0[:, None], rates1 / R1[:, None])
    cause = _categorical(r, probs)
    t_out = t_s + t_out_rel
    spo_happens = need & (t_app < t_out)          # applications only while the investigation is open
    code = np.where(suspect, codes_of[cause], code_nosuspect)
    t_police = np.where(suspect, t_out, t_nosuspect)
    charged = suspect & (cause == 0)

    # --- reclassification happens while the investigation is open
    t_reclass = t_rec + u_reclass * np.maximum(t_police - t_rec, 0)
    # --- charge offence and court
    stalk_at_charge = rec_stalk | reclass
    charge_stalk = charged & stalk_at_charge & (r.random(n) < T["p_charged_as_stalking"])
    disc = charged & (r.random(n) < T["p_discontinued"])
    disc_reason = r.choice(3, size=n, p=T["p_discontinued_reason"])
    t_disc = t_police + r.exponential(40.0, n)
    pros = charged & ~disc
    t_hear = t_police + r.exponential(14.0, n)
    t_court = t_hear + r.exponential(100.0, n)
    p_conv_s = expit(logit(T["p_convicted_stalking"]) + np.log(T["officer_or_conviction"]) * officer)
    u = r.random(n)
    conv_s = pros & charge_stalk & (u < p_conv_s)
    conv_o = pros & ((charge_stalk & (u >= p_conv_s) & (u < p_conv_s + T["p_convicted_other_given_stalking_charge"] * (1 - p_conv_s) / (1 - T["p_convicted_stalking"])))
                     | (~charge_stalk & (u < T["p_convicted_lesser"])))
    t_sent = t_court + r.exponential(25.0, n)
    cps = charged & (r.random(n) < 0.7)

    # --- breaches: Poisson process after suspect identification while followed
    rate = np.asarray(T["breach_rate_per_year"])[risk] / 365.25
    follow = np.clip(np.minimum(horizon, t_s + 365.0) - t_s, 0, None) * suspect
    nb = r.poisson(rate * follow)
    case_b = np.repeat(np.arange(n), nb)
    t_b = np.floor(t_s[case_b] + r.uniform(0, 1, nb.sum()) * follow[case_b])
    _, first_of_day = np.unique(case_b * 100_000 + t_b.astype(np.int64), return_index=True)  # one breach a day
    case_b, t_b = case_b[first_of_day], t_b[first_of_day]
    spo_in_force = spo_happens & granted

    # --- assemble events (integer codes throughout; categoricals built once from codes)
    idx = np.arange(n)
    detail_cols = [c for c in S.DETAIL_COLUMNS if c != "outcome_code"]
    lookup = {c: {v: i for i, v in enumerate(S.ENUMS[c])} for c in detail_cols}
    ev_code = {e: i for i, e in enumerate(S.EVENTS)}
    parts: dict[str, list] = {"case": [], "t": [], "event": [], "outcome_code": [], **{c: [] for c in detail_cols}}

    def add(mask, t, event, case=None, **details):
        m = np.asarray(mask, bool)
        cases_m = idx[m] if case is None else case
        k = len(cases_m)
        parts["case"].append(cases_m)
        parts["t"].append(np.floor(np.asarray(t, float)[m] if case is None else np.asarray(t, float)))
        parts["event"].append(np.full(k, ev_code[event], np.int8))
        parts["outcome_code"].append(np.asarray(details.pop("outcome_code"))[m] if "outcome_code" in details
                                     else np.full(k, -1, np.int64))
        for c in detail_cols:
            if c in details:
                v = details[c]
                codes_c = np.asarray(v)[m] if case is None and np.ndim(v) else v
                parts[c].append(np.broadcast_to(np.asarray(codes_c, np.int8), (k,)).copy())
            else:
                parts[c].append(np.full(k, -1, np.int8))

    L = lookup
    all_ = np.ones(n, bool)
    stalk_code = np.where(s4a, L["offence"]["stalking_s4a"], L["offence"]["stalking_s2a"])
    mis_code = np.asarray([L["offence"][m] for m in mis_names])[mis]
    add(all_, t0, "reported", risk=risk, relationship=rel)
    add(all_, t_rec, "recorded", offence=np.where(rec_stalk, stalk_code, mis_code))
    add(reclass, t_reclass, "reclassified", offence=stalk_code)
    add(suspect, t_s, "suspect_identified")
    add(arrested & (t_arrest <= t_police), t_arrest, "arrested")
    add(spo_happens, np.minimum(t_need, t_app), "spo_need_identified")
    add(spo_happens & interim, t_app, "spo_interim_applied")
    add(spo_happens & interim & granted, t_grant, "spo_interim_granted")
    add(spo_happens & ~interim, t_app, "spo_full_applied")
    add(spo_happens & ~interim & granted, t_grant, "spo_full_granted")
    add(spo_happens & refused, t_grant, "spo_refused")
    add(all_, t_police, "police_outcome", outcome_code=code)
    add(cps, t_police, "cps_decision", decision=L["decision"]["charge"])
    charge_code = np.where(charge_stalk, stalk_code, np.where(rec_stalk | reclass, L["offence"]["harassment"], mis_code))
    add(charged, t_police, "charged", offence=charge_code)
    add(disc, t_disc, "discontinued", reason=disc_reason)
    add(pros, t_hear, "first_hearing")
    res_code = np.select([conv_s, conv_o, r.random(n) < 0.8], [0, 1, 2], 3)
    add(pros, t_court, "court_outcome", result=res_code)
    add(conv_s | conv_o, t_sent, "sentenced")
    btype_code = np.where(spo_in_force[case_b] & (t_b >= t_grant[case_b]), 0, 1 + r.choice(3, len(case_b), p=[0.2, 0.3, 0.5]))
    add(None, t_b, "order_breach", case=case_b, order_type=btype_code)

    cat = {k: np.concatenate(v) for k, v in parts.items()}
    keep = cat["t"] <= horizon
    cat = {k: v[keep] for k, v in cat.items()}
    order = np.lexsort((cat["event"], cat["t"], cat["case"]))
    cat = {k: v[order] for k, v in cat.items()}
    force_names = sorted(F["force"])
    force_code = np.searchsorted(force_names, F["force"].to_numpy())[f]
    day_ns = np.int64(86_400 * 10**9)
    out = pd.DataFrame({
        "case_id": cat["case"].astype(np.int64) + 1,
        "force": pd.Categorical.from_codes(force_code[cat["case"]], categories=force_names),
        "event": pd.Categorical.from_codes(cat["event"], categories=list(S.EVENTS)),
        "timestamp": (np.int64(start.value) + cat["t"].astype(np.int64) * day_ns).view("datetime64[ns]"),
    })
    for c in S.DETAIL_COLUMNS:
        if c == "outcome_code":
            oc = cat[c]
            out[c] = pd.arrays.IntegerArray(np.where(oc < 0, 0, oc), oc < 0)
        else:
            out[c] = pd.Categorical.from_codes(cat[c], categories=list(S.ENUMS[c]))

    case_truth, marginal = _true_effects(T, rates0, base, d_spo, suspect, officer, charge_stalk, stalk_at_charge,
                                         p_rec, F, f, year)
    # structural per-case quantities, so estimands under other strategies can be computed exactly
    case_truth.insert(0, "case_id", np.arange(1, n + 1, dtype=np.int64))
    case_truth = case_truth.assign(
        officer=officer.astype(bool), risk=risk, suspect=suspect, suspect_day=t_s - t0,
        p_ever_stalking=p_rec + (1 - p_rec) * T["p_reclassified"], p_suspect=p_s,
        spo_need=need, spo_in_force_day=np.where(spo_happens & granted, t_grant - t0, np.inf),
        **{f"hazard_{c}": rates0[:, k] for k, c in enumerate(causes)},
    )
    return out, F, case_truth, marginal, as_of, start


def _fy_starts(start: pd.Timestamp, n_years: int) -> np.ndarray:
    return np.array([(pd.Timestamp(f"{start.year + k}-04-01") - start).days for k in range(n_years)], float)


def _categorical(r: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise categorical probabilities (vectorised inverse CDF)."""
    c = np.cumsum(probs, axis=1)
    u = r.random(len(probs))[:, None] * c[:, -1:]
    return (u > c).sum(axis=1)


def _spo_multiplier(F, T, need_p, f, year) -> np.ndarray:
    """Per-force multiplier of the SPO need probability giving each force its target applications a year."""
    per_force_need = np.bincount(f, weights=need_p, minlength=len(F)) / T["n_years"]
    # about p_suspect * (share of needs applied for before the investigation closes) turn into applications
    reach = T["p_suspect"] * 0.55
    return F["spo_target"].to_numpy() / np.maximum(per_force_need * reach, 1e-9)


def _force_year_table(F: pd.DataFrame, T: dict, events: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    years = [_fy_label(T["first_year"] + k) for k in range(T["n_years"])]
    rows = F.loc[F.index.repeat(T["n_years"])].reset_index(drop=True)
    rows["year_index"] = np.tile(np.arange(T["n_years"]), len(F))
    rows["financial_year"] = np.asarray(years)[rows["year_index"]]
    rows["dedicated_stalking_officer"] = rows["year_index"] >= rows["officer_from"]
    apps = events[events["event"].isin(["spo_interim_applied", "spo_full_applied"])]
    from .sources.events import financial_year

    counts = apps.groupby([apps["force"].astype(str), financial_year(apps["timestamp"]).to_numpy()]).size()
    rows["spo_applications"] = [int(counts.get((fo, fy), 0)) for fo, fy in zip(rows["force"], rows["financial_year"])]
    keep = ["force", "ons_code", "region", "country", "financial_year", "dedicated_stalking_officer",
            "foi_responded", "foi_spo_reported", "spo_applications", "log_size"]
    return rows[keep]


def _true_effects(T, rates0, base, d_spo, suspect, officer, charge_stalk, stalk_at_charge, p_rec, F, f, year):
    """Closed-form long-run probabilities of charge and conviction for every case, with and without a
    dedicated officer; their averages are the true marginal effects."""
    spo_on = np.ones(base.shape[1])
    spo_on[0], spo_on[2] = T["spo_hr_charge"], T["spo_hr_withdrawal"]

    def p_charge(officer_value):
        r0 = base.copy()
        r0[:, 0] *= np.where(officer_value > 0, T["officer_hr_charge"], 1.0)
        r1 = r0 * spo_on
        R0, R1 = r0.sum(1), r1.sum(1)
        d = np.where(np.isfinite(d_spo), d_spo, np.inf)
        surv = np.exp(-R0 * np.where(np.isfinite(d), np.maximum(d, 0), np.inf))
        return suspect * ((r0[:, 0] / R0) * (1 - surv) + surv * (r1[:, 0] / R1))

    a_rec = logit(T["p_recorded_stalking"])
    out = {}
    per_case = {}
    for o in (0.0, 1.0):
        pc = p_charge(np.full_like(officer, o))
        prec = expit(a_rec + F["u_rec"].to_numpy()[f] + np.log(T["officer_or_recording"]) * o)
        p_stalk_at_charge = prec + (1 - prec) * T["p_reclassified"]
        pconv = expit(logit(T["p_convicted_stalking"]) + np.log(T["officer_or_conviction"]) * o)
        pcs = pc * p_stalk_at_charge * T["p_charged_as_stalking"] * (1 - T["p_discontinued"]) * pconv
        per_case[f"p_charged_officer{int(o)}"] = pc
        per_case[f"p_convicted_officer{int(o)}"] = pcs
    for y in ("charged", "convicted"):
        p1, p0 = per_case[f"p_{y}_officer1"].mean(), per_case[f"p_{y}_officer0"].mean()
        out[f"officer_{y}_risk1"] = float(p1)
        out[f"officer_{y}_risk0"] = float(p0)
        out[f"officer_{y}_rd"] = float(p1 - p0)
        out[f"officer_{y}_rr"] = float(p1 / p0)
        out[f"officer_{y}_or"] = float(p1 / (1 - p1) / (p0 / (1 - p0)))
    return pd.DataFrame(per_case), out


def true_stage_rates(data: SyntheticData, by: str | None = "force") -> pd.DataFrame:
    r"""True long-run stage conversion probabilities of a simulated dataset, by group.

    Parameters
    ----------
    data : SyntheticData
        Output of :func:`simulate` (uses ``case_truth`` and the ``force``/``financial_year`` of ``cases``).
    by : str or None, default "force"
        A column of ``data.cases`` (``"force"``, ``"financial_year"``) or ``None`` (national).

    Returns
    -------
    pandas.DataFrame, shape (G, 5)
        Indexed by group, one column per funnel stage but the last (``attrition.standard.STAGES[:-1]``):
        the true probability that a case entering the stage reaches the next one.

    Notes
    -----
    **Estimand.** For group :math:`g` and stage :math:`k`,
    :math:`\theta_{gk} = \sum_{i\in g} P_i(\text{reach } k+1) / \sum_{i\in g} P_i(\text{reach } k)`,
    the ratio of expected counts over the group's reports, each report with its own case mix (force,
    year, risk, relationship, officer) — the rate the group would show if the same reports were followed
    to closure again and again: what the funnel's estimate of the stage converges to as the group grows.
    Per report the probabilities are closed form (module docstring): recorded or reclassified as stalking
    :math:`e_i`, suspect identified :math:`s_i`, charged given a suspect :math:`c_i` (the two-piece hazard
    model, given the report's SPO timing), not discontinued :math:`1-d`, convicted of stalking when
    prosecuted :math:`q_i` (charged as stalking times the conviction probability). Charging is averaged
    over the reports that had a suspect (:math:`c_i` is defined given one; suspect identification depends
    on the relationship only, which does not enter the charge model, so this does not bias it):
    :math:`\theta_{g,\text{suspect}} = \sum_{i\in g, s} e_i c_i / \sum_{i\in g, s} e_i`.
    """
    from .standard import STAGES

    ct = data.case_truth
    if ct is None or not {"p_ever_stalking", "p_suspect"} <= set(ct.columns):
        raise ValueError("data.case_truth lacks p_ever_stalking/p_suspect: simulate the data with this version")
    T = data.truth
    cases = data.cases.set_index("case_id")
    off = ct["officer"].to_numpy(bool)
    e = ct["p_ever_stalking"].to_numpy(float)
    s = ct["p_suspect"].to_numpy(float)
    sus = ct["suspect"].to_numpy(bool)
    c = np.where(off, ct["p_charged_officer1"], ct["p_charged_officer0"]).astype(float)  # 0 without a suspect
    pconv = expit(logit(T["p_convicted_stalking"]) + np.log(T["officer_or_conviction"]) * off)
    q = T["p_charged_as_stalking"] * pconv
    if by is None:
        g = np.zeros(len(ct), np.int64)
        labels = pd.Index(["all"], name="group")
    else:
        col = cases[by].reindex(ct["case_id"].to_numpy())
        if col.isna().any():
            raise ValueError(f"some simulated cases have no {by!r} in data.cases")
        g, uniq = pd.factorize(col.astype(str), sort=True)
        labels = pd.Index(uniq, name="group")
    G = len(labels)

    def tot(v):
        return np.bincount(g, weights=v, minlength=G)

    num = {
        STAGES[0]: (tot(e), tot(np.ones_like(e))),
        STAGES[1]: (tot(e * s), tot(e)),
        STAGES[2]: (tot(e * c * sus), tot(e * sus)),
        STAGES[3]: (np.full(G, 1.0 - T["p_discontinued"]), np.ones(G)),
        STAGES[4]: (tot(e * c * q * sus), tot(e * c * sus)),
    }
    return pd.DataFrame({k: a / b for k, (a, b) in num.items()}, index=labels)


@lru_cache(maxsize=1)
def default_dataset() -> SyntheticData:
    """The embedded default national dataset (``simulate(random_state=DEFAULT_SEED)``), cached."""
    return simulate(random_state=DEFAULT_SEED)
