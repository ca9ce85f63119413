"""The result store of one run directory.

``records.jsonl`` is the record: append-only, one JSON line per finished task (combination and seed),
flushed and fsynced as it is written. ``metadata.json`` describes the run. Everything else in the
directory (``results.csv``, the report) is derived from these two and written atomically.

A damaged run is read for what remains: a missing or unreadable ``metadata.json`` reads as empty, a line
that is not a record (a crash's torn last line, a corrupt line anywhere) is passed over, and
:meth:`RunStore.problems` says what was passed over, one line each, for the caller to show.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from harness.errors import UsageError
from harness.record import Record, from_json, json_clean, json_default, validate
from harness.record import to_json as dumps
from harness.redact import redact_argv, redact_value


class StoreError(UsageError):
    """The run directory cannot be written (disk full, read-only, permissions): the user's to fix."""

RECORDS = "records.jsonl"
METADATA = "metadata.json"
RESULTS = "results.csv"
LOCK = ".lock"

#: Columns of ``results.csv``, in order.
RESULT_COLUMNS = [
    "dataset", "augmentation", "model", "seed", "status", "epochs", "steps", "images", "train_seconds",
    "train_accuracy", "val_accuracy", "test_accuracy", "baseline_accuracy", "lift_points", "p_value",
    "n_correct", "n_test", "best_epoch", "weights_tested", "test_accuracy_last", "stop_reason", "images_per_second",
    "precision", "params_count", "time_to_target_seconds", "time_to_target_epochs", "config_hash", "error",
    "repeat", "split_seed", "combination_hash", "epochs_fraction", "wall_seconds", "time_overrun_seconds",
    "error_kind", "backend", "compiled", "compile_seconds",
]


def shown_path(value: str, cwd: str | os.PathLike[str]) -> str:
    """An absolute path as a report shows it: relative to the run's working directory when it is inside it,
    ``~/...`` inside the home directory; anything else unchanged."""
    if not os.path.isabs(value):
        return value
    base, home = os.path.abspath(cwd), os.path.expanduser("~")
    if value == base or value.startswith(base.rstrip(os.sep) + os.sep):
        return os.path.relpath(value, base)
    if home != os.sep and (value == home or value.startswith(home + os.sep)):
        return "~" + value[len(home):]
    return value


def shown_command(metadata: Mapping[str, Any]) -> str:
    """The run's command line as a report shows it: ``harness ARGS`` with paths relative to the working
    directory it ran in (``--opt=PATH`` too), so that a report shows no machine-specific folders, and no
    secrets (:func:`harness.redact.redact_argv`, for runs written before metadata was redacted)."""
    cwd = metadata.get("cwd") or "."

    def shown(arg: str) -> str:
        option, equals, value = arg.partition("=")
        if equals and option.startswith("-"):
            return f"{option}={shown_path(value, cwd)}"
        return shown_path(arg, cwd)

    return " ".join(["harness", *(shown(a) for a in redact_argv(list(metadata.get("argv") or [])))])


