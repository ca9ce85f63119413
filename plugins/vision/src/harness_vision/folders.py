"""Listing images stored as one sub-folder per class (``root/<class>/**/<image>``).

Only listing: decoding, and skipping files that turn out not to be images, is the core's job.

Symbolic links are followed only when they lead out of the tree: a link that resolves inside the root (a
duplicate of images listed anyway) or to the root or one of its parents (a cycle) is skipped, with the
reason, so it never becomes an extra class or a second copy of an image. Class names are the folder names,
with bytes that are not UTF-8 shown as ``\\xff`` escapes (the files keep their real paths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import DataError
from harness.data.names import shown

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
    #: Links skipped, with the reason: ``{"file": path, "reason": why}``.
    skipped_links: tuple[dict[str, str], ...] = ()

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.images))


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_image_name(name: str) -> bool:
    """Whether a file name has one of :data:`IMAGE_EXTENSIONS` and is not hidden."""
    return not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS)


def link_problem(path: str | os.PathLike[str], root: Path) -> str | None:
    """Why the link ``path`` must be skipped (it resolves inside ``root``, or to it or a parent: a cycle), or
    ``None`` when ``path`` is no link or leads out of the tree."""
    if not os.path.islink(path):
        return None
    target, tree = Path(path).resolve(), root.resolve()
    if target == tree or target in tree.parents:
        return f"link to {shown(str(target))}, the dataset folder or a parent of it (a cycle)"
    if tree in target.parents:
        return f"link to {shown(str(target))} inside the dataset folder (a duplicate)"
    return None


def images_under(folder: Path, root: Path | None = None) -> tuple[list[str], int, list[dict[str, str]]]:
    """Image files under ``folder`` (recursively, sorted, hidden entries skipped), the count of other files,
    and the links skipped as leading back into ``root`` (default ``folder``)."""
    images, ignored, links = [], 0, []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames if not _is_hidden(name))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not is_image_name(name):
                ignored += not _is_hidden(name)
            elif (problem := link_problem(path, root or folder)) is not None:
                links.append({"file": shown(path), "reason": problem})
            else:
                images.append(path)
    return images, ignored, links


def _class_dirs(root: Path) -> tuple[list[Path], list[dict[str, str]]]:
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"image folder {root} is not a directory")
    dirs, links = [], []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or _is_hidden(entry.name):
            continue
        problem = link_problem(entry, root)
        if problem is None:
            dirs.append(entry)
        else:
            links.append({"file": shown(str(entry)), "reason": problem})
    if not dirs:
        raise DataError(f"image folder {root} has no class folders (expected one sub-folder per class)")
    if len(dirs) == 1:
        raise DataError(f"image folder {root} has a single class folder {dirs[0].name!r}: at least two are needed")
    return dirs, links


def scan(root: str | os.PathLike[str]) -> ClassFolders:
    """List ``root``'s class folders and their images; :class:`~harness.DataError` on an unusable layout."""
    root = Path(root).expanduser().absolute()
    class_dirs, links = _class_dirs(root)
    images: dict[str, tuple[str, ...]] = {}
    ignored = sum(1 for entry in root.iterdir() if entry.is_file() and not _is_hidden(entry.name))
    for class_dir in class_dirs:
        files, skipped, class_links = images_under(class_dir, root)
        images[shown(class_dir.name)] = tuple(files)
        ignored += skipped
        links += class_links
    if not any(images.values()):
        raise DataError(f"image folder {root} has no image files ({_EXTENSIONS_TEXT}) in its class folders")
    for name, class_images in images.items():
        if not class_images:
            raise DataError(f"class folder {root / name} has no image files ({_EXTENSIONS_TEXT})")
    return ClassFolders(root, images, ignored, tuple(links))


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


def skipped_links(splits: Mapping[str, ClassFolders]) -> list[dict[str, str]]:
    """The links every split skipped, with their reasons (recorded with the dataset)."""
    return [link for folders in splits.values() for link in folders.skipped_links]
