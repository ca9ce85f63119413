"""``harness compare RUN_A RUN_B [--fail-on-drop POINTS]`` on run directories written with the store API."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.compare import compare_frame, differences

from .fakes import make_record


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


def _runs(run_dir_factory, before: dict[str, float], after: dict[str, float], n_test: int = 400) -> tuple[Path, Path]:
    a = run_dir_factory([make_record(aug, "cnn", test=acc, n_test=n_test) for aug, acc in before.items()], "a")
    b = run_dir_factory([make_record(aug, "cnn", test=acc, n_test=n_test) for aug, acc in after.items()], "b")
    return a, b


def compare(tmp_path: Path, *args: object) -> int:
    return main(["compare", *map(str, args)], cwd=tmp_path)


def test_a_drop_beyond_the_threshold_fails(run_dir_factory, tmp_path, capsys) -> None:
    a, b = _runs(run_dir_factory, {"none": 0.80, "flip": 0.85}, {"none": 0.80, "flip": 0.75})
    assert compare(tmp_path, a, b, "--fail-on-drop", 2) == 1
    out = capsys.readouterr().out
    assert "FAILED: 1 combination(s) got worse by more than 2 points" in out
    assert "pets-flip-cnn[seed=1] dropped 10.0 points (0.850 -> 0.750)" in out
    assert "worse" in out and "largest drop -10.0 points" in out
    assert "test: matched by combination and seed; two-proportion z-test" in out


def test_no_drop_beyond_the_threshold_passes(run_dir_factory, tmp_path, capsys) -> None:
    a, b = _runs(run_dir_factory, {"none": 0.80, "flip": 0.85}, {"none": 0.79, "flip": 0.90})
    assert compare(tmp_path, a, b, "--fail-on-drop", 2) == 0
    out = capsys.readouterr().out
    assert "OK: no combination got worse by more than 2 points" in out
    assert "2 compared: 1 better, 0 worse, 1 within noise" in out


def test_without_the_option_a_drop_is_only_reported(run_dir_factory, tmp_path) -> None:
    a, b = _runs(run_dir_factory, {"none": 0.80}, {"none": 0.50})
    assert compare(tmp_path, a, b) == 0


def test_an_error_in_b_fails_and_a_combination_missing_from_b_does_not(run_dir_factory, tmp_path, capsys) -> None:
    a = run_dir_factory([make_record("none", test=0.8), make_record("flip", test=0.8)], "a")
    b = run_dir_factory([make_record("none", error="ValueError: NaN loss")], "b")
    assert compare(tmp_path, a, b, "--fail-on-drop", 5) == 1
    out = capsys.readouterr().out
    assert "pets-none-cnn[seed=1] errored in B (it reached 0.800 in A)" in out
    assert "only in A" in out
    c = run_dir_factory([make_record("none", test=0.8)], "c")
    assert compare(tmp_path, a, c, "--fail-on-drop", 5) == 0


def test_significance_and_interval_of_the_change() -> None:
    frame = compare_frame([make_record(test=0.80, n_test=1000), make_record("flip", test=0.80, n_test=50)],
                          [make_record(test=0.86, n_test=1000), make_record("flip", test=0.86, n_test=50)])
    big, small = frame.iloc[0], frame.iloc[1]
    assert math.isclose(big["change_points"], 6.0) and math.isclose(small["change_points"], 6.0)
    assert big["significant"] and big["verdict"] == "better" and big["ci_low_points"] > 0
    assert not small["significant"] and small["verdict"] == "same (within noise)"
    assert small["ci_low_points"] < 0 < small["ci_high_points"]


def test_the_same_seeds_are_matched_seed_by_seed() -> None:
    a = [make_record(seed=1, test=0.7, n_test=1000), make_record(seed=2, test=0.8, n_test=1000)]
    b = [make_record(seed=1, test=0.7, n_test=1000), make_record(seed=2, test=0.9, n_test=1000, epochs=5)]
    frame = compare_frame(a, b)
    assert list(zip(frame["seed"], frame["verdict"])) == [(1, "same (within noise)"), (2, "better")]
    assert not frame["pooled"].any()
    assert "budget.epochs: 3 in A, 5 in B" in differences(a, b)


def test_other_seeds_are_pooled_per_combination(run_dir_factory, tmp_path, capsys) -> None:
    """Two runs of one combination with other seeds (or repeats) used to have `nothing in common` (exit 5):
    now each side's seeds are pooled and the pooled accuracies compared, and the output says so."""
    a = [make_record(seed=s, test=t, n_test=400) for s, t in ((1, 0.80), (2, 0.84))]
    b = [make_record(seed=s, test=t, n_test=400, epochs=5) for s, t in ((3, 0.70), (4, 0.72), (5, 0.68))]
    frame = compare_frame(a, b)
    [row] = frame.itertuples(index=False)
    assert row.pooled and row.seed == "1,2 vs 3,4,5" and row.n_test_a == row.n_test_b == 400
    assert math.isclose(row.test_accuracy_a, 0.82) and math.isclose(row.test_accuracy_b, 0.70)
    assert row.verdict == "worse"
    assert "budget.epochs: 3 in A, 5 in B" in differences(a, b)
    assert compare(tmp_path, run_dir_factory(a, "a"), run_dir_factory(b, "b"), "--fail-on-drop", 5) == 1
    out = capsys.readouterr().out
    assert "seeds pooled (mean accuracy across seeds on the distinct test images)" in out
    assert "pets-none-cnn[seeds 1,2 vs 3,4,5, pooled] dropped 12.0 points (0.820 -> 0.700)" in out


