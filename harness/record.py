"""The result record: what one finished task (a combination and a seed) leaves in ``records.jsonl``.

:class:`Record` is its type, defined here once; a record is a JSON object, so in Python it is a ``dict``
typed by this ``TypedDict``. Every field is optional except the identity and the outcome
(:data:`REQUIRED`); a plugin that replaces the trainer may add fields of its own (JSON values). The store
checks each record before it writes it (:func:`validate`): a required field missing or a known field of the
wrong type is refused with a message naming the field, and the run records an error row naming the plugin
in its place (see :meth:`harness.session.Session.record`). Any field may be ``null`` except the required
ones (JSON has no NaN: a NaN metric is stored as ``null``).

Constructors for the common parts: :func:`identity` (the fields that say which task it is),
:func:`skip_record` (a combination that cannot run), :func:`error_record` (a task that produced no result of
its own). :func:`to_json` and :func:`from_json` convert one line of ``records.jsonl``.
"""

from __future__ import annotations

import json
import math
import numbers
import time
import types
import typing
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Union

from harness.data.names import shown
from harness.errors import PluginError

if TYPE_CHECKING:
    from harness.engine.task import Task
    from harness.specs import Combination

#: Version of the record's layout; bump it when a field changes meaning.
RECORD_VERSION = 1

#: ``passed``: the test accuracy beats the label-frequency baseline significantly (one-sided exact binomial
#: test, p < 0.05); ``failed``: it does not; ``error``: the task raised (``error`` says why); ``skipped``: the
#: model cannot take the dataset's images (``error`` says why).
Status = Literal["passed", "failed", "error", "skipped"]
#: Why training stopped: the limit of the budget reached first, or a NaN or infinite loss.
StopReason = Literal["epochs", "time", "steps", "images", "nan_loss"]
#: What kind of failure an ``error`` is: an exception, out of memory, a NaN loss, unusable data, a usage
#: error raised by a plugin, a worker process that died, a plugin that returned an invalid record, a task
#: that ran past ``--task-timeout``, infrastructure lost while it trained (a cluster's head, a batch job).
ErrorKind = Literal["exception", "oom", "nan_loss", "data", "usage", "worker", "plugin", "timeout", "lost"]


class HistoryEntry(TypedDict, total=False):
    """One epoch of ``history``."""

    epoch: int  #: 1-based
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float  #: training time of this epoch (its batches)
    train_seconds_total: float  #: training time so far, this epoch included
    steps: int  #: batches in this epoch
    partial: bool  #: the budget ended the epoch early


