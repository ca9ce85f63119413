"""A real single-node SLURM cluster on 127.0.0.1 (``scripts/slurm-localhost``), one per test session, and
``harness run`` in a subprocess that submits to it. Where the cluster cannot be had (not root, SLURM not
installed, it does not start), the tests that need it skip and say why."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("submitit", reason="harness-slurm's tests need submitit (pip install -e plugins/slurm)")

from slurmcluster import REASON, Runner, local_cluster, why_not_here


@pytest.fixture(scope="session")
def slurm() -> Iterator[str]:
    """The cluster's ``SLURM_CONF`` (also in ``os.environ`` while the session runs). Its state folder is not
    pytest's: munged needs a socket folder every user can reach."""
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    state = tempfile.mkdtemp(prefix="harness-slurm-")
    os.chmod(state, 0o755)
    try:
        with local_cluster(Path(state)) as conf:
            if conf is None:
                pytest.skip(REASON[-1])
            yield conf
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def runner(slurm: str, tmp_path: Path) -> Runner:
    return Runner(tmp_path)
