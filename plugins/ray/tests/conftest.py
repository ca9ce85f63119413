"""A real Ray cluster on this machine (a head and two one-CPU worker nodes, every address 127.0.0.1), one per
test module, and ``harness run`` in a subprocess connected to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Read by Ray when it is imported (here and in every process the nodes start): nodes, workers and servers
# use 127.0.0.1, never this machine's network address.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="harness-ray's tests need Ray (pip install -e plugins/ray)")

from raycluster import Runner, local_cluster  # noqa: E402 - after the environment Ray reads on import


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head with no CPU and two worker nodes with one CPU each, for a test module."""
    with local_cluster(2) as cluster:
        yield cluster


@pytest.fixture
def runner(cluster: Any, tmp_path: Path) -> Runner:
    return Runner(tmp_path, cluster.address)
