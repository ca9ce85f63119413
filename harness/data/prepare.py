"""From a dataset spec to decoded, split arrays and the label-frequency baseline."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from harness.data import cache
from harness.data.names import shown
from harness.data.sources import ImageArrays, ImageFiles, SplitFractions
from harness.data.splits import carved_test, held_count, stratified_holdout
from harness.errors import DataError
from harness.specs import DatasetRequest, DatasetSpec

SPLITS = ("train", "validation", "test")
Arrays = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class PreparedData:
    """A dataset ready to train on: ``uint8`` images and integer labels for each split, and each image's id."""

    name: str
    class_names: tuple[str, ...]
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    #: Recorded with every result: counts, skipped files, split digest, baseline.
    info: dict[str, Any] = field(default_factory=dict)
    #: Each split's image ids, row for row with its arrays: a file's path relative to the dataset's root
    #: (:func:`file_ids`), or an in-memory image's row in the array it came from (:func:`_split_arrays`).
    #: What a task's per-image predictions are keyed by (:mod:`harness.predictions`).
    ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.arrays["train"][0].shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def label_baseline(train_labels: np.ndarray, eval_labels: np.ndarray) -> tuple[int, float]:
    """The most frequent training class (lowest label on ties) and the accuracy of always guessing it."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64))
    majority = int(np.argmax(counts))
    if len(eval_labels) == 0:
        return majority, float("nan")
    return majority, float(np.mean(np.asarray(eval_labels) == majority))


def _split_files(source: ImageFiles, seed: int) -> dict[str, list[tuple[str, int]]]:
    splits: dict[str, list[tuple[str, int]]] = {"train": list(source.train)}
    fractions = source.fractions
    if source.validation is None:
        rest, held = stratified_holdout(
            splits["train"], [label for _, label in splits["train"]], fractions.validation + fractions.test, seed
        )
        share = fractions.test / (fractions.validation + fractions.test) if held else 0.0
        validation, test = stratified_holdout(held, [label for _, label in held], share, seed + 1)
        splits.update(train=rest, validation=validation, test=test)
    elif source.test is None:
        validation = list(source.validation)
        labels = [label for _, label in validation]
        kept, test = stratified_holdout(validation, labels, fractions.test_from_validation, seed)
        splits.update(validation=kept, test=test)
    else:
        splits.update(validation=list(source.validation), test=list(source.test))
    return splits


#: A split of in-memory arrays: the source's pair of arrays it comes from, and the rows of that pair it takes
#: (``None``: all of them, in order, without a copy).
ArraySplit = tuple[tuple[Any, Any], list[int] | None]


def _array_splits(source: ImageArrays, seed: int) -> dict[str, ArraySplit]:
    """Where each split of in-memory arrays comes from: the source's split it is (or is carved from) and the
    rows it takes, in the order :func:`stratified_holdout` gives them."""
    train = (np.asarray(source.train[0]), np.asarray(source.train[1]))
    fractions = source.fractions
    if source.validation is None:
        y_train = train[1]
        idx = list(range(len(y_train)))
        rest, held = stratified_holdout(idx, y_train.tolist(), fractions.validation + fractions.test, seed)
        share = fractions.test / (fractions.validation + fractions.test) if held else 0.0
        validation, test = stratified_holdout(held, y_train[held].tolist(), share, seed + 1)
        return {"train": (train, rest), "validation": (train, validation), "test": (train, test)}
    val = (np.asarray(source.validation[0]), np.asarray(source.validation[1]))
    if source.test is None:
        idx = list(range(len(val[1])))
        kept, test = stratified_holdout(idx, val[1].tolist(), fractions.test_from_validation, seed)
        return {"train": (train, None), "validation": (val, kept), "test": (val, test)}
    test_pair = (np.asarray(source.test[0]), np.asarray(source.test[1]))
    return {"train": (train, None), "validation": (val, None), "test": (test_pair, None)}


def _split_arrays(source: ImageArrays, seed: int) -> tuple[Arrays, dict[str, list[str]]]:
    """Each split's images and labels, and their ids: each image's row in the source's array it comes from
    (the split it was carved from), so that the same split seed gives the same ids."""
    arrays: Arrays = {}
    ids: dict[str, list[str]] = {}
    for split, ((x, y), rows) in _array_splits(source, seed).items():
        if rows is None:
            arrays[split], ids[split] = (x, y), [str(i) for i in range(len(y))]
        else:
            arrays[split], ids[split] = (x[rows], y[rows]), [str(i) for i in rows]
    return arrays, ids


def file_ids(source: ImageFiles, files: dict[str, list[tuple[str, int]]]) -> dict[str, list[str]]:
    """Each file's id: its path relative to the dataset's ``root`` (relative to the folder that holds them
    all when some lie outside it, or the dataset names no root), with ``/`` between folders, as text any
    file takes (:func:`harness.data.names.shown`): the same on every machine that has the same folder."""
    paths = {split: [os.path.abspath(path) for path, _ in items] for split, items in files.items()}
    everything = [path for items in paths.values() for path in items]
    base = os.path.abspath(source.root) if source.root else ""
    if not base or any(os.path.commonpath([base, path]) != base for path in everything):
        base = os.path.commonpath([os.path.dirname(path) for path in everything]) if everything else ""
    return {split: [shown(os.path.relpath(path, base)).replace(os.sep, "/") for path in items]
            for split, items in paths.items()}


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check(spec: DatasetSpec, source: ImageFiles | ImageArrays, arrays: Arrays) -> None:
    n_classes = len(source.class_names)
    if n_classes < 2:
        where = source.root or "in memory"
        raise DataError(f"dataset {spec.name!r}: needs at least 2 classes, found {n_classes} ({where})")
    for split in SPLITS:
        x, y = arrays[split]
        if len(y) == 0:
            raise DataError(f"dataset {spec.name!r}: the {split} split is empty ({source.root or 'in memory'})"
                            + _why_empty(spec, source, split))
        if x.dtype != np.uint8 or x.ndim != 4:
            raise DataError(
                f"dataset {spec.name!r}: {split} images must be uint8 (N, H, W, C), got {x.dtype} {x.shape}"
            )
        if y.min() < 0 or y.max() >= n_classes:
            raise DataError(f"dataset {spec.name!r}: {split} labels must be in 0..{n_classes - 1}")


#: A class with fewer test images than this gets a warning: its accuracy is mostly noise.
FEW_TEST_IMAGES = 5
#: The dataset parameters (``image_folder``'s) that set each of :class:`SplitFractions`' fractions.
FRACTION_PARAMS = {"validation": "validation_fraction", "test": "test_fraction",
                   "test_from_validation": "test_from_validation"}


def _carved_from(source: ImageFiles | ImageArrays) -> tuple[str, list[int]] | None:
    """The split the missing ones are carved from (``train`` or ``validation``) and its class sizes, smallest
    first; ``None`` when the dataset gives all three."""
    if source.validation is None:
        kind, pool = "train", source.train
    elif source.test is None:
        kind, pool = "validation", source.validation
    else:
        return None
    labels = [label for _, label in pool] if isinstance(source, ImageFiles) else np.asarray(pool[1]).tolist()
    return kind, sorted(Counter(int(label) for label in labels).values())


def _carved(kind: str, members: int, fractions: SplitFractions) -> dict[str, int]:
    """Images of one class of ``members`` that each carved split receives."""
    if kind == "train":
        validation, test = carved_test(members, fractions.validation, fractions.test)
        return {"validation": validation, "test": test}
    return {"test": held_count(members, fractions.test_from_validation)}


def _remedy(spec: DatasetSpec, kind: str, sizes: list[int], fractions: SplitFractions, split: str) -> str:
    """The smallest fraction (in hundredths) that gives every class at least one image in each carved split,
    as the ``--set`` that makes it, or what else to do."""
    name = "test_from_validation" if kind == "validation" else split
    param = FRACTION_PARAMS[name]
    for hundredths in range(int(getattr(fractions, name) * 100) + 1, 100):
        try:
            trial = replace(fractions, **{name: hundredths / 100})
        except ValueError:  # the fractions would leave no training images
            break
        if all(min(_carved(kind, members, trial).values()) >= 1 for members in sizes):
            given = f"--set {spec.name}.{param}={hundredths / 100:g}" if param in spec.params else \
                f"a {name} fraction of {hundredths / 100:g}"
            return f"; hold out more: {given}, or give {split} files of its own"
    return (f"; no {param} alone gives each class an image in every split: raise the fractions together, or "
            f"give {split} files of its own")


def _share(fractions: SplitFractions, split: str) -> float:
    held = fractions.validation + fractions.test
    return (fractions.test if split == "test" else fractions.validation) / held if held else 0.0


def _why_empty(spec: DatasetSpec, source: ImageFiles | ImageArrays, split: str) -> str:
    """Why a carved split came out empty: each class's share is rounded to whole images."""
    carved = _carved_from(source)
    if carved is None or split == "train":
        return ""
    kind, sizes = carved
    fractions, smallest = source.fractions, sizes[0]
    got = _carved(kind, smallest, fractions).get(split, 0)
    if kind == "train":
        held = held_count(smallest, fractions.validation + fractions.test)
        how = (f"per class, validation + test ({fractions.validation:g} + {fractions.test:g}) of {smallest} images "
               f"rounds to {held} held out, and the {split}'s share of those "
               f"({_share(fractions, split):.2g}) to {got}")
    else:
        how = f"per class, test_from_validation {fractions.test_from_validation:g} of {smallest} images rounds to {got}"
    return (f": it is carved from the {kind} files ({len(sizes)} classes of {smallest}"
            f"{f'..{sizes[-1]}' if sizes[-1] != smallest else ''} images), and {how}"
            + _remedy(spec, kind, sizes, fractions, split))


