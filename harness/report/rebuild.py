"""``harness report RUN_DIR``: a run's report rebuilt from its stored record, with the plugins here, from
whatever valid records remain: a missing or damaged ``metadata.json``, a corrupt or torn line anywhere in
``records.jsonl`` cost what they hold, said in a note in the terminal and on the report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode, UsageError
from harness.redact import redact

if TYPE_CHECKING:
    from harness.config import Config
    from harness.registry import Registry
    from harness.report.context import Report


@dataclass
class StoredRun:
    """What :func:`read_run` could read of a run directory, and what it had to leave out (``notes``)."""

    records: list[dict[str, Any]]
    metadata: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def read_run(run_dir: Path) -> StoredRun:
    """A run directory's records and metadata, as much of them as the store can read (:mod:`harness.store`
    passes over what is damaged and says what); a directory with neither ``metadata.json`` nor
    ``records.jsonl`` is not a run (:class:`~harness.errors.UsageError`)."""
    from harness.store import RECORDS, RunStore

    store = RunStore.open(Path(run_dir))
    notes = store.problems()
    torn = store.run_dir / (RECORDS + ".torn")
    if torn.is_file() and torn.stat().st_size:
        notes.append(f"{torn.name}: a line cut short by an earlier crash was set aside there and is left out")
    return StoredRun(store.records(), store.metadata(), notes)


def _registry(config: Config) -> tuple[Registry | None, str | None]:
    """The specs registered here (datasets defined in configuration included), to load the run's datasets
    again; their parameters come from the records, not from here."""
    from harness.registry import build_registry

    try:
        return build_registry(config), None
    except UsageError as exc:
        return None, f"images not shown: the plugins here cannot be collected ({exc})"


def _set_reference(store: Any, metadata: dict[str, Any], records: list[dict[str, Any]], reference: str) -> None:
    """``harness report --reference``: check it names a combination of the run, and keep it in the metadata
    (as ``harness run --reference`` does) so later rebuilds rank the same way."""
    from harness.config import _unknown
    from harness.report.across_datasets import key_of
    from harness.report.records import several_backends

    backends = several_backends(records)
    known = dict.fromkeys(sorted({key_of(r, backends) for r in records if r.get("augmentation")}))
    if reference not in known:
        raise UsageError(f"--reference: {_unknown('combination', reference, known)} (AUGMENTATION-MODEL"
                         f"{', with -BACKEND: the run has several backends' if backends else ''})")
    if metadata.get("reference") != reference:
        metadata["reference"] = reference
        store.write_metadata(metadata)


def open_report(config: Config, run_dir: Path) -> Report:
    """The report of a run directory, from its stored record, with the specs the plugins here register."""
    from harness.data.cache import default_cache_dir
    from harness.report.context import Report, data_dir_of_run
    from harness.store import RunStore

    stored = read_run(run_dir)
    store, metadata, records = RunStore(Path(run_dir)), stored.metadata, stored.records
    reference = getattr(config.option, "report_reference", None)
    if reference is not None:
        _set_reference(store, metadata, records, str(reference))
    data_dir = getattr(config.option, "report_data_dir", None)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir: {data_dir}: no such directory")
    registry, problem = _registry(config)
    report = Report(run_dir=store.run_dir, records=records, metadata=metadata, registry=registry,
                    data_dir=str(data_dir) if data_dir is not None else data_dir_of_run(metadata),
                    cache_dir=str(default_cache_dir()))
    for note in [*stored.notes, *([problem] if problem else [])]:
        report.note(note)  # a damaged run is reported from what remains, saying what did not
    return report


def rebuild(config: Config, run_dir: Path, out: Any = None) -> ExitCode:
    """``harness report RUN_DIR``: rewrite ``results.csv`` and the whole report from the stored record."""
    from harness.report.write import write_report
    from harness.store import RunStore

    out = out or sys.stdout
    report = open_report(config, Path(run_dir))
    if not report.records:
        out.writelines(f"note: {redact(note)}\n" for note in report.notes)
        out.write(f"{run_dir}: no finished task in the record yet, nothing to report\n")
        return ExitCode.NO_COMBINATIONS
    RunStore(report.run_dir).write_results(report.records)
    written = write_report(report, config.pluginmanager)
    out.writelines(f"{line}\n" for line in written.terminal_lines())
    tables, figures = len(written.tables), len(written.figures)
    out.write(f"{tables} table{'s' * (tables != 1)}, {figures} figure{'s' * (figures != 1)}\nreport: {written.html}\n")
    return ExitCode.OK
