"""Listing images stored as one sub-folder per class (``root/<class>/**/<image>``).

Only listing: decoding, and skipping files that turn out not to be images, is the core's job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import DataError

#: File name endings listed as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
_EXTENSIONS_TEXT = "/".join(ext[1:] for ext in IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class ClassFolders:
    """The image files of one split, by class name."""

    root: Path
    #: Class name to the sorted absolute paths of its image files.
    images: Mapping[str, tuple[str, ...]]
    #: Files passed over: those without an image extension, and files lying directly in ``root``.
    ignored: int

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.images))


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_image_name(name: str) -> bool:
    """Whether a file name has one of :data:`IMAGE_EXTENSIONS` and is not hidden."""
    return not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS)


def images_under(folder: Path) -> tuple[list[str], int]:
    """Image files under ``folder`` (recursively, sorted, hidden entries skipped) and the count of other files."""
    images, ignored = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames if not _is_hidden(name))
        for name in sorted(filenames):
            if is_image_name(name):
                images.append(os.path.join(dirpath, name))
            elif not _is_hidden(name):
                ignored += 1
    return images, ignored


def _class_dirs(root: Path) -> list[Path]:
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"image folder {root} is not a directory")
    dirs = sorted(entry for entry in root.iterdir() if entry.is_dir() and not _is_hidden(entry.name))
    if not dirs:
        raise DataError(f"image folder {root} has no class folders (expected one sub-folder per class)")
    if len(dirs) == 1:
        raise DataError(f"image folder {root} has a single class folder {dirs[0].name!r}: at least two are needed")
    return dirs


def scan(root: str | os.PathLike[str]) -> ClassFolders:
    """List ``root``'s class folders and their images; :class:`~harness.DataError` on an unusable layout."""
    root = Path(root).expanduser().absolute()
    class_dirs = _class_dirs(root)
    images: dict[str, tuple[str, ...]] = {}
    ignored = sum(1 for entry in root.iterdir() if entry.is_file() and not _is_hidden(entry.name))
    for class_dir in class_dirs:
        files, skipped = images_under(class_dir)
        images[class_dir.name] = tuple(files)
        ignored += skipped
    if not any(images.values()):
        raise DataError(f"image folder {root} has no image files ({_EXTENSIONS_TEXT}) in its class folders")
    for name, class_images in images.items():
        if not class_images:
            raise DataError(f"class folder {root / name} has no image files ({_EXTENSIONS_TEXT})")
    return ClassFolders(root, images, ignored)


def common_classes(splits: Mapping[str, ClassFolders]) -> tuple[str, ...]:
    """The class names shared by every split; :class:`~harness.DataError` when the splits disagree."""
    first, *others = splits.values()
    for folders in others:
        if folders.class_names != first.class_names:
            only_first = sorted(set(first.class_names) - set(folders.class_names)) or ["-"]
            only_other = sorted(set(folders.class_names) - set(first.class_names)) or ["-"]
            raise DataError(
                f"class folders differ between {first.root} and {folders.root}: "
                f"only in the first: {', '.join(only_first)}; only in the second: {', '.join(only_other)}"
            )
    return first.class_names


def labelled(folders: ClassFolders, class_names: tuple[str, ...]) -> list[tuple[str, int]]:
    """``(path, label)`` pairs, the label indexing ``class_names``."""
    return [(path, class_names.index(name)) for name in class_names for path in folders.images[name]]
