"""``--executor ray`` on a three-node Ray cluster simulated on this machine (see conftest.py). The cluster
takes about 20 s to start: every test here is slow."""

from __future__ import annotations

import ipaddress
import re
import signal
import time
from typing import Any

import pytest
from raycluster import RUN_TIMEOUT, SMALL, Runner, files_in, models

pytestmark = pytest.mark.slow

#: The fast trainer's 4-task grid (two models, two seeds), one thread per task.
FAST_GRID = ["-p", "harness.testing.fast", "run", "--dataset", "synthetic", "--augmentation", "none",
             "--backend", "jax", "--threads", "1", *models("fast_pass", "fast_fail"), "--repeats", "2"]

#: What must be identical between two trainings with the same seed on the CPU (timings aside).
SAME = ("status", "val_accuracy", "test_accuracy", "train_accuracy", "best_epoch", "steps", "epochs", "config_hash")


def outcome(record: dict[str, Any]) -> dict[str, Any]:
    history = [{k: v for k, v in entry.items() if k not in ("seconds", "train_seconds_total")}
               for entry in record["history"]]
    return {**{k: record[k] for k in SAME}, "history": history}


def _listening_addresses() -> dict[str, set[str]]:
    """The addresses that this process's descendants (the cluster's servers, raylets and workers) listen on,
    by process name."""
    import psutil  # ships with Ray (ray/thirdparty_files), importable once ray is imported

    found: dict[str, set[str]] = {}
    for process in psutil.Process().children(recursive=True):
        try:
            connections = process.net_connections(kind="inet")
            name = process.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN:
                address = ipaddress.ip_address(connection.laddr.ip)
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped  # ::ffff:127.0.0.1, a dual-stack socket bound to 127.0.0.1
                found.setdefault(name, set()).add(str(address))
    return found


def test_every_node_and_server_is_on_the_loopback_address(cluster: Any) -> None:
    import ray

    ray.init(address=cluster.address, log_to_driver=False)
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 3
        assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
        assert ray.util.get_node_ip_address() == "127.0.0.1"
    finally:
        ray.shutdown()
    listening = _listening_addresses()
    assert {"gcs_server", "raylet"} <= set(listening), listening
    assert set().union(*listening.values()) == {"127.0.0.1"}, listening


def prediction_bytes(runner: Runner, output: str, record: dict[str, Any]) -> bytes:
    """The bytes of a record's per-image predictions file, in the run written under ``output``."""
    (run_dir,) = [p.parent for p in (runner.path / output).glob("*/metadata.json")]
    return (run_dir / record["predictions"]).read_bytes()


def same_records_on_every_executor(runner: Runner, grid: list[str]) -> str:
    """Run ``grid`` on the serial, process (two workers) and Ray executors: the same records and per-image
    predictions; Ray's output."""
    runs = {}
    for name, executor in [("serial", ["serial"]), ("process", ["process", "--workers", "2"]), ("ray", ["ray"])]:
        code, out = runner.run(*grid, "--executor", *executor, "--output", name)
        assert code in (0, 1), out
        runs[name] = {(r["model"], r["seed"]): r for r in runner.records(name)}
    assert len(runs["serial"]) == 4
    for name in ("process", "ray"):
        assert sorted(runs[name]) == sorted(runs["serial"]), name
        for key, record in runs[name].items():
            assert outcome(record) == outcome(runs["serial"][key]), (name, key)
            assert prediction_bytes(runner, name, record) == prediction_bytes(runner, "serial", runs["serial"][key])
            assert record["threads"] == 1
    for record in runs["ray"].values():
        assert re.fullmatch(r"127\.0\.0\.1/[0-9a-f]{8}", record["node"]) and record["gpu"] is None
        assert record["attempts"] == 1
    assert len({r["node"] for r in runs["ray"].values()}) == 2  # both worker nodes trained
    return out


def test_the_fast_grid_gives_the_same_records_on_every_executor(runner: Runner) -> None:
    same_records_on_every_executor(runner, FAST_GRID)


def test_real_training_gives_the_same_records_on_every_executor(runner: Runner) -> None:
    """The issue's case: TensorFlow's numbers depend on its thread count; with --threads 1 everywhere, the
    serial, process and Ray executors agree to the bit."""
    out = same_records_on_every_executor(runner, ["run", *SMALL, *models("tiny", "tiny_b"), "--repeats", "2",
                                                  "--steps", "3"])
    assert re.search(r"on 127\.0\.0\.1/[0-9a-f]{8}", out), out  # progress shows the node


def test_a_task_past_its_timeout_is_cancelled_and_the_run_goes_on(runner: Runner) -> None:
    code, out = runner.run("-p", "harness.testing.fast", "run", "--dataset", "synthetic", "--augmentation", "none",
                           "--backend", "jax", "--threads", "1", *models("fast_sleep", "fast_pass"),
                           "--task-timeout", "3s", "--executor", "ray", "--output", "r")
    assert code == 1, out
    records = {r["model"]: r for r in runner.records("r")}
    assert records["fast_sleep"]["status"] == "error" and records["fast_sleep"]["error_kind"] == "timeout"
    assert records["fast_sleep"]["error"].startswith("timed out after 3s")
    assert records["fast_pass"]["status"] == "passed"


