from __future__ import annotations

import numpy as np
import pytest

from harness.backends import tensorflow as tf_backend
from harness.backends.tensorflow import make_dataset
from harness.data import cache
from harness.data.prepare import PreparedData
from harness.engine.train import make_datasets

tf = pytest.importorskip("tensorflow")


def _arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.zeros((n, 4, 4, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n)  # each image carries its row number
    return images, (np.arange(n) % 3).astype(np.int32)


def _rows(ds) -> list[list[int]]:
    return [[int(v) for v in x[:, 0, 0, 0].numpy()] for x, _ in ds]


def test_evaluation_batches_are_in_order_and_stay_uint8() -> None:
    images, labels = _arrays(10)
    ds = make_dataset(images, labels, 4, shuffle=False, seed=1)
    assert _rows(ds) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(ds))
    assert x.dtype == tf.uint8 and y.dtype == tf.int32  # the model casts (one cast, in its compute dtype)
    assert x.shape[1:] == (4, 4, 3) and ds.element_spec[0].shape.as_list() == [None, 4, 4, 3]


@pytest.mark.parametrize(("dtype", "expected"), [("float32", "float32"), ("float64", "float32"),
                                                 ("uint16", "float32")])
def test_other_arrays_come_out_float32(dtype: str, expected: str) -> None:
    images, labels = _arrays(6)
    x, _ = next(iter(make_dataset(images.astype(dtype), labels, 4, shuffle=False, seed=1)))
    assert x.dtype == tf.as_dtype(expected)
    assert [int(v) for v in x[:, 0, 0, 0].numpy()] == [0, 1, 2, 3]


def test_training_batches_cover_every_row_once_and_reshuffle_each_epoch() -> None:
    images, labels = _arrays(50)
    ds = make_dataset(images, labels, 8, shuffle=True, seed=3)
    first, second = _rows(ds), _rows(ds)
    assert sorted(sum(first, [])) == list(range(50)) == sorted(sum(second, []))
    assert first != second
    for x, y in ds:  # labels stay with their images
        np.testing.assert_array_equal(x[:, 0, 0, 0].numpy().astype(int) % 3, y.numpy())
    assert _rows(make_dataset(images, labels, 8, shuffle=True, seed=3)) == first  # same seed, same order


def test_feeds_from_the_memory_mapped_cache(tmp_path, image_files) -> None:
    arrays, _ = cache.load_files({"train": image_files[:4], "validation": image_files[4:5],
                                  "test": image_files[5:]}, (8, 6), 3, tmp_path / "c")
    data = PreparedData("tiny", ("a", "b"), arrays)
    feeds = make_datasets(tf_backend.BACKEND, data, batch_size=3, seed=1)
    assert set(feeds) == {"train", "validation", "test"}
    assert sorted(sum(_rows(feeds["train"]), [])) == [0, 10, 20, 30]
    assert _rows(feeds["test"]) == [[50]]


def test_trains_a_keras_model() -> None:
    import keras

    images, labels = _arrays(12)
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(make_dataset(images, labels, 4, shuffle=True, seed=1), epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2


def test_autotuning_is_off_and_gathers_scale_with_cores(monkeypatch) -> None:
    """With tf.data's autotuner on, long stretches of training ran at half speed on 2 cores (see the feed's
    docstring): the feed uses fixed parallelism instead."""
    from harness import system
    from harness.backends import feed

    images, labels = _arrays(8)
    ds = make_dataset(images, labels, 4, shuffle=True, seed=1)
    assert ds.options().autotune.enabled is False
    for cores, expected in ((1, 2), (2, 2), (4, 2), (16, 8), (96, 8)):
        monkeypatch.setattr(system, "usable_cores", lambda cores=cores: cores)
        assert feed.parallel_gathers() == expected