class Record(TypedDict, total=False):
    """One line of ``records.jsonl``: one task's result. Only the fields of :data:`REQUIRED` are always there."""

    # -- identity -----------------------------------------------------------------------------------
    record_version: int  #: :data:`RECORD_VERSION` of the trainer that wrote it
    id: str  #: the combination's id, ``DATASET-AUGMENTATION-MODEL``
    dataset: str
    augmentation: str
    model: str
    backend: str  #: the Keras backend that trained it: ``tensorflow``, ``jax`` or ``torch``
    seed: int
    repeat: int  #: 0-based index of the seed among ``--repeats``
    split_seed: int  #: the seed of the train/validation/test split
    config: dict[str, Any]  #: everything that determines the result (:meth:`Task.describe`)
    config_hash: str  #: hash of ``config``: what ``--resume`` skips
    combination_hash: str  #: the same for every seed of a combination: what repeat statistics group by
    plugins: dict[str, dict[str, str]]  #: per kind: the ``plugin`` and ``package`` (``name version``) of its spec
    # -- outcome ------------------------------------------------------------------------------------
    status: Status
    error: str | None  #: why it errored or was skipped
    error_kind: ErrorKind | None
    traceback: str | None  #: of an ``exception`` error
    nan_at: dict[str, int]  #: ``epoch`` and ``step`` where the loss became NaN
    # -- data ---------------------------------------------------------------------------------------
    #: split sizes and digest, class counts, baseline, and what the dataset passed over: ``skipped_files``
    #: (``[{"file", "reason"}]``: image files that did not decode, e.g. ``not an image file``) and
    #: ``source_info`` (the dataset's own): ``ignored_files`` (count of files that are not image names, or lie
    #: beside the class folders), ``ignored_list`` (the first 100 of them, ``[{"file", "reason"}]``) and
    #: ``skipped_links`` (``[{"file", "reason"}]``: links back into the dataset folder)
    dataset_info: dict[str, Any]
    baseline_accuracy: float  #: accuracy of always guessing the most frequent training class, on the test split
    n_train: int
    n_test: int
    # -- budget used --------------------------------------------------------------------------------
    epochs: int  #: epochs begun
    epochs_fraction: float  #: steps / steps per epoch
    steps: int
    images: int
    train_seconds: float  #: training batches and the input pipeline between them (not validation)
    stop_reason: StopReason
    time_overrun_seconds: float | None  #: past a time budget (at most the last batch)
    first_batch_seconds: float | None  #: includes tracing and compiling the training step
    compile_seconds: float  #: the first batch of each phase (compiling its step), off the clock
    last_batch_seconds: float
    max_batch_seconds: float
    wall_seconds: float  #: from the start of training to the end of the last epoch, validation included
    images_per_second: float | None
    #: The first complete epoch whose validation reached ``--target-accuracy`` (``epoch``), the wall ``seconds``
    #: from the first touch of the data to the end of that validation (compilation and validations included),
    #: and the ``train_seconds`` and ``compile_seconds`` at that point (see :mod:`harness.engine.budget`).
    time_to_target: dict[str, float] | None
    history: list[HistoryEntry]  #: per epoch
    # -- metrics ------------------------------------------------------------------------------------
    train_accuracy: float | None  #: of the last epoch
    val_accuracy: float | None  #: of the epoch whose weights were tested
    test_accuracy: float | None  #: ``n_correct / n_test``, with the weights of ``weights_tested``
    n_correct: int  #: test images classified correctly
    test_accuracy_best: float | None  #: with the weights of the best validation epoch
    test_accuracy_last: float | None  #: with the weights of the last epoch
    best_epoch: int
    last_epoch: int
    weights_tested: Literal["best", "last"]
    p_value: float | None  #: of the test that the test accuracy beats the baseline
    params_count: int
    precision: str  #: the Keras dtype policy it trained under
    threads: int  #: the framework's intra-op threads in the process that trained it
    # -- where (see harness.backends) ---------------------------------------------------------------
    backend_version: str | None  #: the framework's version
    device: dict[str, Any]  #: ``kind`` (``gpu``, ``cpu``), ``name``, ``memory_bytes``, ``compute_capability``
    peak_memory_bytes: int | None  #: the device's peak, where the framework says
    compiled: bool  #: the training step was compiled (a graph on TensorFlow, XLA on JAX; PyTorch: eager)
    jit_compile: bool  #: XLA compiled it
    augmentation_in: Literal["model", "feed"] | None  #: where the augmentation ran (the feed: on JAX, not jittable)
    jit_blockers: list[str]  #: on JAX, a step not compiled: the layers that declare ``supports_jit=False``
    started_at: float  #: Unix time
    finished_at: float  #: Unix time
    # -- how it was computed (see harness.engine.features) ------------------------------------------
    feature_cache: str | None  #: ``used``, ``used for validation and test (...)`` or ``off: <why>``
    feature_seconds: float | None
    features_reused: list[str]
    # -- per image (see harness.predictions) --------------------------------------------------------
    #: In flight (a trainer's return): columns ``id``, ``label``, ``predicted``, ``confidence`` as lists; in
    #: ``records.jsonl``: the path of the file the store wrote them to, relative to the run directory.
    predictions: str | dict[str, Any]
    predictions_error: str  #: why in-flight predictions could not be written
    # -- reuse (see harness.reuse) ------------------------------------------------------------------
    reused_from: str  #: ``--reuse``: the run that trained it (its path); this run copied the record


#: Fields every record has: which task, and how it ended.
REQUIRED = ("id", "dataset", "augmentation", "model", "seed", "status")


class RecordError(PluginError):
    """A record that breaks the schema: a required field missing, or a field of the wrong type."""


# -------------------------------------------------------------------------------------------------
# Constructors
# -------------------------------------------------------------------------------------------------


