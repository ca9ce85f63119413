"""``harness report RUN_DIR``: a run's report rebuilt from its stored record, with the plugins here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from harness.config import Config
    from harness.registry import Registry
    from harness.report.context import Report


def _registry(config: Config) -> tuple[Registry | None, str | None]:
    """The specs registered here (datasets defined in configuration included), to load the run's datasets
    again; their parameters come from the records, not from here."""
    from harness.registry import build_registry

    if not hasattr(config.option, "settings"):
        config.option.settings = []  # `harness report` has no --set
    try:
        return build_registry(config), None
    except UsageError as exc:
        return None, f"images not shown: the plugins here cannot be collected ({exc})"


def open_report(config: Config, run_dir: Path) -> Report:
    """The report of a run directory, from its stored record, with the specs the plugins here register."""
    from harness.data.cache import default_cache_dir
    from harness.report.context import Report, data_dir_of_run
    from harness.store import RunStore

    store = RunStore.open(run_dir)
    metadata = store.metadata()
    registry, problem = _registry(config)
    report = Report(run_dir=store.run_dir, records=store.records(), metadata=metadata, registry=registry,
                    data_dir=data_dir_of_run(metadata), cache_dir=str(default_cache_dir()))
    if problem:
        report.note(problem)
    return report


def rebuild(config: Config, run_dir: Path, out: Any = None) -> ExitCode:
    """``harness report RUN_DIR``: rewrite ``results.csv`` and the whole report from the stored record."""
    from harness.report.write import write_report
    from harness.store import RunStore

    out = out or sys.stdout
    report = open_report(config, Path(run_dir))
    if not report.records:
        out.write(f"{run_dir}: no finished task in the record yet, nothing to report\n")
        return ExitCode.NO_COMBINATIONS
    RunStore(report.run_dir).write_results(report.records)
    written = write_report(report, config.pluginmanager)
    out.writelines(f"{line}\n" for line in written.terminal_lines())
    tables, figures = len(written.tables), len(written.figures)
    out.write(f"{tables} table{'s' * (tables != 1)}, {figures} figure{'s' * (figures != 1)}\nreport: {written.html}\n")
    return ExitCode.OK
