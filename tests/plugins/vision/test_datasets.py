"""The datasets plugin: ``image_folder`` listing and errors, ``cats_and_dogs`` from a local copy or a download."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
from harness_vision import datasets

from harness import AugmentationSpec, Combination, DataError, DatasetRequest, ModelSpec, UsageError

FRACTIONS = dict(datasets.FRACTION_PARAMS)


def folder_request(tmp_path: Path, **params: Any) -> DatasetRequest:
    return DatasetRequest(params={**FRACTIONS, **params}, data_dir=None, cache_dir=str(tmp_path / "cache"), seed=1)


def cats_request(tmp_path: Path, *, data_dir: Path | None = None, url: str = "", sha256: str = "") -> DatasetRequest:
    url = url or (tmp_path / "missing.zip").as_uri()
    return DatasetRequest(params={"url": url, "sha256": sha256}, data_dir=str(data_dir) if data_dir else None,
                          cache_dir=str(tmp_path / "cache" / "nested"), seed=1)


# -------------------------------------------------------------------------------------------------
# image_folder
# -------------------------------------------------------------------------------------------------


def test_image_folder_lists_images_by_sorted_class(tmp_path, image_tree):
    root = image_tree("flowers", {"tulip": ["a.jpg", "B.PNG"], "daisy": ["c.JPEG", "d.gif", "e.bmp"]})
    (root / "tulip" / "notes.txt").write_text("not an image")
    (root / "tulip" / ".hidden.jpg").write_bytes(b"")
    (root / "README.md").write_text("loose file")
    (root / ".cache").mkdir()
    nested = root / "daisy" / "more"
    nested.mkdir()
    (nested / "f.jpg").write_bytes((root / "tulip" / "a.jpg").read_bytes())

    source = datasets.image_folder(folder_request(tmp_path, path=str(root), validation_fraction=0.3))

    assert source.class_names == ("daisy", "tulip")
    names = [(Path(path).name, label) for path, label in source.train]
    assert names == [("c.JPEG", 0), ("d.gif", 0), ("e.bmp", 0), ("f.jpg", 0), ("B.PNG", 1), ("a.jpg", 1)]
    assert all(Path(path).is_absolute() for path, _ in source.train)
    assert source.validation is None and source.test is None
    assert source.fractions.validation == 0.3
    assert source.info["ignored_files"] == 2
    assert source.root == str(root)


def test_image_folder_split_folders(tmp_path, image_tree):
    layout = {"cat": ["1.jpg"], "dog": ["2.jpg"]}
    train, validation, test = (image_tree(name, layout) for name in ("train", "val", "test"))

    source = datasets.image_folder(
        folder_request(tmp_path, train=str(train), validation=str(validation), test=str(test))
    )

    assert source.class_names == ("cat", "dog")
    assert [label for _, label in source.validation] == [0, 1]
    assert source.test is not None and Path(source.test[0][0]).parent.parent == test
    assert source.info["folders"] == {"train": str(train), "validation": str(validation), "test": str(test)}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (None, "does not exist"),
        ({}, "has no class folders"),
        ({"only": ["a.jpg"]}, "has a single class folder 'only'"),
        ({"a": [], "b": []}, "has no image files (jpg/jpeg/png/gif/bmp) in its class folders"),
        ({"a": ["x.jpg"], "b": []}, "class folder"),
    ],
    ids=["missing", "no-classes", "single-class", "no-images", "empty-class"],
)
def test_image_folder_refuses_unusable_folders(tmp_path, image_tree, layout, message):
    root = tmp_path / "data" if layout is None else image_tree("data", layout)

    with pytest.raises(DataError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")) as info:
        datasets.image_folder(folder_request(tmp_path, path=str(root)))

    assert str(root) in str(info.value) and "\n" not in str(info.value)


def test_image_folder_ignores_other_files_when_counting_images(tmp_path, image_tree):
    root = image_tree("data", {"a": [], "b": []})
    (root / "a" / "labels.csv").write_text("x")

    with pytest.raises(DataError, match="has no image files"):
        datasets.image_folder(folder_request(tmp_path, path=str(root)))


def test_image_folder_refuses_a_file_as_folder(tmp_path):
    path = tmp_path / "file.jpg"
    path.write_bytes(b"")

    with pytest.raises(DataError, match="is not a directory"):
        datasets.image_folder(folder_request(tmp_path, path=str(path)))


def test_image_folder_refuses_mismatched_class_sets(tmp_path, image_tree):
    train = image_tree("train", {"cat": ["1.jpg"], "dog": ["2.jpg"]})
    validation = image_tree("val", {"cat": ["1.jpg"], "fox": ["2.jpg"]})

    with pytest.raises(DataError, match="only in the first: dog; only in the second: fox"):
        datasets.image_folder(folder_request(tmp_path, train=str(train), validation=str(validation)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs parameter 'path'"),
        ({"path": "a", "train": "b"}, "either parameter 'path' or"),
        ({"train": "a", "test": "b"}, "'test' needs 'validation'"),
        ({"path": "a", "validation_fraction": 1.5}, "validation_fraction=1.5 is invalid"),
        ({"path": "a", "validation_fraction": 0.6, "test_fraction": 0.5}, "must leave some training images"),
        ({"path": "a", "pth": "b"}, "unknown parameter pth"),
        ({"path": 3}, "path=3 is invalid"),
    ],
)
def test_image_folder_refuses_bad_params(tmp_path, params, message):
    with pytest.raises(UsageError, match=message):
        datasets.image_folder(folder_request(tmp_path, **params))


def test_unconfigured_image_folder_is_skipped_with_a_hint():
    specs = {spec.name: spec for spec in datasets.harness_datasets_register(config=None)}
    configured = dataclasses.replace(specs["image_folder"], name="flowers", params={"path": "x"})
    augmentation = AugmentationSpec("none", lambda params: None)
    model = ModelSpec("m", lambda request: None)
    combinations = [Combination(spec, augmentation, model) for spec in (*specs.values(), configured)]

    datasets.harness_collection_modify(combinations=combinations)

    assert [c.skip_reason is not None for c in combinations] == [False, True, False]
    assert "image_folder.path" in combinations[1].skip_reason


# -------------------------------------------------------------------------------------------------
# cats_and_dogs
# -------------------------------------------------------------------------------------------------


def test_cats_and_dogs_uses_a_local_copy_without_downloading(tmp_path, cats_and_dogs_tree):
    root = cats_and_dogs_tree(tmp_path / "data")

    source = datasets.cats_and_dogs(cats_request(tmp_path, data_dir=tmp_path / "data"))

    assert source.class_names == ("cats", "dogs")
    assert len(source.train) == 6 and len(source.validation) == 6
    assert source.root == str(root)
    assert source.info["source"] == "local copy"
    assert not (tmp_path / "cache").exists()


def test_cats_and_dogs_downloads_checks_and_extracts(tmp_path, cats_and_dogs_tree, make_zip):
    archive = make_zip(cats_and_dogs_tree(tmp_path / "src"), tmp_path / "cats_and_dogs_filtered.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    request = cats_request(tmp_path, data_dir=tmp_path / "empty", url=archive.as_uri(), sha256=digest)

    source = datasets.cats_and_dogs(request)

    assert source.class_names == ("cats", "dogs")
    assert len(source.train) == 6 and len(source.validation) == 6
    assert source.info == {"source": "download", "url": archive.as_uri(), "sha256": digest, "ignored_files": 0,
                           "ignored_list": [], "skipped_links": []}
    assert Path(source.root).is_relative_to(tmp_path / "cache" / "nested" / "datasets")
    archive.unlink()  # a second use needs neither the origin nor a new extraction
    assert datasets.cats_and_dogs(request).train == source.train


def test_cats_and_dogs_without_expected_checksum_records_the_digest(tmp_path, cats_and_dogs_tree, make_zip):
    archive = make_zip(cats_and_dogs_tree(tmp_path / "src"), tmp_path / "cats_and_dogs_filtered.zip")

    source = datasets.cats_and_dogs(cats_request(tmp_path, url=archive.as_uri()))

    assert source.info["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_cats_and_dogs_refuses_a_checksum_mismatch(tmp_path, cats_and_dogs_tree, make_zip):
    archive = make_zip(cats_and_dogs_tree(tmp_path / "src"), tmp_path / "cats_and_dogs_filtered.zip")

    with pytest.raises(DataError, match="checksum mismatch for " + archive.as_uri()):
        datasets.cats_and_dogs(cats_request(tmp_path, url=archive.as_uri(), sha256="0" * 64))

    assert not list((tmp_path / "cache").rglob("*.zip"))


def test_cats_and_dogs_refuses_an_archive_escaping_its_folder(tmp_path, cats_and_dogs_tree, make_zip):
    folder = cats_and_dogs_tree(tmp_path / "src")
    archive = make_zip(folder, tmp_path / "cats_and_dogs_filtered.zip", extra={"../evil": b"owned"})

    with pytest.raises(DataError, match=r"unsafe archive .*member '\.\./evil'"):
        datasets.cats_and_dogs(cats_request(tmp_path, url=archive.as_uri()))

    assert not list(tmp_path.rglob("evil"))
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_dir() and "cats_and_dogs_filtered-" in p.name]


@pytest.mark.parametrize("sha256", ["0000", 12, "g" * 64])
def test_cats_and_dogs_refuses_a_malformed_checksum(tmp_path, sha256):
    with pytest.raises(UsageError, match="sha256=.* is invalid: expected 64 hex digits"):
        datasets.cats_and_dogs(cats_request(tmp_path, sha256=sha256))


def test_cats_and_dogs_refuses_a_failed_download(tmp_path):
    """The cause comes first (not cut off after the URL), then where a local copy was looked for and how to
    give one."""
    url = (tmp_path / "nowhere.zip").as_uri()

    with pytest.raises(DataError) as failed:
        datasets.cats_and_dogs(cats_request(tmp_path, url=url))
    assert str(failed.value) == (
        f"cats_and_dogs: cannot download {url} (No such file or directory); no --data-dir given (nor "
        "HARNESS_DATA_DIR); download and unzip the archive, then pass --data-dir DIR where "
        "DIR/cats_and_dogs_filtered/ exists")
    with pytest.raises(DataError, match=rf"\(No such file or directory\); no local copy in "
                                        rf"{tmp_path / 'data' / 'cats_and_dogs_filtered'};"):
        datasets.cats_and_dogs(cats_request(tmp_path, url=url, data_dir=tmp_path / "data"))


def test_cats_and_dogs_takes_the_folder_itself_as_data_dir(tmp_path, cats_and_dogs_tree):
    root = cats_and_dogs_tree(tmp_path / "data")

    source = datasets.cats_and_dogs(cats_request(tmp_path, data_dir=root))

    assert source.root == str(root) and source.info["source"] == "local copy" and len(source.train) == 6


def test_a_download_that_cannot_work_fails_once_per_dataset(harness_tester, tmp_path):
    """Every combination of the dataset gets the same error; the download is tried once (per process: the
    serial executor trains both in this one, whose output the tester captures)."""
    url = (tmp_path / "nowhere" / "cats_and_dogs_filtered.zip").as_uri()
    result = harness_tester.run("run", "--executor", "serial", "--dataset", "cats_and_dogs", "--augmentation", "none",
                                "--model", "small_cnn", "--model", "small_cnn_scaled",
                                "--set", f"cats_and_dogs.url={url}")
    assert result.ret == 1, result.stdout + result.stderr
    errors = {record["error"] for record in result.records}
    assert len(result.records) == 2 and len(errors) == 1
    assert errors.pop().startswith(f"DownloadFailed: cats_and_dogs: cannot download {url} (No such file")
    assert result.stdout.count(f"Downloading data from {url}") == 1


def test_cats_and_dogs_refuses_an_archive_without_the_dataset_folder(tmp_path, image_tree, make_zip):
    archive = make_zip(image_tree("other", {"a": ["1.jpg"]}), tmp_path / "cats_and_dogs_filtered.zip")

    with pytest.raises(DataError, match="has no cats_and_dogs_filtered/ folder"):
        datasets.cats_and_dogs(cats_request(tmp_path, url=archive.as_uri()))


def test_cats_and_dogs_refuses_a_file_that_is_not_a_zip(tmp_path):
    archive = tmp_path / "cats_and_dogs_filtered.zip"
    archive.write_bytes(b"not a zip")

    with pytest.raises(DataError, match="is not a valid zip archive"):
        datasets.cats_and_dogs(cats_request(tmp_path, url=archive.as_uri()))
