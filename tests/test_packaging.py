"""Packaging: what the core and the plugin packages declare, and what a built wheel holds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import harness

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT, *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def pyproject(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_a_declared_license_has_its_file(folder: Path) -> None:
    project = pyproject(folder)["project"]
    if "license" not in project:
        pytest.skip("declares no license")
    assert project["license"] == "MIT"
    assert (folder / "LICENSE").read_text().startswith("MIT License\n")


def test_the_version_has_one_source() -> None:
    project = pyproject(ROOT)["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject(ROOT)["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "harness.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", harness.__version__)


def test_mypy_checks_the_lowest_supported_python() -> None:
    config = pyproject(ROOT)
    lowest = re.fullmatch(r">=(\d+\.\d+)", config["project"]["requires-python"]).group(1)
    assert config["tool"]["mypy"]["python_version"] == lowest


def test_plugin_extras_take_tensorflow_from_harness() -> None:
    """harness[tf] pins tensorflow-cpu: an extra of a plugin that named `tensorflow` would install both."""
    for folder in PACKAGES[1:]:
        for extra, requirements in pyproject(folder)["project"].get("optional-dependencies", {}).items():
            for requirement in requirements:
                name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
                assert not name.startswith("tensorflow"), f"{folder.name}[{extra}] requires {requirement}"


def test_the_testing_kit_is_opt_in() -> None:
    """The only pytest11 entry point is `pytest --harness`'s plugin, inert without --harness (tests/pytest_plugin):
    the testing kit (harness.testing) and the plugin packages load in no pytest run elsewhere in the environment."""
    for folder in PACKAGES:
        declared = pyproject(folder)["project"].get("entry-points", {}).get("pytest11", {})
        assert declared == ({"harness.pytest_plugin": "harness.pytest_plugin"} if folder == ROOT else {}), folder


def test_the_wheel_ships_types_and_license(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "harness", source / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("harness-*.whl")
    assert wheel.name.startswith(f"harness-{harness.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "harness/py.typed" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "[pytest11]\nharness.pytest_plugin = harness.pytest_plugin\n" in zipfile.ZipFile(wheel).read(
        entry_points).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_readme_pytest_runs_the_fast_tests_and_ci_the_slow_ones_after() -> None:
    """The README's test line is a plain `python3 -m pytest`: [tool.pytest.ini_options] leaves the tests marked
    slow out (`-m 'not slow'`), a later `-m` replaces it (pytest keeps the last), and .ci/run runs the README's
    line, then `python3 -m pytest -m slow`."""
    readme_line = next(line for line in (ROOT / "README.md").read_text().splitlines()
                       if re.match(r"python3 .*pytest", line))
    assert readme_line.endswith("&& python3 -m pytest")
    assert pyproject(ROOT)["tool"]["pytest"]["ini_options"]["addopts"] == "-m 'not slow'"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "grep -m1 -E '^python3 .*pytest' README.md" in ci
    assert 0 < ci.index('bash -c "$test_command"') < ci.index("python3 -m pytest -m slow || status=$?")
