"""environment.yml, constraints.txt and pyproject.toml agree; the README shows the two commands."""
import re
import tomllib

from attrition.config import PROJECT_ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req.strip(), maxsplit=1)[0].lower()


def test_environment_matches_pyproject_and_constraints():
    py = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in py["dependencies"]}
    for group in ("notebooks", "test"):
        declared |= {_name(r) for r in py["optional-dependencies"][group]}
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    env = {}
    text = (PROJECT_ROOT / "environment.yml").read_text()
    for m in re.finditer(r"^\s+-\s+([A-Za-z0-9_.-]+)=([0-9][^\s]*)\s*$", text, re.M):
        env[m.group(1).lower()] = m.group(2)
    env.pop("python", None)
    assert declared == set(pins), declared ^ set(pins)
    assert env == pins
    assert '"-e .[notebooks,test]"' in text and "conda-forge" in text


def test_readme_and_ci_run_make_test():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make report" in readme and "make test" in readme
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()
