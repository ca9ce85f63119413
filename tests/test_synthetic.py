"""The built-in ``synthetic`` dataset must not be solvable from colour or position alone (the default grid
used to score 1.000 everywhere): a nearest-centroid classifier on each image's mean colour, or on its raw
pixels, stays near chance, while the same classifier solves it when ``tint_by_class`` gives the cue back."""

from __future__ import annotations

import numpy as np
import pytest

from harness.builtin.synthetic import generate, load, synthetic_spec
from harness.errors import UsageError
from harness.specs import DatasetRequest


def _nearest_centroid(train: np.ndarray, labels: np.ndarray, test: np.ndarray, truth: np.ndarray) -> float:
    centroids = np.stack([train[labels == c].mean(axis=0) for c in np.unique(labels)])
    distances = ((test[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return float((distances.argmin(axis=1) == truth).mean())


def _accuracies(tint_by_class: bool) -> tuple[float, float]:
    x_train, y_train = generate(300, 2, 32, 3, seed=0, tint_by_class=tint_by_class)
    x_test, y_test = generate(200, 2, 32, 3, seed=2, tint_by_class=tint_by_class)
    colour = [x.reshape(len(x), -1, 3).mean(axis=1) for x in (x_train, x_test)]
    pixels = [x.reshape(len(x), -1).astype(np.float64) for x in (x_train, x_test)]
    return (_nearest_centroid(colour[0], y_train, colour[1], y_test),
            _nearest_centroid(pixels[0], y_train, pixels[1], y_test))


def test_colour_and_position_alone_do_not_solve_it() -> None:
    by_colour, by_pixels = _accuracies(tint_by_class=False)
    assert by_colour < 0.6 and by_pixels < 0.6  # 400 test images, baseline 0.5


def test_tint_by_class_gives_the_colour_cue_back() -> None:
    by_colour, by_pixels = _accuracies(tint_by_class=True)
    assert by_colour > 0.85 and by_pixels > 0.85


def test_the_default_dataset_and_its_parameters() -> None:
    spec = synthetic_spec()
    request = DatasetRequest(params=dict(spec.params), data_dir=None, cache_dir="", seed=1,
                             image_size=spec.image_size, channels=spec.channels)
    arrays = load(request)
    assert arrays.class_names == ("disc", "cross")
    assert arrays.test is not None and len(arrays.test[1]) == 400 and arrays.train[0].shape[1:] == (32, 32, 3)
    again = load(request)
    assert np.array_equal(arrays.train[0], again.train[0])  # from the seed alone
    with pytest.raises(UsageError, match="synthetic.noise and synthetic.distractors must be >= 0"):
        load(DatasetRequest(params={**spec.params, "noise": -1}, data_dir=None, cache_dir="", seed=1,
                            image_size=spec.image_size, channels=spec.channels))
