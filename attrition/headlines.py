"""The published national figures, recomputed from a case table, side by side with their sources."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ci_labels, wilson_interval
from .config import PUBLISHED_DIR

__all__ = ["published_figures", "headline_figures"]


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