def _few_test_images(spec: DatasetSpec, class_names: tuple[str, ...], test_labels: np.ndarray) -> list[str]:
    """A warning when classes have fewer than :data:`FEW_TEST_IMAGES` test images."""
    counts = Counter(np.asarray(test_labels).tolist())
    few = sorted((counts.get(label, 0), name) for label, name in enumerate(class_names)
                 if counts.get(label, 0) < FEW_TEST_IMAGES)
    if not few:
        return []
    param = f"--set {spec.name}.test_fraction=..." if "test_fraction" in spec.params else "more test images"
    return [f"dataset {spec.name!r}: {len(few)} of {len(class_names)} classes have fewer than {FEW_TEST_IMAGES} "
            f"test images (fewest: {few[0][0]}, {few[0][1]!r}): their test accuracy is mostly chance; hold out "
            f"more ({param})"]


def _info(spec: DatasetSpec, source: ImageFiles | ImageArrays, arrays: Arrays,
          split_digest: str, skipped: list[dict[str, str]], seed: int) -> dict[str, Any]:
    majority, test_baseline = label_baseline(arrays["train"][1], arrays["test"][1])
    _, val_baseline = label_baseline(arrays["train"][1], arrays["validation"][1])
    counts = {
        split: {source.class_names[k]: int(v) for k, v in sorted(Counter(arrays[split][1].tolist()).items())}
        for split in SPLITS
    }
    return {
        "dataset": spec.name,
        "class_names": list(source.class_names),
        "image_shape": list(arrays["train"][0].shape[1:]),
        "root": source.root,
        "split_seed": seed,
        "split_digest": split_digest,
        "class_counts": counts,
        "sizes": {split: int(len(arrays[split][1])) for split in SPLITS},
        "majority_class": source.class_names[majority],
        "baseline_accuracy": test_baseline,
        "baseline_val_accuracy": val_baseline,
        "skipped_files": skipped,
        "source_info": dict(source.info),
        "warnings": _few_test_images(spec, tuple(source.class_names), arrays["test"][1]),
    }


