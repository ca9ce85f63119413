"""Helpers of harness-slurm's tests: the single-node cluster of ``scripts/slurm-localhost``, the test plugin,
``harness run`` in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PLUGIN = Path(__file__).resolve().parents[1]
SCRIPT = PLUGIN / "scripts" / "slurm-localhost"
#: Seconds the cluster may take to start (it takes about 1.5 s here).
START_SECONDS = 60
#: Seconds a harness run of these tests may take before it is stopped (a hang, not a slow machine).
RUN_TIMEOUT = 600

#: A tiny model on small synthetic images, for real training.
TEST_PLUGIN = '''
import os
from pathlib import Path

import harness


def tiny(request):
    import keras
    return keras.Sequential([
        keras.layers.Conv2D(int(request.params.get("width", 4)), 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(request.num_classes),
    ])


def files(request):
    """PNG files of ``--data-dir`` labelled by their first letter; an element started with
    HARNESS_SLURM_TEST_NODE set (by a --slurm-setup line) sees one file less, as a node with other data would."""
    from harness.data.sources import ImageFiles
    paths = sorted(Path(request.data_dir).glob("*.png"))
    if os.environ.get("HARNESS_SLURM_TEST_NODE"):
        paths = paths[:-1]
    return ImageFiles(("a", "b"), [(str(p), int(p.name[0] == "b")) for p in paths], root=request.data_dir)


@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="files", factory=files, image_size=(8, 8))]


@harness.hookimpl
def harness_models_register(config):
    return [
        harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.01}),
        harness.ModelSpec(name="tiny_b", factory=tiny, input_range="0-1", params={"learning_rate": 0.01, "width": 6}),
    ]
'''

#: One thread per task, small synthetic images (16x16, 32 training images).
SMALL = ["--dataset", "synthetic", "--augmentation", "none", "--batch-size", "8", "--threads", "1",
         "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=16",
         "--set", "synthetic.validation_per_class=8", "--set", "synthetic.test_per_class=8"]

#: The fast trainer on the synthetic data, one thread per task.
FAST = ["-p", "harness.testing.fast", "run", "--dataset", "synthetic", "--augmentation", "none", "--backend", "jax",
        "--threads", "1"]


def models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--model", name)]


def why_not_here() -> str | None:
    """Why a SLURM cluster cannot be started here, or ``None``."""
    if sys.platform != "linux":
        return "a local SLURM cluster needs Linux"
    if os.geteuid() != 0:
        return "starting a local SLURM cluster needs root (munged, slurmd)"
    missing = [c for c in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if shutil.which(c) is None]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge"
    return None


def answers(conf: str) -> bool:
    try:
        done = subprocess.run(["sinfo", "--noheader", "--format=%T"], env={**os.environ, "SLURM_CONF": conf},
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "idle" in done.stdout


@contextmanager
def local_cluster(state: Path) -> Iterator[str | None]:
    """The cluster's ``SLURM_CONF``, or ``None`` with the reason in :data:`REASON`: one that runs already
    (``SLURM_CONF`` set and answering: CI started it) is used and left running; else one is started in
    ``state`` and stopped at the end."""
    given = os.environ.get("SLURM_CONF")
    if given and shutil.which("sinfo") and answers(given):
        yield given
        return
    env = {**os.environ, "SLURM_LOCALHOST_DIR": str(state)}
    started = time.monotonic()
    try:
        done = subprocess.run([str(SCRIPT), "start", str(START_SECONDS)], env=env, capture_output=True, text=True,
                              timeout=START_SECONDS + 30)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], 1, "", f"did not start in {START_SECONDS + 30}s")
    match = re.search(r"export SLURM_CONF=(\S+)", done.stdout)
    if done.returncode != 0 or not match:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        REASON.append(f"the local SLURM cluster did not start: {done.stderr.strip()[-600:]}")
        yield None
        return
    START_TIMES.append(time.monotonic() - started)
    os.environ["SLURM_CONF"] = match[1]
    try:
        yield match[1]
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        if given is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = given


REASON: list[str] = []
START_TIMES: list[float] = []


def squeue(job: str) -> dict[str, str]:
    """Each element of ``job`` (an array) SLURM knows, with its state."""
    done = subprocess.run(["squeue", "--noheader", "--array", "--states=all", f"--jobs={job}", "--format=%i %T"],
                          capture_output=True, text=True, timeout=30)
    return dict(line.split() for line in done.stdout.splitlines() if line.strip())


class Runner:
    """``harness run`` in a subprocess, in a working directory holding the test plugin."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "harness_plugins.py").write_text(textwrap.dedent(TEST_PLUGIN))
        self.env = {**os.environ, "HARNESS_CACHE_DIR": str(path / ".cache"), "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1",
                    "TF_CPP_MIN_LOG_LEVEL": "2"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "harness", "-p", "harness_slurm", "-p", "no:reports", *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.path, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, *args: str) -> tuple[int, str]:
        done = subprocess.run(self.command(*args), cwd=self.path, env=self.env, text=True, timeout=RUN_TIMEOUT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return done.returncode, done.stdout

    def run_dir(self, output: str) -> Path:
        from harness.store import METADATA

        runs = sorted(p.parent for p in (self.path / output).glob(f"*/{METADATA}"))
        assert len(runs) == 1, runs
        return runs[0]

    def records(self, output: str) -> list[dict[str, Any]]:
        from harness.store import RunStore

        return RunStore(self.run_dir(output)).records()

    def wait_for_line(self, process: subprocess.Popen[str], pattern: str, seen: list[str]) -> re.Match[str]:
        """Read the run's output until a line matches ``pattern`` (the lines read go to ``seen``)."""
        assert process.stdout is not None
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"the run ended before {pattern!r}:\n{''.join(seen)}")
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no {pattern!r} in {RUN_TIMEOUT}s:\n{''.join(seen)}")
