"""The run's sequence as the session owns it (issue 22): the runtime decided once and recorded, the exit
status that follows the run's verdict, lost infrastructure, and ``--resume`` retrying errors (issue 24 item 8).
Everything here trains with the fast trainer (``-p harness.testing.fast``): the session is tested, not Keras."""

from __future__ import annotations

import json

import pytest

from harness.cli import make_config
from harness.errors import ExitCode
from harness.session import Session, task_timeout
from harness.specs import Budget
from harness.store import RESULTS, RunStore

FAST = ["-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none", "--epochs", "1"]
#: The serial executor, in this process: the session is what these tests look at.
SERIAL = [*FAST, "--executor", "serial", "-p", "no:reports"]

#: A trainer whose second seed fails (its test is the baseline's) while the seeds pooled beat the baseline.
ONE_SEED_FAILS = '''
import harness
from harness import stats
from harness.testing import fast


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="one_seed_fails", factory=fast._never_built, description="seed 2 fails")]


@harness.hookimpl(tryfirst=True)
def harness_combination_train(task):
    record = fast.harness_combination_train(task)
    if task.model.name == "one_seed_fails" and task.seed == 2:
        n = record["n_test"]
        record.update(test_accuracy=0.5, n_correct=n // 2, status="failed",
                      p_value=stats.p_beats_baseline(0.5, n, 0.5))
    return record
'''

#: An executor that records the first task, then loses its (imaginary) cluster.
LOSING_EXECUTOR = '''
import harness
from harness.errors import InfrastructureLost
from harness.executor import ExecutorSpec
from harness.runner import run_task


class Losing:
    def __init__(self, config):
        pass

    def run(self, session, tasks):
        session.record(tasks[0], run_task(session.hook, tasks[0]))
        raise InfrastructureLost("the Ray head at 127.0.0.1:6379 (connection refused)")


@harness.hookimpl
def harness_executors_register(config):
    return [ExecutorSpec(name="losing", factory=Losing, description="records one task, then loses its cluster")]
'''


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return harness_tester


def last_line(stdout: str) -> str:
    return stdout.strip().splitlines()[-1]


# -------------------------------------------------------------------------------------------------
# One verdict
# -------------------------------------------------------------------------------------------------


def test_one_failing_seed_does_not_fail_a_combination_whose_pooled_seeds_pass(tester) -> None:
    tester.make_plugin(ONE_SEED_FAILS)
    result = tester.run("run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none",
                        "--model", "one_seed_fails", "--repeats", "3", "--executor", "serial", "-p", "no:reports")
    assert sorted(r["status"] for r in result.records) == ["failed", "passed", "passed"]  # the seeds' own tests
    assert "1 passed (combinations, seeds pooled; per seed: 2 passed, 1 failed)" in last_line(result.stdout)
    assert result.ret == ExitCode.OK, result.stdout


def test_a_combination_whose_pooled_seeds_fail_fails_the_run(tester) -> None:
    result = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_fail", "--repeats", "3")
    assert result.ret == ExitCode.FAILED
    assert "1 passed, 1 failed (combinations, seeds pooled; per seed: 3 passed, 3 failed)" in last_line(result.stdout)


def test_a_run_with_one_seed_each_counts_as_before(tester) -> None:
    result = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_error")
    assert result.ret == ExitCode.FAILED
    assert "1 passed, 1 error in" in last_line(result.stdout)


# -------------------------------------------------------------------------------------------------
# The runtime
# -------------------------------------------------------------------------------------------------


def test_the_runtime_is_decided_once_recorded_and_carried_by_every_task(tester) -> None:
    from harness.system import usable_cores

    result = tester.run("run", *SERIAL, "--model", "fast_pass", "--repeats", "2")
    assert result.ret == 0, result.stderr
    metadata = json.loads((result.run_dir / "metadata.json").read_text())
    assert metadata["runtime"]["threads"] == usable_cores()  # the default: the cores this machine gives
    assert metadata["runtime"]["backends"] == metadata["backends"] and metadata["runtime"]["gpus"] == []
    assert [r["threads"] for r in result.records] == [usable_cores()] * 2


def test_threads_change_the_tasks_configuration(tester) -> None:
    """``--threads`` is part of what a task computes: another value is another task (and hash)."""
    hashes = {}
    for threads in ("1", "3"):
        config = make_config(["run", *FAST, "--model", "fast_pass", "--threads", threads], tester.path)
        session = Session(config)
        session.collect()
        assert session.choose_runtime().threads == int(threads)
        (task,) = session.make_tasks()
        assert task.threads == int(threads)
        hashes[threads] = task.config_hash
    assert hashes["1"] != hashes["3"]


