"""The result store: an append-only, crash-safe record, and the files derived from it."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import UsageError
from harness.store import RECORDS, RESULT_COLUMNS, RESULTS, RunStore, dumps, flatten, latest_run


def record(model: str, seed: int = 1, **extra) -> dict:
    return {"id": f"synthetic-none-{model}", "dataset": "synthetic", "augmentation": "none", "model": model,
            "seed": seed, "repeat": seed - 1, "split_seed": 1, "status": "passed", "config_hash": f"{model}-{seed}",
            "combination_hash": model, "epochs": 2, "steps": 8, "images": 64, "train_seconds": 1.5,
            "test_accuracy": 0.75, "baseline_accuracy": 0.5, "val_accuracy": 0.8, "stop_reason": "epochs",
            "history": [{"epoch": 1, "loss": 0.7, "val_accuracy": 0.6}, {"epoch": 2, "loss": 0.5, "val_accuracy": 0.8}],
            "time_to_target": {"epoch": 2, "seconds": 1.2}, "error": None, **extra}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore.create(tmp_path / "reports", {"harness_version": "0.1.0", "argv": ["run"]})


def test_records_append_one_line_each(store: RunStore) -> None:
    store.append(record("a"))
    store.append(record("b", test_accuracy=np.float32(0.5), steps=np.int64(3)))
    lines = store.records_path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert [r["model"] for r in store.records()] == ["a", "b"]
    assert store.records()[1]["test_accuracy"] == 0.5 and store.records()[1]["steps"] == 3
    assert store.finished_hashes() == {"a-1", "b-1"}


def test_a_task_whose_latest_record_is_an_error_is_retried_and_the_retry_supersedes(store: RunStore) -> None:
    """Issue 24 item 8: --resume trains errored tasks again (passed and failed ones are results); the latest
    record of a task is the one results.csv shows."""
    error = {**record("a"), "status": "error", "error": "worker died: SIGABRT", "test_accuracy": None}
    store.append(error)
    store.append(record("b", status="failed"))
    assert (store.finished_hashes(), store.errored_hashes()) == ({"b-1"}, {"a-1"})
    store.append(record("a"))
    assert (store.finished_hashes(), store.errored_hashes()) == ({"a-1", "b-1"}, set())
    results = pd.read_csv(store.write_results())
    assert sorted(zip(results["model"], results["status"])) == [("a", "passed"), ("b", "failed")]


def test_nan_and_infinity_are_stored_as_null() -> None:
    text = dumps({"loss": float("nan"), "history": [{"val_loss": float("inf")}], "ok": 1.0})
    assert json.loads(text) == {"loss": None, "history": [{"val_loss": None}], "ok": 1.0}


def test_a_torn_last_line_is_ignored_then_cut_off_on_resume(store: RunStore) -> None:
    store.append(record("a"))
    with open(store.records_path, "a") as handle:
        handle.write('{"id": "synthetic-none-b", "status": "pas')  # killed in the middle of a write
    assert [r["model"] for r in store.records()] == ["a"]
    assert store.repair() > 0
    assert (store.run_dir / (RECORDS + ".torn")).read_text().startswith('{"id": "synthetic-none-b"')
    store.append(record("c"))
    assert [r["model"] for r in store.records()] == ["a", "c"]
    assert store.repair() == 0


def test_a_corrupt_line_in_the_middle_is_passed_over_and_said(store: RunStore) -> None:
    store.append(record("a"))
    with open(store.records_path, "a") as handle:
        handle.write("not json\n")
    store.append(record("b"))
    assert [r["model"] for r in store.records()] == ["a", "b"]
    assert [p.split(" (")[0] for p in store.problems()] == ["records.jsonl:2: not a record"]


def test_results_csv_is_rebuilt_from_the_record(store: RunStore) -> None:
    store.append(record("a", seed=1))
    store.append(record("a", seed=2, test_accuracy=0.7))
    store.append(record("b", status="error", error="RuntimeError: boom", error_kind="exception", test_accuracy=None))
    path = store.write_results()
    first = pd.read_csv(path)
    assert list(first.columns) == RESULT_COLUMNS
    assert first.loc[0, "lift_points"] == pytest.approx(25.0)
    assert first.loc[0, "time_to_target_seconds"] == pytest.approx(1.2)
    path.unlink()
    rebuilt = pd.read_csv(RunStore.open(store.run_dir).write_results())
    pd.testing.assert_frame_equal(first, rebuilt)
    assert not list(store.run_dir.glob(".results.csv.*"))  # no temporary file left behind


def test_flatten_keeps_every_column() -> None:
    row = flatten(record("a"))
    assert list(row) == RESULT_COLUMNS
    assert row["time_to_target_epochs"] == 2 and math.isclose(row["lift_points"], 25.0)


def test_a_run_directory_is_held_by_one_process(store: RunStore) -> None:
    store.lock()
    other = RunStore.open(store.run_dir)
    with pytest.raises(UsageError, match="in use by another harness process"):
        other.lock()
    store.close()
    other.lock()
    other.close()


def test_no_lock_file_is_left_behind(store: RunStore) -> None:
    store.lock()
    assert (store.run_dir / ".lock").is_file()
    store.close()
    assert not (store.run_dir / ".lock").exists()
    store.lock()  # and the directory can be held again
    store.close()
    assert sorted(p.name for p in store.run_dir.iterdir() if p.name.startswith(".")) == []


def test_results_csv_has_clean_numbers(store: RunStore) -> None:
    """Keras's float32 accuracies: the test accuracy from the count of correct answers, the others as the
    float32 they are; the CSV shows 0.56, not 0.5600000023841858."""
    row = record("a")
    row.update(test_accuracy=0.5600000023841858, test_accuracy_last=0.5400000214576721, n_test=50,
               baseline_accuracy=0.5, train_accuracy=0.6312500238418579, val_accuracy=0.59375,
               p_value=0.6562500000000008, wall_seconds=10.290133118000085)
    store.append(row)
    text = store.write_results().read_text()
    assert "0.5600000023841858" not in text and "0.6312500238418579" not in text
    written = next(csv.DictReader(io.StringIO(text)))
    assert written["test_accuracy"] == "0.56" and written["test_accuracy_last"] == "0.54"
    assert written["n_correct"] == "28" and written["n_test"] == "50"
    assert written["train_accuracy"] == "0.63125" and written["lift_points"] == "6.0"
    assert written["p_value"] == "0.65625" and written["wall_seconds"] == "10.290133118"


def test_latest_run_and_open(tmp_path: Path) -> None:
    output = tmp_path / "reports"
    with pytest.raises(UsageError, match="no run directory"):
        latest_run(output)
    first = RunStore.create(output, {"n": 1})
    (output / "not-a-run").mkdir()
    assert latest_run(output) == first.run_dir
    with pytest.raises(UsageError, match="not a harness run directory"):
        RunStore.open(output / "not-a-run")
    assert RunStore.open(first.run_dir).metadata() == {"n": 1}
    assert not (first.run_dir / RESULTS).exists()


def test_latest_run_is_the_last_started_and_never_the_example(tmp_path: Path) -> None:
    """`--resume` alone picked `reports/example/` (names sorted as text, `example` after `2026...`) and
    rewrote tracked files; it takes the recorded start time now, and never the example."""
    output = tmp_path / "reports"
    older = RunStore.create(output, {"started_at": 100.0})
    newer = RunStore.create(output, {"started_at": 200.0})
    (output / "example").mkdir()
    RunStore(output / "example").write_metadata({"started_at": 999.0})
    renamed = output / "0-renamed"  # first by name, yet the last started
    newer.run_dir.rename(renamed)
    assert latest_run(output) == renamed
    (renamed / "metadata.json").write_text("{}")  # no start time: its metadata's age decides
    assert latest_run(output) == renamed
    assert older.run_dir.exists()


def test_reports_show_the_command_with_paths_relative_to_the_working_directory(tmp_path: Path) -> None:
    from harness.store import shown_command

    cwd = tmp_path / "project"
    home = str(Path("~").expanduser())
    metadata = {"cwd": str(cwd), "argv": ["run", "--output", str(cwd / "reports"), f"--data-dir={cwd}/data",
                                         "--cache-dir", f"{home}/cache", "--set", "x.path=/srv/data", "-k", "a/b"]}
    assert shown_command(metadata) == ("harness run --output reports --data-dir=data --cache-dir ~/cache "
                                       "--set x.path=/srv/data -k a/b")
    assert shown_command({"argv": ["run"]}) == "harness run"
