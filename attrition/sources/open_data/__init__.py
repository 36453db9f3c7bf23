"""Public data about the real system: Home Office outcomes open data, police recorded crime by force area,
court outcomes by force area and FOI returns (readers only; the analyses are in :mod:`attrition.public`)."""
from .courts import read_court_outcomes
from .foi import read_foi_returns
from .outcomes import OUTCOME_GROUPS, read_outcomes
from .recorded import read_recorded_crime

__all__ = ["read_outcomes", "read_recorded_crime", "read_court_outcomes", "read_foi_returns", "OUTCOME_GROUPS"]
