"""Feature caching: a frozen base runs once per image, and the head trains on what it computed.

Transfer models (the study's model 4: a frozen MobileNetV2 base in inference mode, then pooling, dropout and
a dense layer) spend nearly all of every epoch recomputing the base's outputs, which never change: the base
has no trainable weights, nothing random, and behaves the same in training and inference. When nothing random
precedes it either (no augmentation), those outputs are a fixed function of each image. So the engine runs the
rescaling and the frozen part once over the training, validation and test images, keeps the features in
memory, and trains the head on them: the same model, the same data order, the same optimizer, without paying
for the base again each epoch. A model declares its split with ``ModelSpec.features``; ``--no-feature-cache``
turns this off.

Behind an augmentation the model trains on images as usual, but validation and test images are never
augmented: their features are computed once too, and validation after each epoch runs the head alone. Those
evaluation features are also kept in memory (up to :data:`MEMORY_LIMIT`) for the next tasks of the process
with the same dataset, frozen part and precision: the other augmentations and seeds of the same model.

What the record says (``feature_cache``): ``used``, ``used for validation and test (...)``, or
``off: <why>``. Extracting the training features is counted as training time (a time budget includes it);
extracting validation and test features is not, as validation is not. ``feature_seconds`` is the whole
extraction, ``features_reused`` the splits taken from an earlier task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.backends import Backend
from harness.data.prepare import PreparedData
from harness.engine.task import Task

#: Batch size for running the frozen part (inference only: larger batches are a little faster per image).
EXTRACT_BATCH_SIZE = 64


#: Every split when nothing random precedes the model; only the evaluation splits behind an augmentation.
ALL_SPLITS = ("train", "validation", "test")
EVALUATION_SPLITS = ("validation", "test")
#: What the record says when only validation and test use cached features.
EVALUATION_ONLY = "used for validation and test (an augmentation precedes the model)"
#: Features kept in this process for later tasks (the evaluation splits of one dataset and frozen base are
#: the same for every augmentation and seed), oldest dropped first beyond this many bytes.
MEMORY_LIMIT = 1 << 30
_memory: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


@dataclass
class FeaturePlan:
    """How a task uses cached features: ``extractor`` maps images to features, ``head`` maps features to
    float32 logits through the model's own head layers (so training it trains the whole model); ``splits``
    are the splits whose features are used (training on them only when ``"train"`` is among them)."""

    extractor: Any
    head: Any
    splits: tuple[str, ...]
    #: Identifies the frozen part's function: the model, its settings, the precision, its weights.
    key: str

    @property
    def trains_head(self) -> bool:
        return "train" in self.splits


def plan_features(task: Task, model: Any, single_phase: bool) -> tuple[FeaturePlan | None, str]:
    """The plan for ``model`` (built by :func:`harness.engine.train.build_model`), or ``None`` and why not."""
    if task.model.features is None:
        return None, "off: the model declares no frozen part"
    if not task.feature_cache:
        return None, "off: --no-feature-cache"
    if not single_phase:
        return None, "off: the model fine-tunes its base in a second phase"
    split = task.model.features(model.harness_body)
    if split is None:
        return None, "off: the model's base is trainable"
    front, head = split
    if front.trainable_weights:
        names = ", ".join(w.path for w in front.trainable_weights[:3])
        return None, f"off: the model's frozen part has trainable weights ({names})"
    import keras

    images = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="image")
    extractor = keras.Model(images, front(model.get_layer("harness_rescale")(images)),
                            name=f"{model.name}__features")
    features = keras.Input(shape=extractor.output_shape[1:], name="features")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(head(features))
    digest = hashlib.sha256()
    for weight in front.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    key = json.dumps([task.backend, task.model.name, dict(task.model.params), task.model.input_range,
                      task.precision, digest.hexdigest()], sort_keys=True, default=str)
    splits = EVALUATION_SPLITS if model.harness_augmented else ALL_SPLITS
    plan = FeaturePlan(extractor=extractor, head=keras.Model(features, logits, name=f"{model.name}__head"),
                       splits=splits, key=key)
    return plan, "used" if plan.trains_head else EVALUATION_ONLY


def _recall(key: tuple[str, str], images: np.ndarray) -> np.ndarray | None:
    """Features kept for ``key``, if they were computed from this very array of images (the prepared dataset
    is shared by the tasks of a process: the same object means the same images)."""
    entry = _memory.get(key)
    return entry[1] if entry is not None and entry[0] is images else None


def _remember(key: tuple[str, str], images: np.ndarray, features: np.ndarray) -> None:
    _memory.pop(key, None)
    _memory[key] = (images, features)
    while sum(f.nbytes for _, f in _memory.values()) > MEMORY_LIMIT and len(_memory) > 1:
        del _memory[next(iter(_memory))]


def extract(plan: FeaturePlan, data: PreparedData, backend: Backend,
            progress: Callable[[int, int], None] | None = None
            ) -> tuple[PreparedData, dict[str, float], list[str]]:
    """``data`` with the features of the plan's splits (float32, in the images' order, computed on
    ``backend``) in place of their images, the seconds each split took, and the splits whose features an
    earlier task of this process computed."""
    import keras

    total = sum(len(data.arrays[split][1]) for split in plan.splits)
    done = 0

    class Progress(keras.callbacks.Callback):  # type: ignore[misc]
        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            if progress is not None:
                progress(min(total, done + (batch + 1) * EXTRACT_BATCH_SIZE), total)

    arrays = dict(data.arrays)
    seconds: dict[str, float] = {}
    reused: list[str] = []
    for split in plan.splits:
        x, y = data.arrays[split]
        start = time.perf_counter()
        key = (plan.key, split)
        features = _recall(key, x)
        if features is not None:
            reused.append(split)
        else:
            if len(y):
                feed = backend.make_feed(x, y, EXTRACT_BATCH_SIZE, shuffle=False, seed=0)
                features = np.asarray(plan.extractor.predict(feed, verbose=0, callbacks=[Progress()]),
                                      dtype=np.float32)
            else:
                features = np.zeros((0, *plan.extractor.output_shape[1:]), dtype=np.float32)
            if split != "train":  # the training features of an augmentation-free cell: one task only
                _remember(key, x, features)
        arrays[split] = (features, np.asarray(y))
        seconds[split] = time.perf_counter() - start
        done += len(y)
    return dataclasses.replace(data, arrays=arrays), seconds, reused
