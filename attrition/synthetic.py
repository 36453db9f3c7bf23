"""A synthetic national dataset of stalking journeys with known truth.

Real case-level data are not public, so ``attrition`` ships a structural model of the journey from report
to conviction, calibrated to the published national figures (``data/published/published_figures.csv``)
and with known true effects of dedicated stalking officers and timely Stalking Protection Orders. It is a
world to test estimators in, never a finding: its mechanisms come from the domain, not from the models we
fit, and the assumptions those models rely on can be switched off to show what breaks.

The model, per case (times in days; report, suspect identification, SPO and order dates on whole days):

1. **Forces** have a size, a latent *investigative quality* ``q_f`` (normal, sd ``force_sd_quality``),
   recording and charging random effects, SPO practices (probability and log-normal delay of interim
   and full applications, the need multiplier that gives each force its FOI band of applications) and a
   rate of recording repeat breaches as stalking. ``n_officer_forces_initial`` forces have a dedicated
   stalking officer from the first year and ``n_officer_forces_adopting`` adopt one in the last, drawn in
   proportion to size (times ``exp(officer_confounding * q_f / sd)`` when that switch is on); with
   ``officer_adoption_years`` the adopters start in the given years, in random order (a stepped-wedge
   roll-out).
2. **Report** uniformly over ``n_years`` financial years; the force in proportion to its size times a
   force-level report trend (``n_pcc_forces`` forces whose PCC committed to raising reports grow by
   ``pcc_report_growth`` a year on the log scale). Case mix: ``risk``, ``relationship`` and ``online``
   (digital evidence / cyberstalking; more often strangers and acquaintances).
3. **Recording** as stalking with probability ``expit(a + u_f + officer)``, otherwise as a lesser offence.
   A misrecorded case is reclassified as stalking after a log-normal delay (``p_reclassified``) or, at the
   force's rate, on the second breach of bail conditions or a non-molestation order (two breaches are a
   course of conduct). Until it is reclassified a misrecorded case has a lower charge hazard
   (``hr_charge_misrecorded``), a lower chance that an SPO need is recognised
   (``p_need_recognised_misrecorded``; otherwise recognised on reclassification) and cannot be charged as
   stalking.
4. **Suspect identification** (less likely for strangers and online cases, more likely in forces of higher
   quality; never affected by an officer, so it is a valid negative-control outcome); arrest on or after it.
5. **SPOs.** A need (probability by risk times the force multiplier) is recognised on a day after suspect
   identification and always logged (``spo_need_identified``) if the investigation is still open. An
   interim application (force practice, more likely for high risk) comes on or after the need, at a
   log-normal delay from suspect identification (time zero of the interim trial); a full application at a
   log-normal delay from the need (``inf``: never), both only while the investigation is open; grants
   and refusals follow. ``spo_policy`` replaces the natural delays by a strategy's (see
   :func:`strategy_risks`).
6. **Police investigation** from suspect identification: competing cause-specific hazards of charge (1),
   evidential difficulties with victim support (15), victim not supporting (16), public interest (21),
   out-of-court (8), other (17) and transfer (20), piecewise constant in time since suspect identification
   (``hazard_breaks``; shapes ``*_shape``: early charging, early withdrawals, evidential closures later),
   multiplied by risk, force (random effect, size, ``q_f``), year, a dedicated officer
   (``officer_hr_charge``), misrecording (until reclassified), ``online`` (evidential difficulties x
   ``hr_ho15_online``; a charge multiplier per piece, ``hr_charge_online``: non-proportional), an SPO in
   force (``spo_hr_charge``, ``spo_hr_withdrawal``) and escalation (switch below). Hazards are neither
   constant nor proportional, so a constant-hazard or a proportional Cox model is not the truth.
7. **Court**: a share of charges is discontinued; the rest are heard and end in a conviction for stalking
   (only if charged as stalking; odds raised by a dedicated officer), for another offence, acquittal or
   dismissal.
8. **Orders and breaches.** Bail conditions (from arrest to the police outcome, or the court outcome when
   charged), a non-molestation order (civil; ex-partners and family, ``p_non_molestation``, one year),
   the SPO (from the first grant, two years) and a restraining order (at conviction, two years). Breaches
   come as a Poisson process (``breach_rate_per_year`` by risk) only while an order exists.
9. Everything after the extraction date ``as_of`` is cut off (right censoring).

**Adversarial switches** (all off by default; effect sizes as documented here and tested in
``tests/test_synthetic_world.py``):

* ``officer_confounding`` (log-odds per standard deviation of ``q_f``): forces of higher quality are more
  likely to adopt an officer, and to adopt first. Quality raises suspect identification (odds x
  ``exp(quality_suspect_coef * q)``) and the charge hazard (x ``exp(quality_charge_coef * q)``), so
  adoption is confounded by a force-level trait no extract records; suspect identification, which an officer
  does not change, shows it (negative control). At 2, adopting forces' mean quality is about 1 sd above
  the others'.
* ``escalation`` (log scale): a case escalates at its first breach (bail or non-molestation order) or a
  risk upgrade (rate ``escalation_rate_per_year`` by risk). With the switch at ``s``, escalation raises
  the victim-withdrawal hazard by ``exp(s)`` from then on, makes a need recognised then with probability
  ``1 - exp(-s)`` and brings a pending full application forward to the next day with that probability:
  time-varying confounding of SPO timing. 0 = escalation changes nothing.
* ``informative_censoring`` (probability): a case still open at ``as_of`` is left out of the extract with
  probability ``informative_censoring * exp(-days to its closing / 90)``, so cases nearer to an outcome
  are cut most (at 0.8 about two thirds of those closing within 30 days of ``as_of`` are lost).
* ``risk_missing_mnar`` (probability): the risk assessment is missing from the report for a share
  ``risk_missing_mnar`` of high-risk cases and half that of medium-risk ones (none of standard), on top of
  ``p_risk_missing`` missing completely at random.

Everything random is drawn before the SPO strategy is applied, so two simulations with the same seed
differ only through the strategy (common random numbers). ``truth`` holds the structural parameters and
the true marginal officer effects (long-run probabilities of charge and conviction with and without an
officer, exact for the piecewise-constant model, averaged over the simulated cases); ``case_truth`` holds
the per-case structure (time zeros of the SPO trials, quality, online, latent outcome).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri

from . import standard as S
from ._utils import check_random_state
from .config import DEFAULT_SEED
from .sources.forces import load_force_table

__all__ = ["simulate", "SyntheticData", "DEFAULT_TRUTH", "default_dataset", "FORCE_SIZE", "true_stage_rates",
           "strategy_risks", "TRIALS", "SIMPLE_WORLD"]

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
    # reports: force-level trends (log scale per year)
    "force_sd_report_trend": 0.05,
    "n_pcc_forces": 8,              # forces whose PCC committed to raising stalking reports
    "pcc_report_growth": 0.15,
    # case mix
    "p_risk": (0.60, 0.30, 0.10),   # standard, medium, high
    "p_relationship": (0.50, 0.05, 0.25, 0.10, 0.10),  # ex_partner, family, acquaintance, stranger, unknown
    "p_online": 0.25,               # digital evidence / cyberstalking (ex-partner reference)
    "or_online_stranger": 3.0,      # odds ratio for strangers, acquaintances and unknown
    "p_risk_missing": 0.0,          # risk assessment missing completely at random
    # recording
    "p_recorded_stalking": 0.55,    # initially recorded as stalking (national mean)
    "force_sd_recording": 0.5,      # force random effect, logit scale
    "p_reclassified": 0.50,         # misrecorded cases that would be reclassified in time (log-normal delay)
    "reclass_delay_median_days": 20.0,
    "p_breach_reclass": 0.5,        # force mean chance a misrecorded case is reclassified on its 2nd breach
    "force_sd_breach_reclass": 0.5,  # logit scale
    "misrecord_offences": {"harassment": 0.60, "malicious_communications": 0.25, "criminal_damage": 0.05, "other": 0.10},
    "officer_or_recording": 1.5,    # dedicated officer: odds ratio of recording as stalking
    "hr_charge_misrecorded": 0.6,   # charge hazard while recorded as a lesser offence
    "p_need_recognised_misrecorded": 0.35,  # SPO need recognised on time while recorded as a lesser offence
    # force investigative quality (an unmeasured force-level confounder)
    "force_sd_quality": 0.3,
    "quality_suspect_coef": 1.0,    # log-odds of suspect identification per unit of quality
    "quality_charge_coef": 1.0,     # log charge hazard per unit of quality
    # suspect
    "p_suspect": 0.90,
    "or_suspect_stranger": 0.25,
    "or_suspect_online": 0.6,
    # police investigation: baseline cause-specific hazards per day, from suspect identification
    "hazards": {"charge": 0.0012, "ho15": 0.0069, "ho16": 0.0141, "ho21": 0.00075, "ho8": 0.0005,
                "ho17": 0.0002, "ho20": 0.00025},
    "hazard_breaks": (30.0, 120.0),          # days since suspect identification: three pieces
    "charge_shape": (1.5, 1.0, 0.6),         # piecewise multipliers of the charge hazard
    "withdrawal_shape": (1.3, 0.9, 0.6),     # ... of the victim-withdrawal (HO 16) hazard
    "evidential_shape": (0.8, 1.1, 1.3),     # ... of the evidential-difficulty (HO 15) hazard
    "hr_charge_online": (0.5, 0.9, 1.1),     # online cases: charge multiplier per piece (non-proportional)
    "hr_ho15_online": 2.0,                   # online cases: evidential difficulties
    "hr_charge_risk": (1.0, 1.4, 2.0),       # standard, medium, high
    "hr_withdrawal_risk": (1.0, 1.1, 1.2),
    "force_sd_charge": 0.30,                 # force random effect on log charge hazard
    "force_size_charge": -0.10,              # log-hazard per log(size): larger forces charge less
    "year_trend_charge": -0.05,              # log-hazard per year
    "officer_hr_charge": 1.8,                # TRUE effect of a dedicated officer on the charge hazard
    # SPOs
    "p_spo_need_risk": (0.004, 0.015, 0.06),  # per case, by risk, before the force multiplier
    "spo_need_delay_median_days": 5.0,        # suspect identification -> need (log-normal, sd 1)
    "p_spo_interim_risk": (0.15, 0.30, 0.55),  # share of needs that go for an interim order (force-varying)
    "spo_interim_delay_median_days": 3.0,     # suspect identification -> interim application (force median)
    "spo_interim_delay_sd": 1.0,              # log-normal sd within a force
    "p_spo_full_applied": 0.75,               # needs that ever get a full application (force mean)
    "spo_full_delay_median_days": 21.0,       # need -> full application (force median)
    "spo_full_delay_sd": 1.0,
    "force_sd_spo_practice": 0.7,             # between-force sd of the log median delays
    "spo_grant_delay_days": (1.0, 14.0),      # application -> grant, median (log-normal), interim and full
    "p_spo_granted": 0.78, "p_spo_refused": 0.05,
    "spo_hr_charge": 1.5,                     # TRUE effect of an SPO in force on the charge hazard
    "spo_hr_withdrawal": 0.6,                 # TRUE effect on the victim-withdrawal (HO 16) hazard
    # court
    "p_charged_as_stalking": 0.85,            # when recorded as stalking at charge
    "p_discontinued": 0.20,
    "p_discontinued_reason": (0.5, 0.4, 0.1),  # victim_withdrawal, evidential, public_interest
    "p_convicted_stalking": 0.62,             # prosecuted on a stalking charge
    "officer_or_conviction": 1.4,             # TRUE effect of a dedicated officer on conviction odds
    "p_convicted_other_given_stalking_charge": 0.12,
    "p_convicted_lesser": 0.70,               # prosecuted on a lesser charge
    # orders and breaches
    "p_bail_conditions": 0.7,                 # arrested suspects released on bail with conditions
    "p_non_molestation": 0.10,                # ex-partner and family cases with a non-molestation order
    "p_restraining_order": 0.6,               # convictions with a restraining order
    "breach_rate_per_year": (0.4, 0.8, 1.6),  # by risk, while an order exists
    "escalation_rate_per_year": (0.2, 0.4, 0.8),  # risk upgrades, by risk
    # forces
    "n_officer_forces_initial": 4, "n_officer_forces_adopting": 3,   # 7 by the last year
    "n_foi_responding": 27,
    "foi_spo_bands": (12, 8, 3),             # forces reporting <=10, 11-30, >30 SPO applications
    "foi_spo_targets": (4.0, 19.0, 52.0),    # expected applications in the last year per band
    # adversarial switches (off)
    "officer_confounding": 0.0,
    # stepped-wedge roll-out: start year (index 1 .. n_years - 1) of each adopting force, taken in random
    # order; None = every adopting force starts in the last year
    "officer_adoption_years": None,
    "escalation": 0.0,
    "informative_censoring": 0.0,
    "risk_missing_mnar": 0.0,
}

#: Truth overrides that switch off what the earlier estimators did not model: hazards constant in time
#: (but for an SPO coming into force), misrecording that does not change charging or SPO-need recognition,
#: no force quality. ``simulate(**SIMPLE_WORLD)`` shows an estimator where its assumptions hold.
SIMPLE_WORLD: dict = {
    "charge_shape": (1.0, 1.0, 1.0), "withdrawal_shape": (1.0, 1.0, 1.0), "evidential_shape": (1.0, 1.0, 1.0),
    "hr_charge_online": (1.0, 1.0, 1.0), "hr_charge_misrecorded": 1.0, "p_need_recognised_misrecorded": 1.0,
    "force_sd_quality": 0.0,
}

_CAUSES = ("charge", "ho15", "ho16", "ho21", "ho8", "ho17", "ho20")
_CAUSE_CODES = np.array([1, 15, 16, 21, 8, 17, 20])
_ORDER_LIFE = {"spo": 730.0, "restraining_order": 730.0, "non_molestation_order": 365.0}
#: The SPO target trials of :func:`strategy_risks`: policy key, window (days) and time-zero column.
TRIALS = {"full28": ("full", 28, "time_zero_full28"), "interim48": ("interim", 2, "time_zero_interim48"),
          "interim48_need": ("interim", 2, "time_zero_interim48_need")}


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
    case_truth : pandas.DataFrame
        One row per simulated case (also those left out of the extract: ``in_extract``), by ``case_id``.
        Days are counted from the report (``inf``: never or not eligible). ``spo_need_day`` (need logged),
        ``time_zero_full28`` and ``time_zero_interim48`` (time zero of each SPO trial of
        :func:`strategy_risks` where the case is eligible as the extract shows it), ``spo_in_force_day``,
        ``suspect_day``, ``police_outcome_day`` and ``police_outcome_code`` (the latent police outcome, also
        after ``as_of``), ``closed_day``, ``as_of_day``, ``escalation_day``, ``non_molestation_day``;
        case traits ``risk`` (true, also where the log misses it), ``online``, ``quality`` (the force's
        latent investigative quality), ``officer``, ``suspect``; exact probabilities ``p_suspect``,
        ``p_charged_officer0/1``, ``p_convicted_officer0/1`` (long run, with and without an officer),
        ``p_ever_stalking`` (and ``_suspect``/``_nosuspect``), ``p_stalking_charged``; ``hazard_*``, the
        cause-specific hazards at suspect identification (the first piece only: they change later).
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
    """Force-level traits: size, quality, random effects, officers, FOI response, SPO practice, trends."""
    T = truth
    ft = load_force_table()[["force", "ons_code", "region", "country"]].copy()
    nf = len(ft)
    size = ft["force"].map(FORCE_SIZE).to_numpy(float)
    log_size = np.log(size / np.exp(np.log(size).mean()))
    u_rec = rng.normal(0, T["force_sd_recording"], nf)
    u_chg = T["force_size_charge"] * log_size + rng.normal(0, T["force_sd_charge"], nf)
    z_q = rng.standard_normal(nf)
    # centre the force effects on the report-weighted national mean, so national rates do not drift by seed
    u_rec -= np.average(u_rec, weights=size)
    u_chg -= np.average(u_chg, weights=size)
    z_q -= np.average(z_q, weights=size)
    quality = T["force_sd_quality"] * z_q
    # officers: larger forces (and, with officer_confounding, forces of higher quality) more likely to have
    # one, and to have one first: a weighted draw without replacement in order (Gumbel top-k)
    n_init, n_adopt = T["n_officer_forces_initial"], T["n_officer_forces_adopting"]
    eligible = (ft["force"] != "London, City of").to_numpy()
    gumbel = rng.gumbel(size=nf)
    key = np.where(eligible, np.log(size) + T["officer_confounding"] * z_q + gumbel, -np.inf)
    chosen = np.argsort(-key, kind="stable")[: n_init + n_adopt]
    officer_from = np.full(nf, np.inf)
    officer_from[chosen[:n_init]] = 0
    steps = T["officer_adoption_years"]
    if steps is None:
        officer_from[chosen[n_init:]] = T["n_years"] - 1  # adopt at the start of the last year
    else:
        steps = np.asarray(steps)
        if (steps.shape != (n_adopt,) or not np.issubdtype(steps.dtype, np.integer)
                or steps.min(initial=1) < 1 or steps.max(initial=1) > T["n_years"] - 1):
            raise ValueError(
                f"officer_adoption_years must give one start year (an integer index from 1 to n_years - 1 = "
                f"{T['n_years'] - 1}) for each of the {n_adopt} adopting forces, got {T['officer_adoption_years']!r}"
            )
        # a randomised roll-out (stepped wedge): the adopting forces take the start years in random order
        officer_from[chosen[n_init:]] = np.random.default_rng(rng.integers(2**63)).permutation(steps)
    # FOI: responding forces include all officer forces; SPO bands among the first responders
    others = np.setdiff1d(np.arange(nf), chosen)
    respond = np.r_[chosen, rng.choice(others, T["n_foi_responding"] - len(chosen), replace=False)]
    responded = np.isin(np.arange(nf), respond)
    bands = T["foi_spo_bands"]
    reporting = rng.permutation(respond)[: sum(bands)]
    band_of = rng.choice(3, size=nf, p=np.asarray(bands) / sum(bands))
    band_of[reporting] = np.repeat([0, 1, 2], bands)
    target = np.asarray(T["foi_spo_targets"])[band_of] * rng.uniform(0.8, 1.2, nf)
    # report trends: a few forces whose PCC committed to raising reports
    trend = rng.normal(0, T["force_sd_report_trend"], nf)
    trend[rng.choice(np.flatnonzero(eligible), T["n_pcc_forces"], replace=False)] += T["pcc_report_growth"]
    # SPO practice and repeat-breach recording
    sd = T["force_sd_spo_practice"]
    return ft.assign(
        size=size, log_size=log_size, u_rec=u_rec, u_chg=u_chg, quality=quality, officer_from=officer_from,
        foi_responded=responded, foi_spo_reported=np.isin(np.arange(nf), reporting), spo_band=band_of,
        spo_target=target, report_trend=trend,
        interim_mult=np.exp(rng.normal(0, 0.5, nf)),
        mu_interim=np.log(T["spo_interim_delay_median_days"]) + rng.normal(0, sd, nf),
        p_full=expit(logit(T["p_spo_full_applied"]) + rng.normal(0, 1.0, nf)),
        mu_full=np.log(T["spo_full_delay_median_days"]) + rng.normal(0, sd, nf),
        p_breach_reclass=expit(logit(T["p_breach_reclass"]) + rng.normal(0, T["force_sd_breach_reclass"], nf)),
    )


def _check_truth(truth: dict) -> dict:
    unknown = sorted(set(truth) - set(DEFAULT_TRUTH))
    if unknown:
        raise ValueError(f"Unknown truth parameter(s) {unknown}; see attrition.synthetic.DEFAULT_TRUTH.")
    T = {**DEFAULT_TRUTH, **truth}
    for k in ("informative_censoring", "risk_missing_mnar", "p_risk_missing"):
        if not 0 <= T[k] <= 1:
            raise ValueError(f"{k} is a probability in [0, 1], got {T[k]!r}")
    return T


def _check_policy(spo_policy) -> dict:
    if spo_policy is None:
        return {}
    if not isinstance(spo_policy, dict) or set(spo_policy) - {"full", "interim"}:
        raise ValueError("spo_policy is None or a dict with keys 'full' and/or 'interim', each a callable "
                         f"f(natural_delay, rng) -> delay; got {spo_policy!r}")
    for k, v in spo_policy.items():
        if not callable(v):
            raise ValueError(f"spo_policy[{k!r}] must be callable f(natural_delay, rng) -> delay, got {v!r}")
    return spo_policy


def simulate(n_cases: int | None = None, *, random_state=None, as_of=None, spo_policy=None,
             **truth) -> SyntheticData:
    """Simulate a national dataset of stalking journeys with known truth.

    Parameters
    ----------
    n_cases : int, optional
        Number of reports. Default ``reports_per_year * n_years`` (360,000).
    random_state : None, int or numpy.random.Generator
        Seed; the same seed gives identical data.
    as_of : date-like, optional
        Extraction date. Default: ``extraction_lag_days`` after the end of the last financial year.
    spo_policy : dict, optional
        ``None``: the natural course. Otherwise ``{"full": f, "interim": g}`` (either key optional), each a
        callable ``f(natural_delay, rng) -> delay`` mapping every case's natural delay in days (an array of
        length ``n_cases``; ``numpy.inf`` = never) to its delay under the strategy: for ``"full"`` from the
        need to the full application, for ``"interim"`` from time zero of the interim trial (suspect
        identification or arrest, whichever first) to the interim application. Delays are floored to whole
        days. ``rng`` is a stream of its own, so with the same ``random_state`` every other draw is the
        same whatever the policy (common random numbers). An application still happens only while the
        investigation is open.
    **truth
        Any key of :data:`DEFAULT_TRUTH` (e.g. ``officer_hr_charge=1.0`` for no officer effect).

    Returns
    -------
    SyntheticData

    Raises
    ------
    ValueError
        Unknown truth parameter, an invalid value or policy.

    Examples
    --------
    >>> from attrition.synthetic import simulate
    >>> data = simulate(n_cases=20_000, random_state=1)
    >>> round(data.cases["charged"].mean(), 2)  # doctest: +SKIP
    0.05
    """
    T = _check_truth(truth)
    policy = _check_policy(spo_policy)
    if n_cases is None:
        n_cases = int(T["reports_per_year"] * T["n_years"])
    if int(n_cases) < 1:
        raise ValueError(f"n_cases must be a positive integer, got {n_cases!r}")
    n = int(n_cases)
    rng = check_random_state(random_state)
    world = _simulate_world(n, T, rng, as_of, policy)
    events, case_truth, marginal = _assemble(world, T)
    from .sources.events import to_cases

    F, as_of, start = world["F"], world["as_of"], world["start"]
    cases = to_cases(events, as_of=as_of)
    forces = _force_year_table(F, T, events, start)
    truth_out = {**T, **marginal, "as_of": as_of, "n_cases": n}
    return SyntheticData(events=events, cases=cases, forces=forces, truth=truth_out, as_of=as_of, case_truth=case_truth)


# ----------------------------------------------------------------------------------- piecewise hazards
def _cum_hazard(starts, ends, R):
    """Integrated total hazard of each interval and at each interval's start."""
    with np.errstate(invalid="ignore"):     # inf - inf of unused intervals, masked
        length = np.where(np.isfinite(starts), ends - starts, 0.0)
    H = np.where(length > 0, R * length, 0.0)
    H_end = np.cumsum(H, axis=1)
    return H, np.concatenate([np.zeros((len(H), 1)), H_end[:, :-1]], axis=1)


def _draw_exit(pieces, e: np.ndarray, u: np.ndarray):
    """Exit time and cause (index) for unit-exponential ``e`` and uniform ``u`` (inverse transform)."""
    starts, ends, rates, R = pieces
    H, H0 = _cum_hazard(starts, ends, R)
    j = ((H0 + H) <= e[:, None]).sum(1)
    j = np.minimum(j, starts.shape[1] - 1)
    rows = np.arange(len(e))
    t = starts[rows, j] + (e - H0[rows, j]) / R[rows, j]
    p = np.column_stack([r[rows, j] for r in rates]) / R[rows, j][:, None]
    c = np.cumsum(p, axis=1)
    cause = (u[:, None] * c[:, -1:] > c).sum(1)
    return t, cause


def _survivals(pieces):
    """Survival at the start and at the end of every interval (n, J) each."""
    starts, ends, _, R = pieces
    H, H0 = _cum_hazard(starts, ends, R)
    return np.exp(-H0), np.exp(-(H0 + H))


def _cif(pieces, k: int, t=None, surv=None) -> np.ndarray:
    """Probability of exit by cause ``k`` by time ``t`` (per case; ``None`` = ever) under the pieces."""
    starts, ends, rates, R = pieces
    S0, S1 = _survivals(pieces) if surv is None else surv
    share = rates[k] / R
    if t is None:
        return np.sum(share * (S0 - S1), axis=1)
    t = np.asarray(t, float)[:, None]
    with np.errstate(invalid="ignore"):
        span = np.where(np.isfinite(starts) & (t > starts), np.minimum(ends, t) - starts, 0.0)
    return np.sum(share * S0 * -np.expm1(-R * span), axis=1)


