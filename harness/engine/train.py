"""The default trainer: one task in, one result record out (a built-in plugin of ``harness_combination_train``).

Each task runs on its Keras backend (``task.backend``: TensorFlow, JAX or PyTorch, through
:mod:`harness.backends`; one per process), from a cleared Keras session with every random generator seeded
from the task's seed (Python, NumPy, the framework, Keras), so its result does not depend on what ran before
it, and the same seed on the same machine and backend gives the same result on the CPU. After it, everything
it built is released.

On a backend where one layer XLA cannot compile runs the whole model uncompiled (JAX:
:attr:`harness.backends.Backend.needs_jittable_layers`), an augmentation Keras cannot compile
(``RandomRotation``, ``RandomZoom``, ``RandomTranslation``... declare ``supports_jit=False``) is applied by the
feed to each training batch, before the compiled step, instead of inside the model (``augmentation_in``:
``model`` or ``feed``). ``compiled`` says whether the training step was compiled (a graph on TensorFlow, XLA
on JAX; on PyTorch Keras runs it eagerly), ``jit_compile`` whether XLA compiled it. The engine asks these
things of the backend object, never its name.

Which weights are tested: by default those of the epoch with the best validation accuracy (the first such
epoch on ties), restored before the test evaluation; with ``--keep-last-weights``, those of the last epoch.
Both are tested and recorded (``test_accuracy_best``, ``test_accuracy_last``); ``test_accuracy`` is the
one chosen, ``weights_tested`` says which, and ``val_accuracy`` is that epoch's. Testing is one prediction
pass over the test images per set of weights (one when the best epoch is the last): each image's predicted
class and its probability (the softmax of the logits), which the record carries as ``predictions`` (ids from
:attr:`harness.data.prepare.PreparedData.ids`; :mod:`harness.predictions`) and from which every test
accuracy is counted, so a record and its predictions always agree.

The record it returns is described, field by field, in :mod:`harness.record`.
"""

from __future__ import annotations

import math
import time
import traceback
from typing import Any

import numpy as np

import harness
from harness import backends, stats
from harness.data.prepare import PreparedData, prepare
from harness.engine import events
from harness.engine.budget import callback_list
from harness.engine.errors import error_kind, oom_message
from harness.engine.features import extract, plan_features
from harness.engine.task import Task
from harness.record import identity
from harness.specs import VALUE_RANGES, DatasetRequest


def _rescaling(keras: Any, input_range: str) -> Any:
    low, high = VALUE_RANGES[input_range]
    return keras.layers.Rescaling(scale=(high - low) / 255.0, offset=low, name="harness_rescale")


def _to_float32(keras: Any) -> Any:
    """A layer that casts its input to float32 (what an augmentation was always given)."""

    class ToFloat32(keras.layers.Layer):  # type: ignore[misc]
        def call(self, inputs: Any) -> Any:
            return keras.ops.cast(inputs, "float32")

    return ToFloat32(name="harness_pixels", dtype="float32")


def jittable(layer: Any) -> bool:
    """Whether XLA can compile ``layer`` and every layer inside it (Keras' ``supports_jit``)."""
    return all(getattr(sub, "supports_jit", True) for sub in [layer, *layer._flatten_layers()])


def build_model(task: Task, data: PreparedData, augmentation: Any = None, pixels: str = "uint8") -> Any:
    """Input -> augmentation (training only) -> rescaling to the model's range -> the model -> float32 logits.

    The input is ``uint8``, as the feed delivers it (:mod:`harness.backends.feed`): the rescaling layer casts it
    straight to the compute dtype, or, behind an augmentation, a cast to float32 comes first so that the
    augmentation sees the same float32 pixels as it always has. With ``pixels="float32"`` (an augmentation in
    the feed delivers float32 pixels) the input is float32."""
    import keras

    shape = data.image_shape
    inputs = keras.Input(shape=shape, dtype=pixels, name="image")
    x = inputs
    if augmentation is not None:
        x = augmentation(_to_float32(keras)(x))
    x = _rescaling(keras, task.model.input_range)(x)
    request = harness.ModelRequest(input_shape=shape, num_classes=data.num_classes,
                                   params=dict(task.model.params), seed=task.seed, cache_dir=task.cache_dir)
    body = task.model.factory(request)
    logits = body(x)
    _check_outputs(task, tuple(logits.shape), data.num_classes)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    model = keras.Model(inputs, outputs, name=task.combination_id.replace("-", "__"))
    model.harness_body = body
    model.harness_augmented = augmentation is not None or pixels != "uint8"
    return model


