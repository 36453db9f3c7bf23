"""The SPO target trials: timely applications for Stalking Protection Orders, emulated from an event log.

The recommendation the seeds quote has two parts, and each is one target trial:

* ``"full28"`` -- **full application within 4 weeks of the need.** Eligible: cases in which the police
  recognised a need for an SPO (``spo_need_identified``) after a suspect was identified, with no interim
  application before the need, still open on the need day. Time zero: the need day. Strategies: a full
  application within 28 days of the need (``"within"``) vs not within 28 days, later or never
  (``"not_within"``).
* ``"interim48"`` -- **interim application within 48 hours.** Eligible: high-risk cases with a suspect
  identified or arrested, still open then. Time zero: the first of suspect identification and arrest.
  Strategies: an interim application within 2 days (``"within"``) vs none within 2 days (``"not_within"``).
  **Positivity fails here by design of the data:** an interim application needs a recognised SPO need, and
  most high-risk cases have none in the first 2 days (98% on the synthetic national data), so nobody like
  them was ever applied for so early and the "within" risk is extrapolated to them (``positivity_``).
* ``"interim48_need"`` -- **interim application within 48 hours, among the cases that need one.** Eligible:
  high-risk cases with a recognised SPO need after a suspect was identified or arrested, no interim
  application before the need day, still open on it. Time zero: the need day. Strategies: an interim
  application within 2 days of the need vs none within 2 days (later or never). The need-based version of
  the interim recommendation, which the data can answer (about half the eligible cases were applied for
  within 2 days on the synthetic national data).

**Estimand** (every trial): the risk of a police charge (Home Office outcome 1) and of the victim
withdrawing support (outcome 16) by ``horizon`` days after time zero, other police outcomes competing,
had every eligible case followed each strategy; their difference (RD) and ratio (RR). Each strategy is
the one :func:`attrition.synthetic.strategy_risks` simulates: under ``"within"`` an application whose
natural timing is later than the grace period is moved to a day drawn from the natural timing of
applications *within* the grace period; under ``"not_within"`` an early one to a day drawn from the
natural timing *after* it (later or never).

Estimator: clone--censor--weight (Hernan & Robins 2016; Maringe et al. 2020). Every eligible case is
cloned into both arms; a clone is censored when its own history leaves its arm's strategy (not_within:
an application on a day ``<= grace``; within: no application by the end of day ``grace``), and the
clones are weighted by the sequential ratio of the strategy's to the observed daily probability of the
application decision (inverse-probability weights for a stochastic strategy; Robins 1986, Young et al.
2011). The observed daily hazard of an application comes from a pooled logistic model among cases open
and not yet applied for, on day-of-follow-up terms, the baseline covariates and, optionally, covariates
updated every day from the log (breaches so far, a later switch such as a risk upgrade) -- the version
that is valid under time-varying confounding. Risks are weighted Aalen--Johansen cumulative incidences.
Confidence intervals: percentile bootstrap over cases, weights refitted in every replicate
(:func:`attrition._parallel.replicate`).

Day conventions: days since time zero (day 0 = the time-zero day); on one day an application comes
before a police outcome (applications are made only while the investigation is open); breaches on day
``k`` count in the covariates of day ``k``; a case without a police outcome is censored on its last
follow-up day (at risk on it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from .._utils import check_alpha, check_random_state, ci_labels
from ..exceptions import DataValidationError, NotFittedError

__all__ = ["SPOTargetTrial", "spo_target_trial", "spo_trial_on_data", "trial_effects_table", "spo_hazard_ratios", "TRIALS", "true_trial_risks", "confounding_bias_table",
           "trial_estimand"]

#: The target trials: grace period (days), the application event of the strategy, and the words of
#: time zero and eligibility.
TRIALS: dict[str, dict] = {
    "full28": {
        "grace": 28, "application": "days_to_spo_full_applied",
        "time_zero": "days since SPO need recognised",
        "eligible": "cases with a recognised SPO need after a suspect was identified, no interim application "
                    "on or before the need day, still open on the need day",
        "strategy": ("full SPO application within {g} days of the need", "no full application within {g} days "
                     "(later or never)"),
    },
    "interim48": {
        "grace": 2, "application": "days_to_spo_interim_applied",
        "time_zero": "days since suspect identified or arrest",
        "eligible": "high-risk cases with a suspect identified or arrested, still open then",
        "strategy": ("interim SPO application within {g} days of suspect identification/arrest",
                     "no interim application within {g} days (later or never)"),
    },
    "interim48_need": {
        "grace": 2, "application": "days_to_spo_interim_applied",
        "time_zero": "days since SPO need recognised",
        "eligible": "high-risk cases with a recognised SPO need after a suspect was identified or arrested, no "
                    "interim application before the need day, still open on the need day",
        "strategy": ("interim SPO application within {g} days of the need",
                     "no interim application within {g} days of the need (later or never)"),
    },
}
ARMS = ("within", "not_within")
OUTCOMES = {"charge": 1, "withdrawal": 16}
#: Day-of-follow-up bins of the application-hazard model (bin starts).
_BIN_STARTS = (0, 1, 2, 4, 8, 15, 22)


def trial_estimand(trial: str, horizon: int = 180, grace: int | None = None) -> str:
    """The estimand of a trial in words (used in ``summary.attrs["estimand"]``)."""
    spec = _spec(trial)
    g = spec["grace"] if grace is None else int(grace)
    within, not_within = (s.format(g=g) for s in spec["strategy"])
    return (f"Among {spec['eligible']} (time zero: {spec['time_zero'].replace('days since ', '')}): the risk of "
            f"a police charge (HO outcome 1) and of victim withdrawal (HO outcome 16) by day {horizon}, other police "
            f"outcomes competing, had every case followed '{within}' vs '{not_within}'; risk difference (RD) "
            "and risk ratio (RR).")


def _spec(trial: str) -> dict:
    if trial not in TRIALS:
        raise ValueError(f"trial must be one of {list(TRIALS)}, got {trial!r}")
    return TRIALS[trial]


# ------------------------------------------------------------------------------------------------
# data: eligible cases, time zero, application day, exit, covariates
# ------------------------------------------------------------------------------------------------
@dataclass
class _TrialData:
    cases: pd.DataFrame   # eligible rows of the case table
    T: np.ndarray         # (n,) exit or censoring day since time zero, truncated at horizon
    s: np.ndarray         # (n,) 0 censored, 1 charge, 2 withdrawal, 3 other police outcome
    A: np.ndarray         # (n,) application day since time zero (inf: none before the exit)
    Xb: np.ndarray        # (n, p) baseline design
    Z: np.ndarray         # (n, grace + 1, q) time-varying design on days 0..grace
    names: list           # design column names (baseline then time-varying)
    n_excluded: dict      # reasons -> counts
    ridge: float = 0.1    # ridge of the application-hazard models (pseudo-observations per coefficient)


def _as_cases(events_or_cases) -> pd.DataFrame:
    if not isinstance(events_or_cases, pd.DataFrame):
        raise DataValidationError(f"expected an event log or a case table (pandas DataFrame), got "
                                  f"{type(events_or_cases).__name__}")
    df = events_or_cases
    if {"event", "timestamp"} <= set(df.columns) and "days_to_police_outcome" not in df.columns:
        from ..sources.events import to_cases

        return to_cases(df)
    return df


def _col(df, name) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float)


def _trial_data(cases: pd.DataFrame, trial: str, grace: int, horizon: int, covariates, time_varying) -> _TrialData:
    spec = _spec(trial)
    need_cols = ["case_id", "days_to_suspect_identified", "days_to_police_outcome", "outcome_code", "duration"]
    missing = [c for c in need_cols if c not in cases.columns]
    if missing:
        raise DataValidationError(f"the SPO target trial needs column(s) {missing} of the case table "
                                  "(attrition.data.to_cases of the event log)")
    sus = _col(cases, "days_to_suspect_identified")
    arr = _col(cases, "days_to_arrested")
    po = _col(cases, "days_to_police_outcome")
    exit_ = np.where(np.isnan(po), _col(cases, "duration"), po)
    excluded = {}
    if trial == "full28":
        need = _col(cases, "days_to_spo_need_identified")
        intr = _col(cases, "days_to_spo_interim_applied")
        t0 = need
        base = ~np.isnan(need)
        no_suspect = base & ~(sus <= need)
        interim_first = base & ~no_suspect & (intr <= need)
        ok = base & ~no_suspect & ~interim_first
        excluded["need without a suspect identified before it"] = int(no_suspect.sum())
        excluded["interim application on or before the need day"] = int(interim_first.sum())
    else:
        if "risk" not in cases.columns:
            raise DataValidationError(f"the {trial} trial needs the risk column (eligibility: high-risk cases)")
        high = (cases["risk"].astype("string") == "high").fillna(False).to_numpy(bool)
        if trial == "interim48":
            t0 = np.fmin(sus, arr)
            ok = high & ~np.isnan(t0)
        else:   # interim48_need: time zero at the recognised need
            need = _col(cases, "days_to_spo_need_identified")
            intr = _col(cases, "days_to_spo_interim_applied")
            t0 = need
            base = high & ~np.isnan(need)
            no_suspect = base & ~(np.fmin(sus, arr) <= need)
            interim_first = base & ~no_suspect & (intr < need)
            ok = base & ~no_suspect & ~interim_first
            excluded["need without a suspect identified or arrested before it"] = int(no_suspect.sum())
            excluded["interim application before the need day"] = int(interim_first.sum())
    closed_before = ok & ~(exit_ >= t0)
    excluded["closed (or follow-up ended) before time zero"] = int(closed_before.sum())
    ok &= ~closed_before
    el = cases[ok]
    t0, exit_, po = t0[ok], exit_[ok], po[ok]
    if len(el) == 0:
        raise DataValidationError(f"no case is eligible for the {trial} trial ({spec['eligible']}).")
    code = pd.to_numeric(el["outcome_code"], errors="coerce").to_numpy(float)
    T = np.floor(exit_ - t0).astype(np.int64)
    s = np.where(np.isnan(po), 0, np.select([code == 1, code == 16], [1, 2], 3)).astype(np.int64)
    over = T > horizon
    T, s = np.where(over, horizon, T), np.where(over, 0, s)
    A = np.floor(_col(el, spec["application"]) - t0)
    early = A < 0
    excluded["application before time zero (counted as on day 0)"] = int(early.sum())
    A = np.where(early, 0, A)
    A = np.where(np.isnan(A) | (A > T), np.inf, A)   # an application after the exit (or the horizon) is none
    Xb, names = _baseline_design(el, covariates, A, grace, t0)
    Z, tv_names = _time_varying_design(el, t0, grace, time_varying)
    return _TrialData(cases=el, T=T, s=s, A=A, Xb=Xb, Z=Z, names=names + tv_names, n_excluded=excluded)


def _baseline_design(el: pd.DataFrame, covariates, A, grace, t0) -> tuple[np.ndarray, list]:
    cols, names = [], []
    for c in covariates:
        if c == "force_practice":
            cols.append(_force_practice(el, A, grace)[:, None])
            names.append("force_practice")
            continue
        if c == "recorded_stalking":   # recorded (or reclassified) as stalking by time zero
            cols.append((_col(el, "days_to_recorded_stalking") <= t0).astype(float)[:, None])
            names.append("recorded_stalking")
            continue
        if c not in el.columns:
            raise DataValidationError(f"covariate {c!r} is not a column of the case table")
        s = el[c]
        numeric = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                   and not isinstance(s.dtype, pd.CategoricalDtype))
        if s.isna().any() and numeric:
            ids = list(el.loc[s.isna(), "case_id"].head(5))
            raise DataValidationError(f"covariate {c!r} is missing for {int(s.isna().sum())} eligible case(s) (e.g. "
                                      f"case_id {ids}); impute it or leave the covariate out.")
        if s.isna().any():   # a category of its own (valid only if missingness does not hide confounding)
            levels = [str(v) for v in (s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype)
                                       else pd.unique(s.dropna()))]
            s = pd.Categorical(s.astype(object).where(s.notna(), "missing").astype(str),
                               categories=levels + ["missing"])
            s = pd.Series(s, index=el.index)
        elif pd.api.types.is_bool_dtype(s) or numeric:
            cols.append(s.to_numpy(float)[:, None])
            names.append(c)
            continue
        cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
        levels = [lv for lv in cat.cat.categories if (cat == lv).any()]
        for lv in levels[1:]:
            cols.append((cat == lv).to_numpy(float)[:, None])
            names.append(f"{c}={lv}")
    X = np.hstack(cols) if cols else np.zeros((len(el), 0))
    return X, names


def _force_practice(el: pd.DataFrame, A, grace) -> np.ndarray:
    """A force's timeliness practice: the logit of its share of *other* eligible cases applied for within the
    grace period (leave-one-out, shrunk towards the national share with 5 pseudo-cases)."""
    if "force" not in el.columns:
        raise DataValidationError("covariate 'force_practice' needs the force column")
    f = pd.factorize(el["force"].astype(str))[0]
    y = (A <= grace).astype(float)
    n_f = np.bincount(f)[f] - 1.0
    y_f = np.bincount(f, weights=y)[f] - y
    p_nat = y.mean()
    p = (y_f + 5 * p_nat) / (n_f + 5)
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def _time_varying_design(el: pd.DataFrame, t0, grace, time_varying) -> tuple[np.ndarray, list]:
    """(n, grace + 1, q) covariates of days 0..grace: ``"breaches"`` = breaches on or before the day
    (1 and 2+ indicators, from ``days_to_first_breach``/``days_to_second_breach``) and a breach (first or
    second) on the day before (an escalation prompting an application); any other name is a
    ``days_to_...`` column switching a 0/1 indicator on from its day (e.g. a risk upgrade)."""
    days = np.arange(grace + 1)[None, :]
    parts, names = [], []
    for v in time_varying:
        if v == "breaches":
            b1 = _col(el, "days_to_first_breach") - t0
            b2 = _col(el, "days_to_second_breach") - t0
            one = (b1[:, None] <= days) & ~(b2[:, None] <= days)
            two = b2[:, None] <= days
            recent = (b1[:, None] == days - 1) | (b2[:, None] == days - 1)
            parts += [one.astype(float), two.astype(float), recent.astype(float)]
            names += ["breaches=1 (so far)", "breaches=2+ (so far)", "breach the day before"]
        else:
            if v not in el.columns:
                raise DataValidationError(f"time-varying covariate {v!r} is not a column of the case table "
                                          "(give 'breaches' or a days_to_... column)")
            parts.append((np.floor(_col(el, v) - t0)[:, None] <= days).astype(float))
            names.append(f"{v.removeprefix('days_to_')} (so far)")
    Z = np.stack(parts, axis=2) if parts else np.zeros((len(el), grace + 1, 0))
    return Z, names


# ------------------------------------------------------------------------------------------------
# the weights and the risks
# ------------------------------------------------------------------------------------------------
def _day_bins(grace: int) -> np.ndarray:
    starts = [b for b in _BIN_STARTS if b <= grace]
    return np.searchsorted(np.asarray(starts), np.arange(grace + 1), side="right") - 1


def _design(D: _TrialData, grace: int, use_baseline: bool, use_tv: bool):
    """Person-days at risk of an application (open, not yet applied for, days 0..grace) as unique design rows
    (cached on ``D``): ``(X_unique, inv, case, day, applied)``."""
    key = (use_baseline, use_tv)
    cache = D.__dict__.setdefault("_designs", {})
    if key not in cache:
        bins = _day_bins(grace)
        nb = bins.max() + 1
        days = np.arange(grace + 1)
        at_risk = (D.T[:, None] >= days) & (D.A[:, None] >= days)
        ii, kk = np.nonzero(at_risk)
        parts = [np.eye(nb)[bins[kk]]]
        if use_baseline and D.Xb.shape[1]:
            parts.append(D.Xb[ii])
        if use_tv and D.Z.shape[2]:
            parts.append(D.Z[ii, kk])
        Xu, inv = _unique_rows(np.hstack(parts))
        cache[key] = (Xu, inv, ii, kk, (D.A[ii] == kk).astype(float), nb)
    return cache[key]


def _hazard(D: _TrialData, m: np.ndarray, grace: int, use_baseline: bool, use_tv: bool):
    """Pooled logistic model of the daily application hazard among open cases not yet applied for, on day bins,
    baseline and (optionally) time-varying covariates, case weights ``m``. Returns ``(lp, alpha)``: the covariate
    part of the log-odds of case ``i`` on day ``k`` (n, g+1) and the day terms (g+1,)."""
    Xu, inv, ii, kk, y, nb = _design(D, grace, use_baseline, use_tv)
    mu = m[ii]
    N = np.bincount(inv, weights=mu, minlength=len(Xu))
    Y = np.bincount(inv, weights=mu * y, minlength=len(Xu))
    use = N > 0
    starts = D.__dict__.setdefault("_starts", {})
    beta = _logistic_agg(Y[use], N[use], Xu[use], ridge=D.ridge, start=starts.get((use_baseline, use_tv)))
    starts.setdefault((use_baseline, use_tv), beta)
    alpha = beta[:nb][_day_bins(grace)]
    lp = np.zeros((len(D.T), grace + 1))
    q = nb
    if use_baseline and D.Xb.shape[1]:
        lp += (D.Xb @ beta[q:q + D.Xb.shape[1]])[:, None]
        q += D.Xb.shape[1]
    if use_tv and D.Z.shape[2]:
        lp += D.Z @ beta[q:q + D.Z.shape[2]]
    return lp, alpha


def _logistic_agg(Y, N, X, ridge: float = 0.1, max_iter: int = 40, start=None) -> np.ndarray:
    """Binomial logistic regression on aggregated rows (``Y`` successes of ``N``) by Newton steps with a small
    ridge (``ridge``, as 0.1 pseudo-observations' worth) on every coefficient, so a covariate level or day bin
    without applications gives a hazard near 0 (log-odds about -10) rather than a failed fit; the iterations stop
    once no fitted probability moves by 1e-10. ``start``: initial coefficients (bootstrap: the full-data fit)."""
    beta = np.zeros(X.shape[1]) if start is None else np.array(start, float)
    p_old = np.full(len(Y), -1.0)
    for _ in range(max_iter):
        p = expit(X @ beta)
        if np.max(np.abs(p - p_old)) < 1e-10:
            break
        p_old = p
        # BLAS; SPOTargetTrial.fit holds it to one thread (threads on these small matrices are slow when
        # the machine is busy)
        g = X.T @ (Y - N * p) - ridge * beta
        Hm = (X * (N * p * (1 - p))[:, None]).T @ X + ridge * np.eye(X.shape[1])
        beta += np.linalg.solve(Hm, g)
    return beta


def _unique_rows(X: np.ndarray):
    """``(X_unique, inverse)`` of the rows of a 2-D array (pandas hashing: fast for many columns)."""
    if X.shape[1] == 0:
        return np.zeros((1, 0)), np.zeros(len(X), np.int64)
    inv = pd.DataFrame(X).groupby(list(range(X.shape[1])), sort=False).ngroup().to_numpy()
    Xu = np.zeros((inv.max() + 1, X.shape[1]))
    Xu[inv] = X
    return Xu, inv


def _softplus(x):
    return np.logaddexp(0.0, x)


def _arm_weights(D: _TrialData, lp: np.ndarray, alpha: np.ndarray, grace: int):
    """Per-clone weights of both arms: ``(w_within (n, g+1), post_within (n,), w_not (n, g+1), post_not (n,))``
    -- the weight on each day 0..grace and the constant weight after grace (0 = censored)."""
    G1 = grace + 1
    days = np.arange(G1)
    h = expit(lp + alpha[None, :])                              # hazard on day k with the covariates of day k
    # S_rem[i, k] = P(no application on days k..g | covariates of day k held)
    # computed once per distinct covariate value (hash factorisation: few values, many case-days)
    inv, u = pd.factorize(lp.reshape(-1))
    logq = -_softplus(u[:, None] + alpha[None, :])              # log(1 - h) of value u on day j
    tail = np.cumsum(logq[:, ::-1], axis=1)[:, ::-1]            # sum over days j >= k
    S_rem = np.exp(tail[inv.reshape(lp.shape), days[None, :]])
    hstar = np.clip(h / np.maximum(1.0 - S_rem, 1e-300), 0.0, 1.0)
    A = D.A
    untreated = A[:, None] > days[None, :]                      # no application by day k
    treated_today = A[:, None] == days[None, :]
    # within: cumulative ratio of the strategy's to the natural probability of the observed decisions
    r_no = np.where(untreated, (1.0 - hstar) / np.maximum(1.0 - h, 1e-300), 1.0)
    r_yes = np.where(treated_today, hstar / np.maximum(h, 1e-300), 1.0)
    w_in = np.cumprod(r_no * r_yes, axis=1)
    post_in = np.where(A <= grace, w_in[:, -1], 0.0)
    # not within: an application by day g censors; untreated days weigh 1 / (1 - h)
    r_not = np.where(untreated, 1.0 / np.maximum(1.0 - h, 1e-300), 0.0)
    w_not = np.cumprod(r_not, axis=1)
    post_not = np.where(A <= grace, 0.0, w_not[:, -1])
    return w_in, post_in, w_not, post_not


def _aj(T, s, m, w_days, w_post, horizon: int) -> np.ndarray:
    """Weighted Aalen--Johansen risks of causes 1 and 2 on days 0..horizon; weights ``w_days`` (n, g+1) on days
    0..g and ``w_post`` (n,) after. Returns (2, horizon + 1)."""
    G1 = w_days.shape[1]
    H1 = horizon + 1
    Y = np.zeros(H1)
    Dv = np.zeros((H1, 3))
    days = np.arange(G1)
    wd = w_days * m[:, None]
    Y[:G1] = (wd * (T[:, None] >= days)).sum(axis=0)
    ev_early = T < G1
    for j in (1, 2, 3):
        sel = ev_early & (s == j)
        Dv[:G1, j - 1] = np.bincount(T[sel], weights=wd[sel, T[sel]], minlength=G1)[:G1]
    wp = w_post * m
    if H1 > G1:
        cnt = np.bincount(T, weights=wp, minlength=H1)[:H1]
        Y[G1:] = cnt[::-1].cumsum()[::-1][G1:]
        for j in (1, 2, 3):
            sel = (s == j) & ~ev_early
            Dv[G1:, j - 1] = np.bincount(T[sel], weights=wp[sel], minlength=H1)[G1:H1]
    hz = np.zeros_like(Dv)
    np.divide(Dv, Y[:, None], out=hz, where=Y[:, None] > 0)
    S = np.cumprod(1.0 - hz.sum(axis=1))
    Sprev = np.concatenate(([1.0], S[:-1]))
    return np.cumsum(Sprev[:, None] * hz, axis=0)[:, :2].T


def _group_risks(T, s, m, group, w, horizon) -> np.ndarray:
    """Risks by horizon (2 causes) of the cases in ``group`` with fixed weights from time zero (naive)."""
    ww = np.where(group, w * m, 0.0)
    return _aj(T, s, np.ones(len(T)), np.zeros((len(T), 1)) + ww[:, None], ww, horizon)[:, -1]


#: The estimators of :meth:`SPOTargetTrial.fit`, in the order of the bias-decomposition table.
METHODS = {
    "naive: ever vs never applied": "immortal time + confounding (groups by any application before the exit)",
    "naive: within grace vs not": "immortal time + confounding (groups by application within the grace period, "
                                  "followed from time zero)",
    "adjusted, immortal time left": "immortal time only (within-grace groups, baseline-covariate IPW)",
    "CCW, no covariates": "confounding only (clone-censor-weight, application hazard on day of follow-up only)",
    "CCW, baseline covariates": "neither, if confounding is baseline only",
    "CCW, time-varying covariates": "neither, if the time-varying covariates capture the confounding",
}


def _all_estimates(D: _TrialData, m: np.ndarray, grace: int, horizon: int, methods) -> dict:
    """Every estimator on one (re)sample with case weights ``m``: method -> (2 arms, 2 outcomes) risks at
    horizon; CCW methods also return curves."""
    out = {}
    T, s, A = D.T, D.s, D.A
    ever = np.isfinite(A)
    within = A <= grace
    for meth in methods:
        if meth == "naive: ever vs never applied":
            out[meth] = np.stack([_group_risks(T, s, m, ever, np.ones(len(T)), horizon),
                                  _group_risks(T, s, m, ~ever, np.ones(len(T)), horizon)])
        elif meth == "naive: within grace vs not":
            out[meth] = np.stack([_group_risks(T, s, m, within, np.ones(len(T)), horizon),
                                  _group_risks(T, s, m, ~within, np.ones(len(T)), horizon)])
        elif meth == "adjusted, immortal time left":
            cache = D.__dict__.setdefault("_designs", {})
            if "ipw" not in cache:
                cache["ipw"] = _unique_rows(np.column_stack([np.ones(len(T)), D.Xb]))
            Xu, inv = cache["ipw"]
            N = np.bincount(inv, weights=m, minlength=len(Xu))
            use = N > 0
            starts = D.__dict__.setdefault("_starts", {})
            beta = _logistic_agg(np.bincount(inv, weights=within * m, minlength=len(Xu))[use], N[use], Xu[use],
                                 ridge=D.ridge, start=starts.get("ipw"))
            starts.setdefault("ipw", beta)
            p = expit(Xu @ beta)[inv]
            w = np.where(within, 1.0 / np.maximum(p, 1e-12), 1.0 / np.maximum(1 - p, 1e-12))
            out[meth] = np.stack([_group_risks(T, s, m, within, w, horizon),
                                  _group_risks(T, s, m, ~within, w, horizon)])
        else:
            use_b = meth != "CCW, no covariates"
            use_tv = meth == "CCW, time-varying covariates"
            lp, alpha = _hazard(D, m, grace, use_b, use_tv)
            w_in, p_in, w_not, p_not = _arm_weights(D, lp, alpha, grace)
            curves = np.stack([_aj(T, s, m, w_in, p_in, horizon), _aj(T, s, m, w_not, p_not, horizon)])
            out[meth] = curves[:, :, -1]
            out[meth + " curves"] = curves
            out[meth + " max weight"] = float(max(w_in.max(initial=0), p_in.max(initial=0), w_not.max(initial=0),
                                                  p_not.max(initial=0)))
    return out


#: A fitted probability of following a strategy below this is "practically never, in these data".
POSITIVITY_THRESHOLD = 1e-3


def _positivity(D: _TrialData, grace: int, methods) -> pd.DataFrame:
    """Per CCW method: the fitted probability of each eligible case following "within" (an application by day
    ``grace`` along its own covariate path) and "not within" (none by then); how many are practically 0."""
    rows = []
    n = len(D.T)
    for meth in methods:
        if not meth.startswith("CCW"):
            continue
        lp, alpha = _hazard(D, np.ones(n), grace, meth != "CCW, no covariates", meth == "CCW, time-varying covariates")
        log_none = np.log1p(-expit(lp + alpha[None, :])).sum(axis=1)    # log P(no application on days 0..g)
        p_within, p_not = -np.expm1(log_none), np.exp(log_none)
        applied = D.A <= grace
        rows.append({"method": meth, "n_eligible": n,
                     "within: p < 0.001": int((p_within < POSITIVITY_THRESHOLD).sum()),
                     "not within: p < 0.001": int((p_not < POSITIVITY_THRESHOLD).sum()),
                     "median p within": float(np.median(p_within)),
                     "smallest p within, applied": float(p_within[applied].min()) if applied.any() else np.nan})
    out = pd.DataFrame(rows)
    if len(out):
        out["within: share p < 0.001"] = out["within: p < 0.001"] / n
    return out


def _boot_one(rng, D, grace, horizon, methods):
    n = len(D.T)
    m = rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)
    return _all_estimates(D, m, grace, horizon, methods)


# ------------------------------------------------------------------------------------------------
# the fitter
# ------------------------------------------------------------------------------------------------
class SPOTargetTrial:
    """An SPO target trial, emulated by clone--censor--weight, with the naive comparisons beside it.

    Parameters
    ----------
    trial : {"full28", "interim48", "interim48_need"}
        Which trial (module docstring: eligibility, time zero, strategies).
    horizon : int, default 180
        Risks by this many days after time zero.
    grace : int, optional
        Grace period in days (default: 28 for ``"full28"``, 2 for the interim trials).
    covariates : sequence of str, default ("risk", "financial_year", "force", "recorded_stalking", "online")
        Baseline covariates of the application-hazard model (columns of the case table; categorical ones
        dummy-coded; ``force`` gives each force its own application rate -- the force's practice).
        ``"recorded_stalking"``: recorded or reclassified as stalking by time zero (misrecorded cases are
        charged less and their needs recognised later). ``"force_practice"`` is the logit of the force's
        share of *other* eligible cases applied for within the grace period (a leave-one-out proxy of the
        force's timeliness practice, for use instead of ``force`` when forces are many and small). Covariates
        absent from the data are left out with a note (``notes_``); ``risk`` is left out of the interim
        trials (every eligible case is high-risk).
    time_varying : sequence of str, default ("breaches", "days_to_spo_need_identified")
        Covariates updated daily for the ``"CCW, time-varying covariates"`` estimator: ``"breaches"`` (order
        breaches so far: 1, 2+; a breach the day before) and/or ``days_to_...`` columns that switch on (the
        need recognised, for ``"interim48"``; e.g. a risk upgrade). A covariate constant over the grace
        period (the need, in ``"full28"``, where it is time zero) drops out.
    primary : str, optional
        The estimator reported as the trial's estimate (``summary`` rows with ``primary=True``): default
        ``"CCW, time-varying covariates"`` when ``time_varying`` is usable, else ``"CCW, baseline covariates"``.
    n_boot : int, default 200
        Bootstrap replicates (cases resampled with replacement; weights refitted in each).
    alpha : float, default 0.05
    random_state : None, int or numpy.random.Generator
    n_jobs : int, optional
        Workers of :func:`attrition._parallel.replicate` (results do not depend on it).
    ridge : float, default 0.1
        Ridge penalty of the application-hazard models, in pseudo-observations per coefficient: keeps a day
        bin or covariate level without applications finite (log-odds about -10). On 30 national worlds its
        value (0.01, 0.03, 0.1) moved the interim48 estimates' bias by under 0.005 on the log scale.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per (method, outcome, measure): ``measure`` in "risk (within)", "risk (not_within)", "RD",
        "RR"; ``estimate``, ``se`` (bootstrap SD), percentile CI, ``primary``, ``bias_source`` (what the
        method leaves uncorrected). ``summary.attrs["estimand"]`` states the estimand in words.
    risk_curves_ : pandas.DataFrame
        ``time`` (days since time zero), ``strategy``, ``outcome``, ``risk``, ``lower``, ``upper``, of the
        primary estimator, for :func:`~attrition.effects.plotting.plot_risk_curves`.
    followers_ : pandas.DataFrame
        The cases that followed each strategy in the data (unweighted) and their charges and withdrawals by
        the horizon: what the weighted risks rest on (and what disclosure control looks at).
    n_eligible_, n_within_, n_excluded_, max_weight_, notes_
        Eligible cases, of them applied for within the grace period, exclusions by reason, the largest
        clone weight of each CCW estimator, and notes on covariates left out (and on positivity).
    positivity_ : pandas.DataFrame
        Per CCW estimator, the fitted probability of each eligible case following each strategy along its own
        covariate path: how many have a probability below 0.001 of an application within the grace period
        (``within: p < 0.001`` and its share) or of none (``not within: p < 0.001``), the median, and the
        smallest among the cases that were applied for. Cases "practically never" applied for are
        outside the data's support: the weights extrapolate the "within" risk to them.

    Notes
    -----
    The weights are the sequential ratio of the strategy's to the natural probability of each day's
    application decision. With ``h_k`` the fitted daily hazard on day ``k`` and ``S_k`` the fitted probability
    of no application on days ``k..g`` (covariates of day ``k`` held), the within strategy applies on day
    ``k`` with hazard ``h*_k = h_k / (1 - S_k)`` (so ``h*_g = 1``): untreated days weigh
    ``(1 - h*_k) / (1 - h_k)``, the application day ``h*_k / h_k``; with baseline covariates only this is
    ``1 / P(application by g | x)`` for the clones applied for within ``g`` -- the strategy "application day
    drawn from the natural timing within ``g``". Under not_within an application by day ``g`` censors the
    clone and untreated days weigh ``1 / (1 - h_k)``. Valid when, given the covariates of the hazard model,
    the application timing is independent of the potential outcomes (no unmeasured confounding), the
    hazard model is right, and every covariate pattern can be applied for within and after ``g``
    (positivity; see ``max_weight_`` and ``positivity_``). **In ``"interim48"`` positivity fails**: an interim
    application needs a recognised need, and on the synthetic national data 98% of the eligible high-risk
    cases had none within 2 days (fitted chance of an application within 2 days below 0.001; the least likely
    case applied for had 0.07), so the "within" risk is extrapolated to them from about 200 cases applied for.
    ``"interim48_need"`` asks the same question of the cases with a recognised need (time zero at the need),
    where about half were applied for within 2 days and no case is outside the data's support.

    Replication study (``tests/studies/spo_trial_coverage.py``, :mod:`attrition.synthetic` at national size,
    the truth of each world from :func:`attrition.synthetic.strategy_risks`, 100 worlds, 100 bootstraps):
    coverage of the primary estimator's 95% intervals of the RR, with its Monte Carlo SE -- ``"full28"``
    charge 93% (2.6), withdrawal 97% (1.7); ``"interim48_need"`` charge 94% (2.4), withdrawal 93% (2.6), mean
    log-RR bias -0.007 (0.016) and -0.004 (0.007); ``"interim48"`` charge **87% (3.4)**, withdrawal 93% (2.6):
    with its positivity failing, its errors are about 25% larger than its bootstrap SEs (SD of the z-scores
    1.26; 1.21 for withdrawal over 38 samples of one fixed world), so read those intervals as too narrow.
    The ridge of the hazard model is not the cause (0.01, 0.03 and 0.1 gave the same bias on the same 30
    worlds). See the study's docstring for every estimator, with and without the adversarial switches, and
    :func:`attrition.effects.stress.switch_study`; in a daily test world
    with known truth (``tests/_trial_world.py``, 40 datasets of 20,000 needs, escalation on) the mean log-RR
    bias of withdrawal was 0.049 (MC SE 0.003) with baseline weights and 0.006 (0.003) with time-varying ones.

    References
    ----------
    Hernan MA, Robins JM (2016). Using big data to emulate a target trial when a randomized trial is not
    available. Am J Epidemiol 183:758-764.
    Maringe C, Benitez Majano S, Exarchakou A, et al. (2020). Reflection on modern methods: trial emulation
    in the presence of immortal-time bias. Int J Epidemiol 49:1719-1729.
    Young JG, Cain LE, Robins JM, O'Reilly EJ, Hernan MA (2011). Comparative effectiveness of dynamic
    treatment regimes: an application of the parametric g-formula. Stat Biosci 3:119-143.
    Cain LE, Robins JM, Lanoy E, et al. (2010). When to start treatment? A systematic approach to the
    comparison of dynamic regimes using observational data. Int J Biostat 6(2):18.
    """

    def __init__(self, trial: str = "full28", *, horizon: int = 180, grace: int | None = None,
                 covariates=("risk", "financial_year", "force", "recorded_stalking", "online"),
                 time_varying=("breaches", "days_to_spo_need_identified"),
                 primary: str | None = None, n_boot: int = 200, alpha: float = 0.05, random_state=None,
                 n_jobs: int | None = None, ridge: float = 0.1):
        self.trial = trial
        self.ridge = float(ridge)
        self.spec = _spec(trial)
        self.grace = self.spec["grace"] if grace is None else int(grace)
        self.horizon = int(horizon)
        if self.grace < 0 or self.horizon <= self.grace:
            raise ValueError(f"need 0 <= grace < horizon, got grace={self.grace}, horizon={self.horizon}")
        self.covariates = [covariates] if isinstance(covariates, str) else list(covariates)
        self.time_varying = [time_varying] if isinstance(time_varying, str) else list(time_varying)
        self.primary = primary
        if int(n_boot) < 0:
            raise ValueError(f"n_boot must be >= 0, got {n_boot}")
        self.n_boot = int(n_boot)
        self.alpha = check_alpha(alpha)
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __repr__(self) -> str:
        fitted = f", n_eligible={self.n_eligible_}" if hasattr(self, "n_eligible_") else ""
        return f"SPOTargetTrial(trial={self.trial!r}, grace={self.grace}, horizon={self.horizon}{fitted})"

    def fit(self, events_or_cases) -> SPOTargetTrial:
        """Emulate the trial on an event log or case table; returns ``self``.

        Raises
        ------
        DataValidationError
            No eligible case, no case applied for within the grace period or none not applied for, missing
            columns or covariate values.
        """
        cases = _as_cases(events_or_cases)
        notes = []
        covs = []
        for c in self.covariates:
            if c == "force_practice":
                if "force" in cases.columns and cases["force"].nunique() > 1:
                    covs.append(c)
                else:
                    notes.append("force_practice left out: one force only")
            elif c == "recorded_stalking":
                if "days_to_recorded_stalking" in cases.columns:
                    covs.append(c)
                else:
                    notes.append("recorded_stalking left out: days_to_recorded_stalking absent")
            elif c not in cases.columns or cases[c].nunique(dropna=True) < 2:
                notes.append(f"{c} left out: absent or constant in the data")
            elif self.trial.startswith("interim48") and c == "risk":
                continue
            else:
                covs.append(c)
        tv = []
        for v in self.time_varying:
            cols = ["days_to_first_breach"] if v == "breaches" else [v]
            if all(c in cases.columns for c in cols):
                tv.append(v)
            else:
                notes.append(f"time-varying covariate {v} left out: {cols[0]} absent")
        D = _trial_data(cases, self.trial, self.grace, self.horizon, covs, tv)
        D.ridge = self.ridge
        # a constant covariate among the eligible cases adds nothing (and a singular design)
        keep = D.Xb.std(axis=0) > 0 if D.Xb.shape[1] else np.zeros(0, bool)
        D.Xb = D.Xb[:, keep]
        keep_tv = D.Z.reshape(-1, D.Z.shape[2]).std(axis=0) > 0 if D.Z.shape[2] else np.zeros(0, bool)
        has_tv = bool(keep_tv.any())
        D.Z = D.Z[:, :, keep_tv]
        n_within = int((D.A <= self.grace).sum())
        n = len(D.T)
        if n_within == 0 or n_within == n:
            raise DataValidationError(
                f"{self.trial}: {n_within} of {n} eligible cases had an application within {self.grace} days; "
                "both strategies need cases that followed them, so the trial cannot be emulated on these data.")
        methods = [mth for mth in METHODS if has_tv or mth != "CCW, time-varying covariates"]
        primary = self.primary or ("CCW, time-varying covariates" if has_tv else "CCW, baseline covariates")
        if primary not in methods:
            raise ValueError(f"primary must be one of {methods}, got {primary!r}")
        from .._parallel import replicate, single_thread_blas

        with single_thread_blas():
            est = _all_estimates(D, np.ones(n), self.grace, self.horizon, methods)
            boots = replicate(_boot_one, self.n_boot, random_state=check_random_state(self.random_state),
                              args=(D, self.grace, self.horizon, methods), n_jobs=self.n_jobs) if self.n_boot else []
        self._tidy(est, boots, methods, primary)
        self.n_eligible_, self.n_within_, self.n_excluded_ = n, n_within, D.n_excluded
        within = D.A <= self.grace
        followed = (within, ~within)
        self.followers_ = pd.DataFrame(
            {"cases": [int(g.sum()) for g in followed],
             **{o: [int(((D.s == k) & g).sum()) for g in followed] for k, o in ((1, "charge"), (2, "withdrawal"))}},
            index=pd.Index(list(ARMS), name="strategy followed"))
        self.max_weight_ = {mth: est[mth + " max weight"] for mth in methods if mth.startswith("CCW")}
        with single_thread_blas():
            self.positivity_ = _positivity(D, self.grace, methods)
        pos = self.positivity_.set_index("method")
        if primary in pos.index and pos.loc[primary, "within: share p < 0.001"] >= 0.05:
            notes.append(
                f"positivity: {pos.loc[primary, 'within: share p < 0.001']:.0%} of the eligible cases had a fitted "
                f"probability below {POSITIVITY_THRESHOLD} of an application within {self.grace} days "
                f"({primary}): in the data nobody like them was applied for so early, so the 'within' risk is "
                "extrapolated to them from the cases that were (see positivity_).")
        self.covariates_, self.time_varying_, self.notes_ = covs, tv if has_tv else [], notes
        self.primary_ = primary
        return self

    def _tidy(self, est, boots, methods, primary):
        lo, hi = ci_labels(self.alpha)
        qlo, qhi = self.alpha / 2, 1 - self.alpha / 2
        rows = []
        for mth in methods:
            e = est[mth]
            b = np.array([bb[mth] for bb in boots]) if boots else np.zeros((0, 2, 2))
            for j, outcome in enumerate(OUTCOMES):
                with np.errstate(divide="ignore", invalid="ignore"):
                    vals = {"risk (within)": (e[0, j], b[:, 0, j]), "risk (not_within)": (e[1, j], b[:, 1, j]),
                            "RD": (e[0, j] - e[1, j], b[:, 0, j] - b[:, 1, j]),
                            "RR": (e[0, j] / e[1, j], b[:, 0, j] / b[:, 1, j])}
                for measure, (x, bb) in vals.items():
                    bb = bb[np.isfinite(bb)]
                    if measure == "RR" and len(bb) > 1:
                        ci = np.quantile(bb, [qlo, qhi])
                        se = float(np.std(np.log(bb[bb > 0]), ddof=1)) if (bb > 0).sum() > 1 else np.nan
                    elif len(bb) > 1:
                        ci = np.quantile(bb, [qlo, qhi])
                        se = float(np.std(bb, ddof=1))
                    else:
                        ci, se = (np.nan, np.nan), np.nan
                    rows.append({"trial": self.trial, "method": mth, "outcome": outcome, "measure": measure,
                                 "estimate": float(x), "se": se, lo: float(ci[0]), hi: float(ci[1]),
                                 "primary": mth == primary, "bias_source": METHODS[mth]})
        summary = pd.DataFrame(rows)
        summary.attrs["estimand"] = trial_estimand(self.trial, self.horizon, self.grace)
        summary.attrs["se"] = "RR: bootstrap SD of log RR; others: bootstrap SD"
        self.summary = summary
        strat = [s.format(g=self.grace) for s in self.spec["strategy"]]
        curves = []
        cb = np.array([bb[primary + " curves"] for bb in boots]) if boots else None
        for a in range(2):
            for j, outcome in enumerate(OUTCOMES):
                r = est[primary + " curves"][a, j]
                band = cb[:, a, j, :] if cb is not None and len(cb) > 1 else None
                curves.append(pd.DataFrame({
                    "time": np.arange(self.horizon + 1), "strategy": strat[a], "arm": ARMS[a], "outcome": outcome,
                    "risk": r, "lower": np.quantile(band, qlo, axis=0) if band is not None else r,
                    "upper": np.quantile(band, qhi, axis=0) if band is not None else r}))
        self.risk_curves_ = pd.concat(curves, ignore_index=True)

    def protocol(self) -> pd.DataFrame:
        """The target trial's protocol and its emulation, one row per element (for a report)."""
        within, not_within = (s.format(g=self.grace) for s in self.spec["strategy"])
        rows = {
            "eligibility": self.spec["eligible"],
            "time zero": self.spec["time_zero"].replace("days since ", "the day of "),
            "strategies": f"'{within}' vs '{not_within}'",
            "outcomes": "police charge (HO outcome 1); victim does not support action (HO outcome 16); other "
                        "police outcomes compete",
            "follow-up": f"{self.horizon} days from time zero; no police outcome by the extraction date = censored",
            "estimand": trial_estimand(self.trial, self.horizon, self.grace),
            "emulation": f"clone-censor-weight; application hazard on day of follow-up and "
                         f"{', '.join(getattr(self, 'covariates_', self.covariates)) or 'nothing'}"
                         + (f", updated daily for {', '.join(self.time_varying_)}" if getattr(self, 'time_varying_', None)
                            else ""),
            "inference": f"percentile bootstrap over cases ({self.n_boot} replicates), weights refitted in each",
        }
        return pd.DataFrame({"element": list(rows), "description": list(rows.values())})

    def estimate(self, method: str | None = None) -> pd.DataFrame:
        """Rows of ``summary`` of one method (default: the primary one)."""
        if not hasattr(self, "summary"):
            raise NotFittedError("call fit() first")
        method = method or self.primary_
        return self.summary[self.summary["method"] == method].reset_index(drop=True)

    def bias_table(self, truth: pd.DataFrame | None = None, measure: str = "RR") -> pd.DataFrame:
        """The naive-to-adjusted decomposition: each method's ``measure`` by outcome, what it leaves
        uncorrected, and (with ``truth`` from :func:`true_trial_risks`) the truth and the bias.

        With the methods in order -- naive (immortal time + confounding), immortal time fixed only (CCW
        without covariates), confounding fixed only (baseline IPW of the within-grace groups), both -- the
        bias of each row against the truth separates the two sources."""
        if not hasattr(self, "summary"):
            raise NotFittedError("call fit() first")
        lo, hi = ci_labels(self.alpha)
        t = self.summary[self.summary["measure"] == measure]
        out = t.pivot(index="method", columns="outcome", values=["estimate", lo, hi])
        out = out.reindex([m for m in METHODS if m in out.index])
        table = pd.DataFrame(index=out.index)
        for o in OUTCOMES:
            table[f"{o} {measure}"] = out[("estimate", o)]
            table[f"{o} {lo}"] = out[(lo, o)]
            table[f"{o} {hi}"] = out[(hi, o)]
            if truth is not None:
                tv = float(truth.loc[o, measure.lower()])
                table[f"{o} truth"] = tv
                table[f"{o} bias"] = (np.log(table[f"{o} {measure}"]) - np.log(tv)) if measure == "RR" else \
                    table[f"{o} {measure}"] - tv
        table["bias left"] = [METHODS[m] for m in table.index]
        if truth is not None and measure == "RR":
            table.attrs["bias"] = "bias = log(estimate) - log(truth)"
        return table


def spo_target_trial(events_or_cases, trial: str = "full28", **kwargs) -> SPOTargetTrial:
    """Fit an :class:`SPOTargetTrial` (``trial``, keyword arguments as its constructor) and return it."""
    return SPOTargetTrial(trial, **kwargs).fit(events_or_cases)


def spo_trial_on_data(cases: pd.DataFrame, trial: str, *, min_count: int = 10, **kwargs):
    """:class:`SPOTargetTrial` as an analyst runs it on whatever extract is at hand, saying why it cannot.

    The trial is emulated only when at least ``min_count`` eligible cases followed each strategy and, among
    them, at least ``min_count`` had each outcome (``followers_``): fewer can neither support weights nor be
    published -- a risk among few cases lets a reader work out a count under 10 (attrition.disclosure).

    Returns
    -------
    model : SPOTargetTrial or None
    notes : list of str
        Covariates left out, exclusions, or (model None) why the trial was not emulated.
    """
    try:
        m = SPOTargetTrial(trial, **kwargs).fit(cases)
    except DataValidationError as err:
        return None, [str(err).splitlines()[0]]
    notes = list(m.notes_)
    notes += [f"{k}: {v} case(s) not eligible" for k, v in m.n_excluded_.items() if v]
    small = min(m.n_within_, m.n_eligible_ - m.n_within_)
    if small < min_count:
        return None, notes + [f"fewer than {min_count} eligible cases followed one of the strategies"]
    few = m.followers_[["charge", "withdrawal"]].stack()
    few = few[few < min_count]
    if len(few):
        (arm, outcome), _ = next(iter(few.items()))
        return None, notes + [f"fewer than {min_count} cases that followed '{arm}' had a {outcome}: its risk would "
                              "rest on too few cases to estimate or publish"]
    return m, notes


# ------------------------------------------------------------------------------------------------
# truth (synthetic data) and bias analysis
# ------------------------------------------------------------------------------------------------
def true_trial_risks(trial: str, data=None, *, horizon: int = 180, n_cases=None, random_state=None, **truth):
    """True risks of charge and withdrawal under each strategy, from the generator (synthetic data only).

    Calls :func:`attrition.synthetic.strategy_risks`, which simulates both strategies in the world of
    ``random_state`` (forces, case mix and every latent draw): to get the truth of a simulated dataset, pass
    that dataset as ``data`` and the seed it was simulated with as ``random_state`` (the truth differs
    between worlds: e.g. the full28 charge RR was 1.12 in one national world and 1.34 in another).
    ``None`` when the generator has no ``strategy_risks`` or ``data`` is real (no truth).

    Parameters
    ----------
    trial : {"full28", "interim48", "interim48_need"}
    data : SyntheticData, optional
        Its truth parameters and size are used (``truth`` overrides them).
    horizon : int, default 180
    n_cases : int, optional
        Reports simulated (default: ``data``'s, else national).
    random_state : int
        The seed of the world (of ``data``).
    **truth
        Parameters of :data:`attrition.synthetic.DEFAULT_TRUTH` (e.g. an adversarial switch).

    Returns
    -------
    pandas.DataFrame or None
        Index ``["charge", "withdrawal"]``; columns ``risk_within``, ``risk_not_within``, ``rd``, ``rr``,
        ``mc_se`` (Monte Carlo SE of the within risk) and ``n_eligible``.
    """
    from .. import synthetic

    fn = getattr(synthetic, "strategy_risks", None)
    if fn is None:
        return None
    if data is not None:
        if getattr(data, "truth", None) is None:
            return None
        params = {k: v for k, v in data.truth.items() if k in synthetic.DEFAULT_TRUTH}
        truth = {**params, **truth}
        n_cases = n_cases or data.truth.get("n_cases")
    if random_state is None:
        raise ValueError("true_trial_risks needs random_state: the seed of the simulated world (of data)")
    tab = fn(trial, horizon=horizon, n_cases=n_cases, random_state=random_state, **truth)
    risk = tab.pivot_table(index="outcome", columns="arm", values="risk")
    out = pd.DataFrame({"risk_within": risk["within"], "risk_not_within": risk["not_within"]})
    out = out.reindex(list(OUTCOMES))
    out["rd"] = out["risk_within"] - out["risk_not_within"]
    out["rr"] = out["risk_within"] / out["risk_not_within"]
    extra = tab[tab["arm"] == "within"].set_index("outcome")
    for c in ("mc_se", "n_eligible"):
        if c in extra.columns:
            out[c] = extra[c].reindex(out.index)
    return out


def confounding_bias_table(rr_obs: float, *, rr_ud=(1.25, 1.5, 2.0, 3.0), p1=(0.1, 0.3, 0.5, 0.7),
                           p0=(0.1, 0.3, 0.5)) -> pd.DataFrame:
    """Quantitative bias analysis for an unmeasured binary confounder U (external adjustment).

    A confounder that multiplies the outcome risk by ``RR_UD`` and has prevalence ``p1`` among cases that
    followed the within strategy and ``p0`` among the others biases the risk ratio by the factor
    ``B = (1 + p1 (RR_UD - 1)) / (1 + p0 (RR_UD - 1))`` (Bross 1966; Schlesselman 1978), so the
    U-adjusted risk ratio is ``RR_obs / B``. The table gives ``B`` and the adjusted RR over a grid, with
    the Ding--VanderWeele bounding factor ``RR_UD RR_EU / (RR_UD + RR_EU - 1)`` for ``RR_EU = p1 / p0``
    (the largest bias any confounder of those strengths can cause, Ding & VanderWeele 2016).

    Parameters
    ----------
    rr_obs : float
        The estimated risk ratio.
    rr_ud, p1, p0 : sequences of float
        Confounder-outcome risk ratio and prevalences to tabulate (all combinations).

    Returns
    -------
    pandas.DataFrame
        Columns ``rr_ud``, ``p1``, ``p0``, ``bias_factor``, ``rr_adjusted``, ``bounding_factor``,
        ``rr_bound`` (``rr_obs`` divided by the bounding factor when ``rr_obs > 1``, multiplied when below),
        ``crosses_null`` (the adjusted RR is on the other side of 1).

    References
    ----------
    Bross IDJ (1966). Spurious effects from an extraneous variable. J Chronic Dis 19:637-647.
    Schlesselman JJ (1978). Assessing effects of confounding variables. Am J Epidemiol 108:3-8.
    Ding P, VanderWeele TJ (2016). Sensitivity analysis without assumptions. Epidemiology 27:368-377.
    """
    rr_obs = float(rr_obs)
    if not rr_obs > 0:
        raise ValueError(f"rr_obs must be positive, got {rr_obs}")
    g = np.array(np.meshgrid(np.asarray(rr_ud, float), np.asarray(p1, float), np.asarray(p0, float),
                             indexing="ij")).reshape(3, -1).T
    if np.any(g[:, 0] < 1) or np.any((g[:, 1:] < 0) | (g[:, 1:] > 1)):
        raise ValueError("rr_ud must be >= 1 and prevalences in [0, 1]")
    rud, q1, q0 = g.T
    B = (1 + q1 * (rud - 1)) / (1 + q0 * (rud - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        reu = np.where(q0 > 0, np.maximum(q1 / q0, q0 / np.where(q1 > 0, q1, np.nan)), np.inf)
        bf = np.where(np.isfinite(reu), rud * reu / (rud + reu - 1), rud)
    adj = rr_obs / B
    bound = rr_obs / bf if rr_obs >= 1 else rr_obs * bf
    return pd.DataFrame({"rr_ud": rud, "p1": q1, "p0": q0, "bias_factor": B, "rr_adjusted": adj,
                         "bounding_factor": bf, "rr_bound": bound,
                         "crosses_null": np.sign(np.log(adj)) != np.sign(np.log(rr_obs))})


_SHORT = {"naive: ever vs never applied": "naive (ever vs never)", "naive: within grace vs not": "naive (within vs not)",
          "adjusted, immortal time left": "adjusted, immortal time", "CCW, no covariates": "CCW, unadjusted",
          "CCW, baseline covariates": "CCW, baseline", "CCW, time-varying covariates": "CCW, time-varying"}


def trial_effects_table(fits: dict, truths: dict | None = None, *, methods=None, measure: str = "RR",
                        alpha: float = 0.05) -> pd.DataFrame:
    """The ``measure`` of every trial, outcome and method, one labelled row each, with the truth (synthetic)
    beside it -- for :func:`~attrition.effects.plotting.forest_plot` (``truth="truth"``).

    Parameters
    ----------
    fits : dict of str -> SPOTargetTrial
        Fitted trials by name.
    truths : dict of str -> DataFrame or None, optional
        :func:`true_trial_risks` of each trial (None for real data).
    methods : sequence of str, optional
        Default: the naive "ever vs never" comparison and each trial's primary estimator.
    """
    lo, hi = ci_labels(alpha)
    rows = []
    for trial, m in fits.items():
        use = methods or ["naive: ever vs never applied", m.primary_]
        truth = (truths or {}).get(trial)
        for outcome in OUTCOMES:
            for mth in use:
                r = m.summary[(m.summary["method"] == mth) & (m.summary["outcome"] == outcome)
                              & (m.summary["measure"] == measure)]
                if r.empty:
                    continue
                r = r.iloc[0]
                rows.append({"label": f"{trial}, {outcome}: {_SHORT.get(mth, mth)}", "trial": trial,
                             "outcome": outcome, "method": mth, "measure": measure, "estimate": r["estimate"],
                             lo: r[lo], hi: r[hi],
                             "truth": float(truth.loc[outcome, measure.lower()]) if truth is not None else np.nan})
    return pd.DataFrame(rows)


def spo_hazard_ratios(cases: pd.DataFrame, truth: dict | None = None) -> pd.DataFrame:
    """Hazard ratios of charge and victim withdrawal while an SPO is in force, labelled for the HR panel of
    :func:`~attrition.effects.plotting.plot_spo_effects`.

    :func:`attrition.effects.spo_time_varying_cox` adjusted for risk and financial year, made estimable by
    :func:`attrition.design.usable_covariates` as in the officer analyses (absent ones dropped, a missing
    risk assessment an "unknown" level: leaving risk out whenever one value was missing biased the charge
    HR by +0.40 on the log scale under ``risk_missing_mnar=0.5``, :func:`attrition.effects.stress.
    switch_study`), stratified on force when there are several, robust SEs clustered on force with 20
    forces or more (else on the case); what was changed is in ``attrs["notes"]``. ``truth``: the generator's parameters (``spo_hr_charge``, ``spo_hr_withdrawal``; synthetic
    only) -- the structural hazard ratios, drawn beside the estimates.

    On the synthetic national data the charge HR lies above its truth (log bias +0.06 to +0.10, MC SE about
    0.017): the recording of the case confounds it (a case recorded as a lesser offence is charged less and
    gets an order later) and changes over follow-up, which a baseline covariate cannot hold
    (``tests/studies/spo_hr_recording_confounding.py``: adjusting for the first recorded offence and ``online``
    removes about a third of it).

    Raises
    ------
    DataValidationError, ConvergenceError
        As :func:`~attrition.effects.spo_time_varying_cox` (no SPO in force, no event while one is).
    """
    from ..design import usable_covariates
    from .spo import spo_time_varying_cox

    frame, covs, notes = usable_covariates(cases, ["risk", "financial_year"], min_cases=1)
    n_forces = frame["force"].nunique() if "force" in frame.columns else 1
    cox = spo_time_varying_cox(frame, covariates=tuple(covs), strata="force" if n_forces > 1 else None,
                               cluster="force" if n_forces >= 20 else "case_id")
    true_hr = [float((truth or {}).get(f"spo_hr_{o}", np.nan)) for o in cox["outcome"]]
    out = cox.assign(label="SPO in force: " + cox["outcome"], truth=true_hr)
    out.attrs["notes"] = notes
    return out
