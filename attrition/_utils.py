"""Small shared helpers: random state, alpha, CI column names."""
from __future__ import annotations

import numbers

import numpy as np


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
