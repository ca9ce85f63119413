"""The session's lifecycle as a plugin sees it: start sees the run directory, finish gets the exit status the
process returns, and ``--resume`` continues the stored command line (issue 12; issue 16 item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.store import RECORDS, RunStore

#: A quick trainer (a replaced training hook) whose outcome each model chooses, and a plugin that writes
#: what the lifecycle hooks saw to lifecycle.jsonl.
PLUGIN = '''
import json
import os
from pathlib import Path

import harness
from harness.builtin.synthetic import load


def seen(**values):
    with open(Path(os.environ["LIFECYCLE_LOG"]), "a") as log:
        log.write(json.dumps(values) + "\\n")


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name=name, factory=load, params={"outcome": outcome})
            for name, outcome in (("good", "passed"), ("bad", "failed"), ("stop", "interrupt"),
                                  ("raises", "raise"), ("crash", "crash"))]


@harness.hookimpl(tryfirst=True)
def harness_combination_train(task):
    outcome = task.model.params["outcome"]
    if outcome == "interrupt":
        raise KeyboardInterrupt
    if outcome == "raise":
        raise RuntimeError("the trainer raised: the task's error, not the run's")
    return {"id": task.combination_id, "dataset": task.dataset.name, "augmentation": task.augmentation.name,
            "model": task.model.name, "seed": task.seed, "config_hash": task.config_hash,
            "status": "failed" if outcome == "failed" else "passed",
            "test_accuracy": 0.4 if outcome == "failed" else 0.9, "baseline_accuracy": 0.5,
            "steps": task.budget.steps}


@harness.hookimpl
def harness_combination_result(session, task, result):
    if task.model.params["outcome"] == "crash":
        raise SystemError("a bug in a plugin, in the driver")


@harness.hookimpl
def harness_session_start(session):
    run_dir = session.run_dir
    seen(hook="start", run_dir=str(run_dir) if run_dir else None, exists=bool(run_dir and run_dir.is_dir()),
         metadata=bool(run_dir and (run_dir / "metadata.json").is_file()))


@harness.hookimpl
def harness_session_finish(session, exitstatus):
    seen(hook="finish", exitstatus=exitstatus)
'''

#: The serial executor: the lifecycle is the session's, whatever trains (and in-process runs are quick).
RUN = ["run", "--dataset", "synthetic", "--augmentation", "none", "--steps", "1", "-p", "no:reports",
       "--executor", "serial"]


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("LIFECYCLE_LOG", str(harness_tester.path / "lifecycle.jsonl"))
    harness_tester.make_plugin(PLUGIN)
    return harness_tester


def hooks_seen(tester) -> list[dict]:
    log = tester.path / "lifecycle.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


def test_session_start_sees_the_run_directory(tester) -> None:
    result = tester.run(*RUN, "--model", "good")
    assert result.ret == 0, result.stderr
    start = hooks_seen(tester)[0]
    assert start == {"hook": "start", "run_dir": str(result.run_dir), "exists": True, "metadata": True}


def test_session_start_sees_the_reopened_directory_on_resume(tester) -> None:
    first = tester.run(*RUN, "--model", "good")
    hooks_seen(tester)
    tester.run("run", "--resume", str(first.run_dir))
    assert hooks_seen(tester)[0]["run_dir"] == str(first.run_dir.resolve())


def test_collect_only_makes_no_directory_and_says_so(tester) -> None:
    result = tester.run(*RUN, "--collect-only")
    assert result.ret == 0 and result.run_dir is None
    assert hooks_seen(tester) == [{"hook": "start", "run_dir": None, "exists": False, "metadata": False},
                                  {"hook": "finish", "exitstatus": 0}]


@pytest.mark.parametrize(("args", "expected"), [
    (["--model", "good"], 0),
    (["--model", "good", "--model", "bad"], 1),
    (["--model", "good", "--model", "stop"], 2),
    (["--model", "good", "--model", "raises"], 1),
    (["--model", "crash"], 3),
    (["--model", "good", "--set", "nosuch.key=1"], 4),
    (["-k", "nothing_matches_this"], 5),
], ids=["ok", "failed", "interrupted", "trainer-raised", "internal-error", "usage-error", "nothing-selected"])
def test_session_finish_gets_the_exit_status_the_process_returns(tester, args, expected) -> None:
    result = tester.run(*RUN, *args)
    assert result.ret == expected, result.stderr
    finish = [seen for seen in hooks_seen(tester) if seen["hook"] == "finish"]
    assert finish == [{"hook": "finish", "exitstatus": expected}]


def test_a_run_that_selects_nothing_or_stops_on_a_usage_error_leaves_no_directory(tester) -> None:
    for args in (["-k", "nothing_matches_this"], ["--model", "good", "--set", "nosuch.key=1"]):
        tester.run(*RUN, *args)
        assert not list(tester.path.glob("reports/*")), args


def test_usage_error_exit_status_agrees_in_a_real_process(tester) -> None:
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tester.path / ".cache")}
    process = subprocess.run([sys.executable, "-m", "harness", *RUN, "--set", "nosuch.key=1"], cwd=tester.path,
                             env=env, capture_output=True, text=True)
    assert process.returncode == 4
    assert process.stderr.count("\n") == 1 and "nosuch" in process.stderr
    assert hooks_seen(tester)[-1] == {"hook": "finish", "exitstatus": 4}


# -------------------------------------------------------------------------------------------------
# --resume continues the stored command line
# -------------------------------------------------------------------------------------------------


def interrupted_run(tester, *args: str):
    """A run of good and bad with ``args``, as if killed before bad finished."""
    first = tester.run(*RUN, "--model", "good", "--model", "bad", *args)
    records = first.run_dir / RECORDS
    lines = records.read_text().splitlines(keepends=True)
    records.write_text("".join(line for line in lines if '"bad"' not in line))
    return first.run_dir


def test_resume_with_a_neutral_option_keeps_the_stored_command_line(tester) -> None:
    run_dir = interrupted_run(tester, "--seed", "3")
    resumed = tester.run("run", "--resume", str(run_dir), "--workers", "1", "--maxfail", "3", "-q", "-p", "no:terminal")
    assert resumed.ret == 1, resumed.stderr
    records = RunStore(run_dir).records()
    assert sorted((r["model"], r["seed"], r["steps"]) for r in records) == [("bad", 3, 1), ("good", 3, 1)]


@pytest.mark.parametrize(("args", "shown"), [
    (["--seed", "1"], "--seed 1 would change the results of a run started with 3"),
    (["--steps", "2"], "--steps 2 would change the results of a run started with 1"),
    (["--epochs", "2"], "--epochs 2 would change the results of a run started with the default"),
    (["--set", "good.outcome=failed"], "--set good.outcome=failed would change the results"),
])
def test_resume_refuses_an_option_that_changes_results(tester, args, shown) -> None:
    run_dir = interrupted_run(tester, "--seed", "3")
    resumed = tester.run("run", "--resume", str(run_dir), *args)
    assert resumed.ret == 4
    message = resumed.stderr.strip()
    assert len(message.splitlines()) == 1 and shown in message and str(run_dir.resolve()) in message
    assert len(RunStore(run_dir).records()) == 1  # nothing trained


def test_resume_refuses_a_plugin_the_run_did_not_load(tester, tmp_path, monkeypatch) -> None:
    run_dir = interrupted_run(tester)
    (tmp_path / "harnessplug_other.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    resumed = tester.run("run", "--resume", str(run_dir), "-p", "harnessplug_other")
    assert resumed.ret == 4 and "-p harnessplug_other is not in the run's command line" in resumed.stderr


def test_resume_repeating_the_stored_options_and_changing_the_selection_is_fine(tester) -> None:
    run_dir = interrupted_run(tester, "--seed", "3")
    resumed = tester.run("run", "--resume", str(run_dir), "--seed", "3", "--steps", "1", "--model", "bad")
    assert resumed.ret == 1, resumed.stderr
    assert sorted(r["model"] for r in RunStore(run_dir).records()) == ["bad", "good"]
