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
from typing import Any

from harness import DataError
from harness import display_path as shown

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
    #: The files passed over, with the reason (at most :data:`MAX_LISTED` of them; ``ignored`` counts all).
    ignored_files: tuple[dict[str, str], ...] = ()

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.images))


#: Ignored files listed by name (the record keeps their count whatever their number).
MAX_LISTED = 100


def ignored_reason(name: str, in_root: bool = False) -> str:
    """Why a file is not read as an image: it lies beside the class folders, or its name's ending."""
    if in_root:
        return "not in a class folder"
    ending = os.path.splitext(name)[1].lower() or "no extension"
    return f"not an image name ({ending}): only {_EXTENSIONS_TEXT} files are read"


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


def images_under(folder: Path, root: Path | None = None) -> tuple[list[str], list[dict[str, str]],
                                                                  list[dict[str, str]]]:
    """Image files under ``folder`` (recursively, sorted, hidden entries skipped), the other files with the
    reason they are passed over, and the links skipped as leading back into ``root`` (default ``folder``)."""
    images: list[str] = []
    ignored: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames if not _is_hidden(name))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not is_image_name(name):
                if not _is_hidden(name):
                    ignored.append({"file": shown(path), "reason": ignored_reason(name)})
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
    ignored = [{"file": shown(str(entry)), "reason": ignored_reason(entry.name, in_root=True)}
               for entry in sorted(root.iterdir()) if entry.is_file() and not _is_hidden(entry.name)]
    for class_dir in class_dirs:
        files, passed_over, class_links = images_under(class_dir, root)
        images[shown(class_dir.name)] = tuple(files)
        ignored += passed_over
        links += class_links
    if not any(images.values()):
        raise DataError(f"image folder {root} has no image files ({_EXTENSIONS_TEXT}) in its class folders")
    for name, class_images in images.items():
        if not class_images:
            raise DataError(f"class folder {root / name} has no image files ({_EXTENSIONS_TEXT})")
    return ClassFolders(root, images, len(ignored), tuple(links), tuple(ignored[:MAX_LISTED]))


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


def ignored_info(splits: Mapping[str, ClassFolders]) -> dict[str, Any]:
    """What the dataset records of the files it passed over: ``ignored_files`` (their count, as
    :mod:`harness.record` documents) and ``ignored_list`` (the first :data:`MAX_LISTED`, with reasons)."""
    listed = [entry for folders in splits.values() for entry in folders.ignored_files]
    return {"ignored_files": sum(folders.ignored for folders in splits.values()), "ignored_list": listed[:MAX_LISTED]}


def skipped_links(splits: Mapping[str, ClassFolders]) -> list[dict[str, str]]:
    """The links every split skipped, with their reasons (recorded with the dataset)."""
    return [link for folders in splits.values() for link in folders.skipped_links]
