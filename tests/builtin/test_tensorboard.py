"""``--tensorboard DIR``: event files that TensorFlow's own reader (which checks every CRC) reads back, one
folder per task, with the record's per-epoch curves and outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.builtin.tfevents import EventWriter, crc32c
from tests.test_hooks import SMALL


def read_events(folder: Path) -> list[tuple[int, str, float]]:
    """Every scalar of the event files in ``folder``, as ``(step, tag, value)``, read by TensorFlow."""
    tf = pytest.importorskip("tensorflow")
    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            found += [(event.step, value.tag, value.simple_value) for value in event.summary.value]
    return found


def test_crc32c_is_castagnolis() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C
    assert crc32c(b"") == 0


def test_event_files_are_what_tensorflow_reads(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path / "task[seed=1]")
    writer.scalars(1, {"loss/train": 0.5, "accuracy/validation": 0.75})
    writer.scalars(12345678901, {"loss/train": -2.25})  # a step past 32 bits, a negative value
    writer.close()
    assert read_events(tmp_path / "task[seed=1]") == [(1, "loss/train", 0.5), (1, "accuracy/validation", 0.75),
                                                      (12345678901, "loss/train", -2.25)]


def test_a_run_writes_each_tasks_curves(harness_tester, monkeypatch) -> None:
    """The curves come from each record's history: the fast trainer's records (harness.testing.fast) do."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = harness_tester.run("run", "-p", "harness.testing.fast", "--executor", "serial", "--dataset", "synthetic",
                                "--augmentation", "none", "--model", "fast_pass", "--repeats", "2", "--epochs", "2",
                                *SMALL, "-p", "no:reports", "--tensorboard", "tb")
    assert result.ret in (0, 1), result.stderr
    run_folder = harness_tester.path / "tb" / result.run_dir.name
    records = {f"{r['id']}[seed={r['seed']}]": r for r in result.records}
    assert sorted(p.name for p in run_folder.iterdir()) == sorted(records) == [
        "synthetic-none-fast_pass[seed=1]", "synthetic-none-fast_pass[seed=2]"]
    for name, record in records.items():
        scalars = read_events(run_folder / name)
        curve = [(step, value) for step, tag, value in scalars if tag == "accuracy/validation"]
        assert curve == [(e["epoch"], pytest.approx(e["val_accuracy"])) for e in record["history"]]  # once each
        assert [step for step, tag, _ in scalars if tag == "loss/train"] == [1, 2]
        final = {tag: (step, value) for step, tag, value in scalars if tag.startswith("test/")}
        assert final["test/accuracy"] == (2, pytest.approx(record["test_accuracy"]))
        lift = 100 * (record["test_accuracy"] - record["baseline_accuracy"])
        assert final["test/lift_points"] == (2, pytest.approx(lift, abs=1e-4))
    assert f"tensorboard: 2 tasks' curves in {run_folder}" in result.stdout


def test_a_file_is_no_folder_for_tensorboard(harness_tester) -> None:
    (harness_tester.path / "tb").write_text("a file")
    result = harness_tester.run("run", "--collect-only", "--tensorboard", "tb")
    assert result.ret == 4 and result.stderr == "harness: error: --tensorboard tb: not a folder\n"