def test_a_task_needs_a_node_with_as_many_cpus_as_threads(runner: Runner) -> None:
    code, out = runner.run(*FAST_GRID[:-2], "--threads", "2", "--executor", "ray", "--output", "r")
    assert code == 4, out
    assert "each task needs 2 CPUs (--threads 2)" in out and "--ray-cpus-per-task" in out, out


def test_a_training_exception_is_an_error_row_and_is_not_retried(runner: Runner) -> None:
    code, out = runner.run("run", *SMALL, *models("broken"), *files_in(runner.path), "--steps", "1",
                           "--executor", "ray", "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error"] == "RuntimeError: factory exploded"
    assert record["attempts"] == 1
    assert (runner.path / "calls.txt").read_text() == "broken\n"  # the factory ran once, on one node


def test_a_trainer_that_raises_is_an_error_row(runner: Runner) -> None:
    (runner.path / "raising.py").write_text(
        "import harness\n\n"
        "@harness.hookimpl(tryfirst=True)\n"
        "def harness_combination_train(task):\n"
        "    raise ValueError(f'no trainer for {task.id}')\n")
    code, out = runner.run("-p", "raising", "run", *SMALL, *models("tiny"), "--steps", "1", "--executor", "ray",
                           "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error_kind"] == "exception"
    assert record["error"] == "ValueError: no trainer for synthetic-none-tiny[seed=1]"
    assert record["attempts"] == 1


def test_losing_a_node_retries_its_task_on_another(cluster: Any, runner: Runner) -> None:
    process = runner.start("run", *SMALL, *models("tiny", "hold"), *files_in(runner.path), "--steps", "3",
                           "--executor", "ray", "--output", "r")
    marker = runner.path / "marker.txt"
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (marker.exists() and marker.read_text()) and process.poll() is None:
            assert time.monotonic() < deadline, "the held task never started"
            time.sleep(0.2)
        node_id = marker.read_text()
        [node] = [n for n in cluster.worker_nodes if n.node_id == node_id]
        cluster.remove_node(node)
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        cluster.add_node(node_ip_address="127.0.0.1", num_cpus=1, temp_dir=cluster.head_node.get_temp_dir_path())
    assert process.returncode in (0, 1), out  # 1: a model that did not beat the baseline in 3 steps
    assert "\x1b[" not in out and "Raylet is terminated" not in out, out  # Ray's report of it is in ray.log
    records = runner.records("r")
    assert sorted(r["model"] for r in records) == ["hold", "tiny"]  # each combination exactly once
    held = next(r for r in records if r["model"] == "hold")
    assert held["status"] in ("passed", "failed") and held["attempts"] == 2
    assert held["attempt_nodes"][0].endswith(node_id[:8]) and held["node"] != held["attempt_nodes"][0]


def test_a_node_with_other_files_refuses_the_task(runner: Runner) -> None:
    from PIL import Image

    data = runner.path / "data"
    data.mkdir()
    for i in range(12):
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(data / f"{'ab'[i % 2]}{i}.png")
    code, out = runner.run("run", "--dataset", "files", *models("tiny"), "--steps", "1", "--threads", "1",
                           "--data-dir", str(data),
                           "--executor", "ray", "--output", "r")
    assert code == 1, out
    [record] = runner.records("r")
    assert record["status"] == "error" and record["error_kind"] == "data"
    assert re.search(r"dataset 'files': the files on .* give split digest \w+, the run expects \w+: this machine "
                     r"has other data than the machine that started the run", record["error"]), record["error"]


def test_ctrl_c_cancels_the_running_task_keeps_the_finished_and_resume_trains_the_rest(cluster: Any,
                                                                                      runner: Runner) -> None:
    import ray

    grid = [*SMALL, *models("tiny", "hold"), *files_in(runner.path), "--steps", "3", "--executor", "ray",
            "--output", "r"]
    process = runner.start("run", *grid)
    marker, records = runner.path / "marker.txt", runner.path / "r"
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (marker.exists() and any(p.stat().st_size for p in records.glob("*/records.jsonl"))):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended or hung"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, out
    assert [r["model"] for r in runner.records("r")] == ["tiny"]
    ray.init(address=cluster.address, log_to_driver=False)
    try:  # the held task was cancelled: its CPU is free again
        deadline = time.monotonic() + RUN_TIMEOUT
        while ray.available_resources().get("CPU", 0) < 2:
            assert time.monotonic() < deadline, ray.available_resources()
            time.sleep(0.5)
    finally:
        ray.shutdown()
    code, out = runner.run("run", *grid, "--resume")
    assert code in (0, 1), out
    assert sorted(r["model"] for r in runner.records("r")) == ["hold", "tiny"]
