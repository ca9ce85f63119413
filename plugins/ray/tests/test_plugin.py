"""The plugin without a cluster: it registers the executor and its options, and imports Ray only to run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from raycluster import PLUGIN_SRC


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))}
    return subprocess.run([sys.executable, "-m", "harness", "-p", "harness_ray", *args], env=env, text=True,
                          capture_output=True, timeout=300)


def test_list_executors_shows_ray_without_importing_it() -> None:
    result = harness("list", "executors")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert {"serial", "process", "ray"} <= set(names), result.stdout
    light = subprocess.run([sys.executable, "-c", "import sys, harness_ray; assert 'ray' not in sys.modules"],
                           env={"PYTHONPATH": str(PLUGIN_SRC), "PATH": ""}, capture_output=True, text=True)
    assert light.returncode == 0, light.stderr


@pytest.mark.parametrize("value", ["1.5", "-1", "one"])
def test_resources_per_task_are_checked(value: str) -> None:
    result = harness("run", "--executor", "ray", "--ray-gpus-per-task", value, "--collect-only")
    assert result.returncode == 4
    assert "--ray-gpus-per-task" in result.stderr and value in result.stderr


def test_without_an_address_the_run_starts_its_own_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never ``auto`` unless asked: another head on this machine is not joined (it may be anyone's)."""
    from harness_ray.executor import resolve_address

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address(None) == "local"
    assert resolve_address("auto") == "auto"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert resolve_address(None) == "127.0.0.1:6379"


def test_an_address_where_nothing_answers_is_a_usage_error(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "-p", "harness_ray", "-p", "harness.testing.fast",
                           "-p", "no:reports", "run", "--dataset", "synthetic", "--model", "fast_pass",
                           "--augmentation", "none", "--backend", "jax", "--executor", "ray",
                           "--ray-address", "127.0.0.1:9"], cwd=tmp_path, text=True, capture_output=True,
                          timeout=120, env={**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1",
                                            "PYTHONPATH": os.pathsep.join(filter(None, [
                                                str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))})
    assert done.returncode == 4, done.stderr
    assert "--ray-address 127.0.0.1:9: no Ray cluster answers there" in done.stderr


def _kill_processes_mentioning(text: str) -> None:
    """Kill the processes whose command line names ``text`` (a folder this test made)."""
    import signal

    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


@pytest.mark.slow
def test_a_cluster_that_needs_a_token_is_a_clear_error(tmp_path) -> None:
    """A head started with token authentication, joined without the token: a usage error naming the cause
    within about 30 s (Ray alone prints warnings for 20 s and then hides the cause)."""
    import signal
    import socket
    import time

    temp = tempfile.mkdtemp(prefix="hrt", dir="/tmp")
    (Path(temp) / "ray").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = {**os.environ, "RAY_TMPDIR": temp, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))}
    base.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                             "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={temp}"],
                            env={**base, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0123456789abcdef" * 2},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert head.poll() is None and time.monotonic() < deadline, "the head did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "harness", "-p", "harness_ray", "-p", "harness.testing.fast",
                               "-p", "no:reports", "run", "--dataset", "synthetic", "--model", "fast_pass",
                               "--augmentation", "none", "--backend", "jax", "--executor", "ray",
                               "--ray-address", f"127.0.0.1:{port}"], cwd=tmp_path, text=True, capture_output=True,
                              timeout=300, env={**base, "HOME": str(tmp_path), "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1"})
        took = time.monotonic() - started
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        _kill_processes_mentioning(temp)  # the head's servers, whatever their process group
        shutil.rmtree(temp, ignore_errors=True)
    assert done.returncode == 4, done.stderr
    assert f"--ray-address 127.0.0.1:{port}: cannot start or join a Ray cluster: the cluster requires token " \
           "authentication" in done.stderr
    assert "InvalidAuthToken" not in done.stderr  # Ray's own lines are in ray.log
    assert took < 60, took
