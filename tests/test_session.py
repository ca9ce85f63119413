"""A session end to end: run metadata, resume (also after ``kill -9``), and the store it leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import pytest

from harness.store import RECORDS, RESULTS, RunStore
from tests.engine.conftest import SMALL, EngineTester, models

NO_REPORT = ["-p", "no:reports"]


@pytest.fixture
def engine_tester(harness_tester, monkeypatch) -> EngineTester:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return EngineTester(harness_tester)


def ids(run_dir) -> Counter:
    return Counter((r["model"], r["seed"]) for r in RunStore(run_dir).records())


def test_run_metadata_names_versions_devices_and_the_command(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "1")
    metadata = json.loads((result.run_dir / "metadata.json").read_text())
    for key in ("harness_version", "git_commit", "harness_git_commit", "tensorflow", "keras", "devices", "gpu",
                "host", "platform", "python", "argv", "cwd", "plugins", "precision", "selection", "budget", "runtime"):
        assert key in metadata, key
    assert metadata["runtime"]["backends"] == ["tensorflow"] and metadata["runtime"]["threads"] >= 1
    assert metadata["argv"][-4:] == ["--model", "tiny", "--steps", "1"]
    assert metadata["budget"] == {"epochs": None, "seconds": None, "steps": 1, "images": None}
    assert metadata["plugins"]["harness_plugins"].endswith("harness_plugins.py")
    if not metadata["gpu"]:
        assert metadata["devices"] == ["CPU"]
        assert "on the CPU" in result.stdout  # the one line that says so
    store = RunStore.open(result.run_dir)
    store.lock()  # released by the run that ended
    store.close()


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_resume_skips_what_is_recorded_and_runs_the_rest(engine_tester) -> None:
    first = engine_tester.run("run", *SMALL, *models("tiny", "tiny_b", "needs_big"), "--steps", "2")
    run_dir = first.run_dir
    lines = (run_dir / RECORDS).read_text().splitlines(keepends=True)
    assert [json.loads(line)["model"] for line in lines] == ["needs_big", "tiny", "tiny_b"]  # skip recorded first
    # As if killed while tiny_b was being written: its line is cut short.
    (run_dir / RECORDS).write_text("".join(lines[:2]) + lines[2][:40])
    (run_dir / RESULTS).unlink()

    resumed = engine_tester.run("run", "--resume")  # alone: the run's own command line is reused
    assert resumed.ret in (0, 1), resumed.stderr
    assert resumed.run_dir == run_dir
    assert ids(run_dir) == Counter({("needs_big", 1): 1, ("tiny", 1): 1, ("tiny_b", 1): 1})
    assert "1 already done" in resumed.stdout or "already done" in resumed.stdout
    assert (run_dir / (RECORDS + ".torn")).exists()
    assert sorted(pd.read_csv(run_dir / RESULTS)["model"]) == ["needs_big", "tiny", "tiny_b"]
    metadata = json.loads((run_dir / "metadata.json").read_text())
    assert metadata["argv"] == first_argv(first) and len(metadata["resumes"]) == 1
    assert "--resume" in metadata["resumes"][0]["argv"] and metadata["resumes"][0]["already_done"] == 1

    # Resuming with a larger selection trains only what is new.
    again = engine_tester.run("run", "--resume", str(run_dir), *SMALL, *models("tiny", "tiny_b", "tiny_c"),
                              "--steps", "2")
    assert ids(run_dir) == Counter({("needs_big", 1): 1, ("tiny", 1): 1, ("tiny_b", 1): 1, ("tiny_c", 1): 1})
    assert "training 1 task on" in again.stdout


def first_argv(result) -> list[str]:
    return json.loads((result.run_dir / "metadata.json").read_text())["argv"]


def test_resume_refuses_a_run_directory_in_use(engine_tester) -> None:
    first = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "1")
    holder = RunStore.open(first.run_dir)
    holder.lock()
    try:
        result = engine_tester.run("run", "--resume", str(first.run_dir), *SMALL, *models("tiny"), "--steps", "1")
    finally:
        holder.close()
    assert result.ret == 4 and "in use by another harness process" in result.stderr


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(engine_tester) -> None:
    wanted = models("tiny", "tiny_b", "tiny_c", "slow")
    env = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "HARNESS_CACHE_DIR": str(engine_tester.path / ".cache")}
    command = [sys.executable, "-m", "harness", *NO_REPORT, "run", "--executor", "serial", *SMALL, *wanted,
               "--epochs", "2", "--set", "slow.nap=0.05", "-q"]
    with open(engine_tester.path / "killed.log", "w") as log:
        process = subprocess.Popen(command, cwd=engine_tester.path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            records = None
            while process.poll() is None:  # no deadline: a busy machine is slow, not wrong
                found = list(engine_tester.path.glob(f"reports/*/{RECORDS}"))
                if found and found[0].read_text().count("\n") >= 1:
                    records = found[0]
                    break
                time.sleep(0.02)
            assert records is not None, (engine_tester.path / "killed.log").read_text()
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    before = RunStore(records.parent).records()
    assert 1 <= len(before) < 4, "the run was not killed mid-way"

    resumed = engine_tester.run("run", "--resume")
    assert resumed.ret in (0, 1), resumed.stdout + resumed.stderr
    assert resumed.run_dir == records.parent
    after = RunStore(records.parent).records()
    assert Counter(r["model"] for r in after) == Counter({"tiny": 1, "tiny_b": 1, "tiny_c": 1, "slow": 1})
    assert after[: len(before)] == before  # what finished before the kill is kept as it was
    assert all(r["status"] in ("passed", "failed") for r in after)
    assert len(pd.read_csv(records.parent / RESULTS)) == 4
