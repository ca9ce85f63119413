"""The augmentations plugin: every augmentation keeps the shape and the 0-255 range, and is off at inference."""

from __future__ import annotations

import numpy as np
import pytest
from harness_vision import augmentations

from harness import UsageError

SPECS = {spec.name: spec for spec in augmentations.harness_augmentations_register(config=None)}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, size=(4, 24, 20, 3)).astype("float32")


def to_numpy(tensor) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(tensor)


def build(name: str, **params):
    spec = SPECS[name]
    return spec.factory({**spec.params, **params})


def test_every_study_augmentation_is_registered():
    assert {"flip", "rotate", "flip_rotate", "zoom", "translate", "contrast"} <= set(SPECS)
    assert all(spec.description and "\n" not in spec.description for spec in SPECS.values())


@pytest.mark.parametrize("name", sorted(SPECS))
def test_augmentation_keeps_shape_and_range_in_training(name, images):
    out = to_numpy(build(name, seed=3)(images, training=True))

    assert out.shape == images.shape
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3
    assert not np.allclose(out, images)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_augmentation_is_identity_at_inference(name, images):
    np.testing.assert_array_equal(to_numpy(build(name)(images, training=False)), images)


def test_seed_makes_an_augmentation_repeatable(images):
    first = to_numpy(build("flip_rotate", seed=7)(images, training=True))
    second = to_numpy(build("flip_rotate", seed=7)(images, training=True))

    np.testing.assert_allclose(first, second)


def test_flip_rotate_is_the_studys_flip_then_rotation():
    layers = build("flip_rotate", factor=0.3).layers

    assert [type(layer).__name__ for layer in layers] == ["RandomFlip", "RandomRotation"]
    assert layers[0].mode == "horizontal" and layers[1].factor == (-0.3, 0.3)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("rotate", {"factr": 0.3}, "augmentation rotate: unknown parameter factr"),
        ("rotate", {"factor": 2}, "factor=2 is invalid"),
        ("zoom", {"factor": "big"}, "factor='big' is invalid"),
        ("flip", {"mode": "diagonal"}, "mode='diagonal' is invalid: expected one of horizontal"),
        ("translate", {"fill_mode": "mirror"}, "fill_mode='mirror' is invalid"),
        ("contrast", {"seed": -1}, "seed=-1 is invalid"),
    ],
)
def test_bad_params_are_one_line_usage_errors(name, params, message):
    with pytest.raises(UsageError, match=message):
        build(name, **params)
