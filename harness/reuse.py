"""``harness run --reuse [DIR]``: results of earlier runs taken instead of training their tasks again.

A task of the new run is reused when an earlier run under ``DIR`` (each run directory in it, or ``DIR``
itself when it is one; default: the ``--output`` folder) finished the same task: its latest record there is
``passed`` or ``failed`` (an ``error`` is trained again), with the same configuration hash, and that run had
the same runtime, on the same data. The configuration hash covers what the task computes (its specs and their
parameters, the budget, seed, batch size, and the runtime's part of it: backend, precision, threads); *the
same runtime* adds what the hash leaves out (:func:`runtime_key`): the Keras and backend versions the run
recorded and the models of the GPUs it trained on (none: the CPU), and the packages (name and version) of the
dataset, augmentation and model plugins the record names. *The same data*: the dataset's split digest here
(file paths and labels, listed without decoding: :class:`Digests`) is the one the record has, so that a
folder whose files changed trains again. A run whose ``metadata.json`` is lost has no recorded runtime:
nothing is reused from it.

The record is copied into the new run as it was (its timings included) with ``reused_from``: the run that
trained it (a record that was itself reused keeps the run it came from first), and its predictions file is
copied beside it. When several runs finished a task, the one that started last gives it. Damaged runs are read
through :class:`~harness.store.RunStore` (a torn or corrupt line is passed over; its task is not reused).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import predictions
from harness.errors import UsageError
from harness.record import RecordError, validate
from harness.store import NOT_RESUMED, RunStore, is_run_dir, shown_path, write_atomic

if TYPE_CHECKING:
    from harness.engine.task import Task

#: The field of a reused record that names the run that trained it.
FIELD = "reused_from"


@dataclass(frozen=True)
class Found:
    """A finished record of an earlier run that a task of the new run takes."""

    record: dict[str, Any]
    run_dir: Path


def source_dir(value: str | bool, output: str, cwd: Path) -> Path:
    """The folder ``--reuse`` reads: ``value`` (``True``: ``--reuse`` alone, the ``--output`` folder), relative
    to ``cwd``. A folder given that does not exist is a :class:`UsageError` naming it; the ``--output`` folder
    may not exist yet (a first run: nothing to reuse)."""
    given = output if value is True else str(value)
    path = Path(given) if Path(given).is_absolute() else cwd / given
    if not path.is_dir() and value is not True:
        raise UsageError(f"--reuse {given}: no such directory (give a folder of run directories, or one run)")
    return path


def earlier_runs(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The run directories ``--reuse`` reads, the latest started first: ``folder`` itself when it is a run,
    else each run directory in it (not ``exclude``, the new run, nor the committed ``example/``)."""
    if not folder.is_dir():
        return []
    if is_run_dir(folder):
        runs = [folder]
    else:
        runs = [path for path in folder.iterdir() if path.name not in NOT_RESUMED and is_run_dir(path)]
    skip = exclude.resolve() if exclude is not None else None
    runs = [run for run in runs if run.resolve() != skip]
    return sorted(runs, key=lambda run: (_started(run), run.name), reverse=True)


def _started(run_dir: Path) -> float:
    started = RunStore(run_dir).metadata().get("started_at")
    if isinstance(started, (int, float)) and not isinstance(started, bool):
        return float(started)
    return (run_dir / "records.jsonl").stat().st_mtime if (run_dir / "records.jsonl").is_file() else 0.0


def runtime_key(metadata: Mapping[str, Any], backend: str) -> dict[str, Any]:
    """What a run's metadata says about the runtime beyond the configuration hash, for one backend: the Keras
    and backend versions and the GPU models it trained on (``[]``: the CPU); ``None`` where it says nothing."""
    runtime = metadata.get("runtime")
    details = metadata.get("device_details")
    gpus: list[str] | None = None
    if isinstance(runtime, Mapping) and isinstance(details, list):
        names = [str(d.get("name")) if isinstance(d, Mapping) else "?" for d in details]
        gpus = sorted(names[i] if isinstance(i, int) and 0 <= i < len(names) else f"GPU {i}"
                      for i in runtime.get("gpus") or [])
    return {"keras": metadata.get("keras"), "backend": metadata.get(backend), "gpus": gpus}


def packages(task: Task) -> dict[str, str]:
    """The package (``name version``) of the task's dataset, augmentation and model plugins."""
    return {kind: spec.package for kind, spec in
            (("dataset", task.dataset), ("augmentation", task.augmentation), ("model", task.model))}


