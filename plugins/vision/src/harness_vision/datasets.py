"""Datasets: the study's ``cats_and_dogs`` and ``image_folder`` for any folder of class sub-folders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import DataError, DatasetRequest, DatasetSpec, ImageFiles, SplitFractions, UsageError
from harness_vision import archive, folders
from harness_vision._params import check_known, number, text

if TYPE_CHECKING:
    from harness import Config

CATS_AND_DOGS_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"
#: Expected sha256 of the archive; ``""`` means "not checked" (the digest found is recorded in the results).
CATS_AND_DOGS_SHA256 = ""
#: What the ``sha256`` parameter may be: 64 hex digits, or empty.
SHA256_PATTERN = re.compile(r"([0-9a-fA-F]{64})?")
#: The folder inside the archive, and the name of a local copy under ``--data-dir``.
CATS_AND_DOGS_FOLDER = "cats_and_dogs_filtered"

#: Fractions of ``image_folder`` and their defaults (see :class:`~harness.data.sources.SplitFractions`).
FRACTION_PARAMS = {"validation_fraction": 0.2, "test_fraction": 0.1, "test_from_validation": 0.2}
#: The decoding option of both datasets, with its default: apply each image's EXIF orientation (see
#: :attr:`~harness.data.sources.ImageFiles.exif_orientation`). Optional parameters: a task that does not set
#: it keeps the configuration hash it had before the option existed.
DECODE_PARAMS = {"exif_orientation": True}
DECODE_DESCRIPTIONS = {"exif_orientation": "turn photos upright by their EXIF orientation, as image viewers do "
                                           "(false: pixels as stored, as Keras's image_dataset_from_directory)"}
#: Where ``image_folder`` finds its images: ``path`` alone, or ``train`` with ``validation`` (and ``test``).
SOURCE_PARAMS = ("path", "train", "validation", "test")


# -------------------------------------------------------------------------------------------------
# cats_and_dogs
# -------------------------------------------------------------------------------------------------


def _exif_orientation(params: Mapping[str, Any], owner: str) -> bool:
    """The ``exif_orientation`` parameter: true or false (``--set NAME.exif_orientation=false``)."""
    value = params.get("exif_orientation", True)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise UsageError(f"{owner}: parameter exif_orientation={value!r} is invalid: expected true or false")
    return value


def _local_copy(data_dir: str | None) -> Path | None:
    """``DATA_DIR/cats_and_dogs_filtered`` when it exists, or ``DATA_DIR`` itself when it is that folder (it
    has ``train/`` and ``validation/``: the user gave the folder rather than its parent)."""
    if data_dir is None:
        return None
    given = Path(data_dir).expanduser().absolute()
    if (given / CATS_AND_DOGS_FOLDER).is_dir():
        return given / CATS_AND_DOGS_FOLDER
    if (given / "train").is_dir() and (given / "validation").is_dir():
        return given
    return None


def _not_found(data_dir: str | None) -> str:
    """Where a local copy was looked for, and how to give one: the end of a failed download's message."""
    if data_dir is None:
        looked = "no --data-dir given (nor HARNESS_DATA_DIR)"
    else:
        looked = f"no local copy in {Path(data_dir).expanduser().absolute() / CATS_AND_DOGS_FOLDER}"
    return (f"{looked}; download and unzip the archive, then pass --data-dir DIR where "
            f"DIR/{CATS_AND_DOGS_FOLDER}/ exists")


def _downloaded_copy(params: Mapping[str, Any], cache_dir: str) -> tuple[Path, dict[str, Any]]:
    """Download (or reuse) the archive, extract it next to itself, and return the dataset folder. A cached
    archive that turns out damaged is fetched once more; a fresh one that is damaged is an error."""
    url = text(params, "url", "cats_and_dogs")
    expected = params["sha256"]
    if not isinstance(expected, str) or not SHA256_PATTERN.fullmatch(expected):
        raise UsageError(f"cats_and_dogs: parameter sha256={expected!r} is invalid: expected 64 hex digits or ''")
    try:
        path, digest, extracted = _fetch_and_extract(url, expected.lower() or None, cache_dir)
    except archive.DamagedArchive:
        path, digest, extracted = _fetch_and_extract(url, expected.lower() or None, cache_dir)
    root = extracted / CATS_AND_DOGS_FOLDER
    if not root.is_dir():
        raise DataError(f"the archive {path} (from {url}) has no {CATS_AND_DOGS_FOLDER}/ folder")
    return root, {"source": "download", "url": url, "sha256": digest}


def _fetch_and_extract(url: str, sha256: str | None, cache_dir: str) -> tuple[Path, str, Path]:
    path = archive.download(url, sha256, cache_dir)
    digest = archive.sha256_of(path)
    return path, digest, archive.extract_zip(path, path.parent / f"{CATS_AND_DOGS_FOLDER}-{digest[:12]}")


