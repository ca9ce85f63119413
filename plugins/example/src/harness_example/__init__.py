"""An example harness plugin: one dataset, one augmentation and one model.

Each ``harness_*_register`` hook returns small spec objects. A spec only *names* a factory; harness calls
the factory when a combination runs, so listing and selecting never import TensorFlow: keep ``import keras``
inside the factories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import harness

CLASS_NAMES = ("dots", "stripes")


# -------------------------------------------------------------------------------------------------
# Dataset: images generated in code, returned as uint8 arrays (harness splits, caches and feeds them)
# -------------------------------------------------------------------------------------------------


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    return rng.normal(110.0, 30.0, size=(*size, 3))


def _stripes(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Horizontal or vertical stripes of a random period, phase and colour."""
    image = _background(rng, size)
    period = int(rng.integers(4, 9))
    axis = int(rng.integers(0, 2))
    on = (np.arange(size[axis]) + rng.integers(0, period)) % period < period // 2
    mask = on[:, None] if axis == 0 else on[None, :]
    image[np.broadcast_to(mask, size)] = rng.uniform(0, 255, size=3)
    return image


def _dots(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A handful of round dots of a random colour."""
    image = _background(rng, size)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    colour = rng.uniform(0, 255, size=3)
    for _ in range(int(rng.integers(5, 11))):
        cy, cx, radius = rng.uniform(0, size[0]), rng.uniform(0, size[1]), rng.uniform(1.5, 3.5)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = colour
    return image


def generate(per_class: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each class (shuffled), ``uint8`` of shape ``(N, H, W, 3)``, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(CLASS_NAMES)), per_class))
    draw = {0: _dots, 1: _stripes}
    images = np.stack([draw[int(label)](rng, size) for label in labels])
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int32)


def stripes_dots(request: harness.DatasetRequest) -> harness.ImageArrays:
    """The dataset factory: harness holds out validation and test images from ``train`` by its fractions."""
    per_class = request.params["per_class"]
    if not isinstance(per_class, int) or per_class < 10:
        raise harness.UsageError(f"stripes_dots: parameter per_class={per_class!r} must be a whole number >= 10")
    images, labels = generate(per_class, request.image_size, int(request.params["seed"]))
    return harness.ImageArrays(CLASS_NAMES, train=(images, labels), root="generated", info={"per_class": per_class})


@harness.hookimpl
def harness_datasets_register(config: Any) -> list[harness.DatasetSpec]:
    return [
        harness.DatasetSpec(
            name="stripes_dots",
            factory=stripes_dots,
            description="generated 32x32 images: stripes or dots (example plugin)",
            image_size=(32, 32),
            channels=3,
            num_classes=2,
            params={"per_class": 100, "seed": 0},
            param_descriptions={"per_class": "images per class (split 70/20/10 by harness)",
                                "seed": "the generator's seed"},
        )
    ]


# -------------------------------------------------------------------------------------------------
# Augmentation: a Keras layer on float pixels in 0-255, active only in training
# -------------------------------------------------------------------------------------------------


def brightness(params: Mapping[str, Any]) -> Any:
    import keras

    return keras.layers.RandomBrightness(float(params["factor"]), value_range=(0, 255))


@harness.hookimpl
def harness_augmentations_register(config: Any) -> list[harness.AugmentationSpec]:
    return [
        harness.AugmentationSpec(
            name="brightness",
            factory=brightness,
            description="random brightness change by up to factor of the range (example plugin)",
            params={"factor": 0.2},
            param_descriptions={"factor": "the largest change, as a fraction of the 0-255 range"},
        )
    ]


# -------------------------------------------------------------------------------------------------
# Model: maps images in its input_range to logits (harness adds augmentation and rescaling in front)
# -------------------------------------------------------------------------------------------------


def tiny_cnn(request: harness.ModelRequest) -> Any:
    import keras
    from keras import layers

    inputs = keras.Input(shape=request.input_shape)
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(request.num_classes)(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@harness.hookimpl
def harness_models_register(config: Any) -> list[harness.ModelSpec]:
    return [
        harness.ModelSpec(
            name="tiny_cnn",
            factory=tiny_cnn,
            description="two 3x3 convolutions and a dense layer (example plugin)",
            input_range="0-1",
            min_image_size=8,
            params={"learning_rate": 3e-3},
        )
    ]
