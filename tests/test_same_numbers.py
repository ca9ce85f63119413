"""Same numbers everywhere (issue 22): a task's record depends on its configuration and the run's runtime,
never on the executor or the schedule. ``harness run --threads 1`` on a 4-task grid trains to the same test
accuracies and per-epoch histories (timings aside) with the serial executor and with ``pytest --harness -n 2``
(real Keras: a tiny model, a few steps)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.store import RunStore

PYPROJECT = """
[tool.harness]
dataset = ["tinted"]
augmentation = ["none"]
model = ["tiny", "tiny_wide"]
repeats = 2
epochs = 2
batch_size = 16

[tool.harness.datasets.tinted]
plugin = "synthetic"
image_size = [16, 16]
tint_by_class = true
train_per_class = 48
validation_per_class = 8
test_per_class = 16

[tool.pytest.ini_options]
addopts = "-p harness.pytest_plugin -p no:hypothesispytest -p no:cacheprovider"
"""

PLUGINS = '''
import harness


def tiny(request, filters=4):
    import keras
    return keras.Sequential([keras.layers.Conv2D(filters, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(request.num_classes)])


def tiny_wide(request):
    return tiny(request, filters=8)


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.01}),
            harness.ModelSpec(name="tiny_wide", factory=tiny_wide, input_range="0-1", params={"learning_rate": 0.01})]
'''

#: What depends on the wall clock or the process, not on the computation.
TIMINGS = {"seconds", "train_seconds_total"}


def numbers(run_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for record in RunStore(run_dir).records():
        assert record["status"] in ("passed", "failed"), record.get("error")
        history = [{k: v for k, v in epoch.items() if k not in TIMINGS} for epoch in record["history"]]
        out[(record["id"], record["seed"])] = {"test_accuracy": record["test_accuracy"], "history": history,
                                              "threads": record["threads"]}
    return out


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1", "HARNESS_CACHE_DIR": str(cwd / ".cache"),
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTEST_ADDOPTS": ""}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900)


@pytest.mark.slow
def test_serial_and_pytest_xdist_give_the_same_numbers_at_the_same_threads(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "harness_plugins.py").write_text(PLUGINS)
    serial = run([sys.executable, "-m", "harness", "-p", "no:reports", "run", "--executor", "serial",
                  "--threads", "1", "--output", "serial"], tmp_path)
    assert serial.returncode in (0, 1), serial.stdout + serial.stderr
    xdist = run([sys.executable, "-m", "pytest", "--harness", "-n", "2", "--harness-threads", "1",
                 "--harness-output", "xdist", "-q"], tmp_path)
    assert xdist.returncode in (0, 1), xdist.stdout + xdist.stderr
    (serial_dir,) = (tmp_path / "serial").iterdir()
    (xdist_dir,) = (tmp_path / "xdist").iterdir()
    expected = numbers(serial_dir)
    assert len(expected) == 4 and all(found["threads"] == 1 for found in expected.values())
    assert numbers(xdist_dir) == expected