def test_bad_input_is_a_usage_error(run_dir_factory, tmp_path, capsys) -> None:
    a, b = _runs(run_dir_factory, {"none": 0.8}, {"none": 0.8})
    assert compare(tmp_path, a, b, "--fail-on-drop", -1) == 4
    assert "--fail-on-drop: invalid value -1.0" in capsys.readouterr().err
    assert compare(tmp_path, a, tmp_path / "nowhere") == 4
    assert "not a harness run directory" in capsys.readouterr().err


def test_nothing_in_common_is_not_a_pass(run_dir_factory, tmp_path, capsys) -> None:
    a = run_dir_factory([make_record("none")], "a")
    b = run_dir_factory([make_record("flip")], "b")
    assert compare(tmp_path, a, b, "--fail-on-drop", 1) == 5
    assert "nothing in common" in capsys.readouterr().out


def _on(backend: str, record: dict) -> dict:
    """``record`` as trained on ``backend`` (the record and its configuration name it)."""
    return {**record, "backend": backend, "config": {**record["config"], "backend": backend},
            "config_hash": f"{record['config_hash']}-{backend}"}


def test_two_runs_on_two_backends_are_paired_across_backends(run_dir_factory, tmp_path, capsys) -> None:
    """The same grid run with --backend tensorflow (A) and --backend jax (B): each combination of A is compared
    with the same combination of B, and the output says the rows pair two backends."""
    a = [_on("tensorflow", make_record(aug, test=0.80, n_test=400)) for aug in ("none", "flip")]
    b = [_on("jax", make_record("none", test=0.80, n_test=400)), _on("jax", make_record("flip", test=0.70, n_test=400))]
    frame = compare_frame(a, b)
    assert list(zip(frame["id"], frame["backend"], frame["verdict"])) == [
        ("pets-none-cnn", "tensorflow vs jax", "same (within noise)"), ("pets-flip-cnn", "tensorflow vs jax", "worse")]
    assert compare(tmp_path, run_dir_factory(a, "a"), run_dir_factory(b, "b"), "--fail-on-drop", 5) == 1
    out = capsys.readouterr().out
    assert "backends: A on tensorflow, B on jax: each combination compared across the two backends" in out
    assert "pets-flip-cnn[tensorflow vs jax, seed=1] dropped 10.0 points (0.800 -> 0.700)" in out
    assert "note: backend: 'tensorflow' in A, 'jax' in B" in out


def test_runs_with_several_backends_are_matched_backend_by_backend(run_dir_factory, tmp_path, capsys) -> None:
    """A run with --backend tensorflow,jax has two rows per combination and seed: they are compared with the
    other run's rows of the same backend, never with each other's or merged."""
    a = [_on("tensorflow", make_record(test=0.80, n_test=400)), _on("jax", make_record(test=0.60, n_test=400))]
    b = [_on("tensorflow", make_record(test=0.80, n_test=400)), _on("jax", make_record(test=0.70, n_test=400)),
         _on("torch", make_record(test=0.75, n_test=400))]
    frame = compare_frame(a, b)
    rows = list(zip(frame["backend"], frame["test_accuracy_a"], frame["test_accuracy_b"], frame["verdict"]))
    assert rows[:2] == [("tensorflow", 0.80, 0.80, "same (within noise)"), ("jax", 0.60, 0.70, "better")]
    assert (rows[2][0], rows[2][2], rows[2][3]) == ("torch", 0.75, "only in B")
    assert not frame["pooled"].any() and len(frame) == 3
    assert differences(a, b) == []  # each row's configuration is compared with the same backend's
    assert compare(tmp_path, run_dir_factory(a, "a"), run_dir_factory(b, "b")) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[2]
    assert header.split()[:3] == ["combination", "backend", "seed"]
    assert "matched by combination, backend and seed" in out


def test_a_runtime_difference_is_named(run_dir_factory, tmp_path, capsys) -> None:
    """Two runs of the same grid on 2 and 1 threads, one on a GPU: the threads (from the tasks' configuration)
    and the device (from the runtime the records and metadata carry) are named; the seeds are still paired."""
    def on(threads: int, device: str) -> dict:
        record = make_record(test=0.80, n_test=400)
        return {**record, "threads": threads, "device": {"kind": "gpu" if "H100" in device else "cpu",
                                                          "name": device},
                "config": {**record["config"], "threads": threads}}

    a = run_dir_factory([on(2, "CPU")], "a", runtime={"backends": ["tensorflow"], "threads": 2, "gpus": [],
                                                      "precisions": {"tensorflow": "float32"}})
    b = run_dir_factory([on(1, "NVIDIA H100")], "b", runtime={"backends": ["tensorflow"], "threads": 1,
                                                              "gpus": [0], "precisions": {"tensorflow": "float32"}})
    assert compare(tmp_path, a, b) == 0
    out = capsys.readouterr().out
    assert "note: threads: 2 in A, 1 in B" in out
    assert "note: the runs' runtimes differ: device CPU in A, NVIDIA H100 in B" in out
    assert out.count("threads") == 2  # named once (and in the list of what a runtime is)


def test_runtime_differences_without_configurations_come_from_the_metadata() -> None:
    from harness.report.compare import runtime_differences

    a = {"runtime": {"backends": ["tensorflow"], "threads": 4, "precisions": {"tensorflow": "float32"}}}
    b = {"runtime": {"backends": ["jax"], "threads": 4, "precisions": {"jax": "mixed_bfloat16"}}}
    assert runtime_differences(a, b, [], []) == ["backend tensorflow in A, jax in B",
                                                 "precision float32 in A, mixed_bfloat16 in B"]
    assert runtime_differences(a, a, [], []) == []
