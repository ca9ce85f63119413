"""``--executor slurm`` on a real single-node SLURM cluster on 127.0.0.1 (see conftest.py): records, faults
(requeue, scancel, time limit), Ctrl-C and resume. SLURM schedules in seconds: every test here is slow."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from typing import Any

import pytest
from slurmcluster import FAST, SMALL, Runner, models, squeue

pytestmark = pytest.mark.slow

#: What must be identical between two trainings with the same seed on the CPU (timings aside).
SAME = ("status", "val_accuracy", "test_accuracy", "train_accuracy", "best_epoch", "steps", "epochs", "config_hash",
        "threads")


def outcome(record: dict[str, Any]) -> dict[str, Any]:
    history = [{k: v for k, v in entry.items() if k not in ("seconds", "train_seconds_total")}
               for entry in record["history"]]
    return {**{k: record[k] for k in SAME}, "history": history}


def same_as_process(runner: Runner, grid: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """Run ``grid`` on the process and SLURM executors: the same records; SLURM's output and records."""
    runs = {}
    outputs = {}
    for name in ("process", "slurm"):
        code, outputs[name] = runner.run(*grid, "--executor", name, "--output", name)
        assert code in (0, 1), outputs[name]
        runs[name] = {(r["model"], r["seed"]): r for r in runner.records(name)}
    assert len(runs["process"]) == 4 and sorted(runs["slurm"]) == sorted(runs["process"])
    for key, record in runs["slurm"].items():
        assert outcome(record) == outcome(runs["process"][key]), key
    return outputs["slurm"], list(runs["slurm"].values())


def test_the_fast_grid_gives_the_process_executors_records_naming_job_and_node(runner: Runner) -> None:
    out, records = same_as_process(runner, [*FAST, *models("fast_pass", "fast_fail"), "--repeats", "2"])
    array = re.search(r"SLURM job array (\d+): 4 tasks, each 1 CPU", out)
    assert array, out
    assert sorted(r["slurm_job_id"] for r in records) == [f"{array[1]}_{i}" for i in range(4)]
    assert all(r["attempts"] == 1 and r["node"] and r["attempt_nodes"] == [r["node"]] for r in records)
    assert re.search(rf"SLURM job {array[1]}_\d started on \S+", out), out
    run_dir = runner.run_dir("slurm")
    assert f"logs in {run_dir / 'slurm' / '1'}" in out
    assert len(list((run_dir / "slurm" / "1").glob("*_log.out"))) == 4
    assert "run directory on " in out and "(shared)" in out  # one node, this machine: shared trivially


def test_real_training_gives_the_process_executors_numbers(runner: Runner) -> None:
    """TensorFlow's numbers depend on the thread count: at --threads 1 on both, they agree to the bit."""
    same_as_process(runner, ["run", *SMALL, *models("tiny", "tiny_b"), "--repeats", "2", "--steps", "3"])


def _start(runner: Runner, *args: str) -> tuple[subprocess.Popen[str], list[str], str]:
    """A run of ``fast_sleep`` (and ``args``); returns it once its sleeping element started, with that job's id."""
    process = runner.start(*FAST, *models("fast_sleep"), *args, "--executor", "slurm", "--output", "r")
    seen: list[str] = []
    job = runner.wait_for_line(process, r"fast_sleep\[seed=1\]: SLURM job (\d+(?:_\d+)?) started", seen)[1]
    return process, seen, job


def _finish(process: subprocess.Popen[str], seen: list[str]) -> str:
    try:
        out, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    return "".join(seen) + out


def test_a_requeued_element_trains_again_and_is_recorded_once(runner: Runner) -> None:
    process, seen, job = _start(runner, "--set", "fast_sleep.seconds=8")
    subprocess.run(["scontrol", "requeue", job], check=True, timeout=30)
    out = _finish(process, seen)
    assert process.returncode == 0, out
    assert f"SLURM job {job} started again (start 2)" in out, out
    [record] = runner.records("r")
    assert record["status"] == "passed" and record["attempts"] == 2 and record["slurm_job_id"] == job


def test_a_cancelled_element_is_an_error_row_naming_the_cancellation(runner: Runner) -> None:
    process, seen, job = _start(runner, "--model", "fast_pass")
    subprocess.run(["scancel", job], check=True, timeout=30)
    out = _finish(process, seen)
    assert process.returncode == 1, out
    records = {r["model"]: r for r in runner.records("r")}
    cancelled = records["fast_sleep"]
    assert cancelled["status"] == "error" and cancelled["error_kind"] == "lost", cancelled
    assert cancelled["error"].startswith(f"SLURM job {job} was cancelled (scancel)"), cancelled["error"]
    assert records["fast_pass"]["status"] == "passed"


def test_an_element_past_its_time_limit_is_an_error_row_saying_so(runner: Runner) -> None:
    code, out = runner.run(*FAST, *models("fast_sleep"), "--slurm-time", "1m", "--executor", "slurm",
                           "--output", "r")
    assert code == 1, out
    assert "time limit 1m (--slurm-time)" in out, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error_kind"] == "timeout", record
    assert record["error"].startswith("hit the SLURM time limit (1m, --slurm-time)"), record["error"]


