"""Sending a run directory's records to an MLflow tracking server or store, and remembering what was sent.

- **Where**: :func:`resolve_uri`: the URI given, else ``MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the working
  directory as an SQLite store (:data:`DEFAULT_STORE`), MLflow 3's own default, which ``mlflow.search_runs``
  and ``mlflow ui`` open without special settings (it needs SQLAlchemy and Alembic, which this package
  declares: ``mlflow-skinny`` does not). A path given (or a ``file:`` URI) is a file store, made absolute:
  MLflow 3 opens one only with ``MLFLOW_ALLOW_FILE_STORE=true``, which is set for this process when the target
  is a file store (a user's own setting wins), and :func:`how_to_open` says so to the user.
- **Retries**: MLflow retries a failed HTTP request 7 times with a back-off factor of 2 (about 4 minutes
  against a server that is down); unless the environment says otherwise, this process uses 2 retries and a
  factor of 1 (:data:`HTTP_RETRIES`): a few seconds.
- **How**: an experiment named after the run directory (or the one given), one parent run per run directory
  (its settings, and its report as artifacts under ``report/`` once the run ends) and one child run per record
  (``mlflow.parentRunId``), each written in a few ``log_batch`` calls (chunked to MLflow's limits), with its
  per-image predictions file as an artifact when the run directory has it.
- **What was sent**: ``RUN_DIR/mlflow.json`` (:class:`State`) keeps, per tracking URI, the experiment, the
  parent run, each record's MLflow run id, the runs begun and not completed, the last error and whether the
  report was sent. Whatever it lacks is what ``harness export mlflow RUN_DIR`` sends; a record whose run was
  begun but not completed (the server went away in between) has that run deleted and is sent again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import UsageError, prediction_file, redact_value
from harness import redact_text as redact
from harness_mlflow import convert

#: The file in the run directory that says what was sent where.
STATE_FILE = "mlflow.json"
#: The run directory's files and folders sent as the parent run's artifacts (under ``report/``).
REPORT_FILES = ("report.html", "report.md", "metadata.json", "records.jsonl", "tables", "figures")
#: MLflow's HTTP retries, unless the environment sets them: MLflow's own (7 retries, back-off factor 2) keep a
#: run waiting about 4 minutes on a server that is down before the first failure; these, a few seconds. A
#: failure costs nothing (what is missing is sent later), so giving up soon is the better trade.
HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
#: MLflow's limits on one ``log_batch`` call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


#: The store of ``--mlflow`` alone (without ``MLFLOW_TRACKING_URI``): this SQLite file in the working directory.
DEFAULT_STORE = "mlflow.db"


def resolve_uri(value: Any, cwd: Path) -> str:
    """The tracking URI: ``value`` (a URI, or a path of a file store), else ``MLFLOW_TRACKING_URI``, else
    ``sqlite:///CWD/mlflow.db``. Paths and relative ``file:`` URIs become absolute ``file://`` URIs."""
    text = value if isinstance(value, str) and value else os.environ.get("MLFLOW_TRACKING_URI")
    if not text:
        return f"sqlite:///{(cwd / DEFAULT_STORE).resolve()}"
    if text.startswith("file:") and not text.startswith("file:/"):
        text = text[len("file:"):]
    elif _SCHEME.match(text) or text == "databricks":  # MLflow's name for a Databricks workspace
        return text
    path = Path(text).expanduser()
    return (path if path.is_absolute() else cwd / path).resolve().as_uri()


def is_file_store(uri: str) -> bool:
    return uri.startswith("file:")


def check_store(uri: str) -> None:
    """A :class:`UsageError` saying what to install when ``uri`` is an SQL store and SQLAlchemy or Alembic
    (which MLflow needs for one) is missing."""
    import importlib.util

    if uri.split(":", 1)[0].split("+", 1)[0] not in ("sqlite", "postgresql", "mysql", "mssql"):
        return
    missing = [name for name in ("sqlalchemy", "alembic") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"--mlflow: the store {uri} needs {' and '.join(missing)}: python3 -m pip install "
                         f"{' '.join(missing)} (harness-mlflow declares them), or give another TRACKING_URI")


