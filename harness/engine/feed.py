"""Feeding decoded arrays to Keras through ``tf.data``: shuffled training batches, ordered evaluation batches.

The pipeline shuffles and batches *indices*, and each batch gathers its rows straight from the ``uint8``
arrays (memory maps of the decode-once cache, or in-memory arrays). Nothing is copied into TensorFlow up front:
``from_tensor_slices`` on the images would copy the whole array into a tensor and ``shuffle`` would copy it
again into its buffer (about 650 MB more resident memory for cats-vs-dogs at 160x160, measured in
``benchmarks/pipeline_throughput.py``), while a gathered batch costs one 2.4 MB copy, tens of thousands of
images per second, far above what training consumes. Evaluation sets need no augmentation and are read from
the same cache in order; their pages stay in the OS page cache, shared by every combination and process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.data.prepare import PreparedData


def _gather(images: np.ndarray, labels: np.ndarray) -> Any:
    """A ``tf.data`` map function: a batch of row indices to ``(images, int32 labels)``.

    ``uint8`` images stay ``uint8``: the model's first layer casts them straight to its compute dtype (see
    :func:`harness.engine.train.build_model`), a quarter of the bytes through the pipeline and one cast
    instead of two under mixed precision. Float32 arrays (a frozen base's features) pass as they are; any
    other dtype becomes float32."""
    import tensorflow as tf

    shape = (None, *images.shape[1:])
    dtype = tf.as_dtype(images.dtype)

    def take(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = np.sort(index)  # sequential reads of the memory map; order within a batch does not matter
        return np.asarray(images[index]), np.asarray(labels[index], dtype=np.int32)

    def load(index: Any) -> tuple[Any, Any]:
        x, y = tf.numpy_function(take, [index], (dtype, tf.int32), stateful=False)
        x.set_shape(shape)
        y.set_shape((None,))
        return (x if dtype in (tf.uint8, tf.float32) else tf.cast(x, tf.float32)), y

    return load


#: Batches kept ready ahead of the model.
PREFETCH_BATCHES = 2


def parallel_gathers() -> int:
    """Batches gathered at once: 2 on a small machine, up to 8 on a large one (half its cores). Gathering
    a batch of 32 images at 160x160 takes about 2 ms, so two calls in parallel already feed tens of
    thousands of images per second; more is for fast GPUs."""
    from harness.system import usable_cores

    return max(2, min(8, usable_cores() // 2))


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int) -> Any:
    """Batches of ``images``/``labels`` (rows gathered per batch), shuffled every epoch when ``shuffle``.

    ``tf.data``'s autotuning is off, with fixed parallelism and prefetching instead: with it on, on a 2-core
    machine, long stretches of training ran at half speed (the study's model 1 at 127 against 63 ms per step
    in mixed bfloat16, 255 against 126 ms in float32, in one ``fit`` call in three to two; evaluations
    likewise). Measured in ``benchmarks/feed_autotune.py`` (figures: ``docs/benchmarks.md``)."""
    import tensorflow as tf

    n = len(labels)
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(_gather(images, labels), num_parallel_calls=parallel_gathers(),
                                  deterministic=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def make_datasets(data: PreparedData, batch_size: int, seed: int) -> dict[str, Any]:
    """One dataset per split: ``train`` shuffled each epoch, ``validation`` and ``test`` in order."""
    return {split: make_dataset(x, y, batch_size, shuffle=(split == "train"), seed=seed)
            for split, (x, y) in data.arrays.items()}