def _lognormal_q(mu, sd, u):
    """Log-normal quantile ``exp(mu + sd * Phi^-1(u))``."""
    return np.exp(mu + sd * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))


class _Arm:
    """A trial arm: apply within ``window`` days (``within=True``) or not.

    Called by the generator with the natural delays and each case's natural delay distribution (probability
    of ever, log-normal ``mu``/``sd`` of the continuous delay whose floor is the day count): keeps a natural
    delay that already follows the arm; otherwise draws from the case's distribution truncated to the arm
    (``within``: ``[0, window + 1)`` days; not ``within``: ``[window + 1, inf)`` or never, with the
    natural probability of never given no application within the window).

    ``from_need=True`` (trial ``interim48_need``): the window is counted from the day the need is recognised,
    passed per case as ``offset`` (need day minus the origin of the delays), so "within" is an application on
    days ``offset .. offset + window`` of the delay (the generator never applies before the need).
    """

    def __init__(self, window: int, within: bool, from_need: bool = False):
        self.window, self.within, self.from_need = int(window), bool(within), bool(from_need)

    def __call__(self, natural, rng, dist=None, offset=0.0):
        if dist is None:
            raise TypeError("a trial arm needs the generator's delay distributions")
        p_ever, mu, sd = dist
        natural = np.asarray(natural, float)
        window = self.window + np.asarray(offset, float)
        u, v = rng.random(len(natural)), rng.random(len(natural))
        with np.errstate(invalid="ignore"):
            F_w = ndtr((np.log(window + 1.0) - mu) / sd)
        if self.within:
            keep = natural <= window
            draw = _lognormal_q(mu, sd, u * F_w)
            return np.where(keep, natural, np.minimum(np.floor(draw), window))
        keep = natural > window
        p_never = np.where(p_ever < 1, (1 - p_ever) / np.maximum(1 - p_ever * F_w, 1e-300), 0.0)
        draw = np.maximum(np.floor(_lognormal_q(mu, sd, F_w + u * (1 - F_w))), window + 1)
        return np.where(keep, natural, np.where(v < p_never, np.inf, draw))


