"""Hand-built journeys for tests (importable by name: a test cannot import `conftest`, which is ambiguous
when pytest collects tests/ and notebooks/ together)."""
from __future__ import annotations


def journey(case_id, force, *rows):
    """Rows of one case: (event, date, {details})."""
    out = []
    for r in rows:
        event, ts, *det = r
        out.append({"case_id": case_id, "force": force, "event": event, "timestamp": ts, **(det[0] if det else {})})
    return out
