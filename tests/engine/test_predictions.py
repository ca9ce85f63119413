"""Per-image predictions of the real engine: one row per test image (its id, label, predicted class and
confidence), written beside the record, agreeing exactly with the record's test accuracy, on images in
memory and in folders, through the feature cache's head, the same on every executor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import predictions

from .conftest import BACKEND, SMALL, models


def _table(result, record: dict):
    table = predictions.read(result.run_dir, record)
    assert table is not None, record.get("predictions_error") or record.get("traceback")
    return table


def _agrees(table, record: dict) -> None:
    """The predictions are the record's test: as many rows as test images, the same accuracy, exactly."""
    assert record["status"] in ("passed", "failed"), record.get("traceback")
    assert record["predictions"] == f"predictions/{record['config_hash']}.csv.gz"
    assert len(table) == record["n_test"] and table["id"].is_unique
    assert predictions.accuracy(table) == record["test_accuracy"]
    assert int(predictions.correct(table).sum()) == record["n_correct"]
    tested = record["test_accuracy_best"] if record["weights_tested"] == "best" else record["test_accuracy_last"]
    assert record["test_accuracy"] == tested
    n_classes = len(record["dataset_info"]["class_names"])
    assert table["predicted"].between(0, n_classes - 1).all()
    assert table["confidence"].between(1 / n_classes, 1.0).all()  # the largest of the softmax's probabilities


#: ``SMALL`` with a class colour: a task ``tiny`` learns in a few steps (so its epochs' weights differ).
LEARNABLE = [*SMALL, "--set", "synthetic.tint_by_class=true"]


@pytest.mark.parametrize("weights", ["best", "last"])
def test_a_synthetic_run_predicts_each_test_image_by_its_row(engine_tester, weights: str) -> None:
    from harness.builtin.synthetic import generate

    keep = ["--keep-last-weights"] if weights == "last" else []
    result = engine_tester.run("run", *LEARNABLE, *models("tiny"), "--epochs", "4", "--seed", "3", *keep)
    (record,) = result.records
    table = _table(result, record)
    _agrees(table, record)
    assert record["weights_tested"] == weights
    if BACKEND == "tensorflow":  # the case with teeth: the best epoch's weights and the last's test differently
        assert record["best_epoch"] < record["last_epoch"]
        assert record["test_accuracy_best"] != record["test_accuracy_last"]
    # synthetic gives its test split whole: each image's id is its row in the generated test array
    _, labels = generate(8, 2, 16, 3, seed=0 + 2, tint_by_class=True)
    assert list(table["id"]) == [str(i) for i in range(16)]
    assert list(table["label"]) == labels.tolist()


@pytest.mark.parametrize("augmentation", ["none", "flip"])
def test_predictions_through_the_feature_caches_head(engine_tester, augmentation: str) -> None:
    args = [arg if arg != "none" else augmentation for arg in SMALL]
    result = engine_tester.run("run", *args, *models("frozen"), "--epochs", "2")
    (record,) = result.records
    assert record["feature_cache"].startswith("used")
    _agrees(_table(result, record), record)


JPEG_CLASSES = {"cat": (200, 40, 40), "dog": (40, 40, 200)}


def _jpeg_folder(root: Path) -> Path:
    """``root/cat`` and ``root/dog``: 10 small real JPEGs each (a class colour with noise) and one file named
    ``.jpg`` that is not an image."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, colour in JPEG_CLASSES.items():
        (root / name).mkdir(parents=True)
        for i in range(10):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}{i}.jpg", quality=90)
    (root / "dog" / "dog_broken.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    return root


FOLDER_ARGS = ["-p", "harness_vision.datasets", "--dataset", "image_folder", "--augmentation", "none",
               "--batch-size", "4", "--set", "image_folder.image_size=[16,16]",
               "--set", "image_folder.validation_fraction=0.2", "--set", "image_folder.test_fraction=0.2"]


def test_an_image_folder_run_predicts_each_test_file_by_its_path(engine_tester) -> None:
    root = _jpeg_folder(engine_tester.path / "photos")
    args = ["run", *FOLDER_ARGS, "--set", f"image_folder.path={root}", *models("tiny"), "--epochs", "2"]
    first = engine_tester.run(*args)
    (record,) = first.records
    table = _table(first, record)
    _agrees(table, record)
    assert [s["file"] for s in record["dataset_info"]["skipped_files"]] == [str(root / "dog" / "dog_broken.jpg")]
    assert record["n_test"] == 4
    classes = record["dataset_info"]["class_names"]
    for image_id, label in zip(table["id"], table["label"]):
        folder, _, name = image_id.partition("/")
        assert (root / image_id).is_file() and "broken" not in name  # a path relative to the folder given
        assert classes[label] == folder
    # Again, from the decoded-image cache: the same ids for the same images, and (same seed) the same predictions.
    again = engine_tester.run(*args)
    assert predictions.read(again.run_dir, again.records[0]).equals(table)


@pytest.mark.slow  # two TensorFlow processes
def test_the_same_task_predicts_the_same_on_the_process_and_serial_executors(engine_tester) -> None:
    grid = ["run", *SMALL, *models("tiny"), "--epochs", "2", "--threads", "1"]
    # serial in a process of its own: the serial executor makes its process's runtime (threads) the run's
    serial = engine_tester.tester.run_subprocess("-p", "no:reports", *grid, "--executor", "serial",
                                                 "--output", "serial")
    pooled = engine_tester.run(*grid, "--executor", "process", "--output", "process")
    (a,), (b,) = serial.records, pooled.records
    assert a["config_hash"] == b["config_hash"] and a["test_accuracy"] == b["test_accuracy"]
    _agrees(_table(pooled, b), b)
    assert (serial.run_dir / a["predictions"]).read_bytes() == (pooled.run_dir / b["predictions"]).read_bytes()