def _apply_policy(fn, natural, rng, dist):
    out = fn(natural, rng, dist) if isinstance(fn, _Arm) else fn(natural.copy(), rng)
    out = np.asarray(out, float)
    if out.shape != natural.shape or np.any(np.isnan(out)) or np.any(out < 0):
        raise ValueError("an spo_policy callable must return one non-negative delay (days, inf = never) per case")
    return np.floor(out)


# ----------------------------------------------------------------------------------------- the world
def _simulate_world(n: int, T: dict, rng: np.random.Generator, as_of, policy: dict) -> dict:
    """All draws, then the SPO timeline (under ``policy``), the police outcome and the court stage."""
    rng_forces, rng_cases, rng_policy, rng_post = rng.spawn(4)
    F = _force_table(T, rng_forces)
    start = pd.Timestamp(f"{T['first_year']}-04-01")
    n_days = int((pd.Timestamp(f"{T['first_year'] + T['n_years']}-04-01") - start).days)
    as_of = pd.Timestamp(as_of) if as_of is not None else start + pd.Timedelta(days=n_days + T["extraction_lag_days"] - 1)
    horizon = float((as_of - start).days)
    r = rng_cases
    nf = len(F)

    # --- report day, year, force (with force-level report trends), case mix
    t0 = np.floor(r.uniform(0, n_days, n))
    year = np.searchsorted(_fy_starts(start, T["n_years"]), t0, side="right") - 1
    wy = F["size"].to_numpy()[None, :] * np.exp(F["report_trend"].to_numpy()[None, :] * np.arange(T["n_years"])[:, None])
    cum = np.cumsum(wy / wy.sum(1, keepdims=True), axis=1)
    f = np.minimum((r.random(n)[:, None] > cum[year]).sum(1), nf - 1)
    risk = r.choice(3, size=n, p=T["p_risk"])
    rel = r.choice(5, size=n, p=T["p_relationship"])
    online = r.random(n) < expit(logit(T["p_online"]) + np.log(T["or_online_stranger"]) * np.isin(rel, (2, 3, 4)))
    officer = (year >= F["officer_from"].to_numpy()[f]).astype(float)
    q = F["quality"].to_numpy()[f]
    u_missing = r.random(n)

    # --- recording and reclassification (natural delay; the breach route below)
    p_rec = expit(logit(T["p_recorded_stalking"]) + F["u_rec"].to_numpy()[f] + np.log(T["officer_or_recording"]) * officer)
    rec_stalk = r.random(n) < p_rec
    s4a = r.random(n) < 0.3
    mis_names = list(T["misrecord_offences"])
    mis = r.choice(len(mis_names), size=n, p=list(T["misrecord_offences"].values()))
    t_rec = t0 + r.geometric(0.6, n) - 1
    reclass_nat = np.where(r.random(n) < T["p_reclassified"],
                           t_rec + np.ceil(_lognormal_q(np.log(T["reclass_delay_median_days"]), 1.0, r.random(n))), np.inf)
    u_breach_reclass = r.random(n)

    # --- suspect, arrest
    p_s = expit(logit(T["p_suspect"]) + np.log(T["or_suspect_stranger"]) * (rel == 3)
                + np.log(T["or_suspect_online"]) * online + T["quality_suspect_coef"] * q)
    suspect = r.random(n) < p_s
    t_s = t0 + np.floor(r.exponential(5.0, n))
    arrested = r.random(n) < 0.55
    t_arrest = t_s + np.floor(r.exponential(2.0, n))
    t_nosuspect = t0 + r.exponential(35.0, n)
    code_nosuspect = np.where(r.random(n) < 0.8, 18, 14)

    # --- orders whose lifetime does not depend on SPOs: bail (from arrest), non-molestation order
    bail = suspect & arrested & (r.random(n) < T["p_bail_conditions"])
    nmo = np.isin(rel, (0, 1)) & (r.random(n) < T["p_non_molestation"])
    t_nmo = t0 + np.ceil(_lognormal_q(np.log(20.0), 0.8, r.random(n)))
    b_rate = np.asarray(T["breach_rate_per_year"])[risk] / 365.25
    bail_case, bail_t = _poisson_points(r, bail, t_arrest, np.maximum(horizon - t_arrest, 0), b_rate)
    nmo_case, nmo_t = _poisson_points(r, nmo, t_nmo, np.full(n, _ORDER_LIFE["non_molestation_order"]), b_rate)
    b1, b2 = _first_two(np.r_[bail_case, nmo_case], np.r_[bail_t, nmo_t], n)
    t_upgrade = t_s + r.exponential(365.25 / np.asarray(T["escalation_rate_per_year"])[risk])

    # --- SPO latent draws
    need_p = np.asarray(T["p_spo_need_risk"])[risk]
    spo_mult = _spo_multiplier(F, T, need_p, f, year)
    p_need = np.clip(need_p * spo_mult[f], 0, 1)
    u_need = r.random(n)
    need_delay = np.floor(_lognormal_q(np.log(T["spo_need_delay_median_days"]), 1.0, r.random(n)))
    u_need_mis = r.random(n)
    u_esc = r.random(n)
    p_int = np.clip(np.asarray(T["p_spo_interim_risk"])[risk] * F["interim_mult"].to_numpy()[f], 0, 1)
    u_int = r.random(n)
    mu_int, sd_int = F["mu_interim"].to_numpy()[f], float(T["spo_interim_delay_sd"])
    d_int_nat = np.floor(_lognormal_q(mu_int, sd_int, r.random(n)))
    p_full = F["p_full"].to_numpy()[f]
    mu_full, sd_full = F["mu_full"].to_numpy()[f], float(T["spo_full_delay_sd"])
    d_full_nat = np.where(r.random(n) < p_full, np.floor(_lognormal_q(mu_full, sd_full, r.random(n))), np.inf)
    u_esc_app = r.random(n)
    g_int, g_full = T["spo_grant_delay_days"]
    grant_delay_int = np.floor(_lognormal_q(np.log(g_int), 0.7, r.random(n)))
    grant_delay_full = np.floor(_lognormal_q(np.log(g_full), 0.7, r.random(n)))
    u_grant_int, u_grant_full = r.random(n), r.random(n)

    # --- police investigation and court draws
    e_exit, u_cause = r.exponential(1.0, n), r.random(n)
    u_charge_stalk, u_disc = r.random(n), r.random(n)
    disc_reason = r.choice(3, size=n, p=T["p_discontinued_reason"])
    d_disc, d_hear, d_court, d_sent = (r.exponential(m, n) for m in (40.0, 14.0, 100.0, 25.0))
    u_conv, u_result, u_cps, u_ro, u_censor = (r.random(n) for _ in range(5))

    # --- reclassification: natural, or on the 2nd breach at the force's rate; escalation time
    reclass_t = np.where(u_breach_reclass < F["p_breach_reclass"].to_numpy()[f], np.minimum(reclass_nat, b2), reclass_nat)
    reclass_t = np.maximum(reclass_t, t_rec)        # latent: used only while a case is misrecorded
    t_esc = np.maximum(np.minimum(b1, t_upgrade), t_s)
    s_esc = float(T["escalation"])
    p_esc = -np.expm1(-s_esc)

    L = dict(t_s=t_s, reclass_t=reclass_t, u_need=u_need, p_need=p_need, need_delay=need_delay,
             u_need_mis=u_need_mis, t_esc=t_esc, u_esc=u_esc, p_esc=p_esc, u_int=u_int, p_int=p_int,
             d_int_nat=d_int_nat, d_full_nat=d_full_nat, u_esc_app=u_esc_app, grant_delay_int=grant_delay_int,
             grant_delay_full=grant_delay_full, u_grant_int=u_grant_int, u_grant_full=u_grant_full,
             dist_int=(p_need * p_int, mu_int, sd_int), dist_full=(p_full, mu_full, sd_full))
    rp = dict(zip(("full", "interim"), rng_policy.spawn(2)))
    spo = _spo_timeline(L, T, misrecorded=~rec_stalk, policy=policy, rng_policy=rp)

    # --- police investigation: piecewise-constant competing hazards from suspect identification
    base, extra = _base_hazards(T, F, f, risk, year, online, q)
    off_mult = np.where(officer > 0, T["officer_hr_charge"], 1.0)

    def pieces(officer_mult, misrecorded, d_spo):
        return _police_pieces(T, base, extra, online, officer_mult, misrecorded, reclass_t - t_s, d_spo - t_s,
                              t_esc - t_s, s_esc)

    P_actual = pieces(off_mult, ~rec_stalk, spo["t_spo"])
    t_out_rel, cause4 = _draw_exit(P_actual, e_exit, u_cause)
    # split "other" into its causes by their constant shares (the same uniform, rescaled)
    cause = _split_other(cause4, u_cause, P_actual, t_out_rel, T)
    t_out = t_s + t_out_rel
    police_day = np.where(suspect, t_out, t_nosuspect)
    code = np.where(suspect, _CAUSE_CODES[cause], code_nosuspect)
    charged = suspect & (cause == 0)
    stalk_at_charge = rec_stalk | (reclass_t <= t_out)
    charge_stalk = charged & stalk_at_charge & (u_charge_stalk < T["p_charged_as_stalking"])
    disc = charged & (u_disc < T["p_discontinued"])
    t_disc = police_day + d_disc
    pros = charged & ~disc
    t_hear = police_day + d_hear
    t_court = t_hear + d_court
    p_conv_s = expit(logit(T["p_convicted_stalking"]) + np.log(T["officer_or_conviction"]) * officer)
    conv_s = pros & charge_stalk & (u_conv < p_conv_s)
    p_other = T["p_convicted_other_given_stalking_charge"] * (1 - p_conv_s) / (1 - T["p_convicted_stalking"])
    conv_o = pros & ((charge_stalk & (u_conv >= p_conv_s) & (u_conv < p_conv_s + p_other))
                     | (~charge_stalk & (u_conv < T["p_convicted_lesser"])))
    t_close = np.where(charged, np.where(disc, t_disc, t_court), police_day)

    return dict(F=F, T=T, as_of=as_of, start=start, horizon=horizon, n=n, f=f, year=year, t0=t0, risk=risk,
                rel=rel, online=online, officer=officer, q=q, u_missing=u_missing, p_rec=p_rec,
                rec_stalk=rec_stalk, s4a=s4a, mis=mis, mis_names=mis_names, t_rec=t_rec, reclass_t=reclass_t,
                p_s=p_s, suspect=suspect, t_s=t_s, arrested=arrested, t_arrest=t_arrest, bail=bail, nmo=nmo,
                t_nmo=t_nmo, b_rate=b_rate, bail_case=bail_case, bail_t=bail_t, nmo_case=nmo_case, nmo_t=nmo_t,
                spo=spo, L=L, base=base, extra=extra, off_mult=off_mult, pieces=pieces, t_out=t_out,
                P_actual=P_actual,
                police_day=police_day, code=code, cause=cause, charged=charged, charge_stalk=charge_stalk,
                stalk_at_charge=stalk_at_charge, disc=disc, disc_reason=disc_reason, t_disc=t_disc, pros=pros,
                t_hear=t_hear, t_court=t_court, conv_s=conv_s, conv_o=conv_o, t_sent=t_court + d_sent,
                u_result=u_result, u_cps=u_cps, u_ro=u_ro, u_censor=u_censor, t_close=t_close,
                rng_post=rng_post, p_need=p_need, t_esc=t_esc, t_nosuspect=t_nosuspect)


