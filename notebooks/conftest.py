"""nbval of the report notebooks: figures go to a scratch directory, never into the tracked figures/.

Notebook 08 writes every report figure. Under test it writes them into a temporary directory (the kernels
inherit ``ATTRITION_FIGURES_DIR``, which :data:`attrition.config.FIGURES_DIR` honours); at the end of the
session they are compared byte for byte with the committed figures, so stale committed figures fail CI.

Under pytest-xdist (``make test`` runs on every core) the controller makes the scratch directory, its workers
inherit it (``_ATTRITION_TEST_FIGURES``), and only the controller compares, once every notebook has run.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

if "_ATTRITION_TEST_FIGURES" not in os.environ:  # the controller (or a run without workers) makes it
    os.environ["_ATTRITION_TEST_FIGURES"] = tempfile.mkdtemp(prefix="attrition-figures-")
os.environ["ATTRITION_FIGURES_DIR"] = os.environ["_ATTRITION_TEST_FIGURES"]
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MATPLOTLIBRC", str(Path(__file__).resolve().parents[1] / "attrition" / "standard" / "matplotlibrc"))


def stale_figures(scratch: Path, committed: Path) -> list[str]:
    """Names of figures in ``scratch`` that are absent from ``committed`` or differ from it byte for byte.

    Only the figure files (PNG, SVG, PDF): the sidecars of published values (``*.published.json``) that
    ``save_figure`` writes outside the committed ``figures/`` are not committed."""
    return [p.name for p in sorted(scratch.glob("Fig*")) if p.suffix in (".png", ".svg", ".pdf")
            and (not (committed / p.name).is_file() or (committed / p.name).read_bytes() != p.read_bytes())]


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller compares at the end
        return
    from attrition.config import COMMITTED_FIGURES_DIR

    scratch = Path(os.environ["ATTRITION_FIGURES_DIR"])
    stale = stale_figures(scratch, COMMITTED_FIGURES_DIR) if scratch.is_dir() else []
    if stale:  # the scratch copies are kept so that the difference can be looked at
        print(f"\nfigures/: {len(stale)} committed figure(s) differ from what notebook 08 writes now: {stale}; "
              f"run `make report` and commit figures/ (this run's figures are in {scratch}).")
        session.exitstatus = 1
    else:
        shutil.rmtree(scratch, ignore_errors=True)
