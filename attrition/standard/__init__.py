"""The victim-journey data standard, read from its one machine-readable definition.

``events.schema.json`` (a Frictionless Table Schema with ``x-`` extensions) defines the event log, its rules
(``x-rules``, ``x-file-rules``, ``x-order``, ``x-requires``, ``x-contradictions``, ``x-plausibility``) and the
identifier names it refuses; ``outcome_types.csv`` maps Home Office outcome types to exit reasons;
``forenames.csv`` lists common UK forenames for the personal-name check (:mod:`attrition.standard.identifiers`).
Everything here is derived from those files, so the standard is written once.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = _DIR / "events.schema.json"
OUTCOME_TYPES_PATH = _DIR / "outcome_types.csv"
FORENAMES_PATH = _DIR / "forenames.csv"


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The event-log schema as a dict (Frictionless Table Schema + ``x-`` extensions)."""
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)


_S = load_schema()

#: Columns of the event log, in order.
FIELDS: tuple[str, ...] = tuple(f["name"] for f in _S["fields"])
REQUIRED_COLUMNS: tuple[str, ...] = tuple(f["name"] for f in _S["fields"] if f["constraints"].get("required"))
DETAIL_COLUMNS: tuple[str, ...] = tuple(c for c in FIELDS if c not in REQUIRED_COLUMNS)
#: Event vocabulary in logical order (used to order same-day events).
EVENTS: tuple[str, ...] = tuple(_S["x-events"])
EVENT_RANK: dict[str, int] = {e: i for i, e in enumerate(EVENTS)}
ONCE_EVENTS: frozenset[str] = frozenset(e for e, d in _S["x-events"].items() if d["once"])
REQUIRED_DETAILS: dict[str, tuple[str, ...]] = {e: tuple(d["required"]) for e, d in _S["x-events"].items()}
OFFENCES: tuple[str, ...] = tuple(_S["x-offences"])
STALKING_OFFENCES: frozenset[str] = frozenset(o for o, d in _S["x-offences"].items() if d["stalking"])
#: Allowed values of each categorical column (``None`` where free).
ENUMS: dict[str, tuple] = {f["name"]: tuple(f["constraints"]["enum"]) for f in _S["fields"] if "enum" in f["constraints"]}
#: Boolean columns (optional details), name -> (values read as true, values read as false), lower case.
BOOLEAN_FIELDS: dict[str, tuple[frozenset, frozenset]] = {
    f["name"]: (frozenset(v.lower() for v in f["trueValues"]), frozenset(v.lower() for v in f["falseValues"]))
    for f in _S["fields"] if f["type"] == "boolean"
}
ORDER_RULES: tuple[tuple[str, str, str], ...] = tuple(tuple(r) for r in _S["x-order"])
REQUIRES_RULES: tuple[tuple[str, str, str], ...] = tuple(tuple(r) for r in _S["x-requires"])
IDENTIFIER_COLUMNS: frozenset[str] = frozenset(_S["x-identifier-columns"])
#: Words that make a column name an identifier wherever they appear in it (``home_addr``, ``Mobile No``).
IDENTIFIER_NAME_PARTS: frozenset[str] = frozenset(_S["x-identifier-name-parts"])
#: Words that make a ``..._name`` column safe (``force_name``, ``offence_name``).
IDENTIFIER_NAME_SAFE: frozenset[str] = frozenset(_S["x-identifier-name-safe"])
#: Rules of the validation report (row and case level), name -> what it checks.
RULES: dict[str, str] = dict(_S["x-rules"])
#: Reasons a whole file is refused (``DataValidationError.rule``), name -> what it checks.
FILE_RULES: dict[str, str] = dict(_S["x-file-rules"])
#: Pairs of events (with detail values) that contradict each other within one case.
CONTRADICTIONS: tuple[dict, ...] = tuple(_S["x-contradictions"])
_PLAUSIBILITY = _S["x-plausibility"]
#: No event of a stalking journey can precede the offences coming into force.
EARLIEST_DATE: str = _PLAUSIBILITY["earliest_date"]
EARLIEST_DATE_WHY: str = _PLAUSIBILITY["earliest_date_why"]
#: A date column outside the standard whose dates are mostly this many years before the event looks like a
#: date of birth; in free text, a full date this many years before the event does.
DOB_MIN_YEARS: int = int(_PLAUSIBILITY["dob_min_years"])
DOB_TEXT_YEARS: int = int(_PLAUSIBILITY["dob_text_years"])
#: Funnel stages, report to conviction (conviction means conviction for stalking).
STAGES: tuple[str, ...] = tuple(_S["x-stages"])
STAGE_LABELS: dict[str, str] = {
    "reported": "Reported",
    "recorded_stalking": "Recorded as stalking",
    "suspect_identified": "Suspect identified",
    "charged": "Charged",
    "prosecuted": "Prosecuted",
    "convicted": "Convicted of stalking",
}
EXIT_REASONS: dict[str, str] = dict(_S["x-exit-reasons"])


@lru_cache(maxsize=1)
def outcome_types() -> pd.DataFrame:
    """Home Office outcome types 0-22 with description, ``exit_reason`` and ``implies_suspect``."""
    df = pd.read_csv(OUTCOME_TYPES_PATH, dtype={"code": "int64", "exit_reason": "string"})
    df["implies_suspect"] = df["implies_suspect"].astype(bool)
    return df.set_index("code")


@lru_cache(maxsize=1)
def forenames() -> tuple[str, ...]:
    """Common UK forenames (``forenames.csv``) used by the conservative personal-name check on free text."""
    return tuple(pd.read_csv(FORENAMES_PATH, dtype=str)["forename"].str.strip())


#: Home Office outcome code -> exit reason (codes 0 and 1 do not close a case).
OUTCOME_EXIT_REASON: dict[int, str] = {
    int(k): str(v) for k, v in outcome_types()["exit_reason"].dropna().items()
}
DISCONTINUED_EXIT_REASON: dict[str, str] = {
    "victim_withdrawal": "victim_not_supporting",
    "evidential": "evidential_victim_supports",
    "public_interest": "public_interest",
}

__all__ = [
    "load_schema", "outcome_types", "FIELDS", "REQUIRED_COLUMNS", "DETAIL_COLUMNS", "EVENTS", "EVENT_RANK",
    "ONCE_EVENTS", "REQUIRED_DETAILS", "OFFENCES", "STALKING_OFFENCES", "ENUMS", "ORDER_RULES",
    "REQUIRES_RULES", "BOOLEAN_FIELDS", "IDENTIFIER_COLUMNS", "IDENTIFIER_NAME_PARTS", "IDENTIFIER_NAME_SAFE", "RULES",
    "FILE_RULES", "CONTRADICTIONS", "EARLIEST_DATE", "EARLIEST_DATE_WHY", "DOB_MIN_YEARS", "DOB_TEXT_YEARS",
    "forenames", "STAGES", "STAGE_LABELS", "EXIT_REASONS",
    "OUTCOME_EXIT_REASON", "DISCONTINUED_EXIT_REASON",
]
