"""Whole training epochs of the study's model 1 through harness's feed with ``tf.data`` autotuning on (the
feed before: ``AUTOTUNE`` parallelism and prefetch) and off (harness's feed now: fixed parallel gathers, two
batches prefetched); the real images at 160x160 (batch 32; 8 at small size), from the decode-once cache. The
reference is the autotuned feed. A warm-up epoch traces each model.

    pytest benchmarks/test_feed_autotune.py --bench-size full     # docs/benchmarks.md: 8 epochs, mixed bfloat16
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _common import decoded, model_1

#: the dataset shuffles itself (Keras warns about its own shuffle=True on a tf.data.Dataset)
FIT = {"epochs": 1, "verbose": 0, "shuffle": False}
pytestmark = pytest.mark.benchmark(group="feed")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"batch_size": 8, "train_per_class": 16, "rounds": 1, "precision": "float32"},
    "full": {"batch_size": 32, "train_per_class": None, "rounds": 8, "precision": "mixed_bfloat16"},
}


def autotuned(x: Any, y: Any, batch: int) -> Any:
    """The feed before: a shuffled range, batched, gathered with ``AUTOTUNE`` parallelism, autotuning on."""
    import tensorflow as tf

    from harness.backends import tensorflow as harness_feed

    ds = tf.data.Dataset.range(len(y)).shuffle(len(y), seed=1, reshuffle_each_iteration=True).batch(batch)
    ds = ds.map(harness_feed._gather(x, y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


@pytest.mark.parametrize("feed", ["autotune on", "harness feed"])
def test_epoch(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs: Path, tmp_path: Path,
               feed: str) -> None:
    from harness.backends.tensorflow import make_dataset

    x, y = decoded(cats_dogs / "train", tmp_path / "cache")
    batch = sizes["batch_size"]
    ds = autotuned(x, y, batch) if feed == "autotune on" else make_dataset(x, y, batch, shuffle=True, seed=1)
    model = model_1(policy=sizes["precision"], uint8=True)
    benchmark.pedantic(model.fit, args=(ds,), kwargs=FIT, rounds=sizes["rounds"],
                       warmup_rounds=1)
    steps = -(-len(y) // sizes["batch_size"])
    if benchmark.stats:
        benchmark.extra_info.update(steps=steps, ms_per_step=round(1000 * benchmark.stats.stats.median / steps, 1))
    ratios.record(benchmark, f"training epoch, {feed}",
                  reference=None if feed == "autotune on" else "training epoch, autotune on")
