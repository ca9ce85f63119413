"""The input pipeline, without a model: harness's decode-once cache (built cold, read again) and one epoch of
the training split through harness's feed against ``keras.utils.image_dataset_from_directory`` (the plain
script's) and ``from_tensor_slices`` on the whole array (harness's previous feed); 160x160, batch 32, shuffled.

    pytest benchmarks/test_pipeline.py --bench-size full    # docs/benchmarks.md: all 2,000 images, 3 rounds
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from _common import decoded, files_of

pytestmark = pytest.mark.benchmark(group="feed")

SIZES: dict[str, dict[str, Any]] = {"small": {"train_per_class": 150, "rounds": 2},
                                    "full": {"train_per_class": None, "rounds": 3}}
SIZE, BATCH = (160, 160), 32


def test_decode_cache_build(benchmark: Any, sizes: dict[str, Any], cats_dogs: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"

    def cold() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    benchmark.pedantic(decoded, args=(cats_dogs / "train", cache_dir), setup=cold, rounds=sizes["rounds"])
    _images_per_second(benchmark, len(files_of(cats_dogs / "train")))


def test_decode_cache_hit(benchmark: Any, sizes: dict[str, Any], cats_dogs: Path, tmp_path: Path) -> None:
    decoded(cats_dogs / "train", tmp_path / "cache")
    benchmark.pedantic(decoded, args=(cats_dogs / "train", tmp_path / "cache"), rounds=sizes["rounds"])
    _images_per_second(benchmark, len(files_of(cats_dogs / "train")))


def pipelines(train: Path, cache_dir: Path) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from harness.backends.tensorflow import make_dataset

    x, y = decoded(train, cache_dir)

    def from_directory() -> Any:
        ds = keras.utils.image_dataset_from_directory(str(train), image_size=SIZE, batch_size=BATCH, shuffle=True,
                                                      seed=1, verbose=False)
        return ds.prefetch(tf.data.AUTOTUNE)

    def previous_feed() -> Any:
        def to_float(a: Any, b: Any) -> Any:
            return tf.cast(a, tf.float32), b

        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=1, reshuffle_each_iteration=True)
        return ds.batch(BATCH).map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    return {
        "image_dataset_from_directory": from_directory,  # the reference: first
        "harness feed (cache)": lambda: make_dataset(x, y, BATCH, shuffle=True, seed=1),
        "from_tensor_slices (previous feed)": previous_feed,
    }


def epoch(ds: Any) -> int:
    """One pass over ``ds``: the number of images."""
    return sum(int(labels.shape[0]) for _, labels in ds)


@pytest.mark.parametrize("name", ["image_dataset_from_directory", "harness feed (cache)",
                                  "from_tensor_slices (previous feed)"])
def test_feed_epoch(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs: Path, tmp_path: Path,
                    name: str) -> None:
    make = pipelines(cats_dogs / "train", tmp_path / "cache")[name]
    images = benchmark.pedantic(epoch, setup=lambda: ((make(),), {}), rounds=sizes["rounds"], warmup_rounds=1)
    assert images == len(files_of(cats_dogs / "train"))
    _images_per_second(benchmark, images)
    reference = "image_dataset_from_directory"
    ratios.record(benchmark, f"feed epoch: {name}", reference=None if name == reference else f"feed epoch: {reference}")


def _images_per_second(benchmark: Any, images: int) -> None:
    if benchmark.stats:
        benchmark.extra_info["images_per_second"] = round(images / benchmark.stats.stats.median)
