"""The process executor: supervised worker processes that build the run's plugins and train through
``harness.runner.run_task``; a worker that dies or a task that hangs is that task's error row and the run goes on.

These tests train with the fast trainer (``-p harness.testing.fast``) on the JAX backend, whose configuration
imports nothing: a worker starts in about a second. One test trains for real, in the engine, to show that a
crash inside Keras is handled the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.store import RunStore
from harness.testing import HarnessTester

#: A fast run: the fast trainer's models on the synthetic dataset, in worker processes.
GRID = ("-p", "harness.testing.fast", "run", "--dataset", "synthetic", "--augmentation", "none", "--threads", "1")
FAST = (*GRID, "--backend", "jax", "--executor", "process")
#: A wrapper around the trainer that logs, in the worker, its process id, backend and task.
LOGGING_PLUGIN = '''
import os

import harness


@harness.hookimpl(wrapper=True)
def harness_combination_train(task):
    with open("trainers.log", "a") as log:
        log.write(f"{os.getpid()} {os.environ.get('KERAS_BACKEND')} {task.model.name} {task.seed}\\n")
    return (yield)
'''


def models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--model", name)]


def by_model(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in records}


def trainers(path: Path) -> list[list[str]]:
    """The lines the logging plugin wrote: pid, backend, model, seed."""
    return [line.split() for line in (path / "trainers.log").read_text().splitlines()]


@pytest.fixture
def tester(harness_tester: HarnessTester, monkeypatch: pytest.MonkeyPatch) -> HarnessTester:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return harness_tester


def test_an_aborting_task_is_an_error_row_and_the_run_goes_on(tester: HarnessTester) -> None:
    result = tester.run(*FAST, *models("fast_abort", "fast_pass", "fast_fail"), "-p", "no:reports")
    assert result.ret == 1, result.stderr
    records = by_model(result.records)
    assert sorted(records) == ["fast_abort", "fast_fail", "fast_pass"]
    assert records["fast_abort"]["status"] == "error" and records["fast_abort"]["error_kind"] == "worker"
    assert records["fast_abort"]["error"] == "worker died: SIGABRT"
    assert records["fast_pass"]["status"] == "passed" and records["fast_fail"]["status"] == "failed"
    assert "worker died: SIGABRT" in result.stdout
    assert len(result.results) == 3  # the run finished as any other (the report: see the real engine's test)


def test_a_task_past_its_timeout_is_stopped_and_the_run_goes_on(tester: HarnessTester) -> None:
    started = time.monotonic()
    result = tester.run(*FAST, *models("fast_sleep", "fast_pass"), "--task-timeout", "2s", "-p", "no:reports")
    assert result.ret == 1, result.stderr
    records = by_model(result.records)
    assert records["fast_sleep"]["status"] == "error" and records["fast_sleep"]["error_kind"] == "timeout"
    assert records["fast_sleep"]["error"].startswith("timed out after 2s")
    assert records["fast_pass"]["status"] == "passed"
    assert time.monotonic() - started < 300  # fast_sleep sleeps 600 s: it was stopped (a hang guard only)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_records_do_not_depend_on_the_executor_or_the_workers(tester: HarnessTester, workers: str) -> None:
    grid = ["--dataset", "synthetic", "--augmentation", "none", "--backend", "jax", "--threads", "1",
            *models("fast_pass", "fast_fail"), "--repeats", "2", "-p", "no:reports"]
    # in a process of its own: the serial executor makes its process's runtime (backend, threads) the run's
    serial = tester.run_subprocess("-p", "harness.testing.fast", "run", *grid, "--executor", "serial",
                                   "--output", "serial")
    pooled = tester.run("-p", "harness.testing.fast", "run", *grid, "--executor", "process", "--workers", workers,
                        "--output", "process")
    assert serial.ret == pooled.ret == 1, pooled.stderr

    def outcome(records: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[Any, ...]]:
        return {(r["model"], r["seed"]): (r["config_hash"], r["test_accuracy"], r["threads"],
                                          [e["val_accuracy"] for e in r["history"]]) for r in records}

    assert outcome(pooled.records) == outcome(serial.records) and len(pooled.records) == 4


@pytest.mark.slow  # a TensorFlow worker
def test_each_task_trains_in_a_worker_through_the_runs_plugins(tester: HarnessTester) -> None:
    """Workers build the run's plugin manager (here with harness_plugins.py) and train through the hook: the
    plugin's wrapper runs in processes other than this one, one backend per worker."""
    tester.make_plugin(LOGGING_PLUGIN)
    result = tester.run(*GRID, *models("fast_pass", "fast_error"), "--backend", "tensorflow,jax",
                        "--executor", "process", "--workers", "2", "-p", "no:reports")
    assert result.ret == 1, result.stderr
    lines = trainers(tester.path)
    assert sorted((backend, model) for _, backend, model, _ in lines) == [
        ("jax", "fast_error"), ("jax", "fast_pass"), ("tensorflow", "fast_error"), ("tensorflow", "fast_pass")]
    assert all(int(pid) != os.getpid() for pid, *_ in lines)  # trained in the workers, not here
    backends_of = {}
    for pid, backend, *_ in lines:
        assert backends_of.setdefault(pid, backend) == backend  # a worker serves one backend
    errors = [r for r in result.records if r["status"] == "error"]
    assert len(errors) == 2 and all(r["error"].startswith("RuntimeError: fast_error: ") for r in errors)
    assert "epoch 2" in result.stdout or "[epochs]" in result.stdout  # progress came back from the workers