def _record_packages(record: Mapping[str, Any]) -> dict[str, str | None]:
    plugins = record.get("plugins")
    if not isinstance(plugins, Mapping):
        return {}
    return {kind: (plugins.get(kind) or {}).get("package") for kind in ("dataset", "augmentation", "model")}


def finished(store: RunStore) -> dict[str, dict[str, Any]]:
    """The latest record of each task of a run whose latest record is a result (passed or failed)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in store.records():
        if record.get("status") != "skipped" and isinstance(record.get("config_hash"), str):
            latest[record["config_hash"]] = record
    return {key: record for key, record in latest.items() if record.get("status") in ("passed", "failed")}


def find(tasks: Iterable[Task], runs: list[Path], current: Mapping[str, Any]) -> dict[str, Found]:
    """For each of ``tasks`` that an earlier run of ``runs`` (latest first) finished with the same runtime
    (``current``: this run's metadata, for :func:`runtime_key`) on the same data (:class:`Digests`), the
    record to reuse, by configuration hash."""
    wanted = {task.config_hash: task for task in tasks}
    found: dict[str, Found] = {}
    digests = Digests()
    for run_dir in runs:
        if len(found) == len(wanted):
            break
        store = RunStore(run_dir)
        metadata = store.metadata()
        if not metadata:  # its runtime is unknown
            continue
        for key, record in finished(store).items():
            task = wanted.get(key)
            if task is None or key in found or not _usable(record, run_dir, task, metadata, current):
                continue
            if digests.same_data(record, task):
                found[key] = Found(record, run_dir)
    return found


class Digests:
    """The split digest of each dataset of the new run (:func:`harness.data.prepare.split_digest`: file paths
    and labels, nothing decoded), computed once, when a record could be reused: a folder whose files changed
    since the earlier run has the same parameters, hence the same configuration hash, but other data."""

    def __init__(self) -> None:
        self._digests: dict[str, str | None] = {}

    def same_data(self, record: Mapping[str, Any], task: Task) -> bool:
        """Whether ``record`` was trained on the splits ``task`` has here; ``True`` when either is unknown (a
        record without a digest, a downloaded dataset, one that cannot be listed here: training it would fail
        alike)."""
        info = record.get("dataset_info")
        recorded = info.get("split_digest") if isinstance(info, Mapping) else None
        if recorded is None:
            return True
        here = self.of(task)
        return here is None or here == recorded

    def of(self, task: Task) -> str | None:
        from harness.data.prepare import split_digest
        from harness.specs import DatasetRequest

        spec = task.dataset
        if "download" in spec.tags:  # fixed by its URL and checksum; listing it could mean downloading it
            return None
        key = repr((spec.name, sorted(spec.params.items()), task.split_seed, task.data_dir))
        if key not in self._digests:
            request = DatasetRequest(params=dict(spec.params), data_dir=task.data_dir, cache_dir=task.cache_dir,
                                     seed=task.split_seed, image_size=spec.image_size, channels=spec.channels)
            try:
                self._digests[key] = split_digest(spec, request, split_seed=task.split_seed)
            except (UsageError, OSError):  # DataError is a UsageError
                self._digests[key] = None
        return self._digests[key]


def _usable(record: Mapping[str, Any], run_dir: Path, task: Task, metadata: Mapping[str, Any],
            current: Mapping[str, Any]) -> bool:
    """Whether ``record`` of ``run_dir`` can stand for ``task``: a valid record (an older layout may not be),
    the same runtime and plugin packages, and its predictions file there when it names one."""
    try:
        validate(record)
    except RecordError:
        return False
    if runtime_key(metadata, task.backend) != runtime_key(current, task.backend):
        return False
    if _record_packages(record) != packages(task):
        return False
    return not isinstance(record.get("predictions"), str) or predictions.path_of(run_dir, record) is not None


def copy(found: Found, store: RunStore, cwd: Path) -> dict[str, Any]:
    """Copy a found record's predictions file into the run of ``store`` and append the record there, marked
    ``reused_from`` (the run that trained it, as a path relative to ``cwd`` when inside it); the record as
    written."""
    record = dict(found.record)
    source = predictions.path_of(found.run_dir, record)
    if source is not None:
        target = store.run_dir / str(record["predictions"])
        write_atomic(target, lambda handle: _copy_into(source, handle), mode="wb")
    record.setdefault(FIELD, shown_path(os.path.abspath(found.run_dir), cwd))
    return store.append(record)


def _copy_into(source: Path, handle: Any) -> None:
    with open(source, "rb") as read:
        shutil.copyfileobj(read, handle)


def run_name(value: Any) -> str:
    """The run a ``reused_from`` names, as the terminal and the report show it: its directory's name."""
    return Path(str(value)).name if value else ""