_MEMO: dict[str, PreparedData] = {}
#: Datasets that failed in this process, with their error message (see :func:`prepare`).
_FAILED: dict[str, tuple[type[DataError], tuple[Any, ...]]] = {}


def _files_digest(files: dict[str, list[tuple[str, int]]]) -> str:
    return _digest({k: [list(item) for item in v] for k, v in files.items()})


def _arrays_digest(arrays: Arrays) -> str:
    return _digest({k: hashlib.sha256(np.ascontiguousarray(v[1]).tobytes()).hexdigest() for k, v in arrays.items()})


def _source(spec: DatasetSpec, request: DatasetRequest) -> ImageFiles | ImageArrays:
    source = spec.factory(request)
    if not isinstance(source, (ImageFiles, ImageArrays)):
        raise DataError(
            f"dataset {spec.name!r} (plugin {spec.plugin!r}): factory returned {type(source).__name__}, "
            "expected ImageFiles or ImageArrays"
        )
    return source


def split_digest(spec: DatasetSpec, request: DatasetRequest, *, split_seed: int) -> str:
    """The digest of the dataset's splits (file paths and labels, or the labels of in-memory arrays) that
    :func:`prepare` records, computed without decoding anything: what a run's driver sends with its tasks so
    that a machine whose files differ refuses to train on them."""
    source = _source(spec, request)
    if isinstance(source, ImageFiles):
        return _files_digest(_split_files(source, split_seed))
    return _arrays_digest(_split_arrays(source, split_seed)[0])