def test_one_worker_trains_the_tasks_one_after_the_other(tester: HarnessTester) -> None:
    tester.make_plugin(LOGGING_PLUGIN)
    result = tester.run(*FAST, *models("fast_pass", "fast_fail"), "--repeats", "2", "-p", "no:reports")
    assert result.ret == 1, result.stderr
    lines = trainers(tester.path)
    assert len(lines) == 4 and len({pid for pid, *_ in lines}) == 1  # a reused worker


def test_exitfirst_stops_handing_out(tester: HarnessTester) -> None:
    result = tester.run(*FAST, *models("fast_error"), "--repeats", "3", "-x", "-p", "no:reports")
    assert result.ret == 1, result.stderr
    assert [r["seed"] for r in result.records] == [1]  # one worker: nothing else had started


def test_tasks_must_travel_to_the_workers(tester: HarnessTester) -> None:
    tester.make_plugin('''
        import harness

        @harness.hookimpl
        def harness_models_register(config):
            return [harness.ModelSpec(name="closure", factory=lambda request: None)]
    ''')
    result = tester.run(*FAST, *models("closure"))
    assert result.ret == 4
    assert "--executor process: task synthetic-none-closure[seed=1] cannot be sent to a worker process" in \
        result.stderr


def test_a_worker_that_cannot_start_is_a_usage_error(tester: HarnessTester) -> None:
    """A plugin that loads here and fails in the workers (here: a module that refuses a second import)."""
    tester.make_plugin('''
        import os

        if os.environ.get("HARNESS_TEST_DRIVER") != str(os.getpid()):
            raise ImportError("not in the driver")
    ''')
    os.environ["HARNESS_TEST_DRIVER"] = str(os.getpid())
    try:
        result = tester.run(*FAST, *models("fast_pass"))
    finally:
        del os.environ["HARNESS_TEST_DRIVER"]
    assert result.ret == 4, result.stderr
    assert "--executor process: a worker process could not start:" in result.stderr
    assert "not in the driver" in result.stderr


@pytest.mark.parametrize("value", ["0", "two"])
def test_workers_option_is_checked(tester: HarnessTester, value: str) -> None:
    result = tester.run(*FAST, "--workers", value)
    assert result.ret == 4
    assert "--workers" in result.stderr and "expected a positive whole number" in result.stderr


def _recorded(path: Path) -> bool:
    """Whether the run in ``path`` has recorded a task."""
    return any(p.read_text() for p in path.glob("reports/*/records.jsonl"))


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_workers_keeps_what_finished_and_exits_2(tester: HarnessTester, sig: int) -> None:
    tester.make_plugin(LOGGING_PLUGIN)
    process = subprocess.Popen([sys.executable, "-m", "harness", *FAST, *models("fast_pass", "fast_sleep"),
                                "--workers", "2", "-p", "no:reports"],
                               cwd=tester.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tester.path / "trainers.log"
    try:
        deadline = time.monotonic() + 300  # a hang guard only
        while not (log.exists() and "fast_sleep" in log.read_text() and _recorded(tester.path)):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        [worker] = [int(pid) for pid, _, model, _ in trainers(tester.path) if model == "fast_sleep"]
        assert _alive(worker)
        process.send_signal(sig)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 2, err
    assert not _alive(worker)
    [run_dir] = tester.path.glob("reports/*")
    assert [r["model"] for r in RunStore(run_dir).records()] == ["fast_pass"]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_worker_dies_with_a_killed_driver(tester: HarnessTester) -> None:
    """kill -9 of harness leaves no worker training a task nobody will record."""
    tester.make_plugin(LOGGING_PLUGIN)
    process = subprocess.Popen([sys.executable, "-m", "harness", *FAST, *models("fast_sleep"), "-p", "no:reports"],
                               cwd=tester.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tester.path / "trainers.log"
    try:
        deadline = time.monotonic() + 300  # a hang guard only
        while not (log.exists() and log.read_text()):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        [[pid, *_]] = trainers(tester.path)
        process.kill()
        process.wait()
        deadline = time.monotonic() + 60
        while _alive(int(pid)):
            assert time.monotonic() < deadline, "the worker outlived its driver"
            time.sleep(0.1)
    finally:
        process.kill()


ABORTING_FACTORY = '''
import os

import harness


def tiny(request):
    import keras
    return keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(request.num_classes)])


def aborts(request):
    os.abort()


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.01}),
            harness.ModelSpec(name="aborts", factory=aborts, input_range="0-1")]
'''


@pytest.mark.slow
def test_a_factory_that_aborts_inside_the_real_engine_is_an_error_row(tester: HarnessTester) -> None:
    tester.make_plugin(ABORTING_FACTORY)
    result = tester.run("run", "--dataset", "synthetic", "--augmentation", "none", "--batch-size", "8", "--steps", "2",
                        "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=8",
                        "--set", "synthetic.validation_per_class=4", "--set", "synthetic.test_per_class=4",
                        *models("aborts", "tiny"), "--threads", "1", "--executor", "process")
    assert result.ret == 1, result.stderr
    records = by_model(result.records)
    assert records["aborts"]["error"] == "worker died: SIGABRT"
    assert records["tiny"]["status"] in ("passed", "failed")
    assert (result.run_dir / "report.html").is_file()
