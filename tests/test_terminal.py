"""The terminal summary, as pytest's: a line per combination, the best per dataset, the counts last."""

from __future__ import annotations

import os
import re

import pytest

from harness.terminal import best_per_dataset, format_duration, latest_records, result_line, stats_line

#: The runs below train with the fast trainer (``harness.testing.fast``: fast_pass passes, fast_fail scores the
#: baseline); this plugin adds a dataset that cannot be loaded (an error row, with the plugin's traceback) and a
#: model that needs 1-channel images (a skip).
PLUGIN = '''
import harness

def broken(request):
    raise ValueError("this dataset cannot be loaded")

def never_built(request):
    raise AssertionError("the fast trainer builds no model")

@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="broken", factory=broken, description="cannot be loaded")]

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="gray", factory=never_built, channels=1)]
'''

#: A small synthetic dataset: the fast trainer lists it (its split digest goes into the record).
SMALL = ("--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=8",
         "--set", "synthetic.validation_per_class=4", "--set", "synthetic.test_per_class=4")
ARGS = ("run", "-p", "harness.testing.fast", "--executor", "serial", "--dataset", "synthetic", "--augmentation", "none",
        "--epochs", "2", *SMALL)


def _record(status: str, test: float | None = None, **fields) -> dict:
    return {"id": "pets-none-cnn", "dataset": "pets", "seed": 1, "status": status, "test_accuracy": test,
            "baseline_accuracy": 0.5 if test is not None else None, "p_value": 0.001 if test else None, **fields}


def test_result_lines() -> None:
    assert result_line(_record("passed", 0.75)) == \
        "PASSED   pets-none-cnn test 0.750, +25.0 pts vs baseline 0.500 (p=0.001)"
    assert result_line(_record("failed", 0.52, p_value=0.3)) == \
        "FAILED   pets-none-cnn test 0.520, +2.0 pts vs baseline 0.500 (p=0.3, not significant)"
    assert result_line(_record("failed", 0.40, p_value=1.0), with_seed=True) == \
        "FAILED   pets-none-cnn[seed=1] test 0.400, -10.0 pts vs baseline 0.500 (p=1)"
    assert result_line(_record("error", error="ValueError: bad\n  second line")) == \
        "ERROR    pets-none-cnn - ValueError: bad second line"
    long = result_line(_record("skipped", error="x" * 400))
    assert long.startswith("SKIPPED  pets-none-cnn - xxx") and long.endswith("... (-v: whole)") and len(long) < 200
    assert result_line(_record("skipped", error="x" * 400), full=True) == "SKIPPED  pets-none-cnn - " + "x" * 400


def test_the_last_line_counts_like_pytest() -> None:
    records = [_record("passed", 0.9)] * 5 + [_record("failed", 0.5)] + [_record("error")] * 2
    assert stats_line(records, 751) == "5 passed, 1 failed, 2 errors in 12m31s"
    assert stats_line([_record("error")], 3, interrupted=True) == "1 error in 3s (interrupted)"
    assert stats_line([], 0) == "nothing finished in 0s"
    assert stats_line([_record("passed", 0.9), _record("error")], 1) == "1 passed, 1 error in 1s"
    assert format_duration(3 * 3600 + 120) == "3h02m"


def test_best_per_dataset_takes_the_mean_over_seeds() -> None:
    records = [_record("passed", 0.9, id="a", seed=1), _record("passed", 0.7, id="a", seed=2),
               _record("passed", 0.85, id="b"), _record("error", id="c", dataset="other")]
    assert best_per_dataset(records) == {"pets": ("b", 0.85, 1, 0.5)}


def test_a_repeated_skip_is_counted_once() -> None:
    assert len(latest_records([_record("skipped"), _record("skipped")])) == 1


def test_a_run_on_several_backends_counts_and_names_each_backend() -> None:
    """`--backend tensorflow,jax`: the same combination and seed on two backends is two results, each named
    with its backend (the summary's count, its lines, the best per dataset)."""
    records = [_record("passed", 0.8, backend="tensorflow"), _record("failed", 0.6, p_value=0.2, backend="jax"),
               _record("passed", 0.9, backend="jax", seed=2)]
    assert len(latest_records(records)) == 3
    assert stats_line(latest_records(records), 1.0).startswith("2 passed, 1 failed")
    assert result_line(records[0], with_backend=True).split()[:2] == ["PASSED", "pets-none-cnn[tensorflow]"]
    assert " pets-none-cnn[jax, seed=2] test 0.900" in result_line(records[2], with_seed=True, with_backend=True)
    assert best_per_dataset(records) == {"pets": ("pets-none-cnn[tensorflow]", 0.8, 1, 0.5)}
    one = [_record("passed", 0.8, backend="jax")]
    assert result_line(one[0]).split()[1] == "pets-none-cnn" and best_per_dataset(one)["pets"][0] == "pets-none-cnn"


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_plugin(PLUGIN)
    return harness_tester


