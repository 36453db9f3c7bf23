"""A small daily world of SPO needs with a known truth for the target-trial estimators (tests and studies).

Every case is eligible for the ``full28`` trial: need recognised on day 0 (time zero), suspect identified
the same day. Each day, first an open case not yet applied for is applied for with probability
``expit(a0 + a_high * high + a_force[f] + a_b1 * (1 breach so far) + a_b2 * (2+ breaches))``; then it exits
with competing daily hazards of charge ``c0 * exp(c_high * high) * hr_charge^applied``, victim withdrawal
``w0 * exp(w_high * high + w_b * breaches>=1) * hr_withdrawal^applied`` and other outcomes ``o0``; breaches
arrive with daily probability ``b_rate`` (those of day ``k`` count on day ``k``). ``escalation=False``
sets ``a_b1 = a_b2 = w_b = 0`` (no time-varying confounding).

The truth of a strategy is the same process with the application decision replaced by the strategy's
(the definition of :class:`attrition.effects.trials.SPOTargetTrial`): ``"within"`` applies on day ``k``
with hazard ``h_k / (1 - S_k)`` (``S_k``: no natural application on days ``k..g`` with the covariates of
day ``k`` held), ``"not_within"`` never applies on days ``<= g`` and naturally after. It is simulated
with many cases (Monte Carlo error ~ 0.001).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

PARAMS = dict(a0=-3.6, a_high=0.5, a_force=(0.0, 0.4, -0.4, 0.2), a_b1=0.7, a_b2=1.2, c0=0.0010, c_high=0.7,
              w0=0.004, w_high=0.4, w_b=1.0, o0=0.006, hr_charge=1.6, hr_withdrawal=0.6, b_rate=0.01,
              p_high=0.35)


def simulate_world(n: int, rng, *, grace: int = 28, horizon: int = 180, strategy: str | None = None,
                   escalation: bool = True, **over):
    P = {**PARAMS, **over}
    if not escalation:
        P.update(a_b1=0.0, a_b2=0.0, w_b=0.0)
    high = rng.random(n) < P["p_high"]
    force = rng.integers(0, len(P["a_force"]), n)
    lin = P["a0"] + P["a_high"] * high + np.asarray(P["a_force"])[force]
    applied = np.full(n, np.inf)
    exit_day = np.full(n, np.inf)
    cause = np.zeros(n, np.int64)
    nb = np.zeros(n, np.int64)
    b1 = np.full(n, np.nan)
    b2 = np.full(n, np.nan)

    def hazard(k, nbk):
        return expit(lin + P["a_b1"] * (nbk == 1) + P["a_b2"] * (nbk >= 2))

    for k in range(horizon + 1):              # a loop over days, vectorised over cases
        U = rng.random((4, n))                # breach, application, exit, cause (same draws in every arm)
        open_ = np.isinf(exit_day)
        br = open_ & (U[0] < P["b_rate"])
        nb += br
        b1 = np.where(br & (nb == 1), k, b1)
        b2 = np.where(br & (nb == 2), k, b2)
        h = hazard(k, nb)
        if strategy == "within" and k <= grace:
            S = (1 - h) ** (grace - k + 1)    # day-constant hazard: no application on days k..g
            h = np.clip(h / np.maximum(1 - S, 1e-300), 0, 1)
        elif strategy == "not_within" and k <= grace:
            h = np.zeros(n)
        new = open_ & np.isinf(applied) & (U[1] < h)
        applied = np.where(new, k, applied)
        on = applied <= k
        rc = P["c0"] * np.exp(P["c_high"] * high) * np.where(on, P["hr_charge"], 1.0)
        rw = P["w0"] * np.exp(P["w_high"] * high + P["w_b"] * (nb >= 1)) * np.where(on, P["hr_withdrawal"], 1.0)
        ro = np.full(n, P["o0"])
        R = rc + rw + ro
        ex = open_ & (U[2] < 1 - np.exp(-R))
        c = np.where(U[3] * R < rc, 1, np.where(U[3] * R < rc + rw, 2, 3))
        exit_day = np.where(ex, k, exit_day)
        cause = np.where(ex, c, cause)
    return high, force, applied, exit_day, cause, b1, b2


def world_cases(n: int, random_state=0, **kw) -> pd.DataFrame:
    """A case table (the columns the trial reads) of ``n`` simulated cases."""
    rng = np.random.default_rng(random_state)
    horizon = kw.get("horizon", 180)
    high, force, applied, exit_day, cause, b1, b2 = simulate_world(n, rng, **kw)
    closed = np.isfinite(exit_day)
    return pd.DataFrame({
        "case_id": np.arange(1, n + 1),
        "force": pd.Categorical(np.asarray(["Force A", "Force B", "Force C", "Force D"])[force]),
        "risk": pd.Categorical(np.where(high, "high", "standard"), categories=["standard", "medium", "high"]),
        "financial_year": "2021/22",
        "days_to_suspect_identified": 0.0, "days_to_arrested": np.nan,
        "days_to_spo_need_identified": 0.0, "days_to_spo_interim_applied": np.nan,
        "days_to_spo_full_applied": np.where(applied <= np.where(closed, exit_day, horizon), applied, np.nan),
        "days_to_police_outcome": np.where(closed, exit_day, np.nan),
        "outcome_code": pd.Series(np.select([cause == 1, cause == 2], [1, 16], 15)).astype("Int64").where(closed),
        "duration": np.where(closed, exit_day, horizon + 10.0),
        "days_to_first_breach": b1, "days_to_second_breach": b2,
    })


def world_truth(n: int = 400_000, random_state=12345, *, horizon: int = 180, **kw) -> pd.DataFrame:
    """True risks by ``horizon`` under each strategy: index charge/withdrawal, columns risk_within,
    risk_not_within, rd, rr (as :func:`attrition.effects.trials.true_trial_risks`)."""
    out = {}
    for arm in ("within", "not_within"):
        rng = np.random.default_rng(random_state)
        _, _, _, exit_day, cause, _, _ = simulate_world(n, rng, strategy=arm, horizon=horizon, **kw)
        out[f"risk_{arm}"] = [np.mean((exit_day <= horizon) & (cause == 1)),
                              np.mean((exit_day <= horizon) & (cause == 2))]
    t = pd.DataFrame(out, index=["charge", "withdrawal"])
    t["rd"] = t["risk_within"] - t["risk_not_within"]
    t["rr"] = t["risk_within"] / t["risk_not_within"]
    return t