def test_a_resumed_run_reuses_the_stored_threads_on_a_machine_with_other_cores(tester, monkeypatch) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_error")
    stored = json.loads((first.run_dir / "metadata.json").read_text())["runtime"]["threads"]
    monkeypatch.setattr("harness.session.usable_cores", lambda: stored + 5)  # another machine
    resumed = tester.run("run", "--resume", str(first.run_dir))
    assert "(1 already done, 1 to retry: errored, resumed)" in resumed.stdout
    records = RunStore(first.run_dir).records()
    assert [r["model"] for r in records] == ["fast_pass", "fast_error", "fast_error"]
    assert records[0]["threads"] == stored
    assert records[2]["config_hash"] == records[1]["config_hash"]  # the same task (threads are hashed), retried


@pytest.mark.parametrize(("given", "budget", "expected"), [
    (30.0, Budget(seconds=20.0), 30.0),
    (None, Budget(seconds=20.0), 3 * 20.0 + 600.0),
    (None, Budget(epochs=3), None),
])
def test_task_timeout_is_the_option_else_derived_from_a_time_budget(given, budget, expected) -> None:
    assert task_timeout(given, budget) == expected


def test_tasks_carry_the_task_timeout(tester) -> None:
    config = make_config(["run", *FAST, "--model", "fast_pass", "--task-timeout", "1m30s"], tester.path)
    session = Session(config)
    session.collect()
    session.choose_runtime()
    assert [t.timeout_seconds for t in session.make_tasks()] == [90.0]


def test_gpus_are_found_without_a_framework(monkeypatch) -> None:
    from harness import gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpus.visible_gpus() == []
    monkeypatch.setattr(gpus, "nvidia_smi", lambda: [gpus.parse_line(line) for line in (
        "0, GPU-aaa, NVIDIA H100 80GB HBM3, 81559, 9.0", "1, GPU-bbb, Tesla T4, 15360, 7.5")])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    (only,) = gpus.visible_gpus()
    assert (only.name, only.compute_capability, only.memory_bytes) == ("Tesla T4", 7.5, 15360 * 2**20)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert [d.name for d in gpus.visible_gpus()] == ["NVIDIA H100 80GB HBM3", "Tesla T4"]
    assert gpus.parse_line("No devices were found") is None


def test_the_default_executor_is_the_supervised_process_executor(tester) -> None:
    config = make_config(["run", *FAST, "--model", "fast_pass"], tester.path)
    from harness.executor import executor_name

    assert executor_name(config) == "process"


# -------------------------------------------------------------------------------------------------
# Lost infrastructure, and --resume
# -------------------------------------------------------------------------------------------------


def test_lost_infrastructure_is_said_kept_reported_and_resumed_on_another_executor(tester) -> None:
    tester.make_plugin(LOSING_EXECUTOR)
    lost = tester.run("run", *FAST, "--model", "fast_pass", "--repeats", "3", "--executor", "losing")
    assert lost.ret == ExitCode.INFRASTRUCTURE_LOST == 6
    (line,) = lost.stderr.splitlines()
    assert line.startswith("harness: lost the Ray head at 127.0.0.1:6379 (connection refused)")
    assert f"--resume {lost.run_dir}" in line
    assert len(RunStore(lost.run_dir).records()) == 1  # what finished is kept
    assert (lost.run_dir / RESULTS).is_file() and (lost.run_dir / "report.html").is_file()
    assert "(infrastructure lost; 2 not run)" in last_line(lost.stdout)

    resumed = tester.run("run", "--resume", str(lost.run_dir), "--executor", "serial")
    assert resumed.ret == ExitCode.OK, resumed.stdout + resumed.stderr
    assert "training 2 tasks" in resumed.stdout
    assert sorted(r["seed"] for r in RunStore(lost.run_dir).records()) == [1, 2, 3]


def test_resume_retries_errors_and_keeps_failures(tester) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_fail", "--model", "fast_error")
    assert first.ret == ExitCode.FAILED
    resumed = tester.run("run", "--resume", str(first.run_dir))
    assert "training 1 task on" in resumed.stdout
    assert "(2 already done, 1 to retry: errored, resumed)" in resumed.stdout
    records = RunStore(first.run_dir).records()
    assert [r["model"] for r in records] == ["fast_pass", "fast_fail", "fast_error", "fast_error"]
    import pandas as pd

    assert sorted(pd.read_csv(first.run_dir / RESULTS)["model"]) == ["fast_error", "fast_fail", "fast_pass"]


# -------------------------------------------------------------------------------------------------
# One owner
# -------------------------------------------------------------------------------------------------


def test_nothing_outside_the_session_sets_its_attributes() -> None:
    """The session's state is its own: entry points, executors and plugins call its methods and read it."""
    import ast
    from pathlib import Path

    import harness

    root = Path(harness.__file__).parent
    names = {"session", "hs", "hsession"}

    def is_session(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in names) or \
            (isinstance(node, ast.Attribute) and node.attr in names)

    offenders = []
    for path in [*root.rglob("*.py"), *(root.parent / "plugins").rglob("*.py")]:
        if path == root / "session.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            flat = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
            offenders += [f"{path}:{node.lineno}" for t in flat if isinstance(t, ast.Attribute) and is_session(t.value)]
    assert offenders == []
