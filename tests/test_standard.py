"""The data standard is written once: the schema, the docs and the code agree."""
import json
import re

import pandas as pd

from attrition import standard as S
from attrition.config import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "data-standard.md").read_text()


def test_schema_is_frictionless_table_schema():
    sch = json.loads(S.SCHEMA_PATH.read_text())
    assert {"fields", "missingValues"} <= set(sch)
    for f in sch["fields"]:
        assert f["type"] in {"string", "integer", "number", "datetime", "date", "boolean"}
        assert f["description"]
    assert set(S.FIELDS) == {f["name"] for f in sch["fields"]}


def test_docs_document_every_field_event_code_and_rule():
    for name in [*S.FIELDS, *S.EVENTS, *S.OFFENCES, *S.EXIT_REASONS, *S.STAGES]:
        assert f"`{name}`" in DOC, name
    for code in S.outcome_types().index:
        assert re.search(rf"^\| {code} \|", DOC, re.M), code
    for rule in ["missing_value", "unknown_event", "unknown_force", "unparseable_timestamp", "future_timestamp",
                 "unknown_code", "unknown_outcome_code", "missing_detail", "duplicate_event", "repeated_event",
                 "inconsistent_force", "missing_report", "before_report", "out_of_order", "missing_prerequisite"]:
        assert f"`{rule}`" in DOC, rule
        assert rule in S.RULES, rule


def test_docs_document_every_rule_file_rule_and_identifier_name():
    rules_table = DOC[DOC.index("## Rules that span rows"):DOC.index("## The case table")]
    for rule in S.RULES:
        assert re.search(rf"^\| `{rule}` \|", rules_table, re.M), rule
    for rule in S.FILE_RULES:
        assert re.search(rf"^\| `{rule}` \| {re.escape(S.FILE_RULES[rule])} \|", DOC, re.M), rule
    for name in [*S.IDENTIFIER_COLUMNS, *S.IDENTIFIER_NAME_PARTS, *S.IDENTIFIER_NAME_SAFE]:
        assert f"`{name}`" in DOC, name
    for c in S.CONTRADICTIONS:
        assert c["why"] in rules_table
    assert S.EARLIEST_DATE in rules_table and S.EARLIEST_DATE_WHY in rules_table
    for option in ("columns=", "read_column_mapping", "dayfirst=True", "--dayfirst", "--columns-file", "--sheet",
                   "--exclude --out", "standard,column", "[columns]", "max_bytes", "max_rows"):
        assert option in DOC, option


def test_validation_reports_only_rules_of_the_standard():
    """Every rule name validate_events can report is listed in the schema, and the other way round."""
    from attrition.config import PROJECT_ROOT

    src = (PROJECT_ROOT / "attrition" / "sources" / "events.py").read_text()
    used = set(re.findall(r'P\.add\("([a-z_]+)"', src)) | set(re.findall(r'_recode\([^)]*?P, "([a-z_]+)"', src, re.S))
    assert used == set(S.RULES), used ^ set(S.RULES)


def test_outcome_mapping_matches_issue():
    m = S.OUTCOME_EXIT_REASON
    assert m[15] == "evidential_victim_supports"
    assert m[14] == m[16] == "victim_not_supporting"
    assert m[18] == "no_suspect" and m[20] == "transferred" and m[21] == "public_interest"
    assert 0 not in m and 1 not in m
    assert set(m.values()) <= set(S.EXIT_REASONS)
    assert sorted(S.outcome_types().index) == list(range(23))


def test_order_rules_reference_known_events():
    for a, b, _ in S.ORDER_RULES + S.REQUIRES_RULES:
        assert a in S.EVENTS and b in S.EVENTS
    for e, cols in S.REQUIRED_DETAILS.items():
        assert set(cols) <= set(S.DETAIL_COLUMNS)


def test_forces_table():
    from attrition.sources.forces import load_force_table

    f = load_force_table()
    assert len(f) == 43 and f["force"].is_unique
    assert f["ons_code"].str.match(r"^(E23|W15)\d{6}$").all()
    assert pd.read_csv(PROJECT_ROOT / "data" / "reference" / "forces.csv")["name"].str.len().gt(0).all()
