"""Fixtures of the report tests: run directories written by hand (fast, no training), one run of the fast
trainer shared by the whole session, and one report of hand-made records written once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.testing import HarnessTester, RunResult

from .fakes import make_record, skip_record, write_run

#: A second dataset for the fast run, so that its report has the leaderboard across datasets.
TWO_DATASETS = '''
[datasets.tinted]
plugin = "synthetic"
tint_by_class = true
'''

#: What the shared fast run trains: 2 datasets x 2 models x 2 seeds, one model passing, one failing.
FAST_ARGS = ("run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--dataset", "tinted",
             "--augmentation", "none", "--model", "fast_pass", "--model", "fast_fail", "--repeats", "2")


@pytest.fixture
def run_dir_factory(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(records: list[dict[str, Any]], name: str | None = None, **metadata: Any) -> Path:
        return write_run(tmp_path / (name or f"run{next(counter)}"), records, **metadata)

    return make


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[HarnessTester, RunResult]:
    """One ``harness run`` of the fast trainer (:mod:`harness.testing.fast`: records in milliseconds, no
    Keras), with the report it wrote: shared by the tests that read a real run's report without needing
    its images. Read it, never change it (copy the directory first). The environment and working directory
    it ran in are given back before any test runs (a session fixture that kept them changed every later
    test's: plugin autoloading stayed off for the rest of the suite)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
        tester = HarnessTester(tmp_path_factory.mktemp("fast_run"), mp)
        tester.make_config(TWO_DATASETS)
        result = tester.run(*FAST_ARGS)
    return tester, result


def pets_records() -> list[dict[str, Any]]:
    """Hand-made records of one dataset: two combinations with three and two seeds, an error, a skip."""
    records = [make_record("none", "small_cnn", seed=s, test=t) for s, t in ((1, 0.80), (2, 0.84), (3, 0.76))]
    records += [make_record("flip_rotate", "small_cnn_scaled", seed=s, test=t) for s, t in ((1, 0.9), (2, 0.62))]
    return records + [make_record("none", "mobilenet_v2", error="DataError: no network"), skip_record()]


@pytest.fixture(scope="session")
def pets_report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The report of :func:`pets_records`, written once for the session (built-in plugins only). Read it,
    never change it."""
    from harness.pluginmanager import load_plugins
    from harness.report.context import Report
    from harness.report.write import write_report
    from harness.store import RunStore

    run_dir = write_run(tmp_path_factory.mktemp("pets") / "run", pets_records())
    store = RunStore(run_dir)
    return write_report(Report(run_dir=run_dir, records=store.records(), metadata=store.metadata()),
                        load_plugins(autoload=False))
