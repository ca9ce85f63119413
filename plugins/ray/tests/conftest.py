"""A real Ray cluster on this machine (a head and two one-CPU worker nodes, every address 127.0.0.1), one per
test module, and ``harness run`` in a subprocess connected to it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Read by Ray when it is imported (here and in every process the nodes start): nodes, workers and servers
# use 127.0.0.1, never this machine's network address.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="harness-ray's tests need Ray (pip install -e plugins/ray)")

from raycluster import PLUGIN_SRC, Runner  # noqa: E402 - after the environment Ray reads on import


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head with no CPU (so tasks go to the worker nodes) and two worker nodes with one CPU each."""
    from ray.cluster_utils import Cluster

    path = os.pathsep.join(p for p in (str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = path  # the nodes' workers import harness_ray as the driver does
    os.environ["HARNESS_RAY_TEST_NODE"] = "1"  # the nodes' workers see other files (see TEST_PLUGIN's files)
    temp = tempfile.mkdtemp(prefix="hray", dir="/tmp")  # short: Ray's socket paths have a length limit
    local = {"node_ip_address": "127.0.0.1", "temp_dir": temp}
    cluster = Cluster(initialize_head=True, head_node_args={**local, "num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(**local, num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def runner(cluster: Any, tmp_path: Path) -> Runner:
    return Runner(tmp_path, cluster.address)
