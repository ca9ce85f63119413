"""Tiny generated image files for the data-layer tests (never the real data set)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_image(path: Path, value: int, size: tuple[int, int] = (12, 10), mode: str = "RGB") -> Path:
    """A flat image of ``value`` (width, height = ``size``) in the format of ``path``'s suffix."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8)
    if mode == "RGBA":
        array[..., 3] = 255
    Image.fromarray(array.squeeze(-1) if channels == 1 else array, mode=mode).save(path)
    return path


@pytest.fixture
def make_image():
    """:func:`write_image`, for tests that draw their own files."""
    return write_image


@pytest.fixture
def image_files(tmp_path: Path) -> list[tuple[str, int]]:
    """Six PNG files, labels 0 and 1, pixel value 10 * index."""
    return [(str(write_image(tmp_path / "img" / f"{i}.png", 10 * i)), i % 2) for i in range(6)]
