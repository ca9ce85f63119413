"""The built-in ``synthetic`` dataset: shapes drawn from a seed, learnable in a few steps, no download."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import harness
from harness.data.sources import ImageArrays
from harness.specs import DatasetRequest, DatasetSpec

SHAPES = ("disc", "square", "cross", "ring", "hbar", "vbar", "diamond", "corner")


def _mask(shape: str, size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    if shape == "disc":
        return dy**2 + dx**2 <= radius**2
    if shape == "square":
        return (np.abs(dy) <= radius) & (np.abs(dx) <= radius)
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
    return (dy >= 0) & (dx >= 0) & (dy <= radius) & (dx <= radius)


def render(label: int, num_classes: int, size: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """One image of class ``label``: its shape, tinted with its colour, on a noisy background."""
    image = rng.normal(90.0, 25.0, size=(size, size, channels))
    radius = rng.uniform(0.18, 0.32) * size
    cy, cx = rng.uniform(radius, size - radius, size=2)
    mask = _mask(SHAPES[label % len(SHAPES)], size, cy, cx, radius)
    hue = np.full(channels, 200.0)
    if channels == 3:
        hue = 120.0 + 120.0 * np.array([np.cos(2 * np.pi * (label / num_classes + k / 3)) for k in range(3)])
    image[mask] = hue + rng.normal(0.0, 15.0, size=(int(mask.sum()), channels))
    return np.clip(image, 0, 255).astype(np.uint8)


def generate(n_per_class: int, num_classes: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), n_per_class)
    rng.shuffle(labels)
    images = np.stack([render(int(label), num_classes, size, channels, rng) for label in labels])
    return images, labels


def load(request: DatasetRequest) -> ImageArrays:
    params: Mapping[str, Any] = request.params
    num_classes = int(params["num_classes"])
    if not 2 <= num_classes <= len(SHAPES):
        raise harness.UsageError(f"synthetic.num_classes must be between 2 and {len(SHAPES)}, got {num_classes}")
    size, channels, seed = request.image_size[0], request.channels, int(params["seed"])
    if request.image_size[0] != request.image_size[1]:
        raise harness.UsageError(f"synthetic.image_size must be square, got {list(request.image_size)}")
    splits = {
        name: generate(int(params[f"{name}_per_class"]), num_classes, size, channels, seed + offset)
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
        description="shapes tinted by class on noise, generated from a seed (no download)",
        image_size=(size, size),
        channels=channels,
        params={"num_classes": num_classes, "seed": 0,
                "train_per_class": 96, "validation_per_class": 32, "test_per_class": 64},
    )


@harness.hookimpl
def harness_datasets_register(config: Any) -> list[DatasetSpec]:
    return [synthetic_spec()]
