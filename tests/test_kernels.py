"""Kernels run quietly: no "over TCP without encryption" or "KeyboardInterrupt caught in kernel" in the log of
tools/build_notebooks.py, IPC sockets in a private directory that is removed, real errors still reported."""
from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from attrition._kernels import QuietKernelManager
from attrition.config import PROJECT_ROOT


def _build_module():
    spec = importlib.util.spec_from_file_location("build_notebooks", PROJECT_ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ipc_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "attrition-kernel-*")))


def test_build_notebooks_runs_without_kernel_noise(tmp_path, monkeypatch, capfd):
    build = _build_module()
    monkeypatch.setattr(build, "OUT", tmp_path)  # never the committed notebooks
    src = tmp_path / "src" / "01-quiet.py"
    src.parent.mkdir()
    src.write_text("# %% [markdown]\n# # 01 · Quiet\n\n# %%\nprint(6 * 7)\n")
    # a private temporary directory (short: a socket path has at most ~100 characters): kernels of tests
    # running beside this one (pytest-xdist) make their own
    private = tempfile.mkdtemp(prefix="ak-")
    monkeypatch.setattr(tempfile, "tempdir", private)
    before = _ipc_dirs()
    out = build.build(src)
    err = capfd.readouterr().err
    nb = nbformat.read(out, as_version=4)
    assert out == tmp_path / "01-quiet.ipynb" and nb.cells[1].outputs[0]["text"] == "42\n"
    assert "without encryption" not in err and "KeyboardInterrupt" not in err, err
    assert before == set() and _ipc_dirs() == before  # the kernel's socket directory is gone
    monkeypatch.undo()  # the default temporary directory again, before this one goes
    shutil.rmtree(private)


@pytest.mark.skipif(os.name != "posix", reason="IPC transport on POSIX only")
def test_quiet_kernel_uses_ipc_and_reports_errors(capfd):
    nb = new_notebook(cells=[new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=60, kernel_name="python3", kernel_manager_class=QuietKernelManager)
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        client.execute()
    assert "without encryption" not in capfd.readouterr().err
    km = QuietKernelManager(kernel_name="python3")
    assert km.transport == "ipc" and km.ip.startswith(km._ipc_dir)
    km._ipc_dir and os.rmdir(km._ipc_dir)
