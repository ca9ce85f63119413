"""A fast trainer for tests of everything but training: ``-p harness.testing.fast``.

It replaces the training hook (``tryfirst``) with one that returns a valid, complete record in milliseconds,
without Keras: executors, sessions, the terminal, resume, reports and faults are then tested in seconds, the
real engine being left to the engine's and backends' tests. Its numbers are a pure function of the task's
configuration (:attr:`~harness.engine.task.Task.config_hash`), so the same task gives the same record on every
executor, as a real one must.

It also contributes models whose names say how their task behaves, for the fault tests (any dataset):

- ``fast_pass`` (or any other model): passes, test accuracy 0.80 to 0.95 against a baseline of 0.5;
- ``fast_fail``: trains and fails (test accuracy 0.5, the baseline);
- ``fast_error``: the trainer raises ``RuntimeError``;
- ``fast_abort``: the process training it aborts (``os.abort()``: SIGABRT);
- ``fast_sleep``: sleeps ``seconds`` (parameter, default 600) before it passes (a hang, with a timeout).

Every epoch of the budget (``--epochs``, default 2 when the budget has none) emits ``start``, ``batch`` and
``epoch`` events, as the engine does.

The data is real, only the training is not: the task's dataset is prepared as the engine prepares it
(:func:`harness.data.prepare.prepare`, once per process and configuration, without Keras), so that the record's
``dataset_info`` is a real run's (its split digest, class names and counts: a report that loads the dataset
again finds the run's data), and a dataset that cannot be loaded gives an ``error`` record with the exception
and its traceback, as the engine gives it. The scores themselves are made up on :data:`N_TEST` test images
against a baseline of 0.5, whatever the dataset's size, so that ``fast_pass`` passes on any dataset, with
per-image predictions (:func:`predictions`) that agree with them.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import TYPE_CHECKING, Any

import harness
from harness import stats
from harness.engine import events
from harness.record import identity
from harness.specs import ModelSpec

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task

#: Test images of every fast record; the baseline is half of them.
N_TEST = 200


def _never_built(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("harness.testing.fast's models are trained by its fast trainer, never built")


@harness.hookimpl
def harness_models_register(config: Config) -> list[ModelSpec]:
    def spec(name: str, description: str, **params: Any) -> ModelSpec:
        return ModelSpec(name=name, factory=_never_built, description=description, params=params,
                         tags=frozenset({"fast"}))

    return [spec("fast_pass", "fast trainer: passes"),
            spec("fast_fail", "fast trainer: does not beat the baseline"),
            spec("fast_error", "fast trainer: raises"),
            spec("fast_abort", "fast trainer: aborts its process (SIGABRT)"),
            spec("fast_sleep", "fast trainer: sleeps `seconds`, then passes", seconds=600.0)]


def _unit(task: Task, salt: str) -> float:
    """A number in [0, 1) that only the task's configuration decides."""
    digest = hashlib.sha256(f"{task.config_hash}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _prepare(task: Task) -> dict[str, Any]:
    """The ``dataset_info`` of the task's dataset, prepared as the engine prepares it (memoised per process)."""
    from harness.data.prepare import prepare
    from harness.specs import DatasetRequest

    spec = task.dataset
    request = DatasetRequest(params=dict(spec.params), data_dir=task.data_dir, cache_dir=task.cache_dir,
                             seed=task.split_seed, image_size=spec.image_size, channels=spec.channels)
    return dict(prepare(spec, request, split_seed=task.split_seed, expected_digest=task.data_digest).info)


def predictions(task: Task, n_correct: int, n_classes: int) -> dict[str, list[Any]]:
    """Per-image predictions that give ``n_correct`` of :data:`N_TEST`: the same test images (ids ``0`` ..
    ``199``, labels alternating between the first two classes) for every task, and which of them it gets
    wrong, and how confidently, chosen by the task's configuration (tasks disagree on some images, as real
    ones do)."""
    import random

    rng = random.Random(task.config_hash)
    labels = [i % min(2, n_classes) for i in range(N_TEST)]
    wrong = set(rng.sample(range(N_TEST), N_TEST - n_correct))
    predicted = [(label + 1) % n_classes if i in wrong else label for i, label in enumerate(labels)]
    confidence = [round(0.5 + 0.5 * rng.random(), 6) for _ in range(N_TEST)]
    return {"id": [str(i) for i in range(N_TEST)], "label": labels, "predicted": predicted,
            "confidence": confidence}


@harness.hookimpl(tryfirst=True)
def harness_combination_train(task: Task) -> dict[str, Any]:
    behaviour = task.model.name
    if behaviour == "fast_error":
        raise RuntimeError(f"fast_error: {task.id} raised as asked")
    if behaviour == "fast_abort":
        os.abort()
    if behaviour == "fast_sleep":
        time.sleep(float(task.model.params.get("seconds", 600.0)))
    started = time.time()
    events.emit({"kind": "prepare", "task": task.id})
    try:
        dataset_info = _prepare(task)
    except Exception as exc:  # the dataset's failure is the task's, as in the engine
        from harness.runner import raised

        return {**raised(task, exc), "started_at": started}
    baseline = 0.5
    accuracy = baseline if behaviour == "fast_fail" else 0.80 + 0.15 * _unit(task, "test")
    n_correct = stats.correct_count(accuracy, N_TEST)
    accuracy = n_correct / N_TEST
    epochs = task.budget.epochs or 2
    events.emit({"kind": "start", "task": task.id, "baseline": baseline})
    history = []
    for epoch in range(1, epochs + 1):
        events.emit({"kind": "batch", "task": task.id, "epoch": epoch, "step": 1, "steps": 1})
        entry = {"epoch": epoch, "loss": 1.0 / (epoch + _unit(task, f"loss{epoch}")),
                 "accuracy": min(1.0, accuracy * epoch / epochs + 0.01), "val_loss": 1.0 / epoch,
                 "val_accuracy": min(1.0, accuracy * epoch / epochs), "seconds": 0.001,
                 "train_seconds_total": 0.001 * epoch, "steps": 1, "partial": False}
        history.append(entry)
        events.emit({"kind": "epoch", "task": task.id, **entry})
    return {
        **identity(task), "status": "passed" if stats.beats_baseline(accuracy, N_TEST, baseline) else "failed",
        "error": None, "baseline_accuracy": baseline, "n_train": dataset_info["sizes"]["train"], "n_test": N_TEST,
        "dataset_info": {**dataset_info, "fast": True},
        "epochs": epochs, "epochs_fraction": float(epochs), "steps": epochs, "images": epochs * task.batch_size,
        "train_seconds": 0.001 * epochs, "stop_reason": "epochs", "wall_seconds": 0.001 * epochs,
        "compile_seconds": 0.0, "history": history, "train_accuracy": history[-1]["accuracy"],
        "val_accuracy": history[-1]["val_accuracy"], "test_accuracy": accuracy, "n_correct": n_correct,
        "test_accuracy_best": accuracy, "test_accuracy_last": accuracy, "best_epoch": epochs,
        "last_epoch": epochs, "weights_tested": "best" if task.restore_best else "last",
        "p_value": stats.p_beats_baseline(accuracy, N_TEST, baseline), "params_count": 1000,
        "precision": task.precision, "threads": task.threads, "backend_version": None,
        "device": {"kind": "cpu", "name": "fast"}, "compiled": False, "jit_compile": False,
        "time_to_target": None, "started_at": started, "finished_at": time.time(),
        "predictions": predictions(task, n_correct, max(2, len(dataset_info.get("class_names") or ()))),
    }