def how_to_open(uri: str) -> str:
    """How a user reads the store with MLflow's own tools: a file store needs ``MLFLOW_ALLOW_FILE_STORE=true``
    (MLflow 3 refuses one otherwise); others open as they are."""
    shown = redact(uri)
    if is_file_store(uri):
        return (f"MLflow 3 opens this file store only with MLFLOW_ALLOW_FILE_STORE=true: MLFLOW_ALLOW_FILE_STORE=true "
                f"mlflow ui --backend-store-uri {shown}")
    return f"open it with mlflow.set_tracking_uri({shown!r}), or mlflow ui --backend-store-uri {shown}"


def one_line(exc: BaseException, limit: int = 240) -> str:
    """An exception as one short line (MLflow's messages can run over many), credentials masked (MLflow's
    messages quote the URI)."""
    text = redact(" ".join(str(exc).split())) or type(exc).__name__
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -------------------------------------------------------------------------------------------------
# What was sent where
# -------------------------------------------------------------------------------------------------


@dataclass
class Target:
    """What one tracking URI has of the run."""

    experiment: str
    experiment_id: str | None = None
    parent_run_id: str | None = None
    #: record key -> MLflow run id, for the records sent completely.
    runs: dict[str, str] = field(default_factory=dict)
    #: record keys whose run was begun but not completed (deleted and sent again next time).
    begun: dict[str, str] = field(default_factory=dict)
    report: bool = False
    error: str | None = None


