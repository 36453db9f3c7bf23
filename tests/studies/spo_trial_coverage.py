"""Replication study of the SPO target-trial estimators (attrition.effects.trials.SPOTargetTrial).

Two worlds:

* ``--world toy`` (default): tests/_trial_world.py, every case eligible for ``full28``, known truth in
  tests/results/trial_world_truth.csv; ``--escalation`` switches on time-varying confounding (breaches raise
  both the application hazard and withdrawal).
* ``--world generator``: :func:`attrition.synthetic.simulate` with its truth from
  :func:`attrition.synthetic.strategy_risks` (needs the rewritten generator); ``--switch NAME`` turns an
  adversarial switch on (escalation, informative_censoring, risk_missing_mnar, officer_confounding).

For every estimator (naive ... CCW with time-varying covariates) and outcome it prints the mean log-RR bias
with its Monte Carlo SE, and the coverage of the 95% percentile-bootstrap intervals of the RR with its
Monte Carlo SE ``sqrt(c (1 - c) / reps)``.

Run with ``OPENBLAS_NUM_THREADS=1 nice python tests/studies/spo_trial_coverage.py --world generator --trial full28,interim48
--reps 30 --n-boot 100 --out results.csv`` (the results are appended per replicate).

Every officer and SPO estimator with each switch on, 15 national datasets per setting, bias and coverage with
their Monte Carlo SEs: ``tests/studies/adversarial_switches.py`` (``data/reference/adversarial_switches.csv``).

Results (what was run is stated; times on the shared 2-core machine):

* Generator, national size (360,000 reports; about 2,300 full28-eligible needs, 31,000 interim48-eligible
  cases of which about 150 applied within 2 days), both trials, ``--n-boot 100``, **100 replicates** (seeds
  1000-1099, run as two processes of 50 with ``--first 0`` / ``--first 50`` and summarised with
  ``--summarise``; about 25 s per replicate on a quiet core), truth of each world from ``strategy_risks``.
  Primary estimator (CCW, time-varying covariates), mean log-RR bias (MC SE) and 95% coverage (MC SE):

  =========  ==========  ===============  ===========  =====================
  trial      outcome     bias (MC SE)     coverage     SD of z (est - truth)/SE
  =========  ==========  ===============  ===========  =====================
  full28     charge      -0.003 (0.013)   93% (2.6)    0.92
  full28     withdrawal  +0.006 (0.004)   97% (1.7)    0.90
  interim48  charge      +0.033 (0.030)   87% (3.4)    1.26
  interim48  withdrawal  -0.031 (0.013)   93% (2.6)    1.25
  =========  ==========  ===============  ===========  =====================

  full28 meets the >= 93% target for both outcomes. interim48 does not for the charge (87%, 1.8 MC SE
  below 93%): its errors are about 25% larger than its bootstrap SEs (SD of z 1.26). The naive comparisons
  on the same data: full28 withdrawal ever-vs-never bias -0.175 (0.005), coverage 1%; interim48 charge
  ever-vs-never +0.078 (0.014), coverage 68%.
* **Why interim48 under-covers: its positivity fails** (session of 2026-12-03). An interim application needs
  a recognised need, and 98% of the eligible high-risk cases have none within 2 days: with the need in the
  hazard model their fitted chance of an application within 2 days is below 0.001 (``positivity_``; world
  1000: 30,188 of 30,799), so the "within" risk is extrapolated to them from about 200 cases applied for,
  while the truth makes all of them apply. What was tried, interim48 only, 100 bootstraps:

  * the ridge of the hazard model, ``--ridge 0.01`` / ``0.03`` against the default 0.1 on the same 30 worlds
    (seeds 1000-1029): withdrawal bias -0.061 / -0.060 / -0.058, coverage 90% / 90% / 87%; charge 97% for all;
    the ridge changes the SEs a little and the bias not at all. (The earlier "ridge 0.001" lead came from
    heavy-tailed bootstrap SEs: mean SE 0.33 against a median 0.10 for withdrawal.)
  * one fixed world (``--fixed-forces 1000 --first 4000``, 38 case samples of the forces of world 1000): charge
    100% (SD of z 0.87), withdrawal 86.8% (SD of z 1.21, bias +0.031): the bootstrap under-states the
    withdrawal error within a world too.
  * without the need among the time-varying covariates (``--time-varying breaches``, 40 worlds): charge 77.5%
    (SD of z 1.52), withdrawal 90%: the need is a confounder of the timing; leaving it out is worse.

  **interim48_need** (the same question among high-risk cases with a recognised need, time zero at the need,
  ``--trial interim48_need``, 100 worlds, seeds 1000-1099, two processes of 50, about 10 s per replicate;
  about 1,750 eligible cases of which about 830 applied for within 2 days, largest weight about 16):

  =====================================  ==========  ===============  ===========
  estimator                              outcome     bias (MC SE)     coverage
  =====================================  ==========  ===============  ===========
  CCW, time-varying covariates (primary) charge      -0.007 (0.016)   94% (2.4)
  CCW, time-varying covariates (primary) withdrawal  -0.004 (0.007)   93% (2.6)
  CCW, baseline covariates               charge      -0.005 (0.016)   94% (2.4)
  CCW, baseline covariates               withdrawal  -0.004 (0.007)   93% (2.6)
  naive: ever vs never applied           charge      +0.094 (0.018)   80% (4.0)
  naive: ever vs never applied           withdrawal  -0.063 (0.006)   68% (4.7)
  =====================================  ==========  ===============  ===========

  SD of z 1.02 (charge) and 1.07 (withdrawal): its bootstrap SEs are right, and it meets the >= 93% target.
* Generator with each switch on (``--n-boot 0``, 3 replicates each: bias only, MC SE in brackets), primary
  estimator, log-RR bias full28 charge / withdrawal, interim48 charge / withdrawal:
  escalation=1: 0.028 (0.044) / 0.004 (0.005), -0.027 (0.108) / -0.003 (0.024) -- baseline-covariate CCW
  on interim48: -0.171 (0.063) / 0.066 (0.070); informative_censoring=0.8: -0.015 (0.053) / 0.014
  (0.010), 0.030 (0.148) / -0.082 (0.047); risk_missing_mnar=0.5: -0.016 (0.052) / 0.013 (0.010),
  0.196 (0.150) / -0.060 (0.024). Too few replicates to rank the switches; what is visible: the
  escalation bias of baseline weights in interim48, removed by time-updated ones (need recognised,
  breaches), and a withdrawal bias of interim48 with informative censoring and missing risk.
* Toy world (tests/_trial_world.py), no escalation, 3,000 needs, ``--n-boot 100``, 86 replicates (15 min):
  CCW with baseline covariates: bias charge 0.002 (0.011), withdrawal 0.000 (0.007); coverage 94.2% (2.5)
  and 93.0% (2.7). Naive ever-vs-never: bias 0.207 (0.011) and -0.414 (0.007), coverage 46.5% and 0%;
  CCW without covariates (immortal time fixed, confounding left): 0.095 (0.009) / 0.028 (0.007).
* Toy world with escalation, 20,000 needs, ``--n-boot 0``, 40 replicates: log-RR bias of withdrawal 0.049
  (0.003) with baseline weights, 0.006 (0.003) with time-varying weights; charge -0.027 (0.007) and
  -0.003 (0.007).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from attrition.effects.trials import SPOTargetTrial, true_trial_risks  # noqa: E402


def one_toy(seed, n, n_boot, escalation, trial="full28"):
    from _trial_world import world_cases

    cases = world_cases(n, random_state=seed, escalation=escalation)
    m = SPOTargetTrial(trial, covariates=("risk", "force"), n_boot=n_boot, random_state=seed + 1).fit(cases)
    return m.summary[m.summary["measure"] == "RR"].assign(seed=seed)


SWITCH_VALUES = {"escalation": 1.0, "informative_censoring": 0.8, "risk_missing_mnar": 0.5, "officer_confounding": 2.0}


def fix_forces(world_seed: int) -> None:
    """Every simulated world gets the force table (practices, quality, officers) of world ``world_seed``; the
    cases are still drawn from each replicate's seed: the sampling error within one world."""
    import attrition.synthetic as S

    original = S._force_table
    S._force_table = lambda truth, rng: original(truth, np.random.default_rng(world_seed))