def identity(task: Task) -> Record:
    """The fields that identify ``task``'s record: ids, seeds, configuration and its hashes, plugins."""
    return {"record_version": RECORD_VERSION, "id": task.combination_id, "dataset": task.dataset.name,
            "augmentation": task.augmentation.name, "model": task.model.name, "backend": task.backend,
            "seed": task.seed, "repeat": task.repeat, "split_seed": task.split_seed, "config_hash": task.config_hash,
            "combination_hash": task.combination_hash, "config": task.describe(),
            "plugins": {kind: {"plugin": spec.plugin, "package": spec.package} for kind, spec in
                        (("dataset", task.dataset), ("augmentation", task.augmentation), ("model", task.model))}}


def skip_record(combination: Combination, seed: int) -> Record:
    """A combination that cannot run (``combination.skip_reason`` says why)."""
    return {"record_version": RECORD_VERSION, "id": combination.id, "dataset": combination.dataset.name,
            "augmentation": combination.augmentation.name, "model": combination.model.name, "seed": seed,
            "status": "skipped", "error": combination.skip_reason, "finished_at": time.time()}


def error_record(task: Task, error: str, kind: ErrorKind, traceback: str | None = None) -> Record:
    """``task`` ended in an error without a result of its own (its worker died, its trainer returned an
    invalid record)."""
    return {**identity(task), "status": "error", "error_kind": kind, "error": error, "traceback": traceback,
            "finished_at": time.time()}


# -------------------------------------------------------------------------------------------------
# Checking and converting
# -------------------------------------------------------------------------------------------------


def _runtime_check(hint: Any) -> tuple[Any, ...]:
    """What a value of type ``hint`` may be at run time: classes, and literal values (as 1-tuples)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return (object,)
    if origin is Literal:
        return tuple((value,) for value in typing.get_args(hint))
    if origin is Union or origin is types.UnionType:
        return tuple(check for arg in typing.get_args(hint) for check in _runtime_check(arg))
    if hint is type(None):
        return (type(None),)
    if hint is float:
        return (numbers.Real,)
    if hint is int:
        return (numbers.Integral,)
    return (origin or hint,)


_CHECKS = {name: _runtime_check(hint) for name, hint in typing.get_type_hints(Record).items()}


def _describe(checks: tuple[Any, ...]) -> str:
    return " or ".join(repr(c[0]) if isinstance(c, tuple) else getattr(c, "__name__", str(c)) for c in checks)


def _matches(value: Any, checks: tuple[Any, ...]) -> bool:
    for check in checks:
        if isinstance(check, tuple):
            if value == check[0] and type(value) is type(check[0]):
                return True
        elif isinstance(value, check) and not (check is numbers.Integral and isinstance(value, bool)):
            return True
    return False


def validate(record: Any) -> Record:
    """``record`` itself if it keeps the schema; else :class:`RecordError` naming the first field at fault.
    Extra fields are allowed; every field but the required ones may be ``None``."""
    if not isinstance(record, dict):
        raise RecordError(f"a record must be a dict, got {type(record).__name__}")
    for name in REQUIRED:
        if record.get(name) is None:
            raise RecordError(f"record field {name!r} is missing")
    for name, value in record.items():
        checks = _CHECKS.get(name)
        if checks is None or (value is None and name not in REQUIRED):
            continue
        if isinstance(value, float) and math.isnan(value) and _matches(1.0, checks):
            continue
        if not _matches(value, checks):
            raise RecordError(f"record field {name!r} is {value!r} ({type(value).__name__}), expected "
                              f"{_describe(checks)}")
    return record  # type: ignore[return-value]


def json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def json_clean(value: Any) -> Any:
    """NaN and infinities become ``null``: JSON has no NaN. Text that UTF-8 cannot hold (a file name that is
    not UTF-8, kept by Python as surrogates) gets ``\\xff`` escapes, so every reader of the record can show it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {shown(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    return value


def to_json(record: Record | dict[str, Any]) -> str:
    """One line of JSON, as the store writes it: keys sorted, NumPy values as plain numbers, NaN as ``null``,
    text that UTF-8 cannot hold with ``\\xff`` escapes."""
    return json.dumps(json_clean(json.loads(json.dumps(record, default=json_default))), sort_keys=True)


def from_json(line: str) -> Record:
    """A record from one line of ``records.jsonl`` (as stored: not validated again)."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"a record is a JSON object, got {type(value).__name__}")
    return value  # type: ignore[return-value]