@dataclass
class State:
    """``RUN_DIR/mlflow.json``: per tracking URI, what was sent; ``last`` is the URI used last."""

    path: Path
    targets: dict[str, Target] = field(default_factory=dict)
    last: str | None = None

    @classmethod
    def load(cls, run_dir: Path) -> State:
        path = run_dir / STATE_FILE
        state = cls(path)
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                state.last = data.get("last")
                state.targets = {uri: Target(**value) for uri, value in data.get("targets", {}).items()}
            except (ValueError, TypeError, AttributeError) as exc:
                raise UsageError(f"{path}: not what harness-mlflow wrote ({exc}); move it away to send "
                                 "everything again") from None
        return state

    def target(self, uri: str, experiment: str) -> Target:
        """What ``uri`` has of the run in ``experiment`` (nothing, when it had it in another experiment).
        URIs are kept with their credentials masked (:func:`harness.redact.redact`): the file is not secret."""
        uri = self.last = redact(uri)
        known = self.targets.get(uri)
        if known is None or known.experiment != experiment:
            known = self.targets[uri] = Target(experiment=experiment)
        return known

    def save(self) -> None:
        data = {"last": self.last, "targets": {uri: vars(t) for uri, t in self.targets.items()}}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def missing(self, uri: str, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records that ``uri`` does not have."""
        target = self.targets.get(redact(uri))
        sent = target.runs if target is not None else {}
        return [r for r in records if convert.record_key(r) not in sent]


# -------------------------------------------------------------------------------------------------
# Sending
# -------------------------------------------------------------------------------------------------


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Sender:
    """Sends one run directory's records and report to one tracking URI, keeping :class:`State` in step.
    Every method raises on a failure of the server or the store; the state says what got through."""

    def __init__(self, run_dir: Path, uri: str, experiment: str | None = None) -> None:
        if is_file_store(uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        for name, value in HTTP_RETRIES.items():
            os.environ.setdefault(name, value)
        from mlflow import MlflowClient

        self.run_dir = Path(run_dir).resolve()
        self.uri = uri
        self.state = State.load(self.run_dir)
        known = self.state.targets.get(redact(uri))
        self.target = self.state.target(uri, experiment or (known.experiment if known else self.run_dir.name))
        self.client = MlflowClient(tracking_uri=uri)
        self._metadata: dict[str, Any] | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            path = self.run_dir / "metadata.json"
            self._metadata = json.loads(path.read_text()) if path.is_file() else {}
        return self._metadata

    def _experiment_id(self) -> str:
        target = self.target
        if target.experiment_id is None:
            found = self.client.get_experiment_by_name(target.experiment)
            if found is not None and found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            target.experiment_id = (found.experiment_id if found is not None
                                    else self.client.create_experiment(target.experiment))
        return target.experiment_id

    def _parent(self) -> str:
        target = self.target
        if target.parent_run_id is None:
            metadata = self.metadata
            started = metadata.get("started_at")
            run = self.client.create_run(
                self._experiment_id(), run_name=self.run_dir.name,
                start_time=int(started * 1000) if isinstance(started, (int, float)) else None,
                tags=convert.parent_tags(metadata, str(self.run_dir)))
            target.parent_run_id = run.info.run_id
            self.state.save()
            self._log(run.info.run_id, convert.parent_params(metadata), [], {})
        return target.parent_run_id

    def _log(self, run_id: str, params: dict[str, str], metrics: list[Any], tags: dict[str, str]) -> None:
        from mlflow.entities import Param, RunTag

        for chunk in _chunks([Param(k, v) for k, v in params.items()], MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks([RunTag(k, v) for k, v in tags.items()], MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, tags=chunk)
        for chunk in _chunks(metrics, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=chunk)

    def send(self, record: dict[str, Any]) -> str:
        """Log one record as a child run of the parent run; returns its MLflow run id. Its strings are sent with
        their secrets masked, as the store keeps them (a record fresh from a task is not yet)."""
        from mlflow.entities import Metric

        record = redact_value(record)

        key = convert.record_key(record)
        target = self.target
        if key in target.runs:
            return target.runs[key]
        parent = self._parent()
        stale = target.begun.pop(key, None)
        if stale is not None:  # begun before and not completed: replaced, not duplicated
            try:
                self.client.delete_run(stale)
            except Exception:  # gone already, or never created: nothing to replace
                pass
        started = record.get("started_at") or record.get("finished_at") or time.time()
        finished = record.get("finished_at") or started
        run = self.client.create_run(self._experiment_id(), run_name=convert.run_name(record),
                                     start_time=int(started * 1000),
                                     tags={"mlflow.parentRunId": parent})
        target.begun[key] = run.info.run_id
        self.state.save()
        metrics = [Metric(name, value, int((started + elapsed) * 1000), step)
                   for name, value, step, elapsed in convert.epoch_metrics(record)]
        metrics += [Metric(name, value, int(finished * 1000), 0)
                    for name, value in convert.final_metrics(record).items()]
        self._log(run.info.run_id, convert.params(record), metrics, convert.tags(record, self.metadata))
        self._log_predictions(run.info.run_id, record)
        self.client.set_terminated(run.info.run_id, convert.run_status(record), end_time=int(finished * 1000))
        del target.begun[key]
        target.runs[key] = run.info.run_id
        target.error = None
        self.state.save()
        return run.info.run_id

    def _log_predictions(self, run_id: str, record: dict[str, Any]) -> None:
        """The task's per-image predictions file (:func:`harness.prediction_file`), when the run directory has
        it, as the task run's artifact under ``predictions/``: what its confusion matrix and paired comparisons
        are computed from."""
        path = prediction_file(self.run_dir, record)
        if path is not None:
            self.client.log_artifact(run_id, str(path), artifact_path="predictions")

    def send_report(self, exitstatus: int | None = None) -> None:
        """The run directory's report, results, record and metadata as the parent run's artifacts (under
        ``report/``), and the parent run ended (``KILLED`` when the run was interrupted)."""
        parent = self._parent()
        for name in REPORT_FILES:
            path = self.run_dir / name
            if path.is_dir():
                self.client.log_artifacts(parent, str(path), artifact_path=f"report/{name}")
            elif path.is_file():
                self.client.log_artifact(parent, str(path), artifact_path="report")
        self.client.set_terminated(parent, {2: "KILLED", 3: "FAILED", 4: "FAILED"}.get(exitstatus or 0, "FINISHED"))
        self.target.report = True
        self.state.save()

    def fail(self, exc: BaseException) -> str:
        """Remember that sending failed (the state file says so), and return the error as one line."""
        self.target.error = one_line(exc)
        try:
            self.state.save()
        except OSError:
            pass
        return self.target.error

