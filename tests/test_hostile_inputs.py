"""Hostile and messy event logs (tests/hostile/make_inputs.py): each is read correctly, with the expected row and
case counts, or refused with a DataValidationError naming the file, the rule and where -- never another
exception -- through the API and through `attrition validate`, without a traceback.
"""
from __future__ import annotations

import time
import warnings

import pytest

from attrition.cli import main
from attrition.data import load_events
from attrition.exceptions import DataQualityWarning, DataValidationError, IdentifierColumnError
from hostile.make_inputs import AS_OF, make_all

def _case_list():
    """The cases, known at collection time: made once in a scratch directory that is removed at once."""
    import shutil
    import tempfile
    from pathlib import Path

    scratch = Path(tempfile.mkdtemp(prefix="hostile-list-"))
    try:
        return make_all(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


CASES = _case_list()
_DIR = {}


@pytest.fixture(scope="module", autouse=True)
def _files(tmp_path_factory):
    """The files themselves, made at test time in a pytest temporary directory (never committed)."""
    _DIR["path"] = tmp_path_factory.mktemp("hostile")
    made = make_all(_DIR["path"])
    assert [c.name for c in made] == [c.name for c in CASES]
    yield


def test_there_are_at_least_80_inputs_of_each_kind():
    kinds = [c.expect for c in CASES]
    assert len(CASES) >= 80
    assert kinds.count("ok") >= 30 and kinds.count("refuse") >= 40 and kinds.count("rule") >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api(case):
    path = _DIR["path"] / case.name
    if case.expect == "ok":
        ev, rep = load_events(path, as_of=AS_OF, return_report=True, **case.opts)
        assert rep.ok, str(rep)
        assert len(ev) == case.n_rows
        assert ev["case_id"].nunique() == case.n_cases
        assert len(rep.excluded) == 0
        return
    if case.expect == "refuse":
        t0 = time.perf_counter()
        with pytest.raises(DataValidationError) as err:
            load_events(path, as_of=AS_OF, **case.opts)
        assert time.perf_counter() - t0 < 10
        msg = str(err.value)
        assert err.value.rule == case.rule, msg
        assert f"(rule {case.rule})" in msg
        assert case.name in msg, msg                 # names the file
        assert case.where in msg, msg                # and where / what
        if case.rule.startswith("identifier"):
            assert isinstance(err.value, IdentifierColumnError)
        for s in case.secret:                        # personal data is never echoed
            assert s not in msg
        return
    # a rule of the standard is broken: named with where, once (no knock-on rules), and the rest is kept
    with pytest.raises(DataValidationError) as err:
        load_events(path, as_of=AS_OF, **case.opts)
    msg = str(err.value)
    assert case.rule in msg and case.where in msg, msg
    assert list(err.value.problems["rule"]) == [case.rule], msg
    with pytest.warns(DataQualityWarning):
        ev, rep = load_events(path, as_of=AS_OF, errors="exclude", return_report=True, **case.opts)
    assert ev["case_id"].nunique() == case.n_cases if len(ev) else case.n_cases == 0
    assert len(ev) + len(rep.excluded) == rep.n_rows_in        # nothing lost
    assert rep.excluded["where"].str.match(r"^(line|row) \d+$").all()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli(case, capsys):
    path = _DIR["path"] / case.name
    code = main(["validate", str(path), "--as-of", AS_OF, *(a.format(dir=_DIR["path"]) for a in case.argv)])
    out, err = capsys.readouterr()
    want = case.cli_exit if case.cli_exit is not None else (0 if case.expect == "ok" else 1)
    assert code == want, out + err
    assert "Traceback" not in err and "Traceback" not in out
    if case.expect == "refuse" and want == 1:
        assert err.startswith("attrition validate: error: ") and case.rule in err
    if case.expect == "rule":
        assert case.rule in out
    for s in case.secret:
        assert s not in out + err


def test_exclude_writes_valid_cases_and_reasons(tmp_path, capsys):
    """`validate --exclude --out` on a file with one contradictory journey: 29 cases written, the other set aside."""
    import pandas as pd

    src = _DIR["path"] / "no_suspect_then_charged.csv"
    out = tmp_path / "clean.csv"
    assert main(["validate", str(src), "--as-of", AS_OF, "--exclude", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    clean = pd.read_csv(out)
    excluded = pd.read_csv(tmp_path / "clean.excluded.csv")
    n_lines = len(pd.read_csv(src)) + 1           # header + rows; the charge of C001 is the last line
    assert clean["case_id"].nunique() == 29 and "C001" not in set(clean["case_id"])
    assert set(excluded["case_id"]) == {"C001"} and len(excluded) == 4
    # the police outcome (line 4) and the charge (last line) contradict each other; the other rows go with them
    assert list(excluded["reason"]) == ["case excluded: contradictory_journey", "case excluded: contradictory_journey",
                                        "contradictory_journey", "contradictory_journey"]
    assert list(excluded["where"]) == ["line 2", "line 3", "line 4", f"line {n_lines}"]
    assert len(clean) + len(excluded) == n_lines - 1
    assert f"wrote {n_lines - 1 - 4:,} events of 29 valid cases" in printed and "set aside 4 rows of 1 cases" in printed
    # the written file is itself valid
    assert main(["validate", str(out), "--as-of", AS_OF]) == 0


def test_gzip_bomb_stops_early():
    """520 MB of text in a 0.5 MB gzip: refused after about 16 MiB, well within a second or two."""
    path = _DIR["path"] / "bomb.csv.gz"
    assert path.stat().st_size < 2_000_000
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match="fold"):
        load_events(path)
    assert time.perf_counter() - t0 < 5


def test_warnings_are_not_raised_for_valid_awkward_files():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("cp1252_late.csv", "blank_lines.csv", "title_rows.xlsx", "trailing_empty_columns.csv"):
            load_events(_DIR["path"] / name, as_of=AS_OF)


SAME_EVENTS = ["bom.csv", "crlf.csv", "utf16le_bom.csv", "utf16be_bom.csv", "utf16le_nobom.csv", "cp1252.csv",
               "cp1252_late.csv", "semicolon.csv", "excel_europe.csv", "tab.tsv", "pipe.txt", "all_quoted.csv",
               "embedded_newline.csv", "extra_columns.csv", "header_styles.csv", "camel_case.csv", "na_strings.csv",
               "spaces_around.csv", "force_aliases.csv", "blank_lines.csv", "trailing_empty_columns.csv",
               "trailing_delimiter_data_rows.csv", "events.csv.gz", "events.csv.bz2", "events.csv.xz", "events.zip", "events.parquet", "events.xlsx",
               "dates.xlsx", "title_rows.xlsx", "second_sheet.xlsx", "events.ods", "dates.ods", "mapped.csv",
               "mapped_by_file.csv", "mapped_by_toml.csv", "dayfirst.csv", "force_export.xlsx",
               "unmapped_force_name.csv"]


@pytest.mark.parametrize("name", SAME_EVENTS)
def test_awkward_files_give_the_same_events_as_the_plain_csv(name):
    """Independent check of 'read correctly': every standard column equals the plain UTF-8 CSV's, value by value."""
    import pandas as pd

    from attrition import standard as S

    by_name = {c.name: c for c in CASES}
    ref = load_events(_DIR["path"] / "plain.csv", as_of=AS_OF)
    got = load_events(_DIR["path"] / name, as_of=AS_OF, **by_name[name].opts)
    got = got.assign(case_id=got["case_id"].astype(str))
    pd.testing.assert_frame_equal(got[list(S.FIELDS)], ref[list(S.FIELDS)].assign(case_id=ref["case_id"].astype(str)))


def test_text_in_other_encodings_is_decoded():
    cp = load_events(_DIR["path"] / "cp1252.csv", as_of=AS_OF)
    assert (cp["comment"] == "damage £50 – café window").sum() == (cp["comment"] != "none").sum() > 0
    late = load_events(_DIR["path"] / "cp1252_late.csv", as_of=AS_OF, return_report=True)
    assert "naïve £" in set(late[0]["comment"])
    assert any("Windows-1252" in n for n in late[1].notes)
    emb = load_events(_DIR["path"] / "embedded_newline.csv", as_of=AS_OF)
    assert 'said: "stop", then left\nnext day' in set(emb["comment"])
