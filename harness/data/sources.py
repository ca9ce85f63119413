"""What a dataset factory returns: image files with labels, or images already in arrays.

The core makes the splits (deterministic, file-level, from the seed), decodes and caches the images and
feeds them; a dataset plugin only says what there is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: ``(path, label)`` pairs.
Files = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class SplitFractions:
    """How to carve missing splits.

    With no ``validation`` files, ``validation`` and ``test`` fractions of ``train`` are held out; with
    ``validation`` but no ``test`` files, ``test_from_validation`` of the validation files become the
    test split (the study's 20%).
    """

    validation: float = 0.2
    test: float = 0.1
    test_from_validation: float = 0.2

    def __post_init__(self) -> None:
        for name in ("validation", "test", "test_from_validation"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"split fraction {name} must be in [0, 1), got {value!r}")
        if self.validation + self.test >= 1.0:
            raise ValueError("split fractions validation + test must leave some training images")


@dataclass(frozen=True)
class ImageFiles:
    """Image files on disk, with integer labels indexing ``class_names``: what a dataset factory returns to
    have harness split, decode (at the spec's ``image_size`` and ``channels``), cache and feed them.

    A folder per class, split 70/20/10 by harness::

        def load(request: DatasetRequest) -> ImageFiles:
            root = Path(request.params["path"])
            classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
            files = [(str(f), label) for label, name in enumerate(classes)
                     for f in sorted((root / name).glob("*.jpg"))]
            return ImageFiles(class_names=classes, train=files, root=str(root))

    Files that turn out not to be images are skipped, and recorded with the reason.
    """

    #: The class names; a label is an index into them.
    class_names: tuple[str, ...]
    #: ``(path, label)`` pairs to train on (and to carve the missing splits from).
    train: Files
    #: ``(path, label)`` pairs, or ``None``: then ``fractions.validation`` and ``fractions.test`` of ``train``
    #: are held out (stratified, from the run's seed).
    validation: Files | None = None
    #: ``(path, label)`` pairs, or ``None``: then ``fractions.test_from_validation`` of ``validation`` (or
    #: ``fractions.test`` of ``train`` when there is no validation either) becomes the test split.
    test: Files | None = None
    #: How the missing splits are carved (:class:`SplitFractions`).
    fractions: SplitFractions = field(default_factory=SplitFractions)
    #: Where the files are, for messages and the record.
    root: str = ""
    #: Anything the dataset wants recorded with the run (archive checksum, source URL...).
    info: dict[str, Any] = field(default_factory=dict)
    #: Turn each image upright by its EXIF orientation tag, as image viewers do (a phone photo is stored
    #: sideways with orientation 6); ``False`` decodes the pixels as stored, as Keras's own loader does.
    exif_orientation: bool = True


@dataclass(frozen=True)
class ImageArrays:
    """Images already decoded: ``uint8`` arrays of shape ``(N, H, W, C)`` and integer labels ``(N,)``.

    Sizes must match the dataset spec's ``image_size`` and ``channels``.
    """

    class_names: tuple[str, ...]
    train: tuple[Any, Any]
    validation: tuple[Any, Any] | None = None
    test: tuple[Any, Any] | None = None
    fractions: SplitFractions = field(default_factory=SplitFractions)
    root: str = ""
    info: dict[str, Any] = field(default_factory=dict)
