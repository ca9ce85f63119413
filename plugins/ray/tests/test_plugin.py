"""The plugin without a cluster: it registers the executor and its options, and imports Ray only to run."""

from __future__ import annotations

import os
import subprocess
import sys

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
