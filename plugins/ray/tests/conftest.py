"""A real Ray cluster on this machine (a head and two one-CPU worker nodes, every address 127.0.0.1), one per
test module, and ``harness run`` in a subprocess connected to it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# Read by Ray when it is imported (here and in every process the nodes start): nodes, workers and servers
# use 127.0.0.1, never this machine's network address.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="harness-ray's tests need Ray (pip install -e plugins/ray)")

from raycluster import PLUGIN_SRC, Runner  # noqa: E402 - after the environment Ray reads on import


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


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head with no CPU and two worker nodes with one CPU each, for a test module."""
    with local_cluster(2) as cluster:
        yield cluster


@pytest.fixture
def runner(cluster: Any, tmp_path: Path) -> Runner:
    return Runner(tmp_path, cluster.address)
