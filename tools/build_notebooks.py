"""Write the report notebooks from their cell lists (notebooks/src/*.py) and execute them in place.

The notebooks are committed with their outputs (nbval compares them in `make test`). Edit the source
file, run this script for that notebook, then READ the diff of the outputs before committing:

    .venv/bin/python tools/build_notebooks.py 02            # build + execute one
    .venv/bin/python tools/build_notebooks.py --all         # all of them

A source file is plain Python split into cells by lines starting with `# %%` (code) or `# %% [markdown]`;
a cell whose first line is `# parameters` is tagged `parameters` for papermill.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"


def parse(text: str) -> list:
    cells = []
    chunks = re.split(r"^# %%(.*)$", text, flags=re.M)
    for header, body in zip(chunks[1::2], chunks[2::2]):
        body = body.strip("\n")
        if "[markdown]" in header:
            md = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(md))
        else:
            cell = nbformat.v4.new_code_cell(body)
            if body.startswith("# parameters"):
                cell.metadata["tags"] = ["parameters"]
            cells.append(cell)
    return cells


def build(src: Path, execute: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for i, c in enumerate(nb.cells):
        c["id"] = f"{src.stem[:2]}-{i:02d}"
    out = OUT / f"{src.stem}.ipynb"
    if execute:
        os.environ.setdefault("MPLBACKEND", "Agg")
        os.environ.setdefault("PYTHONHASHSEED", "0")
        os.environ.setdefault("MATPLOTLIBRC", str(ROOT / "attrition" / "standard" / "matplotlibrc"))
        from attrition._kernels import QuietKernelManager  # IPC sockets, no interrupt at shutdown: no kernel noise

        NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(OUT)}},
                       kernel_manager_class=QuietKernelManager).execute()
        for c in nb.cells:
            c.metadata.pop("execution", None)
    nbformat.write(nb, out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", help="notebook numbers, e.g. 01 02")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--no-execute", action="store_true")
    args = ap.parse_args(argv)
    srcs = sorted(SRC.glob("[0-9][0-9]-*.py"))
    if not args.all:
        srcs = [s for s in srcs if s.stem[:2] in args.which]
    if not srcs:
        ap.error("no notebook selected")
    for s in srcs:
        print(f"building {s.stem} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        print(build(s, execute=not args.no_execute))
        print(f"built {s.stem} in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
