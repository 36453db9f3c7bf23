"""The national picture from public data: the public-data funnel and the headline measures.

Built on the open-data readers (:mod:`attrition.sources.open_data`): Home Office outcomes open data,
police recorded crime by force area, court outcomes by force area and FOI returns. Every rate is given
with its numerator and denominator, and, where they differ, *both* denominators: per offence recorded
(the basis of the published "5% of stalking reports were charged" and "a quarter dropped for evidential
difficulties") and per outcome assigned (offences whose investigation has closed). Caveats travel as data:
the counting unit (offences vs defendants) and the year basis (recording year vs court year) of each step.

Offence codes are never summed silently: every table keeps ``offence_code`` as a key when the input holds
more than one code. National totals are over the forces in the input (the 43 territorial forces by
default); the ``scope`` column says whether British Transport Police is in.

Public API
----------
outcome_counts(outcomes, by)                       -> counts per outcome type (14 and 16 apart)
headlines(outcomes, recorded, courts, year, by)    -> one row per measure: numerator, denominator, value
public_funnel(outcomes, recorded, courts, by)      -> recorded -> outcome -> charged -> proceeded -> convicted
funnel_exits(outcomes, by)                         -> the outcome types leaving at each police step
compare_forces(outcomes, measure, ...)             -> forces with partial pooling (attrition.pooling)
year_on_year(outcomes, measure, ...)               -> change between consecutive years, Newcombe intervals
offence_comparison(outcomes, by)                   -> stalking beside harassment and malicious communications
spo_rates(foi, offences)                           -> SPO applications per 1,000 stalking offences, FOI bands
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from ._utils import check_alpha, ci_labels, wilson_interval
from .exceptions import DataValidationError
from .pooling import credible_differences, pool_proportions

__all__ = [
    "MEASURES", "ATTRIBUTION", "outcome_counts", "headlines", "public_funnel", "funnel_exits", "compare_forces",
    "year_on_year", "offence_comparison", "spo_rates", "normalise_year", "scope_label", "discover_files",
    "add_source_note", "plot_public_funnel", "SPO_BANDS",
]

#: Attribution required by the Open Government Licence v3.0 when the Home Office tables are reused.
ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence v3.0. "
               "Source: Home Office, police recorded crime and outcomes open data tables.")

#: measure -> (numerator, denominator, description). Numerators: outcome type counts ``t<k>``,
#: ``convicted``; denominators: ``recorded`` (offences recorded), ``assigned`` (offences with an outcome).
MEASURES: dict[str, tuple[str, str, str]] = {
    "charged_per_recorded": ("t1", "recorded", "charged/summonsed (type 1) per offence recorded"),
    "charged_per_outcome": ("t1", "assigned", "charged/summonsed (type 1) per offence with an outcome assigned"),
    "evidential_victim_supports_per_recorded": (
        "t15", "recorded", "evidential difficulties, suspect identified, victim supports action (type 15) per offence recorded"),
    "evidential_victim_supports_per_outcome": (
        "t15", "assigned", "evidential difficulties, victim supports action (type 15) per outcome assigned"),
    "victim_not_supporting_per_recorded": (
        "t16", "recorded", "evidential difficulties, victim does not support action (type 16 alone) per offence recorded"),
    "victim_not_supporting_per_outcome": (
        "t16", "assigned", "evidential difficulties, victim does not support action (type 16 alone) per outcome assigned"),
    "no_outcome_yet_per_recorded": ("t0", "recorded", "not yet assigned an outcome (type 0) per offence recorded"),
    "convicted_per_recorded": ("convicted", "recorded",
                               "defendants convicted (court year) per offence recorded (recording year)"),
    "convicted_per_proceeded": ("convicted", "proceeded", "defendants convicted per defendant proceeded against"),
}
_TYPES = tuple(range(23))
_TCOLS = [f"t{k}" for k in _TYPES]


# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------
def normalise_year(year) -> str:
    """'2021/22', '2021-22', '2021/2022', '2021 to 2022' -> '2021/22'; a calendar year '2022' is kept."""
    s = str(year).strip()
    m = re.match(r"^(\d{4})\s*(?:/|-|–|to|_)\s*(\d{2}|\d{4})$", s)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if b in ((a + 1) % 100, a + 1):
            return f"{a}/{(a + 1) % 100:02d}"
    if re.match(r"^\d{4}$", s):
        return s
    raise ValueError(f"year must be a financial year such as '2021/22' (or a calendar year), got {year!r}")


def scope_label(forces: Sequence[str], territorial: Sequence[bool] | None = None) -> str:
    """Which forces a national total covers, e.g. '43 territorial forces; BTP excluded'."""
    forces = pd.unique(pd.Series(list(forces), dtype=object).dropna())
    btp = "British Transport Police" in set(forces)
    n_terr = len([f for f in forces if f != "British Transport Police"])
    return f"{n_terr} territorial force{'' if n_terr == 1 else 's'}; " + ("British Transport Police included" if btp else "BTP excluded")


def _as_list(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _check_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    need = {"financial_year", "force", "offence_code", "outcome_code", "of_which", "count"}
    miss = sorted(need - set(outcomes.columns))
    if miss:
        raise DataValidationError(f"outcomes table lacks column(s) {miss}; pass the output of "
                                  "attrition.sources.open_data.read_outcomes.")
    return outcomes.loc[~outcomes["of_which"].to_numpy(dtype=bool)]


def _keys(table: pd.DataFrame, by) -> list[str]:
    """Group keys, with ``offence_code`` added whenever the table holds more than one code."""
    keys = _as_list(by)
    for k in keys:
        if k not in table.columns:
            raise DataValidationError(f"cannot group by {k!r}: the table has columns {list(table.columns)}")
    if "offence_code" not in keys and table["offence_code"].nunique() > 1:
        keys.append("offence_code")  # never sum stalking with other offences silently
    return keys


# ----------------------------------------------------------------------------------------------------
# counts
# ----------------------------------------------------------------------------------------------------
def outcome_counts(outcomes: pd.DataFrame, by=("financial_year",)) -> pd.DataFrame:
    """Offences by outcome type, every type on its own (14 and 16 apart), per group.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Output of :func:`attrition.sources.open_data.read_outcomes`.
    by : str or sequence of str, default ("financial_year",)
        Group keys (``offence_code`` is added if the table holds several codes).

    Returns
    -------
    pandas.DataFrame
        Keys, ``recorded`` (sum over all outcome types, 0 included: the offences recorded in the period,
        whatever their outcome so far), ``assigned`` (types 1-22: an outcome assigned), ``t0`` ... ``t22``
        (float64 sums of the published counts, negative revisions included), ``n_missing`` (cells with a
        missing count, which add nothing), ``scope``.
    """
    t = _check_outcomes(outcomes)
    keys = _keys(t, by)
    code = t["outcome_code"].astype("Int64").fillna(0).to_numpy(dtype=int)
    value = t["count"].to_numpy(dtype=float)
    wide = pd.DataFrame({k: t[k].to_numpy() for k in keys})
    onehot = np.zeros((len(t), len(_TYPES)))
    onehot[np.arange(len(t)), code] = np.nan_to_num(value)
    wide = pd.concat([wide, pd.DataFrame(onehot, columns=_TCOLS)], axis=1)
    wide["n_missing"] = np.isnan(value).astype(int)
    g = wide.groupby(keys, sort=True, observed=True) if keys else None
    out = (g.sum().reset_index() if keys else wide[[*_TCOLS, "n_missing"]].sum().to_frame().T)
    out.insert(len(keys), "recorded", out[_TCOLS].sum(axis=1))
    out.insert(len(keys) + 1, "assigned", out[_TCOLS[1:]].sum(axis=1))
    if "force" in keys:
        out["scope"] = np.where(out["force"] == "British Transport Police", "British Transport Police",
                                "territorial force")
    else:
        out["scope"] = scope_label(t["force"])
    out["n_missing"] = out["n_missing"].astype("int64")
    return out


def _recorded_counts(recorded: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    k = [c for c in keys if c in ("financial_year", "force", "offence_code")]
    g = recorded.groupby(k, sort=True, observed=True) if k else None
    if g is None:
        return pd.DataFrame({"recorded_crime": [recorded["offences"].sum()]})
    return g["offences"].sum(min_count=1).rename("recorded_crime").reset_index()


def _court_counts(courts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    c = courts.rename(columns={"year": "financial_year"})
    k = [x for x in keys if x in ("financial_year", "force")]
    if not k:
        return c[["proceeded", "convicted"]].sum().to_frame().T
    return c.groupby(k, sort=True, observed=True)[["proceeded", "convicted"]].sum(min_count=1).reset_index()


def _filter_year(df: pd.DataFrame | None, year, column="financial_year"):
    if df is None or year is None:
        return df
    return df.loc[df[column].astype(str) == normalise_year(year)]


def _base(outcomes, recorded, courts, by, year):
    """Counts per group with every numerator and denominator the measures use."""
    outcomes = _filter_year(outcomes, year)
    if outcomes is not None and len(outcomes) == 0:
        raise DataValidationError(f"the outcomes table has no rows for year {year!r}")
    base = outcome_counts(outcomes, by)
    keys = list(base.columns[: list(base.columns).index("recorded")])
    base = base.rename(columns={"recorded": "recorded_outcomes"})
    base["recorded"] = base["recorded_outcomes"]
    base["recorded_source"] = "outcomes open data (all outcome types, incl. not yet assigned)"
    if recorded is not None:
        rec = _filter_year(recorded, year)
        if "offence_code" in keys:
            rec = rec.loc[rec["offence_code"].isin(set(base["offence_code"]))]
        else:
            codes = set(outcomes["offence_code"].unique())
            rec = rec.loc[rec["offence_code"].isin(codes)]
        rc = _recorded_counts(rec, keys)
        on = [c for c in keys if c in rc.columns]
        base = base.merge(rc, on=on, how="left") if on else base.assign(recorded_crime=rc["recorded_crime"].iloc[0])
        has = base["recorded_crime"].notna().to_numpy()
        base.loc[has, "recorded"] = base.loc[has, "recorded_crime"]
        base.loc[has, "recorded_source"] = "police recorded crime"
    if courts is not None:
        cc = _court_counts(_filter_year(courts, year, "year"), keys)
        on = [c for c in keys if c in cc.columns]
        base = base.merge(cc, on=on, how="left") if on else base.assign(
            proceeded=cc["proceeded"].iloc[0], convicted=cc["convicted"].iloc[0])
        if "offence_code" in keys:  # court outcomes are for stalking: never attached to 8L or 8R rows
            other = (base["offence_code"] != "8Q").to_numpy()
            base.loc[other, ["proceeded", "convicted"]] = np.nan
    else:
        base["proceeded"] = np.nan
        base["convicted"] = np.nan
    return base, keys


# ----------------------------------------------------------------------------------------------------
# headlines
# ----------------------------------------------------------------------------------------------------
def headlines(outcomes: pd.DataFrame, recorded: pd.DataFrame | None = None, courts: pd.DataFrame | None = None,
              *, year=None, by=None, alpha: float = 0.05) -> pd.DataFrame:
    """The headline measures, one row per measure (and year, force, offence), numerator and denominator shown.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        :func:`attrition.sources.open_data.read_outcomes` output (count of outcomes of offences recorded in
        the period).
    recorded : pandas.DataFrame, optional
        :func:`attrition.sources.open_data.read_recorded_crime` output. When given, ``*_per_recorded``
        measures divide by the offences recorded in police recorded crime (else by the sum of the outcome
        counts, which is the same offences counted through their outcomes); ``denominator_source`` says which.
    courts : pandas.DataFrame, optional
        :func:`attrition.sources.open_data.read_court_outcomes` output, matched on year (and force). Adds
        ``convicted_per_recorded`` and ``convicted_per_proceeded``.
    year : str, optional
        Keep one financial year ("2021/22").
    by : None or "force" (or a list of keys)
        Per force as well as per year.
    alpha : float, default 0.05
        Wilson score intervals (``lower 95%``, ``upper 95%``) for each share.

    Returns
    -------
    pandas.DataFrame
        ``year``, (``force``), (``offence_code`` if several), ``measure``, ``numerator``, ``denominator``,
        ``value`` (numerator / denominator; NaN where the denominator is 0), Wilson interval,
        ``numerator_name``, ``denominator_name``, ``denominator_source``, ``scope``, ``caveat``.

    Examples
    --------
    >>> h = headlines(read_outcomes("outcomes.ods"), read_recorded_crime("prc.ods"), year="2021/22")  # doctest: +SKIP
    >>> h.set_index("measure").loc["charged_per_recorded", "value"]  # doctest: +SKIP
    0.0502
    """
    alpha = check_alpha(alpha)
    by = ["financial_year", *[b for b in _as_list(by) if b != "financial_year"]]
    base, keys = _base(outcomes, recorded, courts, by, year)
    lo_name, hi_name = ci_labels(alpha)
    parts = []
    for measure, (num, den, desc) in MEASURES.items():  # a fixed handful of measures
        if num in ("convicted",) or den == "proceeded":
            if courts is None:
                continue
        n = base[num].to_numpy(dtype=float)
        d = base[den].to_numpy(dtype=float)
        ok = ~np.isnan(n) & ~np.isnan(d)
        if not ok.any():
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)
        lo, hi = wilson_interval(np.clip(n, 0, None), d, alpha)
        caveat = ""
        if num == "convicted":
            caveat = ("defendants (court year) over offences (recording year): different units and years; "
                      "a ratio of totals, not a follow-up of the same offences")
        elif den == "recorded":
            caveat = "outcomes to date of offences recorded in the year; later outcomes still to come"
        elif den == "assigned":
            caveat = "among offences recorded in the year that have an outcome assigned so far"
        part = base.loc[ok, keys].copy()
        part["measure"] = measure
        part["numerator"] = n[ok]
        part["denominator"] = d[ok]
        part["value"] = v[ok]
        part[lo_name] = lo[ok]
        part[hi_name] = hi[ok]
        part["numerator_name"] = {"t1": "charged/summonsed (type 1)", "t15": "outcome type 15",
                                  "t16": "outcome type 16", "t0": "not yet assigned (type 0)",
                                  "convicted": "defendants convicted"}[num]
        part["denominator_name"] = {"recorded": "offences recorded", "assigned": "outcomes assigned (types 1-22)",
                                    "proceeded": "defendants proceeded against"}[den]
        part["denominator_source"] = (base.loc[ok, "recorded_source"].to_numpy() if den == "recorded"
                                      else ("court outcomes" if den == "proceeded" else "outcomes open data"))
        part["scope"] = base.loc[ok, "scope"].to_numpy()
        part["caveat"] = caveat
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).rename(columns={"financial_year": "year"})
    order = {m: i for i, m in enumerate(MEASURES)}
    sort = [c for c in ("year", "force", "offence_code") if c in out.columns]
    out = out.assign(_m=out["measure"].map(order)).sort_values([*sort, "_m"], kind="mergesort").drop(columns="_m")
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------
# the funnel
# ----------------------------------------------------------------------------------------------------
_STEPS = ("recorded", "outcome_assigned", "charged", "proceeded", "convicted")


def public_funnel(outcomes: pd.DataFrame, recorded: pd.DataFrame | None = None, courts: pd.DataFrame | None = None,
                  *, by=("financial_year",), alpha: float = 0.05) -> pd.DataFrame:
    """The public-data funnel: recorded -> outcome assigned -> charged/summonsed -> proceeded -> convicted.

    Parameters
    ----------
    outcomes, recorded, courts : pandas.DataFrame
        As :func:`headlines`; the court steps appear only with ``courts``.
    by : str or sequence of str, default ("financial_year",)
        ``("financial_year",)`` nationally by year, ``("financial_year", "force")`` by force, ``()`` all pooled.
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        Keys, ``step`` (in funnel order), ``count``, ``per_recorded`` (count / offences recorded) with its
        Wilson interval, ``per_outcome`` (count / outcomes assigned; charged only), ``per_previous`` (count /
        previous step's count, NaN where the units differ: proceeded follows charged offences with
        defendants), ``count_unit`` ("offences" or "defendants"), ``year_basis`` ("recording year" or "court
        year"), ``source``.

    Notes
    -----
    The police steps follow the offences recorded in the year to their outcome so far; the court steps count
    defendants whose case ended in the (court) year, whenever the offence was recorded. The two are set
    side by side as the only public view of the whole funnel, not as a follow-up of the same cases.
    """
    alpha = check_alpha(alpha)
    base, keys = _base(outcomes, recorded, courts, by, None)
    lo_name, hi_name = ci_labels(alpha)
    steps = {
        "recorded": ("recorded", "offences", "recording year"),
        "outcome_assigned": ("assigned", "offences", "recording year"),
        "charged": ("t1", "offences", "recording year"),
    }
    if courts is not None:
        steps.update({"proceeded": ("proceeded", "defendants", "court year"),
                      "convicted": ("convicted", "defendants", "court year")})
    rows = []
    prev = None
    for step, (col, unit, basis) in steps.items():  # five steps at most
        part = base[keys].copy()
        part["step"] = step
        part["count"] = base[col].to_numpy(dtype=float)
        rec = base["recorded"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            part["per_recorded"] = np.where(rec > 0, part["count"] / np.where(rec > 0, rec, 1), np.nan)
            lo, hi = wilson_interval(np.clip(part["count"].fillna(0), 0, None), rec, alpha)
            part[lo_name] = np.where(part["count"].isna(), np.nan, lo)
            part[hi_name] = np.where(part["count"].isna(), np.nan, hi)
            asg = base["assigned"].to_numpy(dtype=float)
            part["per_outcome"] = (part["count"] / np.where(asg > 0, asg, np.nan)) if step == "charged" else np.nan
            if prev is None or prev[1] != unit:
                part["per_previous"] = np.nan
            else:
                pc = prev[0]
                part["per_previous"] = np.where(pc > 0, part["count"] / np.where(pc > 0, pc, 1), np.nan)
        part["count_unit"] = unit
        part["year_basis"] = basis
        part["source"] = (base["recorded_source"].to_numpy() if step == "recorded" else
                          ("court outcomes" if unit == "defendants" else "outcomes open data"))
        prev = (part["count"].to_numpy(dtype=float), unit)
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    out["_s"] = out["step"].map({s: i for i, s in enumerate(_STEPS)})
    return out.sort_values([*keys, "_s"], kind="mergesort").drop(columns="_s").reset_index(drop=True)


def funnel_exits(outcomes: pd.DataFrame, *, by=("financial_year",)) -> pd.DataFrame:
    """Where offences leave the police part of the funnel: every outcome type other than charge, apart.

    Returns
    -------
    pandas.DataFrame
        Keys, ``step`` ("outcome_assigned" for type 0 - not yet assigned -, "charged" for the types that end
        the case without a charge), ``outcome_type`` (int), ``outcome_group`` (Home Office group),
        ``count``, ``per_recorded``, ``per_outcome`` (NaN for type 0).
    """
    from .sources.open_data.outcomes import OUTCOME_GROUPS

    base = outcome_counts(outcomes, by)
    keys = list(base.columns[: list(base.columns).index("recorded")])
    types = [k for k in _TYPES if k != 1]
    long = base.melt(id_vars=[*keys, "recorded", "assigned"], value_vars=[f"t{k}" for k in types],
                     var_name="outcome_type", value_name="count")
    long["outcome_type"] = long["outcome_type"].str[1:].astype(int)
    long = long.loc[~((long["outcome_type"] == 19) & (long["count"] == 0))]
    long["step"] = np.where(long["outcome_type"] == 0, "outcome_assigned", "charged")
    long["outcome_group"] = long["outcome_type"].map(OUTCOME_GROUPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        long["per_recorded"] = long["count"] / long["recorded"].where(long["recorded"] > 0)
        long["per_outcome"] = (long["count"] / long["assigned"].where(long["assigned"] > 0)).where(
            long["outcome_type"] != 0)
    long = long.sort_values([*keys, "outcome_type"], kind="mergesort")
    return long[[*keys, "step", "outcome_type", "outcome_group", "count", "per_recorded", "per_outcome"]].reset_index(
        drop=True)


# ----------------------------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------------------------
def compare_forces(outcomes: pd.DataFrame, measure: str = "charged_per_recorded", *, recorded=None, courts=None,
                   year=None, alpha: float = 0.05) -> pd.DataFrame:
    """One measure by force, with empirical-Bayes partial pooling (:func:`attrition.pooling.pool_proportions`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group`` (force): ``n`` (denominator), ``x`` (numerator), ``raw``, ``pooled``, ``sd``,
        credible interval, ``weight``, and ``national`` (the pooled national share) and ``differs``
        ("higher"/"lower" where the credible interval excludes the national share, else ""). One year
        and one offence code at a time.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
    h = headlines(outcomes, recorded, courts, year=year, by="force", alpha=alpha)
    h = h.loc[h["measure"] == measure]
    if h["year"].nunique() > 1 or ("offence_code" in h and h["offence_code"].nunique() > 1):
        raise DataValidationError("compare_forces compares one year and one offence code: pass year= and read "
                                  "one offence code.")
    h = h.loc[h["denominator"] > 0]
    pooled = pool_proportions(np.clip(h["numerator"].to_numpy(), 0, None), h["denominator"].to_numpy(),
                              labels=h["force"].to_numpy(), alpha=alpha)
    national = float(h["numerator"].sum() / h["denominator"].sum())
    diff = credible_differences(pooled, national, alpha=alpha)
    pooled["national"] = national
    pooled["differs"] = pd.Series(diff["direction"], dtype=object).reindex(pooled.index).fillna("").to_numpy()
    return pooled


def year_on_year(outcomes: pd.DataFrame, measure: str = "charged_per_recorded", *, recorded=None, by=None,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Change of a share between consecutive financial years, with Newcombe's hybrid score interval.

    The interval for a difference of two independent proportions combines their Wilson intervals
    (Newcombe 1998, method 10): for :math:`d = p_2 - p_1`,
    :math:`[d - \\sqrt{(p_2-l_2)^2 + (u_1-p_1)^2},\\; d + \\sqrt{(u_2-p_2)^2 + (p_1-l_1)^2}]`.

    Returns
    -------
    pandas.DataFrame
        (``force``,) (``offence_code``,) ``year_from``, ``year_to``, ``measure``, ``value_from``,
        ``value_to``, ``change`` and its interval.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
    comparison of eleven methods. *Statistics in Medicine* 17, 873–890.
    """
    alpha = check_alpha(alpha)
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
    h = headlines(outcomes, recorded, by=by, alpha=alpha)
    h = h.loc[h["measure"] == measure]
    lo_name, hi_name = ci_labels(alpha)
    keys = [c for c in ("force", "offence_code") if c in h.columns]
    h = h.sort_values([*keys, "year"], kind="mergesort")
    prev = h.groupby(keys, sort=False).shift(1) if keys else h.shift(1)
    ok = prev["year"].notna().to_numpy()
    cur, prv = h.loc[ok], prev.loc[ok]
    p2, l2, u2 = cur["value"].to_numpy(), cur[lo_name].to_numpy(), cur[hi_name].to_numpy()
    p1, l1, u1 = prv["value"].to_numpy(float), prv[lo_name].to_numpy(float), prv[hi_name].to_numpy(float)
    d = p2 - p1
    out = cur[keys].copy()
    out["year_from"] = prv["year"].to_numpy()
    out["year_to"] = cur["year"].to_numpy()
    out["measure"] = measure
    out["value_from"] = p1
    out["value_to"] = p2
    out["change"] = d
    out[lo_name] = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    out[hi_name] = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return out.reset_index(drop=True)


def offence_comparison(outcomes: pd.DataFrame, *, by=("financial_year", "force")) -> pd.DataFrame:
    """Stalking (8Q) beside harassment (8L) and malicious communications (8R): the public view of mischarging.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Read with ``offence_codes=("8Q", "8L", "8R")``.
    by : default ("financial_year", "force")

    Returns
    -------
    pandas.DataFrame
        Keys, ``offence_code``, ``recorded``, ``charged``, ``charged_per_recorded``, ``t15_per_recorded``,
        ``t16_per_recorded``, and ``share_of_three`` (the code's share of the offences recorded under the
        three codes in the group - the one place the codes are added, and said so).
    """
    c = outcome_counts(outcomes, [*_as_list(by), "offence_code"])
    keys = _as_list(by)
    with np.errstate(invalid="ignore", divide="ignore"):
        rec = c["recorded"].where(c["recorded"] > 0)
        out = c[[*keys, "offence_code", "recorded"]].copy()
        out["charged"] = c["t1"]
        out["charged_per_recorded"] = c["t1"] / rec
        out["t15_per_recorded"] = c["t15"] / rec
        out["t16_per_recorded"] = c["t16"] / rec
        total = c.groupby(keys, sort=False)["recorded"].transform("sum") if keys else c["recorded"].sum()
        out["share_of_three"] = c["recorded"] / total
    return out


#: FOI bands of SPO applications in a year (Suzy Lamplugh Trust FOI study, 2024).
SPO_BANDS = ("10 or fewer", "11 to 30", "more than 30")


def spo_rates(foi: pd.DataFrame, offences: pd.DataFrame, *, year=None) -> pd.DataFrame:
    """SPO applications per 1,000 stalking offences recorded, by force, with the FOI bands.

    Parameters
    ----------
    foi : pandas.DataFrame
        :func:`attrition.sources.open_data.read_foi_returns` output.
    offences : pandas.DataFrame
        Stalking offences recorded: :func:`read_recorded_crime` output (``offences``) or
        :func:`read_outcomes` output (summed over outcome types). Matched on force and year.
    year : str, optional

    Returns
    -------
    pandas.DataFrame
        ``force``, ``year``, ``spo_applications`` (<NA>: did not answer), ``stalking_offences``,
        ``per_1000`` and ``band`` ("10 or fewer", "11 to 30", "more than 30", or "did not answer").
    """
    if "offences" in offences.columns:
        off = offences.loc[offences["offence_code"] == "8Q"].groupby(["financial_year", "force"])["offences"].sum()
    else:
        c = outcome_counts(offences.loc[offences["offence_code"] == "8Q"], ("financial_year", "force"))
        off = c.set_index(["financial_year", "force"])["recorded"]
    f = foi if year is None else foi.loc[foi["year"] == normalise_year(year)]
    idx = pd.MultiIndex.from_arrays([f["year"].astype(str), f["force"].astype(str)])
    stalking = off.reindex(idx).to_numpy(dtype=float)
    apps = f["spo_applications"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame({"force": f["force"].to_numpy(), "year": f["year"].to_numpy(),
                        "spo_applications": f["spo_applications"].to_numpy(), "stalking_offences": stalking})
    with np.errstate(invalid="ignore", divide="ignore"):
        out["per_1000"] = 1000 * apps / np.where(stalking > 0, stalking, np.nan)
    band = np.select([np.isnan(apps), apps <= 10, apps <= 30], ["did not answer", SPO_BANDS[0], SPO_BANDS[1]],
                     SPO_BANDS[2])
    out["band"] = band
    return out.sort_values(["year", "force"], kind="mergesort").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------
# files and figures
# ----------------------------------------------------------------------------------------------------
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".zip", ".xlsx", ".ods", ".xls", ".xlsm")
_KIND_PATTERNS = {  # file-name patterns of each kind of public table (lower case)
    "outcomes": ("outcomes",),
    "recorded": ("prc-pfa", "recorded-crime", "recorded_crime", "pfa-tables"),
    "courts": ("court",),
    "foi": ("foi",),
}


def discover_files(directory) -> dict[str, list]:
    """The public tables in a directory, by kind, from their file names.

    ``foi``: names containing "foi"; ``courts``: "court"; ``recorded``: "prc-pfa", "recorded-crime";
    ``outcomes``: "outcomes" (``prc-outcomes-open-data-...``) - tried in that order, so
    ``court-outcomes.csv`` is a court table. Only table files (.csv, .csv.gz, .zip, .xlsx,
    .ods) are listed, sorted by name; README and other files are ignored.

    Returns
    -------
    dict
        kind -> list of pathlib.Path (empty where none was found).

    Raises
    ------
    DataValidationError
        ``directory`` does not exist.
    """
    from pathlib import Path

    d = Path(directory)
    if not d.is_dir():
        raise DataValidationError(f"no open-data directory at {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.name.lower().endswith(_TABLE_SUFFIXES))
    out: dict[str, list] = {k: [] for k in _KIND_PATTERNS}
    for p in files:
        name = p.name.lower()
        for kind in ("foi", "courts", "recorded", "outcomes"):  # "court-outcomes.csv" is a court table
            if any(s in name for s in _KIND_PATTERNS[kind]):
                out[kind].append(p)
                break
    return out


def add_source_note(fig, text: str, *, height: float = 0.35):
    """Write the data source (and licence) as a small footer inside the figure, so it travels with it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    text : str
    height : float, default 0.35
        Inches kept free at the bottom for the footer (the tight layout, if any, is told to leave it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    frac = min(0.3, height / fig.get_figheight())
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set") and "rect" in engine.get():
        engine.set(rect=(0, frac, 1, 1))
    else:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, frac + 0.08))
    fig.text(0.01, 0.2 * frac, text, fontsize="xx-small", color="0.35", ha="left", va="bottom", wrap=True)
    return fig


def plot_public_funnel(funnel: pd.DataFrame, exits: pd.DataFrame | None = None, *, ax=None, alpha: float = 0.05):
    """Bar chart of one public-data funnel (one group's rows of :func:`public_funnel`), shares per offence
    recorded, with the main exits after recording (from :func:`funnel_exits`) as a stacked bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import GREY, PALETTE

    lo_name, hi_name = ci_labels(check_alpha(alpha))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    f = funnel.reset_index(drop=True)
    x = np.arange(len(f))
    share = f["per_recorded"].to_numpy(dtype=float)
    colours = [PALETTE[0] if u == "offences" else PALETTE[2] for u in f["count_unit"]]
    ax.bar(x, share, color=colours, width=0.6)
    err = np.vstack([share - f[lo_name].to_numpy(float), f[hi_name].to_numpy(float) - share])
    ax.errorbar(x, share, yerr=np.nan_to_num(err), fmt="none", ecolor=GREY, elinewidth=1, capsize=2)
    for xi, (s, n) in enumerate(zip(share, f["count"].to_numpy(float))):
        ax.text(xi, s + 0.02, f"{s:.1%}\n({n:,.0f})", ha="center", va="bottom", fontsize="x-small")
    labels = {"recorded": "Recorded", "outcome_assigned": "Outcome\nassigned", "charged": "Charged/\nsummonsed",
              "proceeded": "Proceeded\n(defendants)", "convicted": "Convicted\n(defendants)"}
    ax.set_xticks(x)
    ax.set_xticklabels([labels.get(s, s) for s in f["step"]], fontsize="small")
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("Share of offences recorded")
    if exits is not None and len(exits):
        e = exits.loc[exits["step"] == "charged"].groupby("outcome_group", sort=False)["per_recorded"].sum()
        e = e.sort_values(ascending=False)
        top = e.head(4)
        bottom = 0.0
        xe = len(f) + 0.2
        for i, (g, v) in enumerate(top.items()):
            ax.bar(xe, v, bottom=bottom, width=0.6, color=PALETTE[(i + 3) % len(PALETTE)], label=g)
            bottom += v
        ax.bar(xe, e.iloc[4:].sum(), bottom=bottom, width=0.6, color=GREY, label="other outcomes")
        ax.set_xticks([*x, xe])
        ax.set_xticklabels([*[labels.get(s, s) for s in f["step"]], "Not charged:\noutcome"], fontsize="small")
        ax.legend(loc="upper right", fontsize="xx-small", frameon=False)
    ax.set_title("The public-data funnel")
    return ax
