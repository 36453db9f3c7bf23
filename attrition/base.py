"""Behaviour shared by every fitted model (after lifelines' ``BaseFitter``)."""
from __future__ import annotations

import pandas as pd

from ._utils import check_alpha, ci_labels
from .exceptions import NotFittedError


class BaseFitter:
    """Base of all ``attrition`` models.

    Subclasses implement ``fit(...)`` returning ``self``, set fitted attributes ending in ``_``,
    set ``self._fitted_on`` to a short text describing the data, and build ``summary``.

    Parameters
    ----------
    alpha : float, default 0.05
        Confidence intervals are ``1 - alpha``.
    """

    def __init__(self, alpha: float = 0.05):
        self.alpha = check_alpha(alpha)
        self._fitted_on: str | None = None

    @property
    def ci_labels(self) -> tuple[str, str]:
        """Names of the lower and upper CI columns of ``summary``."""
        return ci_labels(self.alpha)

    @property
    def is_fitted(self) -> bool:
        return self._fitted_on is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(...) first.")

    @property
    def summary(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def print_summary(self, decimals: int = 3) -> None:
        """Print the model, what it was fitted on, and ``summary`` as plain text."""
        self._check_fitted()
        print(repr(self))
        with pd.option_context("display.width", 200, "display.max_columns", 50):
            print(self.summary.round(decimals).to_string())

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._fitted_on is None:
            return f"<attrition.{name}: unfitted>"
        return f"<attrition.{name}: fitted on {self._fitted_on}>"
