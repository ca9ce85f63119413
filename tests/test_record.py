"""The result record: one typed schema, its constructors, and its check where the store writes it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.engine.task import Task
from harness.record import (
    REQUIRED,
    RecordError,
    error_record,
    from_json,
    identity,
    skip_record,
    to_json,
    validate,
)
from harness.specs import Combination
from harness.store import RECORDS, RunStore


def _task() -> Task:
    dataset = harness.DatasetSpec(name="blobs", factory=print, plugin="p", package="pkg 1.0")
    augmentation = harness.AugmentationSpec(name="none", factory=print, plugin="p", package="pkg 1.0")
    model = harness.ModelSpec(name="tiny", factory=print, plugin="q", package="other 2.0")
    return Task(dataset=dataset, augmentation=augmentation, model=model, budget=harness.Budget(steps=3), seed=7,
                repeat=1, split_seed=2)


def test_constructors_make_valid_records() -> None:
    task = _task()
    ident = identity(task)
    assert (ident["id"], ident["seed"], ident["repeat"], ident["split_seed"]) == ("blobs-none-tiny", 7, 1, 2)
    assert ident["plugins"]["model"] == {"plugin": "q", "package": "other 2.0"}
    assert ident["config_hash"] == task.config_hash and ident["config"] == task.describe()
    error = validate(error_record(task, "the worker died", "worker"))
    assert (error["status"], error["error_kind"], error["error"]) == ("error", "worker", "the worker died")
    assert {k: error[k] for k in ident} == ident  # type: ignore[literal-required]
    combination = Combination(task.dataset, task.augmentation, task.model, skip_reason="images too small")
    skipped = validate(skip_record(combination, 3))
    assert (skipped["status"], skipped["error"], skipped["seed"]) == ("skipped", "images too small", 3)


@pytest.mark.parametrize("field", REQUIRED)
def test_a_missing_required_field_is_named(field: str) -> None:
    record = dict(error_record(_task(), "boom", "exception"))
    del record[field]
    with pytest.raises(RecordError, match=f"record field '{field}' is missing"):
        validate(record)


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("seed", "7", "expected Integral"),
    ("seed", True, "expected Integral"),
    ("status", "ok", "expected 'passed' or 'failed' or 'error' or 'skipped'"),
    ("test_accuracy", "0.9", "expected Real or NoneType"),
    ("history", {"epoch": 1}, "expected list"),
    ("stop_reason", "tired", "expected 'epochs'"),
    ("error_kind", "bad", "expected 'exception'"),
])
def test_a_field_of_the_wrong_type_is_named(field: str, value, expected: str) -> None:
    record = {**error_record(_task(), "boom", "exception"), field: value}
    with pytest.raises(RecordError, match=f"record field '{field}' is {value!r}.*{expected}"):
        validate(record)


def test_numbers_nan_none_and_extra_fields_are_accepted() -> None:
    record = {**error_record(_task(), "boom", "exception"), "test_accuracy": np.float32(0.5), "steps": np.int64(3),
              "val_accuracy": math.nan, "p_value": None, "best_epoch": 2, "baseline_accuracy": 1,
              "my_plugin_field": {"anything": [1, 2]}}
    assert validate(record) is record
    with pytest.raises(RecordError, match="a record must be a dict, got list"):
        validate([record])


def test_json_round_trip() -> None:
    record = {**error_record(_task(), "boom", "exception"), "test_accuracy": np.float64(0.25), "loss": math.inf}
    line = to_json(record)
    assert "\n" not in line and json.loads(line)["loss"] is None
    back = from_json(line)
    assert back["test_accuracy"] == 0.25 and back["id"] == "blobs-none-tiny"
    with pytest.raises(ValueError, match="a record is a JSON object"):
        from_json("[1]")


def test_the_store_refuses_an_invalid_record_and_writes_nothing(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {})
    store.append(error_record(_task(), "boom", "exception"))
    before = (store.run_dir / RECORDS).read_bytes()
    with pytest.raises(RecordError, match="record field 'status' is missing"):
        store.append({"id": "a-b-c", "dataset": "a", "augmentation": "b", "model": "c", "seed": 1})
    assert (store.run_dir / RECORDS).read_bytes() == before
    assert len(store.records()) == 1
