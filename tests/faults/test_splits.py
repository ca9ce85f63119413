"""A split that comes out empty says why (each class's share is rounded to whole images) and what to do; a
class with only a few test images is warned about."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data.prepare import FEW_TEST_IMAGES, clear_memo, prepare
from harness.data.splits import carved_test, held_count
from harness.errors import DataError
from harness.specs import DatasetRequest
from harness.terminal import files_lines


def _many(root: Path, classes: int, per_class: int) -> Path:
    for label in range(classes):
        folder = root / f"c{label:03d}"
        folder.mkdir(parents=True)
        for index in range(per_class):
            Image.fromarray(np.full((4, 4, 3), label % 256, np.uint8)).save(folder / f"{index}.png")
    return root


def _prepare(root: Path, cache: Path, **params: object) -> dict:
    from harness_vision import datasets

    spec = next(s for s in datasets.harness_datasets_register(config=None) if s.name == "image_folder")
    spec = dataclasses.replace(spec, name="many", params={**spec.params, "path": str(root), **params},
                               image_size=(4, 4))
    clear_memo()
    request = DatasetRequest(params=spec.params, data_dir=None, cache_dir=str(cache), seed=1)
    return prepare(spec, request, split_seed=1).info


def test_the_rounding_is_the_splitters_own() -> None:
    assert held_count(3, 0.3) == 1 and held_count(3, 0.5) == 2 and held_count(2, 0.99) == 1
    assert carved_test(3, 0.2, 0.1) == (1, 0)  # 1 held out, its test share (1/3) rounds to 0
    assert carved_test(3, 0.2, 0.3) == (1, 1)


def test_an_empty_test_split_says_why_and_what_to_set(tmp_path: Path) -> None:
    root = _many(tmp_path / "many", classes=40, per_class=3)
    with pytest.raises(DataError) as error:
        _prepare(root, tmp_path / "cache")
    message = str(error.value)
    assert "the test split is empty" in message
    assert "40 classes of 3 images" in message
    assert "validation + test (0.2 + 0.1) of 3 images rounds to 1 held out" in message
    assert "--set many.test_fraction=0.3" in message

    info = _prepare(root, tmp_path / "cache", test_fraction=0.3)  # the remedy works
    assert info["sizes"] == {"train": 40, "validation": 40, "test": 40}


def test_an_empty_test_split_from_validation_files_says_so(tmp_path: Path) -> None:
    train, validation = _many(tmp_path / "train", 2, 6), _many(tmp_path / "validation", 2, 2)
    with pytest.raises(DataError, match=r"test_from_validation 0.2 of 2 images rounds to 0.*"
                                        r"--set many.test_from_validation=0.26"):
        from harness_vision import datasets

        spec = next(s for s in datasets.harness_datasets_register(config=None) if s.name == "image_folder")
        spec = dataclasses.replace(spec, name="many", params={**spec.params, "train": str(train),
                                                              "validation": str(validation)}, image_size=(4, 4))
        clear_memo()
        prepare(spec, DatasetRequest(params=spec.params, data_dir=None, cache_dir=str(tmp_path / "c"), seed=1),
                split_seed=1)


def test_few_test_images_per_class_are_warned_about_in_the_summary(tmp_path: Path) -> None:
    root = _many(tmp_path / "many", classes=3, per_class=10)
    info = _prepare(root, tmp_path / "cache")
    (warning,) = info["warnings"]
    assert f"3 of 3 classes have fewer than {FEW_TEST_IMAGES} test images (fewest: 1" in warning
    assert "--set many.test_fraction=" in warning
    lines = files_lines([{"id": "many-none-m", "dataset": "many", "status": "passed", "dataset_info": info}])
    assert lines == [f"warning: {warning}"]

    plenty = _prepare(_many(tmp_path / "plenty", classes=2, per_class=60), tmp_path / "cache")
    assert plenty["warnings"] == []
