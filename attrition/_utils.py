"""Small shared helpers: random state, alpha, CI column names."""
from __future__ import annotations

import numbers

import numpy as np
from scipy import stats


def check_random_state(random_state=None) -> np.random.Generator:
    """Normalise ``random_state`` to a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives a fresh unseeded generator (never numpy's global state); an int or
        ``SeedSequence`` seeds a new PCG64 generator; a ``Generator`` is returned as is.
    """
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise TypeError(
        f"random_state must be None, an int, a SeedSequence or a numpy Generator, not {type(random_state).__name__}"
    )


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it is a valid significance level in (0, 1), else raise ``ValueError``."""
    if not isinstance(alpha, numbers.Real) or not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def ci_labels(alpha: float) -> tuple[str, str]:
    """Column names of a ``1 - alpha`` confidence interval, e.g. ``('lower 95%', 'upper 95%')``."""
    level = 100 * (1 - check_alpha(alpha))
    text = f"{level:.0f}" if float(level).is_integer() else f"{level:g}"
    return f"lower {text}%", f"upper {text}%"


def wilson_interval(x, n, alpha: float = 0.05):
    """Wilson score interval for a binomial proportion (vectorised; effective counts allowed).

    Parameters
    ----------
    x, n : array-like, same shape
        Successes and trials (need not be integers). Where ``n <= 0`` the interval is NaN.
    alpha : float, default 0.05

    Returns
    -------
    lower, upper : numpy.ndarray

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *JASA* 22, 209–212.
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    z = stats.norm.ppf(1 - alpha / 2)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(np.maximum(p * (1 - p) / n + z2 / (4 * n * n), 0)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    # exact ends: Wilson's bound at p = 0 (1) is 0 (1) analytically
    lo = np.where((n > 0) & (x <= 0), 0.0, lo)
    hi = np.where((n > 0) & (x >= n), 1.0, hi)
    return lo, hi


_ISO_DATE = r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"


def parse_date(value, *, name: str = "as_of"):
    """A date argument as a :class:`pandas.Timestamp`, refusing anything ambiguous.

    Parameters
    ----------
    value : str, datetime.date, datetime.datetime, numpy.datetime64 or pandas.Timestamp
        Text must be ISO 8601, year first: ``2023-09-30`` (``2023-9-30`` and a time ``2023-09-30T12:00`` are
        allowed). ``01/02/2023`` is refused: it is 1 February in the UK and 2 January in the US.
    name : str, default "as_of"
        The argument's name, used in the error message.

    Returns
    -------
    pandas.Timestamp
        Timezone-naive (an aware value is converted to UK local time).

    Raises
    ------
    ValueError
        Missing, ambiguous or impossible dates (``2023-02-30``), with a message naming ``name`` and suggesting ISO.
    """
    import datetime as _dt
    import re

    import pandas as pd

    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        raise ValueError(f"{name} is missing: give a date such as 2023-09-30")
    if isinstance(value, (pd.Timestamp, _dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(_ISO_DATE, text):
            hint = (" (a date written with '/' or '.' is ambiguous: 01/02/2023 is 1 February in the UK and "
                    "2 January in the US)" if re.search(r"\d[/.]\d", text) else "")
            raise ValueError(f"{name} must be an ISO date such as 2023-09-30 (year-month-day), "
                             f"got {value!r}{hint}")
        try:
            ts = pd.Timestamp(text)
        except (ValueError, OverflowError):
            raise ValueError(f"{name} {value!r} is not a real date; use an ISO date such as 2023-09-30") from None
    else:
        raise ValueError(f"{name} must be an ISO date text such as 2023-09-30 or a date, "
                         f"not {type(value).__name__}")
    if ts is pd.NaT:
        raise ValueError(f"{name} is missing: give a date such as 2023-09-30")
    if ts.tz is not None:
        ts = ts.tz_convert("Europe/London").tz_localize(None)
    return ts


def release_memory() -> None:
    """Give the memory freed by large temporaries back to the operating system.

    After reading or validating millions of rows, most of the peak is already free but still held by the
    allocators: Arrow's memory pool (after a Parquet read) and glibc's heap (many arrays of a few MB are not
    mmapped and fragment it). Holding it makes every later step of a pipeline start from a higher resident
    size. Releasing it changes no result; on other platforms (or a C library without ``malloc_trim``) it
    does nothing.
    """
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass

