"""The default trainer: one task in, one result record out (a built-in plugin of ``harness_combination_train``)."""

from __future__ import annotations

import math
import time
import traceback
from typing import Any

import harness
from harness import stats
from harness.data.prepare import PreparedData, prepare
from harness.engine import events
from harness.engine.budget import make_budget_callback
from harness.engine.feed import make_datasets
from harness.engine.task import Task
from harness.specs import VALUE_RANGES, DatasetRequest


class TrainingError(Exception):
    """Training went wrong in a way that is data, not a bug (NaN loss, ...)."""


def _rescaling(keras: Any, input_range: str) -> Any:
    low, high = VALUE_RANGES[input_range]
    return keras.layers.Rescaling(scale=(high - low) / 255.0, offset=low, name="harness_rescale")


def build_model(task: Task, data: PreparedData) -> Any:
    """Input -> augmentation (training only) -> rescaling to the model's range -> the model -> float32 logits."""
    import keras

    shape = data.image_shape
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    augmentation = task.augmentation.factory(dict(task.augmentation.params))
    if augmentation is not None:
        x = augmentation(x)
    x = _rescaling(keras, task.model.input_range)(x)
    request = harness.ModelRequest(input_shape=shape, num_classes=data.num_classes,
                                   params=dict(task.model.params), seed=task.seed)
    body = task.model.factory(request)
    logits = body(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    model = keras.Model(inputs, outputs, name=task.combination_id.replace("-", "__"))
    model.harness_body = body
    return model


def compile_model(model: Any, learning_rate: float) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _evaluate(model: Any, dataset: Any) -> float:
    result = model.evaluate(dataset, verbose=0, return_dict=True)
    return float(result["accuracy"])


def _set_precision(policy: str) -> None:
    import keras

    keras.mixed_precision.set_global_policy(policy)


def _fit(task: Task, model: Any, data: PreparedData, feeds: dict[str, Any]) -> Any:
    """Train within the budget (one or two phases); returns the budget callback with everything it saw."""
    callback = make_budget_callback(task, n_train=len(data.arrays["train"][1]))
    params = task.model.params
    frozen_epochs = params.get("epochs_frozen")
    phases = [(frozen_epochs, None)]
    if task.model.fine_tune is not None and frozen_epochs:
        phases.append((None, task.model.fine_tune))
    max_epochs = task.budget.epochs or 10**6
    for phase_epochs, fine_tune in phases:
        if fine_tune is not None:
            fine_tune(model.harness_body, params)
            compile_model(model, float(params.get("fine_tune_learning_rate", 1e-5)))
        start = callback.epochs_done
        stop = min(max_epochs, start + phase_epochs) if phase_epochs else max_epochs
        if start >= stop or callback.exhausted:
            break
        model.fit(feeds["train"], validation_data=feeds["validation"], initial_epoch=start, epochs=stop,
                  callbacks=[callback], verbose=0, shuffle=False)
        if callback.nan_at is not None:
            raise TrainingError(f"loss became NaN at epoch {callback.nan_at['epoch']}, step {callback.nan_at['step']}")
    return callback


def train(task: Task) -> dict[str, Any]:
    """Train and evaluate one task; exceptions become a record with status ``error``."""
    started = time.time()
    record: dict[str, Any] = {"id": task.combination_id, "dataset": task.dataset.name,
                              "augmentation": task.augmentation.name, "model": task.model.name,
                              "seed": task.seed, "repeat": task.repeat, "config_hash": task.config_hash,
                              "config": task.describe(), "started_at": started,
                              "plugins": {kind: {"plugin": spec.plugin, "package": spec.package} for kind, spec in
                                          (("dataset", task.dataset), ("augmentation", task.augmentation),
                                           ("model", task.model))}}
    try:
        record.update(_train(task))
    except Exception as exc:  # noqa: BLE001 - a combination's failure is data
        record.update(status="error", error=f"{type(exc).__name__}: {exc}",
                      traceback="".join(traceback.format_exception(exc)))
        if not isinstance(exc, (TrainingError, harness.UsageError)):
            record["error_kind"] = "exception"
    finally:
        _release()
    record["finished_at"] = time.time()
    return record


def _release() -> None:
    import gc

    import keras

    keras.backend.clear_session(free_memory=True)
    gc.collect()


def _train(task: Task) -> dict[str, Any]:
    import keras

    keras.backend.clear_session(free_memory=True)
    keras.utils.set_random_seed(task.seed)
    _set_precision(task.precision)
    events.emit({"kind": "prepare", "task": task.id})
    request = DatasetRequest(params=dict(task.dataset.params), data_dir=task.data_dir, cache_dir=task.cache_dir,
                             seed=task.split_seed, image_size=tuple(task.dataset.image_size),
                             channels=task.dataset.channels)
    data = prepare(task.dataset, request, split_seed=task.split_seed,
                   progress=lambda done, total: events.emit({"kind": "decode", "done": done, "total": total}))
    baseline = data.info["baseline_accuracy"]
    feeds = make_datasets(data, task.batch_size, task.seed)
    model = build_model(task, data)
    compile_model(model, float(task.model.params.get("learning_rate", 1e-3)))
    events.emit({"kind": "start", "task": task.id, "baseline": baseline})
    callback = _fit(task, model, data, feeds)
    last_weights = model.get_weights()
    test_last = _evaluate(model, feeds["test"])
    test_best, best_epoch = test_last, callback.epochs_done
    if callback.best_weights is not None and callback.best_epoch != callback.epochs_done:
        model.set_weights(callback.best_weights)
        test_best = _evaluate(model, feeds["test"])
        best_epoch = callback.best_epoch
        model.set_weights(last_weights)
    test_accuracy = test_best if task.restore_best else test_last
    n_test = len(data.arrays["test"][1])
    history = callback.history
    val_accuracy = history[best_epoch - 1]["val_accuracy"] if task.restore_best and history else (
        history[-1]["val_accuracy"] if history else float("nan"))
    train_accuracy = history[-1]["accuracy"] if history else float("nan")
    passed = stats.beats_baseline(test_accuracy, n_test, baseline)
    return {
        "status": "passed" if passed else "failed",
        "error": None,
        "dataset_info": data.info,
        "baseline_accuracy": baseline,
        "n_test": n_test,
        "n_train": int(len(data.arrays["train"][1])),
        "train_accuracy": train_accuracy,
        "val_accuracy": val_accuracy,
        "test_accuracy": test_accuracy,
        "test_accuracy_best": test_best,
        "test_accuracy_last": test_last,
        "best_epoch": best_epoch,
        "weights_tested": "best" if task.restore_best else "last",
        "p_value": stats.p_beats_baseline(test_accuracy, n_test, baseline),
        "epochs": callback.epochs_done,
        "steps": callback.steps,
        "images": callback.images,
        "train_seconds": callback.train_seconds,
        "wall_seconds": callback.wall_seconds,
        "stop_reason": callback.stop_reason,
        "history": history,
        "time_to_target": callback.time_to_target,
        "params_count": int(model.count_params()),
        "precision": task.precision,
        "images_per_second": callback.images / callback.train_seconds if callback.train_seconds else math.nan,
    }


@harness.hookimpl(trylast=True)
def harness_combination_train(task: Task) -> dict[str, Any]:
    return train(task)

