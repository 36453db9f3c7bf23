"""Public data about the real system: Home Office outcomes open data and related published tables."""
