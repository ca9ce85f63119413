"""Where the augmentation runs: inside the model (harness's way: the Keras layers first, active in training
only) or mapped over the batches in ``tf.data`` (``AUTOTUNE`` parallelism, beside the training step). The
study's model 1 behind its flip + rotation(0.2), on the real images (160x160, batch 32; 8 at small size) from
the decode-once cache; ``steps`` training steps a round after a 2-step warm-up that traces. The reference: in
the model.

    pytest benchmarks/test_augmentation_placement.py --bench-size full    # 30 steps, 3 rounds
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _common import decoded, model_1

#: the dataset shuffles itself (Keras warns about its own shuffle=True on a tf.data.Dataset)
FIT = {"epochs": 1, "verbose": 0, "shuffle": False}
pytestmark = pytest.mark.benchmark(group="augmentation")

SIZES: dict[str, dict[str, Any]] = {"small": {"batch_size": 8, "train_per_class": 24, "steps": 3, "rounds": 1},
         "full": {"batch_size": 32, "train_per_class": None, "steps": 30, "rounds": 3}}


def augmentation() -> Any:
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomRotation(0.2, seed=2)])


@pytest.mark.parametrize("where", ["in the model", "in the pipeline"])
def test_step_time(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs: Path, tmp_path: Path,
                   where: str) -> None:
    import tensorflow as tf

    from harness.backends.tensorflow import make_dataset

    images, labels = decoded(cats_dogs / "train", tmp_path / "cache")
    feed = make_dataset(images, labels, sizes["batch_size"], shuffle=True, seed=1).repeat()
    if where == "in the model":
        model = model_1(augmentation=augmentation())
    else:
        layers = augmentation()
        feed = feed.map(lambda x, y: (layers(tf.cast(x, tf.float32), training=True), y),
                        num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
        model = model_1()
    model.fit(feed, steps_per_epoch=2, **FIT)  # traces, off the clock
    steps = sizes["steps"]
    benchmark.pedantic(model.fit, args=(feed,), kwargs=FIT | {"steps_per_epoch": steps},
                       rounds=sizes["rounds"])
    if benchmark.stats:
        benchmark.extra_info["ms_per_step"] = round(1000 * benchmark.stats.stats.median / steps, 1)
    ratios.record(benchmark, f"augmentation {where}",
                  reference=None if where == "in the model" else "augmentation in the model")