def _check_outputs(task: Task, shape: tuple[Any, ...], num_classes: int) -> None:
    """Refuse a model whose output is not one logit per class (7 outputs for 2 classes would train)."""
    if len(shape) != 2 or shape[-1] != num_classes:
        raise harness.UsageError(
            f"model {task.model.name!r} ({task.model.plugin}) outputs shape {shape[1:]} for dataset "
            f"{task.dataset.name!r} with {num_classes} classes: it must end in {num_classes} logits "
            "(request.num_classes)")


def compile_model(model: Any, learning_rate: float) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _phases(task: Task) -> list[tuple[int | None, Any]]:
    """``(epochs, fine_tune)`` per phase: one phase, or a frozen phase then fine-tuning when the model has one."""
    frozen_epochs = task.model.params.get("epochs_frozen")
    if task.model.fine_tune is not None and frozen_epochs:
        return [(int(frozen_epochs), None), (None, task.model.fine_tune)]
    return [(None, None)]


def make_datasets(backend: backends.Backend, data: PreparedData, batch_size: int, seed: int,
                  transform: Any = None) -> dict[str, Any]:
    """One feed per split from ``backend``: ``train`` shuffled each epoch (through ``transform`` if given),
    ``validation`` and ``test`` in order."""
    return {split: backend.make_feed(x, y, batch_size, shuffle=(split == "train"), seed=seed,
                                     transform=transform if split == "train" else None)
            for split, (x, y) in data.arrays.items()}


def _fit(task: Task, model: Any, evaluator: Any, data: PreparedData, feeds: dict[str, Any],
         setup_seconds: float = 0.0) -> Any:
    """Train within the budget (one or two phases); returns the training callbacks with everything they kept
    (:func:`harness.engine.callbacks.training_callbacks`). ``setup_seconds`` (computing cached training
    features) counts as training time already used; an ``evaluator`` other than ``model`` (a head on cached
    features) does the validation."""
    from harness.engine.callbacks import ValidateWith, training_callbacks

    training = training_callbacks(task, n_train=len(data.arrays["train"][1]))
    meter = training.meter
    meter.seconds += setup_seconds
    validation, callbacks = feeds["validation"], training.callbacks
    if evaluator is not model:
        validation, callbacks = None, [ValidateWith(evaluator, feeds["validation"]), *callbacks]
    max_epochs = task.budget.epochs or 10**9
    for phase_epochs, fine_tune in _phases(task):
        if fine_tune is not None:
            fine_tune(model.harness_body, task.model.params)
            compile_model(model, float(task.model.params.get("fine_tune_learning_rate", 1e-5)))
        start = meter.epochs
        stop = min(max_epochs, start + phase_epochs) if phase_epochs else max_epochs
        if start >= stop or meter.exhausted:
            break
        model.fit(feeds["train"], validation_data=validation, initial_epoch=start, epochs=stop,
                  callbacks=callback_list(model, callbacks, stop, meter.steps_per_epoch), verbose=0, shuffle=False)
        if training.nan_at is not None:
            break
    return training


def train(task: Task) -> dict[str, Any]:
    """Train and evaluate one task; every failure becomes a record with status ``error`` (never raises,
    except for ``KeyboardInterrupt`` and other exits, which end the run)."""
    backend = backends.activate(task.backend)
    backend.configure()
    state = backend.begin_task()
    started = time.time()
    record: dict[str, Any] = {**identity(task), "started_at": started}
    try:
        record.update(_train(task, backend))
    except Exception as exc:  # a combination's failure is data
        kind = error_kind(exc)
        record.update(status="error", error=oom_message(exc) if kind == "oom" else f"{type(exc).__name__}: {exc}",
                      error_kind=kind, traceback="".join(traceback.format_exception(exc)))
    finally:
        backend.release(state)
    record["finished_at"] = time.time()
    return record


