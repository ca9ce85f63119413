"""Core sharing for ``--workers``: shares of the cores for the training workers, pinned on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from harness.engine import affinity
from harness.engine.affinity import CoreSharing, divide, worker_threads


def test_cores_are_divided_evenly_and_disjointly() -> None:
    assert divide([0, 1], [20, 10]) == {10: [0], 20: [1]}
    assert divide([0, 1], [10]) == {10: [0, 1]}
    assert divide([0, 1, 2, 3, 4], [7, 8]) == {7: [0, 1, 2], 8: [3, 4]}
    assert divide([0, 1], [1, 2, 3]) == {1: [0], 2: [1], 3: [0]}  # more workers than cores: one each, in turn
    assert divide([0, 1], []) == {}


def test_worker_threads_cover_the_machine_only_where_threads_can_be_pinned() -> None:
    assert worker_threads(2, [0, 1]) == 2  # alone at the end, a worker can use both cores
    assert worker_threads(8, list(range(64))) == 32  # 8 cores each, at most 4 threads per core
    assert worker_threads(2, None) == max(1, (os.cpu_count() or 1) // 2)


def test_available_cores_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_NO_CORE_SHARING", "1")
    assert affinity.available_cores() is None
    assert not CoreSharing(None).active


THREADS = """
import sys, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def _threads_affinity(pid: int) -> set[tuple[int, ...]]:
    return {tuple(sorted(os.sched_getaffinity(int(tid)))) for tid in os.listdir(f"/proc/{pid}/task")}


@pytest.mark.skipif(affinity.available_cores() is None or len(affinity.available_cores() or []) < 2,
                    reason="needs Linux thread affinity and two cores")
def test_busy_workers_are_pinned_apart_and_the_last_one_gets_every_core() -> None:
    cores = affinity.available_cores()
    assert cores is not None
    workers = [subprocess.Popen([sys.executable, "-c", THREADS], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        a, b = sorted(worker.pid for worker in workers)
        sharing = CoreSharing(cores)
        sharing.update([a, b])
        first, second = _threads_affinity(a), _threads_affinity(b)
        assert len(first) == len(second) == 1  # every thread of a process has its share
        assert not set(first.pop()) & set(second.pop())  # the shares do not overlap
        sharing.update([b])  # a's task ended: b gets the whole machine
        assert _threads_affinity(b) == {tuple(cores)}
        sharing.update([b])  # nothing changed: nothing applied
        assert len(sharing.history) == 2
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()


def test_a_worker_that_is_gone_is_skipped() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    time.sleep(0.05)
    assert affinity.pin(process.pid, [0]) is False
    sharing = CoreSharing([0])
    sharing.update([process.pid])
    assert sharing.active  # an ended process is not a refusal