def prepare(spec: DatasetSpec, request: DatasetRequest, *, split_seed: int, progress: Any = None,
            expected_digest: str | None = None) -> PreparedData:
    """Build the dataset's splits, decoded once per image size (in memory and in the on-disk cache).

    With ``expected_digest`` (:func:`split_digest` computed where the run started), a dataset whose splits
    here give another digest is a :class:`DataError`: this machine has other files than the run's.

    A dataset that fails with a :class:`DataError` (a download that cannot work, a missing folder) fails once
    per process: the later tasks of the same dataset get the same error without trying again."""
    factory = f"{getattr(spec.factory, '__module__', '')}.{getattr(spec.factory, '__qualname__', spec.factory)}"
    memo_key = _digest([spec.name, factory, dict(spec.params), list(spec.image_size), spec.channels, split_seed,
                        request.data_dir])
    if memo_key in _FAILED:  # the same error, not a second download that cannot work either
        raise _again(*_FAILED[memo_key])
    data = _MEMO.get(memo_key)
    if data is None:
        try:
            data = _MEMO[memo_key] = _prepare(spec, request, split_seed, progress)
        except DataError as exc:
            _FAILED[memo_key] = (type(exc), exc.args)
            raise
    if expected_digest is not None and data.info["split_digest"] != expected_digest:
        raise DataError(
            f"dataset {spec.name!r}: the files on {socket.gethostname()} ({data.info['root'] or 'in memory'}) "
            f"give split digest {data.info['split_digest']}, the run expects {expected_digest}: this machine "
            "has other data than the machine that started the run (check --data-dir on every node)"
        )
    return data


def _prepare(spec: DatasetSpec, request: DatasetRequest, split_seed: int, progress: Any) -> PreparedData:
    source = _source(spec, request)
    if isinstance(source, ImageFiles):
        files = _split_files(source, split_seed)
        digest = _files_digest(files)
        arrays, kept, skipped = cache.load_split_files(files, spec.image_size, spec.channels, request.cache_dir,
                                                       progress=progress, exif_orientation=source.exif_orientation)
        every_id = file_ids(source, files)
        ids = {split: [i for i, ok in zip(every_id[split], kept[split]) if ok] for split in files}
    else:
        arrays, ids = _split_arrays(source, split_seed)
        digest = _arrays_digest(arrays)
        skipped = []
    _check(spec, source, arrays)
    return PreparedData(spec.name, tuple(source.class_names), arrays,
                        _info(spec, source, arrays, digest, skipped, split_seed), ids)


def _again(kind: type[DataError], args: tuple[Any, ...]) -> DataError:
    """A dataset's earlier error, raised again: the same type and message."""
    try:
        return kind(*args)
    except Exception:  # a plugin's DataError with a constructor of its own
        return DataError(*args[:1])


def clear_memo() -> None:
    _MEMO.clear()
    _FAILED.clear()