def test_summary_of_a_run(tester) -> None:
    result = tester.run(*ARGS, "--dataset", "broken", "--model", "fast_pass", "--model", "fast_fail", "--model", "gray",
                        "-k", "synthetic or (broken and fast_pass)")
    assert result.ret == 1
    lines = result.stdout.strip().splitlines()
    start = lines.index(next(line for line in lines if " summary " in line))
    summary = [line for line in lines[start + 1:] if not line.startswith(("warning: ", "power: "))]  # small splits
    passed = next(r for r in result.records if r["id"] == "synthetic-none-fast_pass")
    score = f"test {passed['test_accuracy']:.3f}, +{100 * (passed['test_accuracy'] - 0.5):.1f} pts vs baseline 0.500"
    assert summary[0] == f"PASSED   synthetic-none-fast_pass {score} (p={passed['p_value']:.2g})"
    assert summary[1] == "FAILED   synthetic-none-fast_fail test 0.500, +0.0 pts vs baseline 0.500 (p=0.53)"
    assert summary[2] == "ERROR    broken-none-fast_pass - ValueError: this dataset cannot be loaded"
    assert summary[3] == "SKIPPED  synthetic-none-gray - gray needs 1-channel images, synthetic has 3"
    assert summary[4] == f"best on synthetic: synthetic-none-fast_pass {score}"
    assert summary[5] == f"run directory: {result.run_dir}"
    assert summary[6].startswith("statistics: ") and "1 of 2 combinations beat the baseline" in summary[6]
    assert summary[7] == f"report: {result.run_dir / 'report.html'}"
    assert re.fullmatch(r"=+ 1 passed, 1 failed, 1 error, 1 skipped in [\dhms]+ =+", summary[8]), summary[8]
    assert len(summary) == 9


def test_tb_shows_where_a_plugin_raised(tester) -> None:
    """--tb=short (the default) shows the plugin's frames with file and line, long the whole traceback, no
    nothing but the message; the traceback comes from the record (made where the task trained)."""
    source = (tester.path / "harness_plugins.py").read_text().splitlines()
    line = source.index('    raise ValueError("this dataset cannot be loaded")') + 1
    broken = ("--dataset", "broken", "--model", "fast_pass", "-p", "no:reports")
    short = tester.run(*ARGS, *broken).stdout.splitlines()
    start = short.index(next(text for text in short if " errors " in text))
    assert " broken-none-fast_pass " in short[start + 1]
    assert short[start + 2:start + 6] == [f"harness_plugins.py:{line}: in broken",
                                          '    raise ValueError("this dataset cannot be loaded")',
                                          "E   ValueError: this dataset cannot be loaded", short[start + 5]]
    assert " summary " in short[start + 5]
    long = tester.run(*ARGS, *broken, "--tb=long").stdout
    assert "Traceback (most recent call last):" in long and f'harness_plugins.py", line {line}, in broken' in long
    assert f"harness{os.sep}data{os.sep}prepare.py" in long  # harness's own frames too
    quiet = tester.run(*ARGS, *broken, "--tb", "no").stdout
    assert " errors " not in quiet and "ERROR    broken-none-fast_pass - ValueError: this dataset" in quiet


def test_quiet_summaries(tester) -> None:
    result = tester.run(*ARGS, "--model", "fast_fail", "--model", "gray", "-q", "-p", "no:reports")
    assert "FAILED   synthetic-none-fast_fail" in result.stdout and "SKIPPED  synthetic-none-gray" in result.stdout
    result = tester.run(*ARGS, "--model", "fast_fail", "-qq", "-p", "no:reports")
    assert " summary " not in result.stdout
    assert re.fullmatch(r"=+ 1 failed in [\dhms]+ =+", result.stdout.strip().splitlines()[-1])


def test_nothing_selected(tester) -> None:
    result = tester.run(*ARGS, "-k", "nothing_matches_this")
    assert result.ret == 5
    assert result.stdout.strip().splitlines()[-1] == "no combinations selected"


def test_a_usage_error_is_not_reported_as_an_empty_selection(tester) -> None:
    result = tester.run(*ARGS, "--set", "nosuch.key=1")
    assert result.ret == 4
    assert "no combinations selected" not in result.stdout
    assert "nosuch" in result.stderr


def test_the_header_comes_before_any_run_loop(tester) -> None:
    """The header wraps the run loop: a plugin's own run loop (which stops the first-result hook) gets it too."""
    tester.make_plugin(PLUGIN + '''

from harness.executors.serial import SerialExecutor


@harness.hookimpl
def harness_runloop(session):
    print("my run loop")
    SerialExecutor(session.config).run(session, session.pending_tasks())
    return True
''')
    result = tester.run(*ARGS, "--model", "fast_fail", "-p", "no:reports")
    assert result.ret == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "harness " + __import__("harness").__version__ + ": 1 combination selected"
    assert lines[1] == f"run directory: {result.run_dir}"
    assert lines[2].startswith("training 1 task on ")
    assert lines[3] == "my run loop"
    assert " 2 epochs, " in lines[4]


