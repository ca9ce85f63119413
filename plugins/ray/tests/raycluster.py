"""Helpers of harness-ray's tests: the test plugin, the small grid, ``harness run`` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "src"
#: Seconds a harness run of these tests may take before it is stopped (a hang, not a slow machine).
RUN_TIMEOUT = 600

#: Tiny models on small synthetic images (16x16, 32 training images), and models that fail or wait on purpose.
TEST_PLUGIN = '''
import os
import time
from pathlib import Path

import harness


def tiny(request):
    import keras
    return keras.Sequential([
        keras.layers.Conv2D(int(request.params.get("width", 4)), 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(request.num_classes),
    ])


def broken(request):
    with open(request.params["calls"], "a") as calls:  # one line per call, on any node
        calls.write("broken\\n")
    raise RuntimeError("factory exploded")


def hold(request):
    """The first try writes the node it runs on and waits (its node is removed meanwhile); a retry trains."""
    import ray
    marker = Path(request.params["marker"])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return tiny(request)
    os.write(fd, ray.get_runtime_context().get_node_id().encode())
    os.close(fd)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
    raise RuntimeError("the node was not removed")


def files(request):
    """PNG files of ``--data-dir`` labelled by their first letter; the cluster's nodes see one file less."""
    from harness.data.sources import ImageFiles
    paths = sorted(Path(request.data_dir).glob("*.png"))
    if os.environ.get("HARNESS_RAY_TEST_NODE"):
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
        harness.ModelSpec(name="broken", factory=broken, params={"calls": "calls.txt"}),
        harness.ModelSpec(name="hold", factory=hold, input_range="0-1",
                          params={"learning_rate": 0.01, "marker": "marker.txt"}),
    ]
'''

#: One thread per task: the nodes have one CPU each, and a task needs as many CPUs as it has threads.
SMALL = ["--dataset", "synthetic", "--augmentation", "none", "--batch-size", "8", "--threads", "1",
         "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=16",
         "--set", "synthetic.validation_per_class=8", "--set", "synthetic.test_per_class=8"]


def models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--model", name)]


def files_in(path: Path) -> list[str]:
    """Where the test plugin's models write (the nodes' workers do not run in ``path``)."""
    return ["--set", f"broken.calls={path / 'calls.txt'}", "--set", f"hold.marker={path / 'marker.txt'}"]


class Runner:
    """``harness run`` in a subprocess, in a working directory holding the test plugin."""

    def __init__(self, path: Path, address: str | None) -> None:
        self.path = path
        (path / "harness_plugins.py").write_text(textwrap.dedent(TEST_PLUGIN))
        self.env = {**os.environ, "HARNESS_CACHE_DIR": str(path / ".cache"), "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1",
                    "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.env.pop("RAY_ADDRESS", None)
        self.env.pop("HARNESS_RAY_TEST_NODE", None)
        if address is not None:
            self.env["RAY_ADDRESS"] = address

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "harness", "-p", "harness_ray", "-p", "no:reports", *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.path, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, *args: str) -> tuple[int, str]:
        done = subprocess.run(self.command(*args), cwd=self.path, env=self.env, text=True, timeout=RUN_TIMEOUT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return done.returncode, done.stdout

    def records(self, output: str) -> list[dict[str, Any]]:
        from harness.store import METADATA, RunStore

        runs = sorted(p.parent for p in (self.path / output).glob(f"*/{METADATA}"))
        assert len(runs) == 1, runs
        return RunStore(runs[0]).records()


@contextmanager
def local_cluster(nodes: int) -> Iterator[Any]:
    """A head with no CPU (so tasks go to the worker nodes) and ``nodes`` worker nodes with one CPU each, every
    address 127.0.0.1, Ray's files (the address file ``auto`` reads included) in a folder of its own."""
    from ray.cluster_utils import Cluster

    path = os.pathsep.join(p for p in (str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = path  # the nodes' workers import harness_ray as the driver does
    os.environ["HARNESS_RAY_TEST_NODE"] = "1"  # the nodes' workers see other files (see TEST_PLUGIN's files)
    temp = tempfile.mkdtemp(prefix="hray", dir="/tmp")  # short: Ray's socket paths have a length limit
    (Path(temp) / "ray").mkdir()  # where Ray writes the cluster's address (RAY_TMPDIR/ray), not /tmp/ray
    os.environ["RAY_TMPDIR"] = temp
    local = {"node_ip_address": "127.0.0.1", "temp_dir": temp}
    started = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={**local, "num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(nodes):
            cluster.add_node(**local, num_cpus=1)
        cluster.wait_for_nodes()
        cluster.start_seconds = time.monotonic() - started
        yield cluster
    finally:
        if getattr(cluster, "head_killed", False):  # a graceful shutdown would wait for the head
            for node in cluster.worker_nodes:
                node.kill_all_processes(check_alive=False, allow_graceful=False)
        else:
            cluster.shutdown()
        os.environ.pop("RAY_TMPDIR", None)
        shutil.rmtree(temp, ignore_errors=True)