def _train(task: Task, backend: backends.Backend) -> dict[str, Any]:
    import keras

    # The previous task released its memory already (see Backend.release): only Keras' global state is reset.
    keras.backend.clear_session(free_memory=False)
    backend.seed(task.seed)
    backend.set_precision(task.precision)
    events.emit({"kind": "prepare", "task": task.id})
    data = _prepare(task)
    baseline = data.info["baseline_accuracy"]
    augmentation = task.augmentation.factory(dict(task.augmentation.params))
    in_feed = augmentation is not None and backend.needs_jittable_layers and not jittable(augmentation)
    if in_feed:
        model = build_model(task, data, pixels="float32")
    else:
        model = build_model(task, data, augmentation)
    learning_rate = float(task.model.params.get("learning_rate", 1e-3))
    compile_model(model, learning_rate)
    plan, feature_cache = plan_features(task, model, single_phase=len(_phases(task)) == 1)
    trainer = evaluator = model
    feature_seconds: dict[str, float] = {}
    reused: list[str] = []
    if plan is not None:
        data, feature_seconds, reused = extract(plan, data, backend, progress=lambda done, total: events.emit(
            {"kind": "features", "task": task.id, "done": done, "total": total}))
        evaluator = plan.head
        compile_model(evaluator, learning_rate)
        if plan.trains_head:
            trainer = evaluator
    feeds = make_datasets(backend, data, task.batch_size, task.seed, transform=augmentation if in_feed else None)
    events.emit({"kind": "start", "task": task.id, "baseline": baseline})
    training = _fit(task, trainer, evaluator, data, feeds, setup_seconds=feature_seconds.get("train", 0.0))
    used = training.meter.used()
    common = {
        "dataset_info": data.info,
        "baseline_accuracy": baseline,
        "n_train": int(len(data.arrays["train"][1])),
        "n_test": int(len(data.arrays["test"][1])),
        **used,
        "wall_seconds": training.history.wall_seconds,
        "history": training.history.entries,
        "time_to_target": training.time_to_target,
        "params_count": int(model.count_params()),
        "precision": task.precision,
        "threads": _threads(backend),
        **_where(backend, trainer),
        "augmentation_in": None if augmentation is None else ("feed" if in_feed else "model"),
        "feature_cache": feature_cache,
        "feature_seconds": sum(feature_seconds.values()) if feature_seconds else None,
        "features_reused": reused,
        "images_per_second": used["images"] / used["train_seconds"] if used["train_seconds"] else math.nan,
    }
    if training.nan_at is not None:
        where = training.nan_at
        return {**common, "status": "error", "error_kind": "nan_loss", "nan_at": where,
                "error": f"loss became NaN or infinite at epoch {where['epoch']}, step {where['step']}"}
    return {**common, **_test(task, trainer, evaluator, training, feeds, baseline, data)}


def _where(backend: backends.Backend, model: Any) -> dict[str, Any]:
    """The backend's version, the device, its peak memory, and whether the training step was compiled (and,
    on a backend where one layer keeps XLA off the whole step, when it was not, the layers that did: never
    silent, the report warns about them)."""
    jit = bool(getattr(model, "jit_compile", False))
    compiled = jit or (backend.compiles_graph and not model.run_eagerly)
    where: dict[str, Any] = {"backend_version": backend.version, "device": backend.device().as_dict(),
                             "peak_memory_bytes": backend.peak_memory_bytes(), "jit_compile": jit,
                             "compiled": compiled}
    if backend.needs_jittable_layers and not compiled:
        where["jit_blockers"] = sorted({type(layer).__name__ for layer in [model, *model._flatten_layers()]
                                        if not getattr(layer, "supports_jit", True)})
    return where


def _threads(backend: backends.Backend) -> int:
    from harness.system import usable_cores

    return backend.intra_op_threads() or usable_cores()