def _poisson_points(r, mask, start, length, rate):
    """Points of a Poisson process with ``rate`` on ``[start, start + length)`` for the cases in ``mask``."""
    lam = np.where(mask, rate * np.maximum(length, 0), 0.0)
    k = r.poisson(lam)
    case = np.repeat(np.arange(len(mask)), k)
    t = np.floor(start[case] + r.random(len(case)) * length[case])
    return case, t


def _first_two(case, t, n):
    """First and second point time of each case (``inf`` where none)."""
    order = np.lexsort((t, case))
    case, t = case[order], t[order]
    first = np.full(n, np.inf)
    second = np.full(n, np.inf)
    if len(case):
        new = np.r_[True, case[1:] != case[:-1]]
        first[case[new]] = t[new]
        nxt = np.flatnonzero(new) + 1
        ok = nxt < len(case)
        ok[ok] &= case[nxt[ok]] == case[np.flatnonzero(new)[ok]]
        second[case[np.flatnonzero(new)[ok]]] = t[nxt[ok]]
    return first, second


def _spo_timeline(L: dict, T: dict, *, misrecorded, policy: dict, rng_policy: dict | None) -> dict:
    """Need, applications, grants and the day an SPO is in force (days from the start; ``inf`` = never),
    before checking that the investigation is still open. Deterministic given the latent draws."""
    t_s = L["t_s"]
    need_nat = np.where(L["u_need"] < L["p_need"], t_s + L["need_delay"], np.inf)
    # while recorded as a lesser offence, a need is often not recognised until reclassification
    missed = misrecorded & (need_nat < L["reclass_t"]) & (L["u_need_mis"] >= T["p_need_recognised_misrecorded"])
    need = np.where(missed, np.ceil(L["reclass_t"]), need_nat)
    # escalation can make police recognise a need
    need = np.where(L["u_esc"] < L["p_esc"], np.minimum(need, np.ceil(L["t_esc"])), need)
    # interim: on the interim pathway, at a delay from time zero (suspect identification), never before the need
    has_need = np.isfinite(need)
    t_int = np.where(has_need & (L["u_int"] < L["p_int"]), np.maximum(t_s + L["d_int_nat"], need), np.inf)
    d_int = t_int - t_s
    arm = policy.get("interim")
    if isinstance(arm, _Arm) and arm.from_need:
        # interim48_need: the window counts from the recognised need (cases without one keep "never"); the
        # delay still runs from suspect identification and an application is never before the need
        _, mu, sd = L["dist_int"]     # the chance of ever applying is p_int here: the need is given
        offset = np.where(has_need, need - t_s, np.inf)
        d_int = np.floor(arm(d_int, rng_policy["interim"], (L["p_int"], mu, sd), offset=offset))
        t_int = np.where(has_need, np.maximum(t_s + d_int, need), np.inf)
        d_int = t_int - t_s
    elif "interim" in policy:
        d_int = _apply_policy(policy["interim"], d_int, rng_policy["interim"], L["dist_int"])
        t_int = t_s + d_int
        need = np.minimum(need, t_int)          # an interim application means the need is recognised
        has_need = np.isfinite(need)
    # full: at a delay from the need; escalation while pending brings it forward
    d_full = np.where(has_need, L["d_full_nat"], np.inf)
    esc_pending = has_need & (L["t_esc"] > need) & (L["t_esc"] < need + d_full) & (L["u_esc_app"] < L["p_esc"])
    d_full = np.where(esc_pending, np.ceil(L["t_esc"]) - need + 1, d_full)
    if "full" in policy:
        d_full = np.where(has_need, _apply_policy(policy["full"], np.where(has_need, d_full, np.inf),
                                                  rng_policy["full"], L["dist_full"]), np.inf)
    t_full = need + d_full
    p_g, p_r = T["p_spo_granted"], T["p_spo_refused"]
    int_granted = np.isfinite(t_int) & (L["u_grant_int"] < p_g)
    full_granted = np.isfinite(t_full) & (L["u_grant_full"] < p_g)
    t_int_grant = t_int + L["grant_delay_int"]
    t_full_grant = t_full + L["grant_delay_full"]
    t_spo = np.minimum(np.where(int_granted, t_int_grant, np.inf), np.where(full_granted, t_full_grant, np.inf))
    return dict(need=need, t_int=t_int, t_full=t_full, d_int=d_int, d_full=d_full, int_granted=int_granted,
                full_granted=full_granted, t_int_grant=t_int_grant, t_full_grant=t_full_grant, t_spo=t_spo,
                int_refused=np.isfinite(t_int) & (L["u_grant_int"] >= p_g) & (L["u_grant_int"] < p_g + p_r),
                full_refused=np.isfinite(t_full) & (L["u_grant_full"] >= p_g) & (L["u_grant_full"] < p_g + p_r))


def _base_hazards(T, F, f, risk, year, online, q):
    """Hazards of the first piece (before officer, misrecording and online charge shape): charge, HO15,
    HO16 and the sum of the other causes; ``extra`` holds the constant shares of the other causes."""
    H = T["hazards"]
    n = len(f)
    base = np.empty((n, 4))
    base[:, 0] = H["charge"] * np.asarray(T["hr_charge_risk"])[risk] * np.exp(
        F["u_chg"].to_numpy()[f] + T["quality_charge_coef"] * q + T["year_trend_charge"] * year)
    base[:, 1] = H["ho15"] * np.where(online, T["hr_ho15_online"], 1.0)
    base[:, 2] = H["ho16"] * np.asarray(T["hr_withdrawal_risk"])[risk]
    others = np.array([H[c] for c in _CAUSES[3:]])
    base[:, 3] = others.sum()
    return base, others / others.sum()


