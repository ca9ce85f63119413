"""Messages that say what happened: counts with the right number, no "selected" before "no selection", a
listed default that is the model's, comparison notes only about what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.specs import ModelSpec

FAST = ("-p", "harness.testing.fast", "-p", "no:reports")


@pytest.fixture
def fast(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return harness_tester


def test_mlflow_counts_one_task_run_in_the_singular(tmp_path: Path) -> None:
    from harness_mlflow import Tracker

    tracker = Tracker("http://127.0.0.1:9/", None)
    tracker.sent, tracker.error = 1, "ConnectionError: refused"
    assert tracker.summary(tmp_path).startswith("mlflow: 1 task run logged to http://127.0.0.1:9/, then it failed")
    tracker.sent = 2
    assert tracker.summary(tmp_path).startswith("mlflow: 2 task runs logged")


def test_a_run_without_a_selection_does_not_say_selected(fast) -> None:
    result = fast.run("run", *FAST)
    assert result.ret == 4
    first = result.stdout.splitlines()[0]
    assert first.endswith("combinations installed (none selected)"), first
    assert "selected" not in first.replace("none selected", "")
    assert "error: no selection" in result.stderr
    chosen = fast.run("run", *FAST, "--dataset", "synthetic", "--model", "fast_pass", "--augmentation", "none")
    assert chosen.stdout.splitlines()[0].endswith("1 combination selected")


def test_a_models_own_learning_rate_is_not_contradicted_by_the_trainers_default() -> None:
    def build(request):  # never called
        raise AssertionError

    declared = ModelSpec(name="m", factory=build, params={"learning_rate": 0.003})
    assert declared.describe_param("learning_rate") == "Adam's learning rate"
    undeclared = ModelSpec(name="n", factory=build)
    assert undeclared.describe_param("learning_rate") == "Adam's learning rate (0.001 when not set)"
    assert undeclared.describe_param("fine_tune_learning_rate") == "Adam's learning rate after fine_tune (1e-05 when " \
                                                                   "not set)"


def _with_digest(run_dir: Path, digest: str) -> None:
    """Give every record the split digest of a dataset whose splits the seed does not change (given splits)."""
    path = run_dir / "records.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record.setdefault("dataset_info", {})["split_digest"] = digest
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_compare_says_only_what_differs(fast) -> None:
    select = (*FAST, "--dataset", "synthetic", "--model", "fast_pass", "--augmentation", "none", "--repeats", "2")
    a = fast.run("run", *select, "--seed", "1").run_dir
    b = fast.run("run", *select, "--seed", "5").run_dir
    _with_digest(a, "same")
    _with_digest(b, "same")
    result = fast.run("compare", str(a), str(b))
    assert "1 combination paired image by image" in result.stdout, result.stdout  # seeds 1,2 with 5,6
    assert "the others matched seed by seed" not in result.stdout  # there are no others
    assert "split_seed" not in result.stdout  # the seed changed no split: its digest is the same

    _with_digest(b, "other")
    result = fast.run("compare", str(a), str(b))
    assert "different splits (digest same in A, other in B)" in result.stdout
