"""run_report: notebook discovery, parameters, errors, and a real byte-identical run on a tiny notebook."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from attrition import config, report
from attrition.exceptions import AttritionError, DataValidationError
from attrition.report import find_notebooks, run_report

PARAMS = 'data_path = None\nas_of = None\nforces = None\nseed = 1\nfigures_dir = None'
DRAW = """\
from attrition.plotting import use_style, PALETTE
use_style()
import matplotlib.pyplot as plt
from attrition.figures import save_figure
fig, ax = plt.subplots()
ax.bar(["a", "b", "c"], [3, 1 + seed, 2], color=PALETTE[:3])
ax.set_title(f"seed {seed}")
paths = save_figure(fig, "Fig01_tiny-report", out_dir=figures_dir, formats=("png", "svg", "pdf"))
plt.close(fig)
print(seed, as_of, forces, [p.name for p in paths])"""


def _notebook(path: Path, *cells: str) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell("# tiny"), new_code_cell(PARAMS, metadata={"tags": ["parameters"]})]
    nb.cells += [new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# --- real kernel -------------------------------------------------------------------------------
def test_two_notebooks_at_once_run_in_their_folder_and_leave_our_directory_alone(tmp_path):
    """Each kernel starts in its notebook's folder; the calling process keeps its own working directory (papermill's
    cwd= would chdir the whole process, and two threads restoring each other's directory leave it elsewhere)."""
    import os

    for k in range(1, 5):
        _notebook(tmp_path / "nbs" / f"0{k}-cwd.ipynb", "import os\nprint(os.getcwd())")
    before = os.getcwd()
    executed = run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", jobs=2)
    assert os.getcwd() == before
    for p in executed:
        out = nbformat.read(p, as_version=4).cells[-1].outputs[0]["text"].strip()
        assert out == str((tmp_path / "nbs").resolve())


def test_report_twice_gives_byte_identical_figures_and_notebooks(tmp_path, capsys):
    src = _notebook(tmp_path / "nbs" / "01-tiny.ipynb", DRAW)
    committed = src.read_bytes()
    out, figs = tmp_path / "out", tmp_path / "figs"
    kept = {}
    for run in (1, 2):
        executed = run_report(notebooks=tmp_path / "nbs", out_dir=out, figures_dir=figs, seed=7,
                              as_of="2023-09-30", forces=["metropolitan police"], html=True)
        assert executed == [out / "01-tiny.ipynb"]
        kept[run] = {p.name: p.read_bytes() for p in [*figs.iterdir(), out / "01-tiny.ipynb", out / "html" / "01-tiny.html"]}
    assert sorted(kept[1]) == ["01-tiny.html", "01-tiny.ipynb", "Fig01_tiny-report.pdf", "Fig01_tiny-report.png",
                               "Fig01_tiny-report.published.json", "Fig01_tiny-report.svg"]  # + what it published
    for name in kept[1]:
        assert kept[1][name] == kept[2][name], name
    assert src.read_bytes() == committed  # the committed notebook is never touched

    nb = json.loads(kept[1]["01-tiny.ipynb"])
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    # only non-None parameters are injected; forces normalised to the official name
    assert "".join(injected[0]["source"]).splitlines()[1:] == [
        'as_of = "2023-09-30"', 'forces = ["Metropolitan Police"]', "seed = 7",
        f'figures_dir = "{figs.resolve()}"',
    ]
    printed = "".join(nb["cells"][-1]["outputs"][0]["text"])
    assert printed.startswith("7 2023-09-30 ['Metropolitan Police'] ['Fig01_tiny-report.png'")
    text = kept[1]["01-tiny.ipynb"].decode()
    for key in ("start_time", "end_time", "duration", "iopub.execute_input"):
        assert key not in text, key
    assert "7 2023-09-30" in kept[1]["01-tiny.html"].decode()  # the printed output is in the page
    err = capsys.readouterr().err
    assert "[1/1] running 01-tiny.ipynb" in err and "wrote html/01-tiny.html" in err