def _police_pieces(T, base, extra, online, officer_mult, misrecorded, reclass_rel, spo_rel, esc_rel, s_esc):
    """The piecewise-constant hazards of every case (times relative to suspect identification).

    Intervals are cut at the shape breaks, the day an SPO comes into force, the reclassification of a
    misrecorded case and (with the switch on) escalation; on each, the rates follow from which of these have
    happened. Returns interval starts and ends (n, J), the rates of charge, HO15, HO16 and the other causes
    (a tuple of four (n, J) arrays) and their sum (n, J).
    """
    n = len(base)
    b1, b2 = T["hazard_breaks"]
    cs, ws, es, oc = (np.asarray(T[k], float) for k in ("charge_shape", "withdrawal_shape", "evidential_shape",
                                                         "hr_charge_online"))
    spo_at = np.maximum(spo_rel, 0)
    rec_at = np.where(misrecorded, np.maximum(reclass_rel, 0), np.inf)
    cols = [np.full(n, b1), np.full(n, b2), spo_at]
    if np.isfinite(rec_at).any():            # a switch nobody reaches adds no interval
        cols.append(rec_at)
    if s_esc != 0:
        esc_at = np.maximum(esc_rel, 0)
        cols.append(esc_at)
    ts = np.sort(np.column_stack(cols), axis=1)
    starts = np.concatenate([np.zeros((n, 1)), ts], axis=1)
    ends = np.concatenate([ts, np.full((n, 1), np.inf)], axis=1)
    piece = (starts >= b1).astype(np.int8) + (starts >= b2)
    spo_on = starts >= spo_at[:, None]
    # charge multiplier by (online, misrecorded until reclassified, SPO in force, piece): one lookup
    table = (cs[None, None, None, :] * np.array([np.ones(3), oc])[:, None, None, :]
             * np.array([1.0, T["hr_charge_misrecorded"]])[None, :, None, None]
             * np.array([1.0, T["spo_hr_charge"]])[None, None, :, None])
    mis_now = misrecorded[:, None] & (starts < rec_at[:, None])
    charge = (base[:, 0] * officer_mult)[:, None] * table[online.astype(np.int8)[:, None], mis_now.view(np.int8),
                                                          spo_on.view(np.int8), piece]
    ev = base[:, 1][:, None] * es[piece]
    w = base[:, 2][:, None] * ws[piece] * np.where(spo_on, T["spo_hr_withdrawal"], 1.0)
    if s_esc != 0:
        w *= np.where(starts >= esc_at[:, None], np.exp(s_esc), 1.0)
    other = np.broadcast_to(base[:, 3][:, None], starts.shape)
    return starts, ends, (charge, ev, w, other), charge + ev + w + other


def _split_other(cause4, u, pieces, t_rel, T):
    """Map the 4 simulated causes (charge, HO15, HO16, other) to the 7 of the model: an "other" exit is
    split by the constant shares of HO21, HO8, HO17, HO20 with a fresh use of the uniform (its position
    within the "other" band)."""
    starts, ends, rates, _ = pieces
    rows = np.arange(len(cause4))
    j = np.minimum((starts <= t_rel[:, None]).sum(1) - 1, starts.shape[1] - 1)
    p = np.column_stack([r[rows, j] for r in rates])
    c = np.cumsum(p / p.sum(1, keepdims=True), axis=1)
    lo = c[:, 2]
    w = np.clip((u - lo) / np.maximum(c[:, 3] - lo, 1e-300), 0, 1 - 1e-12)
    H = T["hazards"]
    shares = np.cumsum([H[k] for k in _CAUSES[3:]])
    sub = np.searchsorted(shares / shares[-1], w, side="right")
    return np.where(cause4 < 3, cause4, 3 + np.minimum(sub, 3))


def _logged(W: dict) -> dict:
    """Which SPO events happen (applications only while the investigation is open) and the time zeros."""
    spo, suspect, t_out, horizon = W["spo"], W["suspect"], W["t_out"], W["horizon"]
    need_log = suspect & (spo["need"] < t_out)
    int_app = suspect & (spo["t_int"] < t_out)
    full_app = suspect & (spo["t_full"] < t_out)
    t_spo = np.minimum(np.where(int_app & spo["int_granted"], spo["t_int_grant"], np.inf),
                       np.where(full_app & spo["full_granted"], spo["t_full_grant"], np.inf))
    T = W["T"]
    u, risk = W["u_missing"], W["risk"]
    p_miss = T["p_risk_missing"] + (1 - T["p_risk_missing"]) * T["risk_missing_mnar"] * np.array([0.0, 0.5, 1.0])[risk]
    risk_obs = np.where(u < p_miss, -1, risk)
    # informative censoring: open cases near their closing left out of the extract
    open_ = W["t_close"] > horizon
    p_drop = T["informative_censoring"] * np.exp(-np.clip(W["t_close"] - horizon, 0, None) / 90.0)
    in_extract = ~(open_ & (W["u_censor"] < p_drop))
    t0 = W["t0"]
    tz_full = np.where(need_log & ~(int_app & (spo["t_int"] <= spo["need"])) & (spo["need"] <= horizon) & in_extract,
                       spo["need"] - t0, np.inf)
    tz_int = np.where((risk_obs == 2) & suspect & (W["t_s"] <= horizon) & in_extract, W["t_s"] - t0, np.inf)
    # interim48_need: high-risk cases with a recognised need (after the suspect), time zero at the need
    tz_int_need = np.where((risk_obs == 2) & need_log & (spo["need"] <= horizon) & in_extract, spo["need"] - t0, np.inf)
    return dict(need_log=need_log, int_app=int_app, full_app=full_app, t_spo=t_spo, risk_obs=risk_obs,
                in_extract=in_extract, tz_full=tz_full, tz_int=tz_int, tz_int_need=tz_int_need)


