"""The benchmark suite (benchmarks/, pytest-benchmark) collects, runs and prints its ratio table; the README's
pytest does not collect it. Only the two cheapest benchmarks run (start-up of ``python -c pass`` and of
``import harness``, a few fresh processes each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("pytest_benchmark")
pytestmark = pytest.mark.slow


def suite(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.setdefault("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env["PYTHONPATH"]]))
    # -m "": every selected benchmark, whatever [tool.pytest.ini_options]'s addopts leaves out by default
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


def test_the_suite_runs_and_prints_its_ratios(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    out = suite("benchmarks/test_startup.py", "-k", "pass or import", "--benchmark-only",
                "--bench-set", "rounds=2", f"--benchmark-json={report}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ratios: median time / the reference's median time" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("startup  import harness"))
    assert "python -c pass" in row
    benchmarks = {b["name"]: b for b in json.loads(report.read_text())["benchmarks"]}
    assert set(benchmarks) == {"test_startup[python -c pass]", "test_startup[import harness]"}
    info = benchmarks["test_startup[import harness]"]["extra_info"]
    assert info["reference"] == "python -c pass" and info["ratio"] > 0 and info["heavy_modules"] == []
    assert benchmarks["test_startup[import harness]"]["group"] == "startup"
    assert benchmarks["test_startup[import harness]"]["stats"]["rounds"] == 2  # --bench-set reached the test


def test_compare_without_a_saved_run_is_a_usage_error(tmp_path: Path) -> None:
    out = suite("benchmarks/test_startup.py", "--benchmark-only", f"--benchmark-storage=file://{tmp_path}",
                "--benchmark-compare", "--benchmark-compare-fail=median:15%")
    assert out.returncode == 4, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"no saved run under {tmp_path}" in out.stderr


def test_the_readme_pytest_does_not_collect_the_suite() -> None:
    """``python3 -m pytest`` collects ``testpaths``: the benchmarks are left out (they run on request)."""
    [line] = [x for x in (REPO / "pyproject.toml").read_text().splitlines() if x.startswith("testpaths")]
    assert "tests" in line and "benchmarks" not in line
