"""The two install routes (pip via pyproject.toml, conda via environment.yml) must not drift."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\s\[]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_runtime() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_name(d): d.replace(" ", "")[len(_name(d)):] for d in deps}


def conda_runtime() -> dict[str, str]:
    """Top-level conda packages of environment.yml (the nested pip list is not read)."""
    out: dict[str, str] = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*(\S*)\s*$", line)
        if match:
            name = CONDA_TO_PYPI.get(match[1].lower(), match[1].lower())
            if name not in CONDA_ONLY:
                out[name] = match[2]
    return out


def test_same_runtime_packages():
    assert set(conda_runtime()) == set(pyproject_runtime())


def test_same_version_bounds():
    assert conda_runtime() == pyproject_runtime()


def test_conda_installs_the_project_itself():
    assert re.search(r"^\s+- -e \.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        assert "make test" in workflow.read_text()


ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(ACTIONLINT is None, reason="actionlint is not installed beside this Python")
def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The lint step can fail: a workflow with an unknown job key is rejected."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    result = subprocess.run([ACTIONLINT, str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
