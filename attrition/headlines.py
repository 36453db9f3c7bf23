"""The published national figures, recomputed from a case table, side by side with their sources."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ci_labels, wilson_interval
from .config import DISCLOSURE_THRESHOLD, PUBLISHED_DIR

__all__ = ["published_figures", "headline_figures", "reconcile_headlines"]


def published_figures() -> pd.DataFrame:
    """``data/published/published_figures.csv``: every published figure we rely on, with its source."""
    return pd.read_csv(PUBLISHED_DIR / "published_figures.csv").set_index("key")


#: (key in published_figures, description, numerator column or callable, denominator)
_HEADLINES = [
    ("charge_rate_reports", "Reports charged (any offence)", lambda c: c["charged"]),
    ("evidential_drop_victim_supports_share", "Reports closed for evidential difficulties, victim supports (HO 15)",
     lambda c: c["outcome_code"].eq(15).fillna(False)),
    ("conviction_rate_reports", "Reports ending in a conviction for stalking", lambda c: c["convicted_stalking"]),
]


def headline_figures(cases: pd.DataFrame, financial_year: str | None = "2021/22", alpha: float = 0.05) -> pd.DataFrame:
    """The headline national figures computed from ``cases``, with Wilson CIs, next to the published value.

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table.
    financial_year : str or None, default "2021/22"
        Cohort of reports (the published charge rate is for the year ending March 2022); ``None`` = all.
    alpha : float

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``: ``measure``, ``cases``, ``reports``, ``estimate``, CI, ``published``, ``period``,
        ``source``. Open cases count in the denominator, as in the published figures.
    """
    c = cases if financial_year is None else cases[cases["financial_year"] == financial_year]
    if c.empty:
        raise ValueError(f"No cases reported in financial year {financial_year!r}; "
                         f"years present: {sorted(cases['financial_year'].dropna().unique())}")
    pub = published_figures()
    lo, hi = ci_labels(alpha)
    rows = []
    for key, label, num in _HEADLINES:
        x = int(np.asarray(num(c), dtype=bool).sum())
        n = len(c)
        lower, upper = wilson_interval(x, n, alpha)
        rows.append({"key": key, "measure": label, "cases": x, "reports": n, "estimate": x / n,
                     lo: float(lower), hi: float(upper), "published": float(pub.loc[key, "value"]),
                     "period": pub.loc[key, "period"], "source": pub.loc[key, "source"]})
    return pd.DataFrame(rows).set_index("key")


#: headline key -> (numerator of the headline, the funnel's counterpart: (stage, reason) cell or stage reached)
_FUNNEL_COUNTERPART = {
    "charge_rate_reports": ("reach", "charged"),
    "evidential_drop_victim_supports_share": ("cell", ("suspect_identified", "evidential_victim_supports")),
    "conviction_rate_reports": ("reach", "convicted"),
}


def reconcile_headlines(cases: pd.DataFrame, funnel, financial_year: str | None = "2021/22",
                        keys=None, top: int = 3, min_cases: int = DISCLOSURE_THRESHOLD) -> pd.DataFrame:
    """Steps that take each headline share to the funnel's estimate of the same kind of loss.

    A headline figure (e.g. 25% of reports dropped for evidential difficulties with a suspect identified
    and the victim supporting action, HO outcome 15) and the funnel's counterpart (the share of reports
    lost at "suspect identified" for that reason) answer different questions. This table takes one to the
    other in additive steps, each a share of reports:

    1. ``headline``: the published measure on the ``financial_year`` cohort, open cases in the denominator.
    2. ``headline only``: reports counted by the headline but not by the funnel's cell, split by where the
       funnel puts them (a competing reason: e.g. a report never recorded as stalking leaves the stalking
       funnel at "reported", as mischarged, whatever its police outcome), the ``top`` largest separately.
    3. ``funnel only``: reports counted by the funnel's cell but not by the headline.
    4. ``funnel definition, cohort``: the funnel's cell as a share of the cohort's reports, open cases
       counted as not (yet) in it.
    5. ``all cohorts``: the same on every report of the case table (the funnel is fitted on all years).
    6. ``open cases``: the funnel's long-run estimate (Aalen–Johansen for open cases) minus that share.
    7. ``funnel estimate``: the funnel's own number (``decompose()`` contribution or ``p_reach``).

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table (:func:`attrition.data.to_cases`).
    funnel : attrition.funnel.FunnelFitter
        Fitted on ``cases`` with all stages and without ``by``.
    financial_year : str or None, default "2021/22"
        The headline's cohort (None: every report).
    keys : sequence of str, optional
        Headline keys (default: the three of :func:`headline_figures`).
    top : int, default 3
        Funnel destinations of the ``headline only`` reports shown separately (the rest pooled).
    min_cases : int, default ``attrition.config.DISCLOSURE_THRESHOLD``
        A destination with fewer reports is never shown on its own: it is pooled with the others, and a
        pool that small is merged into the smallest row shown (so no small count can be recovered by
        subtraction from the totals).

    Returns
    -------
    pandas.DataFrame
        One row per (``key``, step): ``key``, ``step``, ``what`` (in words), ``cases`` (reports in the step,
        where it counts reports; NaN for the model-based steps), ``share`` (signed share of reports; the
        steps 2, 3, 5 and 6 add up, from the headline, to the funnel estimate), ``withheld`` (disclosure
        control: if any count of a headline's block is 1 to ``min_cases - 1``, its steps are withheld,
        ``cases`` and ``share`` NaN, since each step is a difference the others would reveal).
        ``attrs["check"]``: the largest gap between the steps' sum and the funnel estimate (0 up to
        rounding; NaN if every block is withheld).

    Raises
    ------
    ValueError
        A funnel fitted with other stages or by group, an unknown key, or no report in the cohort.
    """
    from .standard import STAGES

    if tuple(getattr(funnel, "stages", ())) != tuple(STAGES) or getattr(funnel, "by_", None) is not None:
        raise ValueError("reconcile_headlines needs a FunnelFitter fitted on the case table with all stages and no by")
    keys = list(_FUNNEL_COUNTERPART) if keys is None else list(keys)
    bad = [k for k in keys if k not in _FUNNEL_COUNTERPART]
    if bad:
        raise ValueError(f"unknown headline key(s) {bad}; choose from {list(_FUNNEL_COUNTERPART)}")
    num = {k: f for k, _, f in _HEADLINES}
    in_year = (np.ones(len(cases), bool) if financial_year is None
               else (cases["financial_year"] == financial_year).to_numpy())
    if not in_year.any():
        raise ValueError(f"No cases reported in financial year {financial_year!r}")
    n_year, n_all = int(in_year.sum()), len(cases)
    stage_idx = pd.to_numeric(cases["stage_index"]).to_numpy()
    ex_stage = cases["exit_stage"].astype(object).to_numpy()
    ex_reason = cases["exit_reason"].astype(object).to_numpy()
    status = cases["status"].astype(object).to_numpy()
    dec = funnel.decompose().droplevel("group")["contribution"]
    reach = funnel.national_["p_reach"]
    cohort = "all reports" if financial_year is None else f"{financial_year} reports"
    rows = []
    for key in keys:
        kind, target = _FUNNEL_COUNTERPART[key]
        h = np.asarray(num[key](cases), dtype=bool)
        if kind == "reach":
            fdef = stage_idx >= STAGES.index(target)
            est = float(reach.loc[target])
            fname = f"reports reaching '{target}' in the stalking funnel"
        else:
            fdef = (ex_stage == target[0]) & (ex_reason == target[1])
            est = float(dec.get(target, 0.0))
            fname = f"reports lost at '{target[0]}' for '{target[1]}'"
        r = [{"step": "headline", "what": f"headline measure, {cohort} (open cases in the denominator)",
              "cases": int((h & in_year).sum()), "share": (h & in_year).sum() / n_year}]
        only_h = h & ~fdef & in_year
        lost = "lost at '" + pd.Series(ex_stage).astype(str) + "' for '" + pd.Series(ex_reason).astype(str) + "'"
        lost = lost.where(~((ex_stage == STAGES[0]) & (ex_reason == "mischarged")),
                          "never recorded or charged as stalking (lost at 'reported' as mischarged)")
        dest = np.where(status == "exited", lost.to_numpy(), np.where(status == "open", "still open",
                                                                      "reached the last stage"))
        counts = pd.Series(dest[only_h]).value_counts()
        # destinations shown one by one: the ``top`` largest with at least ``min_cases`` reports; the rest
        # pooled, and a pool under ``min_cases`` merged into the smallest shown row (a count of 1 to
        # min_cases - 1 could otherwise be recovered from the totals: disclosure control)
        shown = counts[counts >= min_cases].iloc[:top]
        rest = int(counts.sum() - shown.sum())
        named = {d: int(c) for d, c in shown.items()}
        if 0 < rest < min_cases and named:
            last = list(named)[-1]
            named[f"{last}, and elsewhere in the funnel"] = named.pop(last) + rest
            rest = 0
        for d, c in named.items():
            r.append({"step": "headline only", "what": f"headline only: {d}", "cases": c, "share": -c / n_year})
        if rest:
            r.append({"step": "headline only", "what": "headline only: elsewhere in the funnel",
                      "cases": rest, "share": -rest / n_year})
        only_f = fdef & ~h & in_year
        r.append({"step": "funnel only", "what": f"funnel only: {fname}, not in the headline",
                  "cases": int(only_f.sum()), "share": only_f.sum() / n_year})
        p_year = (fdef & in_year).sum() / n_year
        r.append({"step": "funnel definition, cohort", "what": f"{fname}, share of {cohort}",
                  "cases": int((fdef & in_year).sum()), "share": p_year})
        p_all = fdef.sum() / n_all
        r.append({"step": "all cohorts", "what": "every report in the data instead of the cohort",
                  "cases": np.nan, "share": p_all - p_year})
        r.append({"step": "open cases", "what": "open cases projected by the funnel (Aalen-Johansen, long run)",
                  "cases": np.nan, "share": est - p_all})
        r.append({"step": "funnel estimate", "what": f"the funnel's estimate: {fname}, share of all reports",
                  "cases": int(fdef.sum()), "share": est})
        # disclosure control: the steps are differences of counts, so one count of 1 to min_cases - 1 in a
        # block could be recovered from the others: withhold the block, but for a headline or funnel
        # estimate resting on min_cases or more reports (published elsewhere with their own control)
        small = any(0 < x["cases"] < min_cases for x in r if np.isfinite(x["cases"]))
        for x in r:
            x["key"] = key
            own_ok = x["step"] in ("headline", "funnel estimate") and not 0 < x["cases"] < min_cases
            x["withheld"] = bool(small and not own_ok)
            if x["withheld"]:
                x["cases"], x["share"] = np.nan, np.nan
        rows += r
    out = pd.DataFrame(rows)[["key", "step", "what", "cases", "share", "withheld"]]
    adds = out["step"].isin(["headline", "headline only", "funnel only", "all cohorts", "open cases"])
    total = out[adds].groupby("key", sort=False)["share"].sum(min_count=1)
    est = out[out["step"] == "funnel estimate"].set_index("key")["share"]
    gap = (total - est.loc[total.index]).abs()
    out.attrs["check"] = float(gap.max()) if gap.notna().any() else np.nan
    return out
