"""Signals to a real ``harness run`` subprocess: Ctrl-C and SIGTERM end it with what finished kept and
reported; SIGKILL loses nothing finished, and --resume completes the run. The runs train with the fast trainer
(``-p harness.testing.fast``): what is tested is the run's handling of signals, not training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.store import RECORDS, RESULTS, RunStore
from tests.faults.conftest import environment, harness_command, user_error

FAST = ("-p", "harness.testing.fast")
#: Three tasks of a second each (the fast trainer's ``fast_sleep``).
LONG = (*FAST, "run", "--dataset", "pics", "--augmentation", "none", "--model", "fast_sleep",
        "--set", "fast_sleep.seconds=1", "--repeats", "3")


def start_and_signal(path: Path, sig: signal.Signals) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Start a run, send ``sig`` once its first task is recorded; the finished process and its run directory."""
    log = open(path / "run.log", "w+")
    process = subprocess.Popen(harness_command(*LONG), cwd=path, env=environment(path), stdout=log,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300  # a hang guard only: the test waits for the first record
        records = None
        while time.monotonic() < deadline and process.poll() is None:
            found = list(path.glob(f"reports/*/{RECORDS}"))
            if found and found[0].read_text().count("\n") >= 1:
                records = found[0]
                break
            time.sleep(0.05)
        assert records is not None, (path / "run.log").read_text()
        process.send_signal(sig)
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log.seek(0)
    output = log.read()
    log.close()
    return subprocess.CompletedProcess(process.args, process.returncode, output, ""), records.parent


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_keeps_and_reports_what_finished(tester, sig) -> None:
    """Before the fix SIGTERM killed the run at once (exit 143): no results.csv, no report."""
    done, run_dir = start_and_signal(tester.path, sig)
    assert done.returncode == 2, done.stdout
    assert "interrupted" in done.stdout and "Traceback" not in done.stdout
    records = RunStore(run_dir).records()
    assert 1 <= len(records) < 3 and all(r["status"] in ("passed", "failed") for r in records)
    assert len(pd.read_csv(run_dir / RESULTS)) == len(records)
    assert (run_dir / "report.html").is_file()


@pytest.mark.slow
def test_kill_9_then_resume_completes_the_run_exactly(tester) -> None:
    done, run_dir = start_and_signal(tester.path, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    before = RunStore(run_dir).records()
    assert 1 <= len(before) < 3
    resumed = tester.run(*FAST, "run", "--resume", str(run_dir))
    assert resumed.ret in (0, 1), resumed.stderr
    after = RunStore(run_dir).records()
    assert after[: len(before)] == before
    assert sorted(r["seed"] for r in after) == [1, 2, 3]
    assert {json.dumps(r["config"]["budget"]) for r in after} == {json.dumps(before[0]["config"]["budget"])}


@pytest.mark.parametrize(("extra", "refused"), [
    (("--workers", "1"), False),
    (("-v",), False),
    (("--seed", "4"), True),
    (("--epochs", "2"), True),
])
def test_resume_with_extra_options_never_mixes_configurations(tester, extra, refused) -> None:
    """Options that change results are refused on --resume; the others continue the stored command line
    (before the fix, --resume RUN_DIR --workers 1 retrained a --seed 3 run with seed 1)."""
    first = tester.run(*FAST, "run", "--dataset", "pics", "--augmentation", "none", "--model", "fast_pass",
                       "--seed", "3", "-q")
    assert first.ret in (0, 1)
    records = first.run_dir / RECORDS
    records.write_text("")  # as if killed before the first task finished
    result = tester.run(*FAST, "run", "--resume", str(first.run_dir), *extra)
    if refused:
        assert result.ret == 4
        assert extra[0] in user_error(result.stderr)
        assert records.read_text() == ""
    else:
        assert result.ret in (0, 1), result.stderr
        assert [r["seed"] for r in RunStore(first.run_dir).records()] == [3]


@pytest.mark.slow
def test_ctrl_c_ends_a_run_stuck_on_a_fifo(tester) -> None:
    """A FIFO among the images used to block the decoder for ever, and Ctrl-C could not end it."""
    os.mkfifo(tester.path / "pics" / "cats" / "pipe.jpg")
    done = subprocess.run(harness_command("run", "--dataset", "pics", "--augmentation", "none", "--model", "tiny",
                                          "--steps", "1", "-q"),
                          cwd=tester.path, env=environment(tester.path), capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    (record,) = RunStore(next(tester.path.glob("reports/*"))).records()
    assert {"file": str(tester.path / "pics" / "cats" / "pipe.jpg"), "reason": "not a regular file"} in \
        record["dataset_info"]["skipped_files"]
