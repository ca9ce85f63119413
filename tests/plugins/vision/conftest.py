"""Helpers for the vision plugin's tests: tiny real image files written with PIL."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

#: A folder layout: class name -> image file names (the extension picks the format).
Layout = Mapping[str, Iterable[str]]


def write_image(path: Path, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    """A real 8x8 image in the format the file name's extension says."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF", ".bmp": "BMP"}[path.suffix.lower()]
    Image.new("RGB", (8, 8), color).save(path, format=fmt)
    return path


def write_classes(root: Path, layout: Layout) -> Path:
    """``root/<class>/<file>`` for each class and file of ``layout``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for class_name, names in layout.items():
        (root / class_name).mkdir(parents=True, exist_ok=True)
        for name in names:
            write_image(root / class_name / name)
    return root


def write_cats_and_dogs(parent: Path, per_class: int = 3) -> Path:
    """A miniature ``cats_and_dogs_filtered/{train,validation}/{cats,dogs}`` under ``parent``."""
    root = parent / "cats_and_dogs_filtered"
    for split in ("train", "validation"):
        write_classes(root / split, {c: [f"{c[:-1]}.{i}.jpg" for i in range(per_class)] for c in ("cats", "dogs")})
    return root


def zip_folder(folder: Path, archive: Path, extra: Mapping[str, bytes] | None = None) -> Path:
    """Zip ``folder`` (members named from its parent, as the real archive is) plus ``extra`` raw members."""
    with zipfile.ZipFile(archive, "w") as stream:
        for path in sorted(folder.rglob("*")):
            stream.write(path, path.relative_to(folder.parent).as_posix())
        for name, data in (extra or {}).items():
            stream.writestr(name, data)
    return archive


@pytest.fixture
def image_tree(tmp_path: Path) -> Callable[[str, Layout], Path]:
    """Write a class-folder tree under ``tmp_path/<name>``."""
    return lambda name, layout: write_classes(tmp_path / name, layout)


@pytest.fixture
def cats_and_dogs_tree() -> Callable[..., Path]:
    """:func:`write_cats_and_dogs`."""
    return write_cats_and_dogs


@pytest.fixture
def make_zip() -> Callable[..., Path]:
    """:func:`zip_folder`."""
    return zip_folder