def test_failing_cell_is_named(tmp_path):
    _notebook(tmp_path / "nbs" / "01-bad.ipynb", "x = 1", "result = x / 0")
    with pytest.raises(AttritionError) as info:
        run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out")
    msg = str(info.value)
    # numbered as in the committed notebook: markdown, parameters, x = 1, then the failing cell 4
    assert "notebook 01-bad.ipynb failed in cell 4 ('result = x / 0'): ZeroDivisionError" in msg
    assert str(tmp_path / "out" / "01-bad.ipynb") in msg


def test_skipped_analyses_and_notebooks_are_listed_and_the_report_goes_on(tmp_path, capsys):
    _notebook(tmp_path / "nbs" / "01-part.ipynb",
              "from attrition.report import skip\nskip('Officer effects', 'no force-year table', 'pass --forces PATH')",
              "print('still running')")
    _notebook(tmp_path / "nbs" / "02-none.ipynb",
              "from attrition.report import skip_notebook\nskip_notebook('Public data', 'no outcomes file')",
              "print('never reached')")
    _notebook(tmp_path / "nbs" / "03-after.ipynb", "print('ran after a skipped notebook')")
    executed = run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out")
    assert [p.name for p in executed] == ["01-part.ipynb", "02-none.ipynb", "03-after.ipynb"]
    err = capsys.readouterr().err
    assert "skipped 02-none.ipynb after" in err and ": Public data — no outcomes file" in err
    assert "2 analysis(es) skipped for lack of data:" in err
    assert "01-part: Officer effects — no force-year table. To include it: pass --forces PATH." in err
    assert "02-none: Public data — no outcomes file." in err
    assert report.skipped_analyses(nbformat.read(executed[0], as_version=4)) == [
        "Skipped: Officer effects — no force-year table. To include it: pass --forces PATH."]


# --- no kernel: papermill replaced by a recorder ------------------------------------------------
class FakePapermill:
    def __init__(self):
        self.calls = []

    def __call__(self, src, dst, *, parameters, kernel_name, cwd=None, resources=None, **kwargs):
        assert cwd is None  # papermill's cwd= changes the whole process's directory (a race between threads)
        self.calls.append({"src": Path(src), "dst": Path(dst), "parameters": parameters,
                           "cwd": Path(resources["metadata"]["path"]), "kernel_name": kernel_name})
        nb = nbformat.read(src, as_version=4)
        nb.metadata["papermill"] = {"start_time": "2024-01-01T00:00:00", "end_time": "x", "duration": 1.0,
                                    "parameters": parameters}
        for cell in nb.cells:
            cell.metadata["papermill"] = {"start_time": "t", "duration": 0.1, "status": "completed"}
            cell.metadata["execution"] = {"iopub.status.busy": "t"}
        nbformat.write(nb, dst)
        return nb


@pytest.fixture
def fake_pm(monkeypatch):
    import papermill

    fake = FakePapermill()
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    return fake


def test_runs_numbered_notebooks_in_order_with_own_cwd(tmp_path, fake_pm):
    for name in ("02-b.ipynb", "01-a.ipynb", "10-c.ipynb", "scratch.ipynb", "1-x.ipynb", "ab-c.ipynb"):
        _notebook(tmp_path / "nbs" / name)
    executed = run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", jobs=1)
    assert [p.name for p in executed] == ["01-a.ipynb", "02-b.ipynb", "10-c.ipynb"]
    assert [c["src"].name for c in fake_pm.calls] == ["01-a.ipynb", "02-b.ipynb", "10-c.ipynb"]
    assert all(c["cwd"] == (tmp_path / "nbs").resolve() for c in fake_pm.calls)
    assert all(c["parameters"] == {} for c in fake_pm.calls)  # nothing given: notebook defaults hold
    assert all(c["kernel_name"] == "python3" for c in fake_pm.calls)
    nb = nbformat.read(executed[0], as_version=4)
    assert set(nb.metadata["papermill"]) == {"parameters"}
    assert all(set(c.metadata["papermill"]) == {"status"} and "execution" not in c.metadata for c in nb.cells)