def _prepare(task: Task) -> PreparedData:
    request = DatasetRequest(params=dict(task.dataset.params), data_dir=task.data_dir, cache_dir=task.cache_dir,
                             seed=task.split_seed, image_size=task.dataset.image_size,
                             channels=task.dataset.channels)
    return prepare(task.dataset, request, split_seed=task.split_seed, expected_digest=task.data_digest,
                   progress=lambda done, total: events.emit({"kind": "decode", "done": done, "total": total}))


def predict(evaluator: Any, feed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each image of an ordered ``feed``: the class the model predicts (the largest logit, the first on ties,
    as Keras' accuracy takes it) and the probability it gives that class (the softmax of its logits)."""
    logits = np.asarray(evaluator.predict(feed, verbose=0), dtype=np.float64)
    predicted = np.argmax(logits, axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        confidence = 1.0 / np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)
    return predicted, confidence


#: One test pass: each image's predicted class and the probability the model gave it (:func:`predict`).
Pass = tuple[np.ndarray, np.ndarray]


def _test_passes(model: Any, evaluator: Any, training: Any, feed: Any) -> tuple[dict[str, Pass], int]:
    """The test feed's predictions with the last weights (``last``) and, when another epoch had the best
    validation accuracy, with its weights (``best``; else the same predictions), and the best epoch: one pass
    per set of weights. The model keeps its last weights."""
    best, last_epoch = training.best, len(training.history.entries)
    last = predict(evaluator, feed)
    if best.best_weights is None or best.best_epoch == last_epoch:
        return {"last": last, "best": last}, last_epoch
    last_weights = model.get_weights()
    model.set_weights(best.best_weights)
    passes = {"last": last, "best": predict(evaluator, feed)}
    model.set_weights(last_weights)
    return passes, best.best_epoch


def _test(task: Task, model: Any, evaluator: Any, training: Any, feeds: dict[str, Any], baseline: float,
          data: PreparedData) -> dict[str, Any]:
    """Test the last weights and those of the best validation epoch; report the ones the task asks for, with
    each test image's prediction by them (``predictions``, :mod:`harness.predictions`). ``model`` is the one
    trained (whose best weights ``training.best`` kept), ``evaluator`` what reads the test feed (the same
    model, or the head on cached features, which shares its layers). Every accuracy is counted from the
    predictions, so the record's ``test_accuracy`` and its predictions agree exactly."""
    history = training.history.entries
    labels = np.asarray(data.arrays["test"][1], dtype=np.int64)
    n_test = len(labels)
    passes, best_epoch = _test_passes(model, evaluator, training, feeds["test"])
    chosen = "best" if task.restore_best else "last"
    test_best, test_last = (stats.ratio(int(np.sum(passes[which][0] == labels)), n_test)
                            for which in ("best", "last"))
    tested_epoch = best_epoch if task.restore_best else len(history)
    predicted, confidence = passes[chosen]
    n_correct = int(np.sum(predicted == labels))
    test_accuracy = stats.ratio(n_correct, n_test)
    passed = stats.beats_baseline(test_accuracy, n_test, baseline)
    return {
        "status": "passed" if passed else "failed",
        "error": None,
        "train_accuracy": history[-1]["accuracy"] if history else math.nan,
        "val_accuracy": history[tested_epoch - 1]["val_accuracy"] if history else math.nan,
        "test_accuracy": test_accuracy,
        "n_correct": n_correct,
        "test_accuracy_best": test_best,
        "test_accuracy_last": test_last,
        "best_epoch": best_epoch,
        "last_epoch": len(history),
        "weights_tested": chosen,
        "p_value": stats.p_beats_baseline(test_accuracy, n_test, baseline),
        "predictions": {"id": list(data.ids.get("test") or map(str, range(n_test))), "label": labels.tolist(),
                        "predicted": predicted.tolist(), "confidence": confidence.tolist()},
    }


@harness.hookimpl(trylast=True)
def harness_combination_train(task: Task) -> dict[str, Any]:
    return train(task)

