"""The built-in ``synthetic`` dataset: shapes drawn from a seed, no download, fast, and not trivial.

Each image is one shape of its class (disc, cross, square, ...), at a random position, size and rotation,
brighter than a background of random level with a gradient and pixel noise, plus a few small distractor
shapes of any class; colour is random and says nothing about the class. So a model must learn shape, not
colour or position: at 32x32 the README's default grid (the small CNN on raw or scaled pixels, with and
without flips and rotations, 5 epochs) lands between the baseline and 1.0, and the models and
augmentations differ.

Parameters: ``num_classes`` (2 to 8), ``seed``, ``noise`` (pixel noise, standard deviation in grey
levels), ``distractors`` (at most this many small shapes per image), ``train_per_class``,
``validation_per_class``, ``test_per_class``, and ``tint_by_class``: tint each shape with its class's
colour, a cue a model learns in a few steps, for quick checks (tests) that need a solvable task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import harness
from harness.data.sources import ImageArrays
from harness.specs import DatasetRequest, DatasetSpec

SHAPES = ("disc", "cross", "square", "ring", "hbar", "vbar", "diamond", "corner")


def _mask(shape: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, radius: float,
          angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    dy, dx = cos * (yy - cy) - sin * (xx - cx), sin * (yy - cy) + cos * (xx - cx)
    if shape == "disc":
        return dy**2 + dx**2 <= radius**2
    if shape == "square":
        return (np.abs(dy) <= 0.85 * radius) & (np.abs(dx) <= 0.85 * radius)
    if shape == "cross":
        thin_y, thin_x = np.abs(dy) <= radius / 3, np.abs(dx) <= radius / 3
        return (thin_y & (np.abs(dx) <= radius)) | (thin_x & (np.abs(dy) <= radius))
    if shape == "ring":
        r2 = dy**2 + dx**2
        return (r2 <= radius**2) & (r2 >= (0.55 * radius) ** 2)
    if shape == "hbar":
        return (np.abs(dy) <= radius / 3) & (np.abs(dx) <= radius)
    if shape == "vbar":
        return (np.abs(dx) <= radius / 3) & (np.abs(dy) <= radius)
    if shape == "diamond":
        return np.abs(dy) + np.abs(dx) <= radius
    return (np.abs(dy) <= radius) & (np.abs(dx) <= radius) & ((dy < 0) | (dx < 0))  # corner: an L


def _class_tint(label: int, num_classes: int, channels: int) -> np.ndarray:
    if channels != 3:
        return np.full(channels, 60.0)
    return 120.0 * np.array([np.cos(2 * np.pi * (label / num_classes + k / 3)) for k in range(3)])


def render(label: int, size: int, channels: int, rng: np.random.Generator, noise: float = 15.0,
           distractors: int = 2, tint: np.ndarray | None = None) -> np.ndarray:
    """One image of class ``label``: its shape, placed, sized and rotated at random, on a noisy background
    with up to ``distractors`` small shapes of any class; the tint is random, not the class's, unless
    ``tint`` gives the class's colour."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    tilt = rng.normal(0.0, 30.0, size=2)
    background = rng.uniform(60.0, 190.0) + tilt[0] * (yy / size - 0.5) + tilt[1] * (xx / size - 0.5)
    image = background[..., None] + rng.normal(0.0, noise, size=(size, size, channels))
    for _ in range(int(rng.integers(0, distractors + 1))):
        radius = rng.uniform(0.06, 0.1) * size
        cy, cx = rng.uniform(radius, size - radius, size=2)
        mask = _mask(SHAPES[int(rng.integers(len(SHAPES)))], yy, xx, cy, cx, radius, rng.uniform(0.0, np.pi))
        image[mask] += rng.choice([-1.0, 1.0]) * rng.uniform(30.0, 70.0)
    radius = rng.uniform(0.22, 0.34) * size
    cy, cx = rng.uniform(radius, size - radius, size=2)
    mask = _mask(SHAPES[label % len(SHAPES)], yy, xx, cy, cx, radius, rng.uniform(0.0, 2 * np.pi))
    colour = 20.0 * rng.uniform(-1.0, 1.0, size=channels) if tint is None else tint
    image[mask] += rng.uniform(50.0, 90.0) + colour
    return np.clip(image, 0, 255).astype(np.uint8)


def generate(n_per_class: int, num_classes: int, size: int, channels: int, seed: int, noise: float = 15.0,
             distractors: int = 2, tint_by_class: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), n_per_class)
    rng.shuffle(labels)
    images = np.stack([render(int(label), size, channels, rng, noise, distractors,
                              _class_tint(int(label), num_classes, channels) if tint_by_class else None)
                       for label in labels])
    return images, labels
def load(request: DatasetRequest) -> ImageArrays:
    params: Mapping[str, Any] = request.params
    num_classes = int(params["num_classes"])
    if not 2 <= num_classes <= len(SHAPES):
        raise harness.UsageError(f"synthetic.num_classes must be between 2 and {len(SHAPES)}, got {num_classes}")
    size, channels, seed = request.image_size[0], request.channels, int(params["seed"])
    if request.image_size[0] != request.image_size[1]:
        raise harness.UsageError(f"synthetic.image_size must be square, got {list(request.image_size)}")
    noise, distractors = float(params.get("noise", 15.0)), int(params.get("distractors", 2))
    if noise < 0 or distractors < 0:
        raise harness.UsageError(f"synthetic.noise and synthetic.distractors must be >= 0, got {noise}, {distractors}")
    splits = {
        name: generate(int(params[f"{name}_per_class"]), num_classes, size, channels, seed + offset, noise,
                       distractors, bool(params.get("tint_by_class", False)))
        for offset, name in enumerate(("train", "validation", "test"))
    }
    return ImageArrays(
        class_names=tuple(SHAPES[:num_classes]),
        train=splits["train"], validation=splits["validation"], test=splits["test"],
        root="synthetic", info={"generator": "harness.builtin.synthetic", "seed": seed},
    )


def synthetic_spec(size: int = 32, channels: int = 3, num_classes: int = 2) -> DatasetSpec:
    return DatasetSpec(
        name="synthetic",
        factory=load,
        description="a shape per class (random place, size, rotation, tint) among distractors on noise, "
                    "generated from a seed (no download)",
        image_size=(size, size),
        channels=channels,
        params={"num_classes": num_classes, "seed": 0, "noise": 15.0, "distractors": 2, "tint_by_class": False,
                "train_per_class": 300, "validation_per_class": 50, "test_per_class": 200},
        param_descriptions={
            "num_classes": "shapes to tell apart (2 to 8)",
            "seed": "the generator's seed: the same seed, the same images",
            "noise": "standard deviation of the pixel noise (0-255 scale)",
            "distractors": "shapes of other classes drawn around the one to find",
            "tint_by_class": "give each class its own colour (then colour alone tells them apart)",
            "train_per_class": "training images per class",
            "validation_per_class": "validation images per class",
            "test_per_class": "test images per class",
        },
    )


@harness.hookimpl
def harness_datasets_register(config: Any) -> list[DatasetSpec]:
    return [synthetic_spec()]