def test_notebooks_run_two_at_a_time_and_the_first_failure_in_name_order_is_raised(tmp_path, monkeypatch):
    import threading
    import time

    import papermill
    from papermill.exceptions import PapermillExecutionError

    running, most = set(), [0]
    lock = threading.Lock()

    def fake(src, dst, **kwargs):
        name = Path(src).name
        with lock:
            running.add(name)
            most[0] = max(most[0], len(running))
        time.sleep(0.3 if name.startswith("01") else 0.05)
        with lock:
            running.discard(name)
        nbformat.write(nbformat.read(src, as_version=4), dst)
        if name[:2] in ("01", "02"):  # 02 fails first in time, 01 first in name order
            raise PapermillExecutionError(2, 1, "x", "ValueError", f"bad {name}", [])
        return nbformat.read(dst, as_version=4)

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    for name in ("01-a.ipynb", "02-b.ipynb", "03-c.ipynb", "04-d.ipynb", "05-e.ipynb"):
        _notebook(tmp_path / "nbs" / name)
    with pytest.raises(AttritionError, match="notebook 01-a.ipynb failed in .*ValueError: bad 01-a.ipynb"):
        run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", jobs=2)
    assert most[0] == 2
    assert not (tmp_path / "out" / "05-e.ipynb").exists()  # not started after a failure
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs"):
            run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", jobs=bad)


def test_default_notebooks_dir_and_out_dir(tmp_path, fake_pm, monkeypatch):
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "nbs")
    monkeypatch.setattr(report, "DEFAULT_OUT_DIR", tmp_path / "report")
    _notebook(tmp_path / "nbs" / "01-a.ipynb")
    assert run_report() == [tmp_path / "report" / "01-a.ipynb"]
    # a list of names is looked up in NOTEBOOKS_DIR
    assert find_notebooks(["01-a.ipynb"]) == [(tmp_path / "nbs" / "01-a.ipynb").resolve()]


