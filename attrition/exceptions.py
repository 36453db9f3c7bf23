"""Every exception and warning ``attrition`` raises, so users can catch ours.

All errors derive from :class:`AttritionError`; those about bad input are also ``ValueError``.
"""
from __future__ import annotations


class AttritionError(Exception):
    """Base class of all ``attrition`` errors."""


class DataValidationError(AttritionError, ValueError):
    """Input data break the victim-journey data standard.

    Attributes
    ----------
    problems : pandas.DataFrame or None
        One row per broken rule: ``rule``, ``column``, ``n_rows``, ``example_case_ids``, ``message``.
    rule : str or None
        When a whole file is refused, the file rule it breaks (``attrition.standard.FILE_RULES``), e.g.
        ``"encoding"`` or ``"ragged_rows"``.
    """

    def __init__(self, message: str, problems=None, rule=None):
        super().__init__(message)
        self.problems = problems
        self.rule = rule


class IdentifierColumnError(DataValidationError):
    """A column holds direct identifiers (names, dates of birth, addresses, contact details)."""


class ConvergenceError(AttritionError, ValueError):
    """A model failed to converge (e.g. perfect separation); the message says what to try."""


class NotFittedError(AttritionError, AttributeError):
    """A fitted attribute or method was used before ``fit``."""


class StatisticalWarning(RuntimeWarning):
    """A result is valid but should be read with care (small samples, weak overlap, ...)."""


class DataQualityWarning(UserWarning):
    """Rows were excluded or repaired; the validation report lists each with its reason."""


class DisclosureWarning(UserWarning):
    """Cells were suppressed by statistical disclosure control."""


class FetchError(AttritionError, OSError):
    """A published file could not be downloaded, or its checksum does not match the release table."""


class NotebookSkipped(AttritionError):
    """A whole report notebook cannot run on the data at hand (e.g. no public data given).

    Raised by :func:`attrition.report.skip_notebook`; :func:`attrition.report.run_report` lists the notebook
    as skipped and goes on with the others.
    """