def write_atomic(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write through a temporary file in the same folder and rename it over ``path``; a place that cannot take
    it (a full disk, a read-only folder) is a :class:`StoreError` naming ``path``."""
    try:
        _write_atomic(path, write, mode)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from None


def _write_atomic(path: Path, write: Callable[[Any], None], mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone who can read the folder
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def new_run_id() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


#: Run directories that ``--resume`` alone never picks: the committed example report.
NOT_RESUMED = ("example",)


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run: its metadata or its record (either may be lost; the other says enough)."""
    return (path / METADATA).is_file() or (path / RECORDS).is_file()


def _started_at(run_dir: Path) -> float:
    """When the run started, from its metadata (``started_at``); the modification time of its metadata (or,
    without one, of its record) if that is missing or unreadable."""
    try:
        started = json.loads((run_dir / METADATA).read_text()).get("started_at")
        if isinstance(started, (int, float)) and not isinstance(started, bool):
            return float(started)
    except (OSError, ValueError, AttributeError):
        pass
    path = run_dir / METADATA if (run_dir / METADATA).is_file() else run_dir / RECORDS
    return path.stat().st_mtime


def latest_run(output: Path) -> Path:
    """The run under ``output`` that started last (by its recorded start time, not by name), never the
    committed ``example/``."""
    runs = [p for p in output.glob("*") if p.name not in NOT_RESUMED and is_run_dir(p)]
    if not runs:
        raise UsageError(f"--resume: no run directory under {output}")
    return max(runs, key=lambda run: (_started_at(run), run.name))


class RunStore:
    """One run directory: its record, its metadata and the files derived from them."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._lock: Any = None
        #: What this store did to the run directory that its user should hear of (a torn line set aside).
        self.notes: list[str] = []

    @classmethod
    def create(cls, output: Path, metadata: dict[str, Any]) -> RunStore:
        store = cls(Path(output) / new_run_id())
        store.run_dir.mkdir(parents=True, exist_ok=False)
        store.write_metadata(metadata)
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """The run directory ``run_dir``: one with a ``metadata.json`` or a ``records.jsonl`` (a run whose
        metadata was lost is still read); anything else is a :class:`UsageError` naming it."""
        run_dir = Path(run_dir)
        if not is_run_dir(run_dir):
            raise UsageError(f"{run_dir}: not a harness run directory (no {METADATA}, no {RECORDS})")
        return cls(run_dir)

    @property
    def records_path(self) -> Path:
        return self.run_dir / RECORDS

    def lock(self) -> None:
        """Hold the run directory for this process, so that two runs never append to the same record.
        The operating system releases it when the process ends, however it ends."""
        import fcntl

        path = self.run_dir / LOCK
        while True:
            handle = open(path, "a")  # held open while the run lasts
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise UsageError(f"{self.run_dir}: in use by another harness process") from None
            try:
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    break  # still the file at the path: a run that ended did not remove it under us
            except FileNotFoundError:
                pass
            handle.close()
        self._lock = handle

    def close(self) -> None:
        """Release the run directory and remove its ``.lock`` (while still holding it, so that no other
        process is between taking it and its removal)."""
        if self._lock is not None:
            (self.run_dir / LOCK).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def repair(self) -> int:
        """Cut off a last line that a crash left incomplete (moved to ``records.jsonl.torn``), so that
        appending continues on a line of its own; returns the number of bytes cut."""
        path = self.records_path
        if not path.is_file():
            return 0
        with open(path, "rb+") as handle:
            data = handle.read()
            if not data or data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            with open(self.run_dir / (RECORDS + ".torn"), "ab") as torn:
                torn.write(data[keep:] + b"\n")
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        line = data.count(b"\n") + 1
        self.notes.append(f"{RECORDS}:{line}: its last line was cut short (a task that did not finish): set aside "
                          f"in {RECORDS}.torn; that task runs again")
        return len(data) - keep

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Write ``metadata.json`` atomically, with every secret in it masked (:mod:`harness.redact`: the
        command line's URIs, ``--token VALUE``): metadata is shared with the report."""
        text = json.dumps(json_clean(redact_value(metadata)), indent=2, sort_keys=True, default=json_default)
        write_atomic(self.run_dir / METADATA, lambda handle: handle.write(text + "\n"))

    def metadata(self) -> dict[str, Any]:
        """The run's metadata; ``{}`` when ``metadata.json`` is missing or damaged (:meth:`metadata_problem`
        says which)."""
        return self._read_metadata()[0]

    def metadata_problem(self) -> str | None:
        """Why the metadata reads as empty (``metadata.json`` missing, unreadable, not an object), or ``None``."""
        return self._read_metadata()[1]

    def _read_metadata(self) -> tuple[dict[str, Any], str | None]:
        path = self.run_dir / METADATA
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, f"{METADATA} is missing: the run's command line and settings are unknown"
        except (OSError, ValueError) as exc:
            return {}, f"{METADATA} is unreadable ({_short(exc)}): the run's command line and settings are unknown"
        if not isinstance(value, dict):
            return {}, f"{METADATA} is not a JSON object: the run's command line and settings are unknown"
        return value, None

    def append(self, record: Record | dict[str, Any]) -> dict[str, Any]:
        """Append one whole line, or nothing, with every secret in its strings masked (:mod:`harness.redact`;
        an error message that quotes a URI): a record that breaks the schema raises
        :class:`harness.record.RecordError` naming the field, and a write that fails (a full disk) is cut off
        again and raises :class:`StoreError`. In-flight ``predictions`` go to their own file first; the record
        as written (with that file's path) is returned."""
        validate(record)
        record = self._write_predictions(record)
        data = (dumps(redact_value(dict(record))) + "\n").encode("utf-8")
        fd = os.open(self.records_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError as exc:
                os.ftruncate(fd, size)  # needs no space
                raise StoreError(f"cannot write {self.records_path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        return record

    def _write_predictions(self, record: Record | dict[str, Any]) -> dict[str, Any]:
        """The record to write: its in-flight ``predictions`` (columns) written to their own file first
        (:mod:`harness.predictions`), the record keeping the file's relative path; predictions that cannot be
        written as a table are left out with an ``predictions_error`` that says why."""
        from harness import predictions

        record = dict(record)
        columns = record.get("predictions")
        if not isinstance(columns, Mapping):
            return record
        relative = predictions.relative_path(str(record.get("config_hash") or record["id"]))
        try:
            data = predictions.encode(columns)
        except predictions.PredictionsError as exc:
            record["predictions"], record["predictions_error"] = None, str(exc)
            return record
        write_atomic(self.run_dir / relative, lambda handle: handle.write(data), mode="wb")
        record["predictions"] = relative
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every complete record; a line that is not one (a last line cut short by a crash, a corrupt line
        anywhere) is passed over, as :meth:`problems` says."""
        return self.read_records()[0]

    def read_records(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every complete record, and a line for each line of ``records.jsonl`` passed over, saying why."""
        if not self.records_path.is_file():
            return [], []
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        with open(self.records_path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                if not line.endswith("\n"):
                    problems.append(f"{RECORDS}:{number}: its last line is cut short (a task that did not "
                                    "finish): passed over")
                    break
                try:
                    records.append(_record(line))
                except ValueError as exc:
                    problems.append(f"{RECORDS}:{number}: not a record ({_short(exc)}): passed over")
        return records, problems

    def problems(self) -> list[str]:
        """What reading this run passed over or repaired, one line each (the metadata's problem, each line of
        the record that is not a record, a torn line set aside): for the terminal and the report."""
        metadata = self.metadata_problem()
        return [*self.notes, *([metadata] if metadata else []), *self.read_records()[1]]

    def latest_statuses(self) -> dict[str, str]:
        """Each recorded task's status, by configuration hash, from its latest record (a task a resumed run
        trained again has several; the last one written stands)."""
        return {r["config_hash"]: str(r.get("status")) for r in self.records()
                if r.get("status") != "skipped" and "config_hash" in r}

    def finished_hashes(self) -> set[str]:
        """Configuration hashes of the tasks whose latest record is a result (passed or failed): what
        ``--resume`` does not train again."""
        return {key for key, status in self.latest_statuses().items() if status != "error"}

    def errored_hashes(self) -> set[str]:
        """Configuration hashes of the tasks whose latest record is an error (an exception, a crash, a
        timeout, lost infrastructure): what ``--resume`` trains again."""
        return {key for key, status in self.latest_statuses().items() if status == "error"}

    def write_results(self, records: Iterable[dict[str, Any]] | None = None) -> Path:
        """(Re)build ``results.csv`` from the record (the latest record of each task), atomically."""
        from harness.report.records import latest_per_task

        frame = results_frame(latest_per_task(self.records() if records is None else list(records)))
        path = self.run_dir / RESULTS
        write_atomic(path, lambda handle: frame.to_csv(handle, index=False))
        return path


def _record(line: str) -> dict[str, Any]:
    """One line of the record as a plain dict: a JSON object with an ``id`` and a ``status`` (what every
    reader of a record relies on); :class:`ValueError` otherwise."""
    value = cast("dict[str, Any]", from_json(line))
    if not isinstance(value.get("id"), str) or not isinstance(value.get("status"), str):
        raise ValueError("no id or status")
    return value


def _short(exc: BaseException, limit: int = 80) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Accuracies Keras measures in float32 (0.5600000023841858): written as the float32 they are (0.56).
FLOAT32_COLUMNS = ("train_accuracy", "val_accuracy")


def _float32(value: Any) -> Any:
    import numpy as np

    return float(str(np.float32(value))) if isinstance(value, float) and math.isfinite(value) else value


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One ``results.csv`` row from a record: test accuracies as counts' ratios (``n_correct / n_test``),
    clean numbers throughout."""
    from harness import stats

    row = {column: record.get(column) for column in RESULT_COLUMNS}
    n_test = record.get("n_test")
    if isinstance(n_test, int) and n_test > 0:
        for column in ("test_accuracy", "test_accuracy_last"):
            value = row[column]
            if isinstance(value, float):
                row[column] = stats.ratio(stats.correct_count(value, n_test), n_test)
        test = row["test_accuracy"]
        if row["n_correct"] is None and isinstance(test, float):
            row["n_correct"] = stats.correct_count(test, n_test)
    for column in FLOAT32_COLUMNS:
        row[column] = _float32(row[column])
    test, baseline = row["test_accuracy"], record.get("baseline_accuracy")
    if test is not None and baseline is not None:
        row["lift_points"] = round(100.0 * (test - baseline), 10)
    target = record.get("time_to_target") or {}
    row["time_to_target_seconds"] = target.get("seconds")
    row["time_to_target_epochs"] = target.get("epoch")
    return {column: _significant(value) for column, value in row.items()}


#: Significant digits of the other numbers in ``results.csv`` (p-values, seconds): no rounding noise
#: (``0.6562500000000008`` is written ``0.65625``); the record keeps every digit.
SIGNIFICANT_DIGITS = 12


def _significant(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def results_frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame([flatten(r) for r in records], columns=RESULT_COLUMNS)