# -------------------------------------------------------------------------------------------------
# Progress: timers per task (workers interleave their events), the header, heartbeats
# -------------------------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reporter(verbose: int = 1, tty: bool = False):
    import argparse
    import io

    from harness.terminal import TerminalReporter

    class Out(io.StringIO):
        def isatty(self) -> bool:
            return tty

    option = argparse.Namespace(verbose=verbose, quiet=0, collect_only=False)
    reporter = TerminalReporter(argparse.Namespace(option=option), out=Out())
    reporter.clock = _Clock()
    return reporter


def _tasks(n: int, epochs: int = 2) -> list:
    from harness.engine.task import Task
    from harness.specs import AugmentationSpec, Budget, DatasetSpec, ModelSpec

    def factory(*args):
        return None

    return [Task(dataset=DatasetSpec(name="d", factory=factory), augmentation=AugmentationSpec(name="none",
                 factory=factory), model=ModelSpec(name=f"m{i}", factory=factory), budget=Budget(epochs=epochs),
                 seed=1, index=i, total=n) for i in range(n)]


def _epoch(epoch: int) -> dict:
    return {"kind": "epoch", "epoch": epoch, "loss": 0.5, "val_accuracy": 0.75, "train_seconds_total": 1.0}


def _passed() -> dict:
    return {"status": "passed", "test_accuracy": 0.8, "baseline_accuracy": 0.5, "p_value": 0.01, "epochs": 2,
            "train_seconds": 20.0, "stop_reason": "epochs"}


def test_two_tasks_training_at_once_keep_their_own_timers() -> None:
    """Under --workers, events of two tasks interleave: each task's elapsed time runs from its own start, and the
    time left counts the tasks still queued, shared by the tasks training at once."""
    reporter = _reporter()
    clock = reporter.clock
    a, b, c, d = _tasks(4)
    reporter.pending_total = 4
    reporter.harness_combination_progress(session=None, task=a, event={"kind": "prepare"})
    clock.now += 10
    reporter.harness_combination_progress(session=None, task=b, event={"kind": "prepare"})
    clock.now += 10
    reporter.harness_combination_progress(session=None, task=a, event=_epoch(1))
    # a: 20 s for half its epochs, 20 s left; c and d queued, 40 s each (a's pace), two at a time: 40 s.
    assert reporter.out.getvalue().splitlines()[-1] == \
        "[1/4] d-none-m0[seed=1] epoch 1/2 loss 0.500 val_acc 0.750 elapsed 20s left 1m00s"
    clock.now += 20
    reporter.harness_combination_result(session=None, task=a, result=_passed())
    assert reporter.finished_seconds == [40.0]
    reporter.harness_combination_progress(session=None, task=b, event=_epoch(1))
    # b: 30 s for half, 30 s left; c and d at the finished tasks' 40 s each, two at a time.
    assert "[2/4] d-none-m1[seed=1] epoch 1/2 loss 0.500 val_acc 0.750 elapsed 30s left 1m10s" in \
        reporter.out.getvalue().splitlines()


def _batch(epoch: int, step: int) -> dict:
    return {"kind": "batch", "epoch": epoch, "step": step, "steps_per_epoch": 63, "steps_total": step,
            "images": 32 * step, "train_seconds_total": 1.0}


def test_off_a_terminal_a_heartbeat_tells_where_each_task_is() -> None:
    reporter = _reporter(verbose=0)
    clock = reporter.clock
    a, b = _tasks(2, epochs=5)
    reporter.pending_total = 2
    for task in (a, b):
        reporter.harness_combination_progress(session=None, task=task, event={"kind": "prepare"})
    for second in range(1, 61):
        clock.now += 1
        reporter.harness_combination_progress(session=None, task=a, event=_batch(2, second))
        reporter.harness_combination_progress(session=None, task=b, event=_batch(1, second + 1))
    assert reporter.out.getvalue().splitlines() == [
        "[1/2] d-none-m0[seed=1] training: epoch 2/5 batch 30/63, elapsed 30s",
        "[2/2] d-none-m1[seed=1] training: epoch 1/5 batch 30/63, elapsed 30s",
        "[1/2] d-none-m0[seed=1] training: epoch 2/5 batch 60/63, elapsed 1m00s",
        "[2/2] d-none-m1[seed=1] training: epoch 1/5 batch 60/63, elapsed 1m00s",
    ]


def test_on_a_terminal_the_live_line_shows_batches_and_gives_way_to_the_result() -> None:
    reporter = _reporter(verbose=0, tty=True)
    (a,) = _tasks(1)
    reporter.harness_combination_progress(session=None, task=a, event={"kind": "prepare"})
    reporter.clock.now += 5
    reporter.harness_combination_progress(session=None, task=a, event=_batch(1, 10))
    assert "\r[1/1] d-none-m0[seed=1] epoch 1/2 batch 10/63 elapsed 5s" in reporter.out.getvalue()
    reporter.harness_combination_result(session=None, task=a, result=_passed())
    screen = reporter.out.getvalue().split("\r")[-1]  # what a terminal shows after the last carriage return
    assert screen == "[1/1] d-none-m0[seed=1] PASSED test 0.800 vs baseline 0.500 (p=0.01) 2 epochs, 20s [epochs]\n"
