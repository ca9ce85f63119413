"""Models that cannot fit the dataset or the memory: an error row with one short line; the run goes on."""

from __future__ import annotations

import pytest

from tests.faults.conftest import RUN

MODELS = ("--model", "outputs", "--model", "tiny")


def rows(result) -> dict[str, dict]:
    return {record["model"]: record for record in result.records}


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_model_with_more_outputs_than_classes_is_an_error_row(tester) -> None:
    """Before the fix, 7 logits for 2 classes trained and passed."""
    result = tester.run(*RUN[:5], *MODELS, "--steps", "2")
    assert result.ret == 1, result.stderr
    wrong, right = rows(result)["outputs"], rows(result)["tiny"]
    assert (wrong["status"], wrong["error_kind"]) == ("error", "usage")
    assert wrong["error"] == ("UsageError: model 'outputs' (harness_plugins) outputs shape (7,) for dataset 'pics' "
                              "with 2 classes: it must end in 2 logits (request.num_classes)")
    assert right["status"] in ("passed", "failed")


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_model_with_one_output_for_two_classes_is_an_error_row(tester) -> None:
    result = tester.run(*RUN[:5], *MODELS, "--steps", "2", "--set", "outputs.outputs=1")
    assert result.ret == 1
    assert "outputs shape (1,) for dataset 'pics' with 2 classes" in rows(result)["outputs"]["error"]


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_out_of_memory_is_a_short_oom_row_and_the_next_task_trains(tester) -> None:
    """Before the fix, the row held TensorFlow's whole graph stack (about 6,000 characters)."""
    result = tester.run(*RUN[:5], "--model", "greedy", "--model", "tiny", "--steps", "2")
    assert result.ret == 1
    oom, after = rows(result)["greedy"], rows(result)["tiny"]
    assert (oom["status"], oom["error_kind"]) == ("error", "oom")
    assert oom["error"].startswith("out of memory (OOM when allocating tensor with shape[")
    assert oom["error"].endswith("try a smaller --batch-size, smaller images or a smaller model")
    assert "\n" not in oom["error"] and len(oom["error"]) < 200
    assert "OOM when allocating" in oom["traceback"]  # the details stay in the record
    assert after["status"] in ("passed", "failed")
