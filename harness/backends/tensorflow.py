"""The TensorFlow backend: the ``tf.data`` feed, TensorFlow's thread and GPU settings, and the cleaning of
its global gradient registry between tasks. The only module of harness (with :mod:`harness.backends.tfimport`)
that imports TensorFlow."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from harness.backends import Device, KerasBackend
from harness.backends.tfimport import ensure_tensorflow

#: Batches kept ready ahead of the model.
PREFETCH_BATCHES = 2


def _inter_op(threads: int) -> int:
    """TensorFlow's inter-op threads for ``threads`` intra-op threads: at most 2."""
    return max(1, min(2, threads))


class TensorFlowBackend(KerasBackend):
    name = "tensorflow"
    #: Keras traces the step into a ``tf.function`` graph, with or without XLA.
    compiles_graph = True
    _configured = False
    #: The intra-op threads asked for (the run's runtime), applied when TensorFlow is configured.
    _threads: int | None = None

    def configure(self, threads: int | None = None) -> None:
        """Quiet import; GPU memory grows as needed (so it is released between tasks and several worker
        processes can share a GPU); ``threads`` intra-op threads (inter-op: at most 2).

        Called with ``threads`` before TensorFlow is imported (:func:`harness.runtime.apply`), it only takes
        note of them, also in ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS``, which TensorFlow reads when
        it starts (so a plugin that imports TensorFlow first gets them too); the engine's call before training
        does the rest. A process that never trains with Keras (the testing kit's fast trainer) never imports it."""
        if threads:
            self._threads = threads
            if "tensorflow" not in sys.modules:
                os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
                os.environ["TF_NUM_INTEROP_THREADS"] = str(_inter_op(threads))
                return
        if self._configured:
            return
        ensure_tensorflow()
        import tensorflow as tf

        if self._threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self._threads)
                tf.config.threading.set_inter_op_parallelism_threads(_inter_op(self._threads))
            except RuntimeError:  # TensorFlow already initialized its thread pools (with the variables above)
                pass
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):  # already initialized: nothing to change any more
                pass
        self._configured = True

    def seed(self, seed: int) -> None:
        import keras

        keras.utils.set_random_seed(seed)  # Python, NumPy, TensorFlow, Keras

    def make_feed(self, images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
                  transform: Any = None) -> Any:
        if transform is not None:  # a layer to apply outside the model (never asked of TensorFlow): the generic feed
            return super().make_feed(images, labels, batch_size, shuffle=shuffle, seed=seed, transform=transform)
        return make_dataset(images, labels, batch_size, shuffle=shuffle, seed=seed)

    def begin_task(self) -> set[str]:
        ensure_tensorflow()
        self.reset_peak_memory()
        return _custom_gradients()

    def release(self, state: Any = None) -> None:
        if state is not None:
            _forget_custom_gradients(state)
        super().release(state)

    def devices(self) -> list[Device]:
        ensure_tensorflow()
        import tensorflow as tf

        found = []
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                details = tf.config.experimental.get_device_details(gpu)
            except (RuntimeError, ValueError):
                details = {}
            capability = details.get("compute_capability")
            found.append(Device("gpu", str(details.get("device_name", gpu.name)), None,
                                float("{}.{}".format(*capability)) if capability else None))
        return found or [Device("cpu", "CPU")]

    def intra_op_threads(self) -> int | None:
        import tensorflow as tf

        return int(tf.config.threading.get_intra_op_parallelism_threads()) or None

    def versions(self) -> dict[str, str]:
        ensure_tensorflow()
        return super().versions()

    def reset_peak_memory(self) -> None:
        import tensorflow as tf

        for index, _ in enumerate(tf.config.list_logical_devices("GPU")):
            try:
                tf.config.experimental.reset_memory_stats(f"GPU:{index}")
            except (RuntimeError, ValueError):
                pass

    def peak_memory_bytes(self) -> int | None:
        import tensorflow as tf

        if not tf.config.list_logical_devices("GPU"):
            return None
        try:
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
        except (RuntimeError, ValueError):
            return None


BACKEND = TensorFlowBackend()


# -------------------------------------------------------------------------------------------------
# The tf.data feed
# -------------------------------------------------------------------------------------------------


def _gather(images: np.ndarray, labels: np.ndarray) -> Any:
    """A ``tf.data`` map function: a batch of row indices to ``(images, int32 labels)``.

    ``uint8`` images stay ``uint8``: the model's first layer casts them straight to its compute dtype (see
    :func:`harness.engine.train.build_model`), a quarter of the bytes through the pipeline and one cast
    instead of two under mixed precision. Float32 arrays (a frozen base's features) pass as they are; any
    other dtype becomes float32."""
    import tensorflow as tf

    from harness.backends.feed import gather

    shape = (None, *images.shape[1:])
    dtype = tf.as_dtype(images.dtype) if images.dtype in (np.uint8, np.float32) else tf.float32

    def take(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return gather(images, labels, index)

    def load(index: Any) -> tuple[Any, Any]:
        x, y = tf.numpy_function(take, [index], (dtype, tf.int32), stateful=False)
        x.set_shape(shape)
        y.set_shape((None,))
        return x, y

    return load


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int) -> Any:
    """Batches of ``images``/``labels`` (rows gathered per batch, in parallel), in the order of
    :func:`harness.backends.feed.epoch_order` (the same batches as the other backends' feed), reshuffled each
    epoch when ``shuffle``.

    ``tf.data``'s autotuning is off, with fixed parallelism and prefetching instead: with it on, on a 2-core
    machine, long stretches of training ran at half speed (the study's model 1 at 127 against 63 ms per step
    in mixed bfloat16, 255 against 126 ms in float32, in one ``fit`` call in three to two; evaluations
    likewise). Measured in ``benchmarks/test_feed_autotune.py``; ``docs/benchmarks.md`` section 10."""
    import tensorflow as tf

    from harness.backends.feed import EpochIndices, parallel_gathers

    indices = EpochIndices(len(labels), batch_size, shuffle=shuffle, seed=seed)
    # One element per epoch (its whole order), batched in TensorFlow: a Python call per epoch, not per batch.
    ds = tf.data.Dataset.from_generator(indices.next_order, output_signature=tf.TensorSpec((None,), tf.int64))
    ds = ds.unbatch().batch(batch_size).apply(tf.data.experimental.assert_cardinality(len(indices)))
    ds = ds.map(_gather(images, labels), num_parallel_calls=parallel_gathers(), deterministic=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


# -------------------------------------------------------------------------------------------------
# TensorFlow's gradient registry
# -------------------------------------------------------------------------------------------------


def _gradient_registry() -> dict[str, Any] | None:
    try:
        from tensorflow.python.framework import ops

        return ops._gradient_registry._registry  # type: ignore[no-any-return]
    except (ImportError, AttributeError):  # a TensorFlow without it: nothing to clean
        return None


def _custom_gradients() -> set[str]:
    """Names of the ``CustomGradient-N`` entries of TensorFlow's global gradient registry.

    Each ``tf.custom_gradient`` traced in a graph (Keras' training step has some) registers a gradient
    function under a new name, and that function holds the whole traced graph: without cleaning, every
    task would leave its training and evaluation graphs in memory for the rest of the process (about 5 MB
    per tiny model, far more for real ones).
    """
    registry = _gradient_registry()
    return {name for name in registry if name.startswith("CustomGradient-")} if registry is not None else set()


def _forget_custom_gradients(before: set[str]) -> None:
    registry = _gradient_registry()
    if registry is None:
        return
    for name in _custom_gradients() - before:
        registry.pop(name, None)
