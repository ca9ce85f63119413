"""Fault injection: bad files, full disks, signals, hostile configuration. Everything is real: files the tests
write, tmpfs mounts (as root; skipped otherwise), subprocesses that get real signals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

#: A tiny model, one with a chosen number of outputs and one that runs out of memory on purpose.
FAULT_PLUGIN = '''
import harness


def tiny(request):
    import keras
    return keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(request.num_classes)])


def filler(request):
    """tiny, built after filling the file system of the folder ``params["fill"]``: the disk fills mid-run."""
    from tests.faults.conftest import fill
    from pathlib import Path

    fill(Path(request.params["fill"]))
    return tiny(request)


def outputs(request):
    import keras
    units = int(request.params["outputs"])
    return keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(units)])


def greedy(request):
    """Tiles each image 2**14 x 2**14 times: TensorFlow cannot allocate that and raises its OOM error."""
    import keras

    class Blow(keras.layers.Layer):
        def call(self, x):
            return keras.ops.mean(keras.ops.tile(x, [1, 2**14, 2**14, 1]), axis=(1, 2))

    return keras.Sequential([Blow(), keras.layers.Dense(request.num_classes)])


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.05}),
            harness.ModelSpec(name="outputs", factory=outputs, input_range="0-1", params={"outputs": 7}),
            harness.ModelSpec(name="greedy", factory=greedy, input_range="0-1"),
            harness.ModelSpec(name="filler", factory=filler, input_range="0-1", params={"fill": ""})]
'''

#: ``pics``: the image folder ``pics/`` (two classes) at 16x16 pixels.
CONFIG = '''
plugins = ["harness_vision.datasets"]

[datasets.pics]
plugin = "image_folder"
path = "pics"
image_size = [16, 16]
'''

#: A run of the tiny model on ``pics``: a few seconds once TensorFlow is loaded.
RUN = ("run", "--dataset", "pics", "--augmentation", "none", "--model", "tiny", "--steps", "2", "-q")


def write_png(path: Path, value: int, size: int = 12) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    array = np.clip(rng.normal(value, 10, (size, size, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(array).save(path, format="PNG")
    return path


def make_folder(root: Path, per_class: int = 10) -> Path:
    """``root/cats`` (dark) and ``root/dogs`` (bright) with ``per_class`` PNG files each."""
    for name, value in (("cats", 40), ("dogs", 210)):
        for index in range(per_class):
            write_png(root / name / f"{index}.png", value + index)
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "folder")


@pytest.fixture
def tester(harness_tester, monkeypatch):
    """harness_tester with the fault plugin and the ``pics`` dataset (``pics/`` holds two good classes)."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_plugin(FAULT_PLUGIN)
    harness_tester.make_config(CONFIG)
    make_folder(harness_tester.path / "pics")
    return harness_tester


def user_error(stderr: str) -> str:
    """The one ``harness: error:`` line of a user error; asserts there is no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("harness: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def environment(path: Path) -> dict[str, str]:
    """What a ``harness`` subprocess of the tests gets: this tree first on the path, the built-ins only."""
    root = Path(__file__).resolve().parents[2]
    paths = [str(root), str(root / "plugins" / "vision" / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "HARNESS_CACHE_DIR": str(path / ".cache")}


def harness_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


def run_harness(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``harness ARGS`` in a subprocess in ``path`` (where a SIGBUS or a hang cannot take pytest down)."""
    return subprocess.run(harness_command(*args), cwd=path, env=env or environment(path), capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """``tmpfs(name, size)``: a fresh tmpfs of ``size`` (``2m``, ``4k``) at ``tmp_path/name``; root only."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("a small tmpfs needs root")
        target = tmp_path / name
        target.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as handle:
        block = b"\0" * 4096
        try:
            while True:
                handle.write(block)
        except OSError:
            pass
        try:
            while True:
                handle.write(b"\0")
        except OSError:
            pass
