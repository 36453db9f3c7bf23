"""The package's data flow runs one way: readers never import the generator, models or the report."""
import ast
from pathlib import Path

import papermill
import pytest

from attrition.config import NOTEBOOKS_DIR, PACKAGE_DIR

PARAMETERS = ["data_path", "as_of", "forces", "forces_path", "seed", "figures_dir", "columns", "dayfirst"]


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the attrition modules a file imports (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {n for n in found if n.startswith("attrition")}


def _module_imports(subdir: str) -> dict[str, set[str]]:
    out = {}
    for path in (PACKAGE_DIR / subdir).rglob("*.py"):
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        package = ".".join(rel.parts[:-1]) if path.name != "__init__.py" else ".".join(rel.parts[:-1])
        out[".".join(rel.parts)] = _imports(path, package)
    return out


@pytest.mark.parametrize("lower", ["sources", "standard"])
def test_lower_layers_never_import_higher_ones(lower):
    higher = ("attrition.synthetic", "attrition.data", "attrition.funnel", "attrition.effects", "attrition.survival",
              "attrition.report", "attrition.figures", "attrition.cli")
    bad = {m: sorted(i for i in imps if i.startswith(higher)) for m, imps in _module_imports(lower).items()}
    assert not {m: i for m, i in bad.items() if i}


def test_synthetic_produces_event_logs_without_the_dataset_facade():
    imps = _imports(PACKAGE_DIR / "synthetic.py", "attrition")
    assert "attrition.data" not in imps and "attrition.sources.events" in imps


@pytest.mark.parametrize("notebook", sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb")))
def test_papermill_parses_every_parameter(notebook):
    params = papermill.inspect_notebook(str(NOTEBOOKS_DIR / notebook))
    assert list(params)[: len(PARAMETERS)] == PARAMETERS
    assert all(p["help"] for p in params.values())  # each documented in its comment