def one_generator(seed, n, n_boot, trial, switch, covariates=None, ridge=0.1, time_varying=None):
    from attrition.synthetic import simulate

    kw = {switch: SWITCH_VALUES[switch]} if switch else {}
    data = simulate(n_cases=n, random_state=seed, **kw)
    out = []
    for tr in trial.split(","):
        kw_fit = {"covariates": tuple(covariates.split(","))} if covariates else {}
        if time_varying is not None:
            kw_fit["time_varying"] = tuple(v for v in time_varying.split(",") if v)
        m = SPOTargetTrial(tr, n_boot=n_boot, random_state=seed + 1, ridge=ridge, **kw_fit).fit(data.cases)
        truth = true_trial_risks(tr, data, random_state=seed)       # the truth of this world
        out.append(m.summary[m.summary["measure"] == "RR"].assign(
            seed=seed, truth=lambda d: d["outcome"].map(truth["rr"])))
    return pd.concat(out)


def summarise(res: pd.DataFrame, truth: pd.DataFrame | None) -> pd.DataFrame:
    if truth is not None:
        res = res.merge(truth[["trial", "outcome", "rr"]].rename(columns={"rr": "truth"}), on=["trial", "outcome"])
    res["bias"] = np.log(res["estimate"]) - np.log(res["truth"])
    res["covered"] = (res["lower 95%"] <= res["truth"]) & (res["truth"] <= res["upper 95%"])
    g = res.groupby(["trial", "method", "outcome"], sort=False)
    out = pd.DataFrame({"reps": g.size(), "mean log-RR bias": g["bias"].mean(),
                        "MC SE": g["bias"].std(ddof=1) / np.sqrt(g.size()),
                        "coverage": g["covered"].mean()})
    out["coverage MC SE"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["reps"])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", choices=["toy", "generator"], default="toy")
    ap.add_argument("--trial", default="full28")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--first", type=int, default=0, help="first replicate (to split a run over processes)")
    ap.add_argument("--n", type=int, default=None, help="cases (toy) or reports (generator; default national)")
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--escalation", action="store_true")
    ap.add_argument("--switch", default=None)
    ap.add_argument("--covariates", default=None, help="comma-separated baseline covariates (default the fitter's)")
    ap.add_argument("--time-varying", default=None, help="comma-separated time-varying covariates (default the fitter's)")
    ap.add_argument("--fixed-forces", type=int, default=None, metavar="SEED",
                    help="generator: every replicate in the force table of this seed (cases still vary)")
    ap.add_argument("--ridge", type=float, default=0.1, help="ridge of the application-hazard model (generator)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--summarise", nargs="+", default=None, metavar="CSV",
                    help="only summarise the replicates appended to these --out files (generator world)")
    a = ap.parse_args(argv)
    if a.summarise:
        res = pd.concat([pd.read_csv(f) for f in a.summarise], ignore_index=True).drop_duplicates(
            ["trial", "method", "outcome", "seed"])
        print(f"{res['seed'].nunique()} replicates from {', '.join(a.summarise)}")
        print(summarise(res, None).round(4).to_string())
        return
    if a.fixed_forces is not None:
        fix_forces(a.fixed_forces)
    if a.n is None and a.world == "toy":
        a.n = 3000
    t0 = time.time()
    if a.world == "toy":
        t = pd.read_csv(HERE.parent / "results" / "trial_world_truth.csv")
        truth = t[t["escalation"] == a.escalation].assign(trial="full28")
    else:
        truth = None    # per replicate: the truth of each simulated world
    rows = []
    for seed in range(a.first, a.first + a.reps):  # replicates (each fully vectorised); results appended as they come
        if a.world == "toy":
            r = one_toy(1000 + seed, a.n, a.n_boot, a.escalation, a.trial)
        else:
            r = one_generator(1000 + seed, a.n, a.n_boot, a.trial, a.switch, a.covariates, a.ridge, a.time_varying)
        rows.append(r)
        if a.out:
            r.to_csv(a.out, mode="a", header=not Path(a.out).exists(), index=False)
        print(f"replicate {seed}: {time.time() - t0:.0f} s", flush=True)
    res = pd.concat(rows, ignore_index=True)
    print(f"world={a.world} trial={a.trial} reps={a.reps} n={a.n} n_boot={a.n_boot} escalation={a.escalation} "
          f"switch={a.switch}: {time.time() - t0:.0f} s")
    print(summarise(res, truth).round(4).to_string())


if __name__ == "__main__":
    main()
