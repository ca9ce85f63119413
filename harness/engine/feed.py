"""Feeding decoded arrays to Keras through ``tf.data``: shuffled training batches, cached evaluation sets."""

from __future__ import annotations

from typing import Any

from harness.data.prepare import PreparedData


def make_datasets(data: PreparedData, batch_size: int, seed: int) -> dict[str, Any]:
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE

    def to_float(x: Any, y: Any) -> tuple[Any, Any]:
        return tf.cast(x, tf.float32), y

    feeds = {}
    for split, (x, y) in data.arrays.items():
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if split == "train":
            ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
            ds = ds.batch(batch_size).map(to_float, num_parallel_calls=autotune)
        else:
            ds = ds.batch(batch_size).map(to_float, num_parallel_calls=autotune).cache()
        feeds[split] = ds.prefetch(autotune)
    return feeds