def test_the_task_timeout_is_the_same_error_row_as_on_every_executor(runner: Runner) -> None:
    code, out = runner.run(*FAST, *models("fast_sleep"), "--task-timeout", "3s", "--executor", "slurm",
                           "--output", "r")
    assert code == 1, out
    assert "time limit 6m (the task timeout 1m + 5m)" in out, out  # the default, derived from the timeout
    [record] = runner.records("r")
    assert record["error_kind"] == "timeout" and record["error"].startswith("timed out after 3s"), record


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_cancels_the_array_keeps_the_finished_and_resume_completes(runner: Runner,
                                                                                how: signal.Signals) -> None:
    grid = [*FAST, *models("fast_pass", "fast_sleep"), "--set", "fast_sleep.seconds=10", "--executor", "slurm",
            "--output", "r"]
    process = runner.start(*grid)
    seen: list[str] = []
    started = r"fast_sleep\[seed=1\]: SLURM job (\d+(?:_\d+)?) started"
    runner.wait_for_line(process, r"fast_pass\[seed=1\] on \S+ PASSED", seen)
    found = re.search(started, "".join(seen))  # the sleeping element may have started first
    job = found[1] if found else runner.wait_for_line(process, started, seen)[1]
    process.send_signal(how)
    out = _finish(process, seen)
    assert process.returncode == 2, out
    assert [r["model"] for r in runner.records("r")] == ["fast_pass"]
    deadline = time.monotonic() + 60
    while squeue(job).get(job) not in ("CANCELLED", None):  # the array is cancelled, not left to run
        assert time.monotonic() < deadline, squeue(job)
        time.sleep(0.5)
    code, out = runner.run(*grid, "--resume")
    assert code == 0, out
    assert sorted(r["model"] for r in runner.records("r")) == ["fast_pass", "fast_sleep"]
    assert (runner.run_dir("r") / "slurm" / "2").is_dir()  # a fresh submitit folder for the resumed run


def test_a_node_with_other_files_refuses_the_task(runner: Runner) -> None:
    """The split digest computed where the run started travels with the task (the element here sees one file
    less, told so by a --slurm-setup line)."""
    from PIL import Image

    data = runner.path / "data"
    data.mkdir()
    for i in range(12):
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(data / f"{'ab'[i % 2]}{i}.png")
    code, out = runner.run("-p", "harness.testing.fast", "run", "--dataset", "files", "--augmentation", "none",
                           *models("fast_pass"), "--backend", "jax", "--threads", "1", "--data-dir", str(data),
                           "--slurm-setup", "export HARNESS_SLURM_TEST_NODE=1", "--executor", "slurm",
                           "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error_kind"] == "data", record
    assert re.search(r"dataset 'files': the files on .* give split digest \w+, the run expects \w+",
                     record["error"]), record["error"]


def test_an_element_whose_node_fails_is_requeued_and_recorded_once(runner: Runner) -> None:
    """A node marked down under a running element (as a failed node is): SLURM requeues the element, which
    trains again when the node is back, and counts as one record with two attempts."""
    process, seen, job = _start(runner, "--set", "fast_sleep.seconds=8")
    [node] = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%N"], capture_output=True, text=True,
                            check=True, timeout=30).stdout.split()
    try:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=harness-test"], check=True,
                       timeout=30)
    finally:  # back in service (slurm-localhost's ReturnToService=2 may have done it already)
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], capture_output=True, timeout=30)
    out = _finish(process, seen)
    assert process.returncode == 0, out
    [record] = runner.records("r")
    assert record["status"] == "passed" and record["attempts"] == 2, record


def test_an_element_that_ends_without_a_result_is_an_error_row_pointing_at_its_log(runner: Runner) -> None:
    code, out = runner.run(*FAST, *models("fast_pass"), "--slurm-setup", "echo no module here >&2; exit 3",
                           "--executor", "slurm", "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error_kind"] == "worker", record
    assert re.fullmatch(r"SLURM job \d+ ended \(FAILED, reason \S+\) without a result: see \S+_log\.err",
                        record["error"]), record["error"]
    assert "no module here" in open(record["error"].rsplit(" ", 1)[1]).read()


def test_the_options_reach_the_sbatch_file(runner: Runner) -> None:
    code, out = runner.run(*FAST, *models("fast_pass"), "--repeats", "2", "--slurm-array-parallelism", "1",
                           "--slurm-mem", "500M", "--slurm-time", "90s", "--slurm-setup", "echo setup ran",
                           "--slurm-sbatch", "comment=harness-test", "--executor", "slurm", "--output", "r")
    assert code == 0, out
    assert re.search(r"SLURM job array \d+: 2 tasks, 1 at a time, each 1 CPU, 500M memory, time limit 2m "
                     r"\(--slurm-time\)", out), out
    [sbatch] = (runner.run_dir("r") / "slurm" / "1").glob("*_submission.sh")
    lines = sbatch.read_text().splitlines()
    for line in ("#SBATCH --array=0-1%1", "#SBATCH --mem=500M", "#SBATCH --time=2", "#SBATCH --cpus-per-task=1",
                 "#SBATCH --comment=harness-test", "echo setup ran"):
        assert line in lines, (line, lines)
    assert {r["status"] for r in runner.records("r")} == {"passed"}


def test_plugins_that_do_not_load_on_the_node_are_the_tasks_error_row(runner: Runner) -> None:
    (runner.path / "nodeplugin.py").write_text(
        "import os\n\n"
        "if os.environ.get('HARNESS_SLURM_TEST_NODE'):\n"
        "    raise ImportError('nodeplugin is not installed on this node')\n")
    code, out = runner.run("-p", "nodeplugin", *FAST, *models("fast_pass"), "--executor", "slurm",
                           "--slurm-setup", "export HARNESS_SLURM_TEST_NODE=1", "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and "nodeplugin is not installed on this node" in record["error"], record
    assert record["slurm_job_id"] and record["node"], record