def _assemble(W: dict, T: dict):
    """The event log, the per-case truth and the true marginal officer effects of a simulated world."""
    n, horizon, F, start = W["n"], W["horizon"], W["F"], W["start"]
    G = _logged(W)
    spo = W["spo"]
    suspect, t_out, police_day = W["suspect"], W["t_out"], W["police_day"]
    charged, pros, conv_s, conv_o = W["charged"], W["pros"], W["conv_s"], W["conv_o"]

    # --- breaches, only while an order exists
    bail_end = np.where(charged, W["t_close"], police_day)
    arrest_log = suspect & W["arrested"] & (W["t_arrest"] <= t_out)
    bc, bt = W["bail_case"], W["bail_t"]
    ok = arrest_log[bc] & (bt < bail_end[bc])
    rp = W["rng_post"]
    rate = W["b_rate"]
    spo_case, spo_t = _poisson_points(rp, np.isfinite(G["t_spo"]), np.where(np.isfinite(G["t_spo"]), G["t_spo"], 0),
                                      np.full(n, _ORDER_LIFE["spo"]), rate)
    ro = (conv_s | conv_o) & (W["u_ro"] < T["p_restraining_order"])
    t_ro = np.ceil(W["t_court"])
    ro_case, ro_t = _poisson_points(rp, ro, np.where(ro, t_ro, 0), np.full(n, _ORDER_LIFE["restraining_order"]), rate)
    ot = {o: i for i, o in enumerate(S.ENUMS["order_type"])}
    case_b = np.r_[spo_case, ro_case, W["nmo_case"], bc[ok]]
    t_b = np.r_[spo_t, ro_t, W["nmo_t"], bt[ok]]
    type_b = np.r_[np.full(len(spo_case), ot["spo"]), np.full(len(ro_case), ot["restraining_order"]),
                   np.full(len(W["nmo_case"]), ot["non_molestation_order"]), np.full(int(ok.sum()), ot["bail_conditions"])]
    o = np.lexsort((type_b, t_b, case_b))
    case_b, t_b, type_b = case_b[o], t_b[o], type_b[o]
    first_of_day = np.r_[True, (case_b[1:] != case_b[:-1]) | (t_b[1:] != t_b[:-1])] if len(case_b) else np.zeros(0, bool)
    case_b, t_b, type_b = case_b[first_of_day], t_b[first_of_day], type_b[first_of_day]

    # --- assemble events (integer codes throughout; categoricals built once from codes)
    idx = np.arange(n)
    detail_cols = [c for c in S.DETAIL_COLUMNS if c in S.ENUMS]
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
    stalk_code = np.where(W["s4a"], L["offence"]["stalking_s4a"], L["offence"]["stalking_s2a"])
    mis_code = np.asarray([L["offence"][m] for m in W["mis_names"]])[W["mis"]]
    rec_stalk = W["rec_stalk"]
    add(all_, W["t0"], "reported", risk=G["risk_obs"], relationship=W["rel"])
    add(all_, W["t_rec"], "recorded", offence=np.where(rec_stalk, stalk_code, mis_code))
    add(~rec_stalk & (W["reclass_t"] < police_day), W["reclass_t"], "reclassified", offence=stalk_code)
    add(suspect, W["t_s"], "suspect_identified")
    add(arrest_log, W["t_arrest"], "arrested")
    add(G["need_log"], spo["need"], "spo_need_identified")
    add(G["int_app"], spo["t_int"], "spo_interim_applied")
    add(G["int_app"] & spo["int_granted"], spo["t_int_grant"], "spo_interim_granted")
    add(G["full_app"], spo["t_full"], "spo_full_applied")
    add(G["full_app"] & spo["full_granted"], spo["t_full_grant"], "spo_full_granted")
    add(G["int_app"] & spo["int_refused"], spo["t_int_grant"], "spo_refused")
    add(G["full_app"] & spo["full_refused"], spo["t_full_grant"], "spo_refused")
    add(all_, police_day, "police_outcome", outcome_code=W["code"])
    add(charged & (W["u_cps"] < 0.7), police_day, "cps_decision", decision=L["decision"]["charge"])
    charge_code = np.where(W["charge_stalk"], stalk_code,
                           np.where(W["stalk_at_charge"], L["offence"]["harassment"], mis_code))
    add(charged, police_day, "charged", offence=charge_code)
    add(W["disc"], W["t_disc"], "discontinued", reason=W["disc_reason"])
    add(pros, W["t_hear"], "first_hearing")
    res_code = np.select([conv_s, conv_o, W["u_result"] < 0.8], [0, 1, 2], 3)
    add(pros, W["t_court"], "court_outcome", result=res_code)
    add(conv_s | conv_o, W["t_sent"], "sentenced")
    add(None, t_b, "order_breach", case=case_b, order_type=type_b)

    cat = {k: np.concatenate(v) for k, v in parts.items()}
    keep = (cat["t"] <= horizon) & G["in_extract"][cat["case"]]
    cat = {k: v[keep] for k, v in cat.items()}
    order = np.lexsort((cat["event"], cat["t"], cat["case"]))
    cat = {k: v[order] for k, v in cat.items()}
    force_names = sorted(F["force"])
    force_code = np.searchsorted(force_names, F["force"].to_numpy())[W["f"]]
    day_ns = np.int64(86_400 * 10**9)
    out = pd.DataFrame({
        "case_id": cat["case"].astype(np.int64) + 1,
        "force": pd.Categorical.from_codes(force_code[cat["case"]], categories=force_names),
        "event": pd.Categorical.from_codes(cat["event"], categories=list(S.EVENTS)),
        "timestamp": (np.int64(start.value) + cat["t"].astype(np.int64) * day_ns).view("datetime64[ns]"),
    })
    is_rep = cat["event"] == ev_code["reported"]
    for c in S.DETAIL_COLUMNS:
        if c == "outcome_code":
            oc = cat[c]
            out[c] = pd.arrays.IntegerArray(np.where(oc < 0, 0, oc), oc < 0)
        elif c == "online":
            out[c] = pd.arrays.BooleanArray(W["online"][cat["case"]], ~is_rep)
        else:
            out[c] = pd.Categorical.from_codes(cat[c], categories=list(S.ENUMS[c]))

    per_case, marginal = _true_effects(W)
    t0 = W["t0"]
    case_truth = pd.DataFrame({"case_id": np.arange(1, n + 1, dtype=np.int64)}).assign(
        **per_case, officer=W["officer"].astype(bool), risk=W["risk"], suspect=suspect, suspect_day=W["t_s"] - t0,
        p_suspect=W["p_s"], spo_need=G["need_log"], spo_need_day=np.where(G["need_log"], spo["need"] - t0, np.inf),
        spo_in_force_day=G["t_spo"] - t0, time_zero_full28=G["tz_full"], time_zero_interim48=G["tz_int"],
        time_zero_interim48_need=G["tz_int_need"],
        quality=W["q"], online=W["online"], police_outcome_day=np.floor(police_day) - t0, police_outcome_code=W["code"],
        closed_day=np.floor(W["t_close"]) - t0, as_of_day=horizon - t0,
        in_extract=G["in_extract"], non_molestation_day=np.where(W["nmo"], W["t_nmo"] - t0, np.inf),
        escalation_day=W["t_esc"] - t0,
        **{f"hazard_{c}": h for c, h in zip(_CAUSES, _first_piece_hazards(W))},
    )
    return out, case_truth, marginal


def _first_piece_hazards(W):
    """The cause-specific hazards of each case at suspect identification (first piece; the later pieces,
    reclassification, SPOs and escalation change them: ``hazard_*`` are not the whole truth)."""
    first = [r[:, 0] for r in W["P_actual"][2]]
    return [first[0], first[1], first[2], *(first[3][:, None] * W["extra"][None, :]).T]


def _pieces_by_recording(pieces, L, T, n):
    """The hazard pieces of every case in the natural course had it been recorded as stalking (False) or as
    a lesser offence (True), officer effect 1."""
    one = np.ones(n)
    return {m: pieces(one, np.full(n, m), _spo_timeline(L, T, misrecorded=np.full(n, m), policy={},
                                                        rng_policy=None)["t_spo"]) for m in (False, True)}


def _scale_charge(pieces, mult):
    """The pieces with the charge hazard multiplied by ``mult`` (a number or a column (n, 1))."""
    if np.isscalar(mult) and mult == 1.0:
        return pieces
    charge = pieces[2][0] * mult
    return pieces[0], pieces[1], (charge, *pieces[2][1:]), pieces[3] + charge - pieces[2][0]


def _surv(pieces, t):
    starts, ends, rates, R = pieces
    t = np.asarray(t, float)[:, None]
    with np.errstate(invalid="ignore"):
        span = np.where(np.isfinite(starts) & (t > starts), np.minimum(ends, t) - starts, 0.0)
    return np.exp(-np.sum(np.where(span > 0, R * np.where(np.isfinite(span), span, 0), 0.0), axis=1))


def _true_effects(W):
    """Exact long-run probabilities of charge and conviction for every case, with and without a dedicated
    officer (recording, the SPO timeline and reclassification follow from the case's own draws under each
    recording), and the marginal effects (their averages)."""
    T, L = W["T"], W["L"]
    n = W["n"]
    suspect = W["suspect"].astype(float)
    reclass_rel = W["reclass_t"] - W["t_s"]
    f = W["f"]
    # the pieces of each recording in the natural course (officer effect 1), whatever spo_policy simulated
    P_by_recording = _pieces_by_recording(W["pieces"], L, T, n)
    a_rec = logit(T["p_recorded_stalking"])
    per_case, out, stalk_charged, e_sus = {}, {}, {}, {}
    r = np.where(np.isfinite(reclass_rel), np.maximum(reclass_rel, 0), np.inf)
    has_r = np.isfinite(r)
    r0 = np.where(has_r, r, 0.0)
    for o in (0, 1):
        om = T["officer_hr_charge"] if o else 1.0
        P_S, P_M = (_scale_charge(P_by_recording[m], om) for m in (False, True))
        surv_m = _survivals(P_M)
        pc_s, pc_m = _cif(P_S, 0), _cif(P_M, 0, surv=surv_m)
        pc_m_after = np.where(has_r, pc_m - _cif(P_M, 0, r0, surv=surv_m), 0.0)
        prec = expit(a_rec + W["F"]["u_rec"].to_numpy()[f] + np.log(T["officer_or_recording"]) * o)
        pconv = expit(logit(T["p_convicted_stalking"]) + np.log(T["officer_or_conviction"]) * o)
        stalk_charged[o] = prec * pc_s + (1 - prec) * pc_m_after
        per_case[f"p_charged_officer{o}"] = suspect * (prec * pc_s + (1 - prec) * pc_m)
        per_case[f"p_convicted_officer{o}"] = (suspect * stalk_charged[o] * T["p_charged_as_stalking"]
                                               * (1 - T["p_discontinued"]) * pconv)
        e_sus[o] = prec + (1 - prec) * np.where(has_r, _surv(P_M, r0), 0.0)
    for y in ("charged", "convicted"):
        p1, p0 = per_case[f"p_{y}_officer1"].mean(), per_case[f"p_{y}_officer0"].mean()
        out[f"officer_{y}_risk1"] = float(p1)
        out[f"officer_{y}_risk0"] = float(p0)
        out[f"officer_{y}_rd"] = float(p1 - p0)
        out[f"officer_{y}_rr"] = float(p1 / p0)
        out[f"officer_{y}_or"] = float(p1 / (1 - p1) / (p0 / (1 - p0)))
    off = W["officer"] > 0
    p_rec = W["p_rec"]
    e_nos = p_rec + (1 - p_rec) * (W["reclass_t"] < W["t_nosuspect"])
    per_case["p_ever_stalking_suspect"] = np.where(off, e_sus[1], e_sus[0])
    per_case["p_ever_stalking_nosuspect"] = e_nos
    per_case["p_ever_stalking"] = W["p_s"] * per_case["p_ever_stalking_suspect"] + (1 - W["p_s"]) * e_nos
    per_case["p_stalking_charged"] = np.where(off, stalk_charged[1], stalk_charged[0])
    # the estimand of a difference in differences / event study: the effect on the cases that had an officer
    # in forces adopting one during the data
    adopted = off & (W["F"]["officer_from"].to_numpy()[f] > 0)
    for y in ("charged", "convicted"):
        d = per_case[f"p_{y}_officer1"] - per_case[f"p_{y}_officer0"]
        out[f"officer_{y}_rd_adopters"] = float(d[adopted].mean()) if adopted.any() else float("nan")
    return per_case, out


