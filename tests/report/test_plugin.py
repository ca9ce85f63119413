"""The built-in report plugin end to end: tiny real runs on synthetic images write their report, an
interrupted run reports what finished, and ``harness report`` rebuilds the same report from the record."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.report import figures
from harness.testing import HarnessTester
from tests.conftest import TINY_MODEL_PLUGIN

PLUGIN = TINY_MODEL_PLUGIN + '''

def mirror(params):
    import keras
    return keras.layers.RandomFlip("horizontal", seed=int(params["seed"]))

@harness.hookimpl
def harness_augmentations_register(config):
    return [harness.AugmentationSpec(name="mirror", factory=mirror, params={"seed": 3})]
'''

INTERRUPT = '''

@harness.hookimpl
def harness_combination_result(session, task, result):
    raise KeyboardInterrupt  # Ctrl-C right after the first task is stored
'''

INTERRUPT_ONLY = "import harness\n" + INTERRUPT

ARGS = ("run", "--dataset", "synthetic", "--model", "tiny", "--augmentation", "none", "--augmentation", "mirror")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory):
    """One complete run with real Keras (2 tasks, 2 epochs): its report has the figures of images (samples,
    an augmentation's effect), which need the real dataset's records."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
        complete = HarnessTester(tmp_path_factory.mktemp("complete"), mp)
        complete.make_plugin(PLUGIN)
        yield complete, complete.run(*ARGS, "--epochs", "2")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory):
    """A run of the fast trainer interrupted (Ctrl-C) after its first task."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
        tester = HarnessTester(tmp_path_factory.mktemp("interrupted"), mp)
        tester.make_plugin(INTERRUPT_ONLY)
        yield tester, tester.run("run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--model",
                                 "fast_pass", "--model", "fast_fail", "--augmentation", "none")


def _snapshot(run_dir: Path) -> dict[str, str]:
    """Every table, and the pages with their images cut out."""
    files = {str(p.relative_to(run_dir)): p.read_text() for p in sorted(run_dir.glob("tables/*"))}
    files["results.csv"] = (run_dir / "results.csv").read_text()
    files["report.md"] = (run_dir / "report.md").read_text()
    files["report.html"] = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,...", (run_dir / "report.html").read_text())
    files["figures"] = " ".join(sorted(p.name for p in run_dir.glob("figures/*.png")))
    return files


@pytest.mark.slow
def test_the_run_writes_its_report(real_run) -> None:
    _, result = real_run
    assert result.ret in (0, 1), result.stderr
    run_dir = result.run_dir
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == [
        "accuracy_vs_time-synthetic.png", "augment-synthetic-mirror.png", "confusion-synthetic.png",
        "curves-synthetic.png", "effects-synthetic.png", "grid-synthetic.png", "labels-synthetic.png",
        "mistakes-synthetic.png", "samples-synthetic.png", "test_accuracy-synthetic.png"]
    assert sorted(p.name for p in (run_dir / "tables").glob("*.csv")) == [
        "combinations.csv", "confusion-synthetic-mirror-tiny.csv", "confusion-synthetic-none-tiny.csv",
        "effects-synthetic.csv", "labels.csv", "leaderboard-synthetic.csv", "mcnemar-synthetic.csv",
        "mistakes-synthetic.csv", "per_seed.csv", "pivot-synthetic.csv"]
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 10
    assert "note:" not in result.stdout, result.stdout


def test_the_terminal_points_to_the_report_and_ends_with_the_counts(fast_run) -> None:
    _, result = fast_run
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == f"report: {result.run_dir / 'report.html'}"
    # the verdict pools each combination's seeds; the per-seed counts follow it
    assert re.fullmatch(r"=+ 2 passed, 2 failed \(combinations, seeds pooled; per seed: 4 passed, 4 failed\) "
                        r"in (\d+m)?\d+s =+", lines[-1]), lines[-1]


def test_harness_report_rebuilds_the_same_report(fast_run, tmp_path) -> None:
    tester, result = fast_run
    run_dir = tmp_path / result.run_dir.name  # the report is titled with it
    shutil.copytree(result.run_dir, run_dir)
    before = _snapshot(run_dir)
    for path in [*run_dir.glob("tables/*"), run_dir / "report.html", run_dir / "results.csv"]:
        path.unlink()
    rebuilt = tester.run("report", str(run_dir))
    assert rebuilt.ret == 0, rebuilt.stderr
    assert _snapshot(run_dir) == before


@pytest.mark.slow
def test_the_baseline_in_the_curves_is_the_recorded_baseline(real_run) -> None:
    _, result = real_run
    records = result.records
    figure = figures.accuracy_curves(records, "synthetic")
    for ax in figure.axes:
        dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(dashed) == 1 and np.allclose(dashed[0].get_ydata(), 100 * records[0]["baseline_accuracy"])


def test_an_interrupted_run_reports_what_finished(interrupted) -> None:
    tester, result = interrupted
    assert result.ret == 2
    assert re.search(r"=+ 1 (passed|failed) in (\d+m)?\d+s \(interrupted; 1 not run\) =+", result.stdout), \
        result.stdout
    markdown = (result.run_dir / "report.md").read_text()
    assert "incomplete: 1 of 2 selected combinations have no result (interrupted?)" in markdown
    assert len((result.run_dir / "tables" / "per_seed.csv").read_text().splitlines()) == 2
    before = _snapshot(result.run_dir)
    assert tester.run("report", str(result.run_dir)).ret == 0
    assert _snapshot(result.run_dir) == before


def test_the_plugin_is_cheap_to_import() -> None:
    code = ("import sys, harness.report, harness.report.plugin, harness.report.compare; "
            "print(sorted(m for m in ('matplotlib', 'pandas', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
