"""The attrition command line: help, exit codes, argument forwarding, clean error messages."""
from __future__ import annotations

import subprocess
import sys
import types

import pandas as pd
import pytest

from attrition import config
from attrition.cli import main
from attrition.exceptions import AttritionError


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], ["simulate", "validate", "report"]),
        (["simulate", "--help"], ["--cases", "--seed", "--out", "--years", "--as-of"]),
        (["validate", "--help"], ["PATH", "--as-of", "exits 0", "--columns", "--columns-file", "--dayfirst",
                                  "--sheet", "--exclude", "--out", ".xlsx"]),
        (["report", "--help"], ["--data", "--out", "--html", "--seed", "--as-of", "--force"]),
    ],
)
def test_help(capsys, argv, expected):
    assert main(argv) == 0
    out = capsys.readouterr().out
    for word in expected:
        assert word in out


def test_version_and_usage_errors(capsys):
    assert main(["--version"]) == 0
    assert "attrition 0.1.0" in capsys.readouterr().out
    assert main([]) == 2  # a command is required
    assert main(["frobnicate"]) == 2
    assert main(["simulate", "--cases", "0", "--out", "x.csv"]) == 2
    assert main(["simulate", "--cases", "10"]) == 2  # --out required
    assert main(["validate", "x.csv", "--as-of", "yesterday-ish"]) == 2
    assert main(["report", "--seed", "-3"]) == 2
    err = capsys.readouterr().err
    assert "expected a positive whole number" in err and "expected a date" in err


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "attrition", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: attrition" in out.stdout
    out = subprocess.run([sys.executable, "-m", "attrition", "validate"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "PATH" in out.stderr


# --- simulate + validate, end to end on a small synthetic log ----------------------------------
@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "events.csv"
    assert main(["simulate", "--cases", "300", "--seed", "11", "--out", str(path)]) == 0
    return path


def test_simulate_writes_and_validate_accepts(small_log, capsys):
    capsys.readouterr()
    events = pd.read_csv(small_log)
    assert events["case_id"].nunique() == 300
    assert main(["validate", str(small_log)]) == 0
    out = capsys.readouterr().out
    assert "cases:          300" in out and "problems:       none" in out


def test_simulate_is_reproducible(small_log, tmp_path, capsys):
    again = tmp_path / "again.csv"
    assert main(["simulate", "--cases", "300", "--seed", "11", "--out", str(again)]) == 0
    assert again.read_bytes() == small_log.read_bytes()
    assert "simulated 300 cases (seed 11)" in capsys.readouterr().out


def test_validate_broken_rule_exits_1(small_log, capsys):
    # extraction date before most events: the future_timestamp rule is broken
    assert main(["validate", str(small_log), "--as-of", "2020-06-30"]) == 1
    out = capsys.readouterr().out
    assert "future_timestamp" in out


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("case_id,force\n1,Kent\n", "timestamp"),
        ("case_id,force,event,timestamp,victim_name\n1,Kent,reported,2021-01-01,Jane Doe\n", "identifier"),
    ],
)
def test_validate_unusable_file_exits_1_without_traceback(tmp_path, capsys, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("attrition validate: error: ")
    assert match in captured.err.lower()
    assert "Traceback" not in captured.err


def test_validate_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv" in capsys.readouterr().err


def test_validate_forwards_as_of_to_data_module(monkeypatch, capsys):
    calls = {}

    class Report:
        ok = False

        def __str__(self):
            return "2 rules broken"

    fake = types.ModuleType("attrition.data")
    fake.read_events = lambda path: calls.setdefault("path", path) and pd.DataFrame()
    fake.validate_events = lambda df, as_of=None: calls.setdefault("as_of", as_of) and Report()
    monkeypatch.setitem(sys.modules, "attrition.data", fake)
    assert main(["validate", "log.parquet", "--as-of", "2023-09-30"]) == 1
    assert calls == {"path": "log.parquet", "as_of": "2023-09-30"}
    assert capsys.readouterr().out == "2 rules broken\n"


def test_simulate_forwards_arguments(monkeypatch, tmp_path, capsys):
    calls = {}

    class Data:
        cases = pd.DataFrame({"case_id": range(5)})

        def write(self, path):
            calls["path"] = path
            return [tmp_path / "a", tmp_path / "b"]

    def simulate(n_cases=None, *, random_state=None, as_of=None, **truth):
        calls.update(n_cases=n_cases, random_state=random_state, as_of=as_of, truth=truth)
        return Data()

    fake = types.ModuleType("attrition.synthetic")
    fake.simulate = simulate
    monkeypatch.setitem(sys.modules, "attrition.synthetic", fake)
    assert main(["simulate", "--cases", "5", "--out", "d", "--years", "2", "--first-year", "2021",
                 "--as-of", "2023-10-01"]) == 0
    assert calls == {"n_cases": 5, "random_state": config.DEFAULT_SEED, "as_of": "2023-10-01",
                     "truth": {"n_years": 2, "first_year": 2021}, "path": "d"}
    out = capsys.readouterr().out
    assert f"simulated 5 cases (seed {config.DEFAULT_SEED})" in out and str(tmp_path / "b") in out

    def bad(**kwargs):
        raise ValueError("Unknown truth parameter(s) ['x']")

    fake.simulate = lambda *a, **k: bad()
    assert main(["simulate", "--out", "d"]) == 1
    assert "Unknown truth parameter" in capsys.readouterr().err


# --- report ---------------------------------------------------------------------------------------
def test_report_forwards_arguments(monkeypatch, capsys):
    import attrition.report

    calls = []
    monkeypatch.setattr(attrition.report, "run_report", lambda **kw: calls.append(kw) or [])
    assert main(["report"]) == 0
    assert calls[-1] == {"data": None, "out_dir": None, "html": False, "seed": None, "as_of": None, "forces": None,
                         "forces_path": None, "open_data_dir": None}
    assert main(["report", "--data", "ev.csv", "--out", "r", "--html", "--seed", "4", "--as-of", "2023-9-30",
                 "--force", "Kent", "Avon and Somerset", "--force", "Dyfed-Powys", "--forces", "fy.csv"]) == 0
    assert calls[-1] == {"data": "ev.csv", "out_dir": "r", "html": True, "seed": 4, "as_of": "2023-09-30",
                         "forces": ["Kent", "Avon and Somerset", "Dyfed-Powys"], "forces_path": "fy.csv",
                         "open_data_dir": None}


def test_report_failure_exits_1_with_message(monkeypatch, capsys):
    import attrition.report

    def fail(**kw):
        raise AttritionError("notebook 03-x.ipynb failed in cell 4 ('fit()'): ValueError: boom")

    monkeypatch.setattr(attrition.report, "run_report", fail)
    assert main(["report"]) == 1
    err = capsys.readouterr().err
    assert err == "attrition report: error: notebook 03-x.ipynb failed in cell 4 ('fit()'): ValueError: boom\n"


def test_report_runs_real_notebook_dir(monkeypatch, tmp_path, capsys):
    """The CLI drives run_report on a tiny notebook directory (papermill replaced: no kernel)."""
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = new_notebook(cells=[new_code_cell("seed = 1", metadata={"tags": ["parameters"]})])
    nbformat.write(nb, nbs / "01-a.ipynb")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", nbs)
    seen = []

    def fake_execute(src, dst, *, parameters, **kw):
        seen.append(parameters)
        nbformat.write(nbformat.read(src, as_version=4), dst)
        return nbformat.read(dst, as_version=4)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    assert main(["report", "--out", str(tmp_path / "out"), "--seed", "9"]) == 0
    assert seen == [{"seed": 9, "figures_dir": str((tmp_path / "out" / "figures").resolve())}]
    assert (tmp_path / "out" / "01-a.ipynb").is_file()
    assert "[1/1] running 01-a.ipynb" in capsys.readouterr().err


# --- validate: extracts as analysts export them, --exclude --out ------------------------------------------
@pytest.fixture
def force_export(small_log, tmp_path):
    """The small log as a force might export it: own column names, day-first dates, one broken case."""
    ev = pd.read_csv(small_log)
    ev = ev.rename(columns={"case_id": "Crime Reference", "event": "Event Type", "force": "Force Name"})
    ev["timestamp"] = pd.to_datetime(ev["timestamp"]).dt.strftime("%d/%m/%Y")
    ev.loc[ev.index[5], "Event Type"] = "teleported"
    path = tmp_path / "export.csv"
    ev.to_csv(path, index=False)
    bad_case = ev.loc[ev.index[5], "Crime Reference"]
    return path, ev, bad_case


def test_validate_mapping_dayfirst_exclude_out(force_export, tmp_path, capsys):
    path, ev, bad_case = force_export
    argv = ["validate", str(path), "--as-of", "2023-09-30", "--columns", "case_id=Crime Reference",
            "event=Event Type", "force=Force Name", "--dayfirst"]
    assert main(argv) == 1                                   # one broken case, no --exclude
    out = capsys.readouterr().out
    assert "unknown_event" in out and "first lines: 7" in out and "day_first_date" not in out
    clean = tmp_path / "clean.csv"
    assert main([*argv, "--out", str(clean)]) == 1           # invalid and no --exclude: nothing written
    assert not clean.exists()
    assert main([*argv, "--exclude", "--out", str(clean)]) == 0
    printed = capsys.readouterr().out
    written = pd.read_csv(clean)
    excluded = pd.read_csv(tmp_path / "clean.excluded.csv")
    n_bad = int((ev["Crime Reference"] == bad_case).sum())
    assert written["case_id"].nunique() == 299 and bad_case not in set(written["case_id"])
    assert len(written) + len(excluded) == len(ev) and len(excluded) == n_bad
    assert set(excluded["case_id"]) == {bad_case}          # rows as read, under the standard's names
    assert "line 7" in set(excluded["where"]) and (excluded["reason"] == "unknown_event").sum() == 1
    assert f"wrote {len(ev) - n_bad:,} events of 299 valid cases to {clean}" in printed
    # what was written is a valid standard log with ISO dates
    assert main(["validate", str(clean), "--as-of", "2023-09-30"]) == 0


def test_validate_columns_file_and_sheet(small_log, tmp_path, capsys):
    from openpyxl import Workbook

    ev = pd.read_csv(small_log).head(40).rename(columns={"case_id": "Ref"})
    wb = Workbook()
    wb.active.title = "Cover"
    ws = wb.create_sheet("Data")
    ws.append(list(ev.columns))
    for r in ev.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in r])
    wb.save(tmp_path / "x.xlsx")
    (tmp_path / "map.json").write_text('{"case_id": "Ref"}')
    argv = ["validate", str(tmp_path / "x.xlsx"), "--columns-file", str(tmp_path / "map.json"), "--as-of", "2023-09-30"]
    assert main(argv) == 1                                   # the first sheet, 'Cover', is empty
    assert "sheet 'Cover' is empty (rule empty)" in capsys.readouterr().err
    assert main([*argv, "--sheet", "Data"]) == 0
    out = capsys.readouterr().out
    assert "rows read:      40" in out and f"cases:          {ev['Ref'].nunique()}" in out
    assert main([*argv, "--sheet", "1"]) == 0                # or by 0-based position


@pytest.mark.parametrize("extra,message", [
    (["--exclude"], "--exclude needs --out"),
    (["--out", "{tmp}/no/such/dir/clean.csv"], "does not exist"),
    (["--out", "{tmp}"], "is a directory"),
    (["--out", "{log}"], "is the input file"),
    (["--out", "{tmp}/clean.txt"], "use a .csv"),
])
def test_validate_output_checked_before_work(small_log, tmp_path, capsys, extra, message):
    extra = [e.format(tmp=tmp_path, log=small_log) for e in extra]
    before = small_log.read_bytes()
    assert main(["validate", str(small_log), *extra]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""     # refused before the log was read
    assert small_log.read_bytes() == before


@pytest.mark.parametrize("argv,message", [
    (["validate", "x.csv", "--as-of", "01/02/2023"], "ambiguous"),
    (["validate", "x.csv", "--as-of", "2023-02-30"], "not a real date"),
    (["validate", "x.csv", "--columns", "case_id"], "STANDARD=COLUMN"),
])
def test_validate_usage_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