def strategy_risks(trial: str, *, horizon: int = 180, n_cases: int | None = None, random_state=None,
                   **truth) -> pd.DataFrame:
    """True risks of charge and victim withdrawal under the two strategies of an SPO target trial.

    Parameters
    ----------
    trial : {"full28", "interim48", "interim48_need"}
        ``"full28"``: among cases whose SPO need was recognised (logged ``spo_need_identified``; a suspect
        is then always identified) with no interim application on or before the need day, time zero the
        need day, strategy ``"within"`` = a full SPO application within 28 days of the need, ``"not_within"``
        = none within 28 days (later or never). ``"interim48"``: among high-risk cases (risk at report, as
        logged) with a suspect identified or arrested, time zero the first day of either, ``"within"`` = an
        interim SPO application within 2 calendar days (48 hours on daily dates), ``"not_within"`` = none
        within 2 days. ``"interim48_need"``: among high-risk cases with a logged need, time zero the need
        day, ``"within"`` = an interim application within 2 days of the need (never before it), ``"not_within"``
        = none within 2 days of it. Eligibility is read from the event log as the extract at the default ``as_of`` has
        it (time zero by ``as_of``, the case in the extract).
    horizon : int, default 180
        Days after time zero.
    n_cases : int, optional
        Reports simulated (default: the national size, ``reports_per_year * n_years``).
    random_state : None, int or numpy.random.SeedSequence
        Seed; both arms use the same one (common random numbers). A ``Generator`` is turned into a seed.
    **truth
        Keys of :data:`DEFAULT_TRUTH`, as for :func:`simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per arm and outcome: ``trial``, ``arm`` (``"within"``, ``"not_within"``), ``outcome``
        (``"charge"``: police outcome charge/summons, HO 1; ``"withdrawal"``: HO 16, the victim does not
        support action), ``risk``, ``mc_se`` (its binomial Monte Carlo standard error), ``n_eligible``, and
        on both rows of an outcome ``rd`` and ``rr`` (within vs not_within).

    Notes
    -----
    **Estimand.** For each outcome, the risk -- the probability that the police outcome is that outcome by
    ``horizon`` days after time zero (event days counted as in the log) -- had every eligible case followed
    the strategy, averaged over the eligible cases of the simulated national population; ``rd`` and ``rr``
    contrast "within" with "not_within". A strategy keeps each case's natural application day when it
    already follows it; otherwise the day is drawn from that case's natural delay distribution (the force's
    log-normal practice, with its probability of never applying) truncated to the strategy: within the
    window, or after it (or never, with the natural probability of never given no application in the
    window). An application still needs the investigation to be open, and the SPO still needs to be granted
    (delays and refusals as in the natural course). Both arms are simulated from the same seed, so they
    differ only through the strategy, and the eligible cases are the same in both (eligibility is decided
    before any application). Computed by simulation, so it holds whatever the hazards' shape; ``mc_se``
    is its Monte Carlo error as a population average. With ``escalation`` on, the truncated draws use the
    baseline distribution (escalation after time zero only brings natural applications forward).

    Examples
    --------
    >>> from attrition.synthetic import strategy_risks
    >>> strategy_risks("full28", n_cases=50_000, random_state=1)  # doctest: +SKIP
    """
    if trial not in TRIALS:
        raise ValueError(f"trial must be one of {sorted(TRIALS)}, got {trial!r}")
    if int(horizon) < 0:
        raise ValueError(f"horizon must be a non-negative number of days, got {horizon!r}")
    key, window, _ = TRIALS[trial]
    T = _check_truth(truth)
    n = int(T["reports_per_year"] * T["n_years"]) if n_cases is None else int(n_cases)
    if n < 1:
        raise ValueError(f"n_cases must be a positive integer, got {n_cases!r}")
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**63))
    elif random_state is None:
        random_state = np.random.SeedSequence()
    rows = []
    for arm, within in (("within", True), ("not_within", False)):
        arm_fn = _Arm(window, within, from_need=trial == "interim48_need")
        W = _simulate_world(n, T, check_random_state(random_state), None, {key: arm_fn})
        G = _logged(W)
        tz = G[{"full28": "tz_full", "interim48": "tz_int", "interim48_need": "tz_int_need"}[trial]]
        elig = np.isfinite(tz)
        day = np.floor(W["police_day"]) - W["t0"] - np.where(elig, tz, 0)
        by = elig & (day <= horizon)
        for outcome, code in (("charge", 1), ("withdrawal", 16)):
            p = float(np.mean(by[elig] & (W["code"][elig] == code))) if elig.any() else np.nan
            rows.append({"trial": trial, "arm": arm, "outcome": outcome, "risk": p,
                         "mc_se": float(np.sqrt(p * (1 - p) / max(elig.sum(), 1))), "n_eligible": int(elig.sum())})
        del W
    out = pd.DataFrame(rows)
    wide = out.pivot(index="outcome", columns="arm", values="risk")
    out["rd"] = out["outcome"].map(wide["within"] - wide["not_within"])
    out["rr"] = out["outcome"].map(wide["within"] / wide["not_within"])
    return out


def _fy_starts(start: pd.Timestamp, n_years: int) -> np.ndarray:
    return np.array([(pd.Timestamp(f"{start.year + k}-04-01") - start).days for k in range(n_years)], float)



def _spo_multiplier(F, T, need_p, f, year) -> np.ndarray:
    """Per-force multiplier of the SPO need probability giving each force its target applications a year."""
    per_force_need = np.bincount(f, weights=need_p, minlength=len(F)) / T["n_years"]
    # about this share of needs turn into an application while the investigation is open
    reach = T["p_suspect"] * 0.35
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
    Per report the probabilities are exact for the piecewise-constant hazards (module docstring), given the
    report's own draws of timing (reclassification, SPO, escalation): recorded or reclassified as stalking
    while the case is open, with a suspect :math:`e_i` and without one :math:`e'_i`; suspect identified
    :math:`s_i`; recorded as stalking by the time it is charged and charged, given a suspect, :math:`c_i`
    (recording and charging are no longer independent: a misrecorded case is charged less until it is
    reclassified); not discontinued :math:`1-d`; convicted of stalking when prosecuted :math:`q_i`
    (charged as stalking times the conviction probability). Charging is averaged over the reports that had
    a suspect: :math:`\theta_{g,\text{suspect}} = \sum_{i\in g, s} c_i / \sum_{i\in g, s} e_i`; the
    recording stage uses :math:`s_i e_i + (1 - s_i) e'_i`. Cases left out of the extract
    (``informative_censoring``) are left out here too.
    """
    from .standard import STAGES

    ct = data.case_truth
    if ct is None or not {"p_ever_stalking_suspect", "p_stalking_charged"} <= set(ct.columns):
        raise ValueError("data.case_truth lacks p_ever_stalking_suspect/p_stalking_charged: simulate the data with "
                         "this version")
    if "in_extract" in ct.columns:
        ct = ct[ct["in_extract"].to_numpy(bool)]
    T = data.truth
    cases = data.cases.set_index("case_id")
    off = ct["officer"].to_numpy(bool)
    e = ct["p_ever_stalking"].to_numpy(float)
    e_sus = ct["p_ever_stalking_suspect"].to_numpy(float)
    s = ct["p_suspect"].to_numpy(float)
    sus = ct["suspect"].to_numpy(bool)
    ec = ct["p_stalking_charged"].to_numpy(float)
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
        STAGES[1]: (tot(s * e_sus), tot(e)),
        STAGES[2]: (tot(ec * sus), tot(e_sus * sus)),
        STAGES[3]: (np.full(G, 1.0 - T["p_discontinued"]), np.ones(G)),
        STAGES[4]: (tot(ec * q * sus), tot(ec * sus)),
    }
    return pd.DataFrame({k: a / b for k, (a, b) in num.items()}, index=labels)


@lru_cache(maxsize=1)
def default_dataset() -> SyntheticData:
    """The embedded default national dataset (``simulate(random_state=DEFAULT_SEED)``), cached."""
    return simulate(random_state=DEFAULT_SEED)