def test_data_and_options_send_figures_to_out_dir(tmp_path, fake_pm):
    _notebook(tmp_path / "nbs" / "01-a.ipynb")
    data = tmp_path / "events.csv"
    data.write_text("case_id\n")
    run_report(data=data, notebooks=tmp_path / "nbs", out_dir=tmp_path / "out")
    assert fake_pm.calls[-1]["parameters"] == {
        "data_path": str(data.resolve()), "figures_dir": str((tmp_path / "out" / "figures").resolve()),
    }
    run_report(seed=3, notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", figures_dir=tmp_path / "f")
    assert fake_pm.calls[-1]["parameters"] == {"seed": 3, "figures_dir": str((tmp_path / "f").resolve())}


def test_argument_errors(tmp_path, fake_pm):
    nbs = tmp_path / "nbs"
    _notebook(nbs / "01-a.ipynb")
    with pytest.raises(ValueError, match="overwrite the committed notebooks"):
        run_report(notebooks=nbs, out_dir=nbs)
    with pytest.raises(DataValidationError, match="no event log"):
        run_report(data=tmp_path / "missing.csv", notebooks=nbs, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="as_of"):
        run_report(as_of="not a date", notebooks=nbs, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="time of day"):
        run_report(as_of="2023-01-01 12:00", notebooks=nbs, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="ambiguous"):  # 1 February or 2 January: refused, never guessed
        run_report(as_of="01/02/2023", notebooks=nbs, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="seed"):
        run_report(seed=-1, notebooks=nbs, out_dir=tmp_path / "out")
    with pytest.raises(DataValidationError, match="Gotham"):
        run_report(forces=["Kent", "Gotham City"], notebooks=nbs, out_dir=tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AttritionError, match="no report notebooks"):
        run_report(notebooks=tmp_path / "empty", out_dir=tmp_path / "o2")
    with pytest.raises(AttritionError, match="not found"):
        run_report(notebooks=[tmp_path / "nope.ipynb"], out_dir=tmp_path / "o2")
    assert fake_pm.calls == []


def test_kernel_start_failure_is_an_attrition_error(tmp_path, monkeypatch):
    import papermill

    def boom(*args, **kwargs):
        raise RuntimeError("No such kernel named nokernel")

    monkeypatch.setattr(papermill, "execute_notebook", boom)
    _notebook(tmp_path / "nbs" / "01-a.ipynb")
    with pytest.raises(AttritionError, match="01-a.ipynb could not be run: RuntimeError: No such kernel"):
        run_report(notebooks=tmp_path / "nbs", out_dir=tmp_path / "out", kernel_name="nokernel")


def test_kernel_env_is_restored(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.setenv("MATPLOTLIBRC", "/somewhere/else")
    import os

    monkeypatch.delenv("ATTRITION_DATASET_CACHE", raising=False)
    with report._kernel_env():
        assert os.environ["PYTHONHASHSEED"] == "0"
        assert os.environ["MATPLOTLIBRC"] == "/somewhere/else"  # an explicit setting wins
        assert os.environ["ATTRITION_DATASET_CACHE"] == str(report.DEFAULT_DATASET_CACHE)
    with report._kernel_env("/tmp/elsewhere"):
        assert os.environ["ATTRITION_DATASET_CACHE"] == "/tmp/elsewhere"
    assert "PYTHONHASHSEED" not in os.environ and "ATTRITION_DATASET_CACHE" not in os.environ
    assert os.environ["MATPLOTLIBRC"] == "/somewhere/else"


# --- notebooks/sanitize.cfg ------------------------------------------------------------------------
def _sanitize(text: str) -> str:
    import re

    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((config.NOTEBOOKS_DIR / "sanitize.cfg").read_text(encoding="utf-8"))
    assert len(patterns) == 9  # every section parsed (nbval silently skips malformed ones)
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<Figure at 0x7f3a2b1c4d90>", "<Figure at 0xADDRESS>"),
        ("run 2024-05-01T12:03:04.123456+00:00", "run TIMESTAMP"),
        ("CPU times: user 1.2 s, sys: 3 ms\nWall time: 1.3 s", "CPU times: TIMING\nWall time: TIMING"),
        ("12.3 ms ± 1.2 ms per loop (mean ± std. dev. of 7 runs, 100 loops each)", "TIMEIT"),
        ("fit took 1.52 s; converged in 12 iterations", "fit took DURATION; converged in 12 iterations"),
        ("100%|##########| 200/200 [00:03<00:00, 55.20it/s]", "100%|##########| 200/200 [PROGRESS]"),
        ("matplotlib 3.11.2 on Python 3.11.7", "matplotlib VERSION on Python VERSION"),
        ('<td id="T_ab12c_row0_col1">', '<td id="T_STYLERID_row0_col1">'),
        ("wrote /home/ci/attrition/figures/Fig01_x.png", "wrote <project>/figures/Fig01_x.png"),
        # what the notebooks compute is left alone
        ("as_of 2023-09-30, 2022/23: rate 0.123 (95% CI 0.101 to 0.150), n = 1,234, 0x1, 45 days",
         "as_of 2023-09-30, 2022/23: rate 0.123 (95% CI 0.101 to 0.150), n = 1,234, 0x1, 45 days"),
        ("Fig01_national-funnel.png  <Figure size 640x400 with 1 Axes>",
         "Fig01_national-funnel.png  <Figure size 640x400 with 1 Axes>"),
    ],
)
def test_sanitize_cfg(raw, clean):
    assert _sanitize(raw) == clean


def test_longest_notebooks_start_first():
    names = ["01-data-standard.ipynb", "03-force-comparison.ipynb", "07-timely-spos.ipynb",
             "08-report-figures.ipynb", "09-national-picture.ipynb", "10-new.ipynb"]
    order = sorted((Path("nbs") / n for n in names), key=report._start_rank)
    assert [p.name for p in order] == ["08-report-figures.ipynb", "07-timely-spos.ipynb", "03-force-comparison.ipynb",
                                       "01-data-standard.ipynb", "09-national-picture.ipynb", "10-new.ipynb"]
    # every name of LONG_FIRST is a notebook of the project
    assert all((Path(report.__file__).parents[1] / "notebooks" / f"{s}.ipynb").is_file() for s in report.LONG_FIRST)