def cats_and_dogs(request: DatasetRequest) -> ImageFiles:
    """The 2,000 + 1,000 images of the study, from ``--data-dir`` if a copy is there (``DATA_DIR/cats_and_dogs_
    filtered/``, or that folder given itself), else downloaded; a download that fails says where a copy was
    looked for and how to give one."""
    check_known(request.params, ("url", "sha256", *DECODE_PARAMS), "cats_and_dogs")
    root = _local_copy(request.data_dir)
    info: dict[str, Any] = {"source": "local copy"}
    if root is None:
        try:
            root, info = _downloaded_copy(request.params, request.cache_dir)
        except archive.DownloadFailed as exc:
            raise archive.DownloadFailed(f"cats_and_dogs: {exc}; {_not_found(request.data_dir)}") from None
    splits = {name: folders.scan(root / name) for name in ("train", "validation")}
    class_names = folders.common_classes(splits)
    return ImageFiles(
        class_names,
        train=folders.labelled(splits["train"], class_names),
        validation=folders.labelled(splits["validation"], class_names),
        root=str(root),
        info={**info, **folders.ignored_info(splits), "skipped_links": folders.skipped_links(splits)},
        exif_orientation=_exif_orientation(request.params, "cats_and_dogs"),
    )


# -------------------------------------------------------------------------------------------------
# image_folder
# -------------------------------------------------------------------------------------------------


def _fractions(params: Mapping[str, Any]) -> SplitFractions:
    values = {key: number(params, key, "image_folder", low=0.0, high=1.0) for key in FRACTION_PARAMS}
    try:
        return SplitFractions(values["validation_fraction"], values["test_fraction"], values["test_from_validation"])
    except ValueError as exc:
        raise UsageError(f"image_folder: {exc}") from None


def _split_folders(params: Mapping[str, Any]) -> dict[str, folders.ClassFolders]:
    """The folders named by the ``path`` or ``train``/``validation``/``test`` parameters, scanned."""
    given = [key for key in SOURCE_PARAMS if key in params]
    if "path" in given and len(given) > 1:
        raise UsageError("image_folder: give either parameter 'path' or 'train'/'validation'/'test', not both")
    if "path" not in given and "train" not in given:
        raise UsageError(
            "image_folder needs parameter 'path' (a folder with one sub-folder per class) "
            "or 'train' (with optional 'validation' and 'test')"
        )
    if "test" in given and "validation" not in given:
        raise UsageError("image_folder: parameter 'test' needs 'validation' too")
    return {("train" if key == "path" else key): folders.scan(text(params, key, "image_folder")) for key in given}


def image_folder(request: DatasetRequest) -> ImageFiles:
    """Images in class sub-folders: one folder split by fractions, or ready-made split folders."""
    params = request.params
    check_known(params, (*FRACTION_PARAMS, *DECODE_PARAMS, *SOURCE_PARAMS), "image_folder")
    fractions = _fractions(params)
    splits = _split_folders(params)
    class_names = folders.common_classes(splits)
    labelled = {name: folders.labelled(split, class_names) for name, split in splits.items()}
    return ImageFiles(
        class_names,
        train=labelled["train"],
        validation=labelled.get("validation"),
        test=labelled.get("test"),
        fractions=fractions,
        root=str(splits["train"].root),
        info={
            "source": "image folder",
            "folders": {name: str(split.root) for name, split in splits.items()},
            **folders.ignored_info(splits),
            "skipped_links": folders.skipped_links(splits),
        },
        exif_orientation=_exif_orientation(params, "image_folder"),
    )


def _is_unconfigured_image_folder(spec: DatasetSpec) -> bool:
    return spec.factory is image_folder and not any(key in spec.params for key in SOURCE_PARAMS)


# -------------------------------------------------------------------------------------------------
# Hooks
# -------------------------------------------------------------------------------------------------


@harness.hookimpl
def harness_datasets_register(config: Config) -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="cats_and_dogs",
            factory=cats_and_dogs,
            description="2,000 training and 1,000 validation photos of cats and dogs (the study's data, 68 MB)",
            tags=frozenset({"download"}),
            params={"url": CATS_AND_DOGS_URL, "sha256": CATS_AND_DOGS_SHA256},
            optional_params=frozenset(DECODE_PARAMS),
            param_descriptions={"url": "where the archive is downloaded from (file:// works)",
                                "sha256": "the archive's expected sha256 ('': not checked, the digest is recorded)",
                                **DECODE_DESCRIPTIONS},
            image_size=(160, 160),
            channels=3,
            num_classes=2,
        ),
        DatasetSpec(
            name="image_folder",
            factory=image_folder,
            description="your images, one sub-folder per class: set 'path' (or 'train'/'validation'/'test')",
            tags=frozenset({"user-data"}),
            params=FRACTION_PARAMS,
            optional_params=frozenset((*SOURCE_PARAMS, *DECODE_PARAMS)),
            param_descriptions={
                "path": "a folder with one sub-folder of images per class, split by the fractions",
                "train": "the training folder (one sub-folder per class), instead of path",
                "validation": "the validation folder, with train",
                "test": "the test folder, with train and validation",
                "validation_fraction": "share of path's images held out for validation",
                "test_fraction": "share of path's images held out for the test",
                "test_from_validation": "share of the validation folder's images that make the test split",
                **DECODE_DESCRIPTIONS,
            },
            image_size=(160, 160),
            channels=3,
        ),
    ]


@harness.hookimpl
def harness_collection_modify(combinations: list[harness.Combination]) -> None:
    """Skip ``image_folder`` itself when no folder was given: it is a template for configured datasets."""
    for combination in combinations:
        if combination.skip_reason is None and _is_unconfigured_image_folder(combination.dataset):
            combination.skip(
                "image_folder needs a folder: --set image_folder.path=DIR, or a [tool.harness.datasets.NAME] "
                "table with plugin = \"image_folder\" and path = DIR"
            )
