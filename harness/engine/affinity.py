"""Core sharing for ``--workers N``: the machine's cores are divided among the workers that are training.

A TensorFlow process sizes its thread pools once, when it starts. Workers that each get cores/N threads
leave cores idle at the end of a run, when fewer tasks are left than workers: the last task trains on its
share alone (on two cores, one core for minutes while the other has nothing to do). Instead, each worker
gets enough threads for the whole machine (:func:`worker_threads`), and the driver pins the threads of
every training worker to its own share of the cores (Linux ``sched_setaffinity``, per thread), re-dividing
them whenever a task starts or ends: N busy workers get a disjoint share each (no oversubscription, no
contention between them), one worker left alone gets every core.

Where threads cannot be pinned (not Linux, or the system refuses), :func:`available_cores` is ``None`` and
workers get cores/N threads each, as plain processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: At most this many threads per core of a worker's share: enough for one worker alone to use the whole
#: machine when few share it, without hundreds of threads per core on large machines with many workers.
MAX_THREADS_PER_CORE = 4


def available_cores() -> list[int] | None:
    """The cores this process may run on, when the threads of other processes can be pinned; else None."""
    if os.environ.get("HARNESS_NO_CORE_SHARING") or not hasattr(os, "sched_setaffinity"):
        return None
    if not Path("/proc/self/task").is_dir():
        return None
    try:
        return sorted(os.sched_getaffinity(0))
    except OSError:
        return None


def worker_threads(workers: int, cores: list[int] | None) -> int:
    """TensorFlow intra-op threads for each of ``workers`` processes."""
    count = len(cores) if cores else (os.cpu_count() or 1)
    share = max(1, count // workers)
    if cores is None:
        return share
    return min(count, share * MAX_THREADS_PER_CORE)


def divide(cores: list[int], busy: Iterable[int]) -> dict[int, list[int]]:
    """Disjoint, contiguous shares of ``cores`` for the ``busy`` pids (in pid order), as even as they can
    be; with more workers than cores, each gets one core, in turn."""
    pids = sorted(set(busy))
    if not pids:
        return {}
    if len(pids) >= len(cores):
        return {pid: [cores[i % len(cores)]] for i, pid in enumerate(pids)}
    shares: dict[int, list[int]] = {}
    start = 0
    for i, pid in enumerate(pids):
        size = len(cores) // len(pids) + (1 if i < len(cores) % len(pids) else 0)
        shares[pid] = cores[start:start + size]
        start += size
    return shares


def pin(pid: int, cores: list[int]) -> bool:
    """Pin every thread of process ``pid`` to ``cores`` (threads it starts later inherit it). False if the
    process is gone or the system refuses."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    pinned = False
    for tid in threads:
        try:
            os.sched_setaffinity(int(tid), cores)
            pinned = True
        except (ProcessLookupError, FileNotFoundError):  # the thread ended meanwhile
            continue
        except OSError:
            return False
    return pinned


class CoreSharing:
    """Keeps the busy workers' threads pinned to their shares; ``update`` after every start and end."""

    def __init__(self, cores: list[int] | None) -> None:
        self.cores = cores
        self.applied: dict[int, list[int]] = {}
        #: Every division applied, in order: ``{pid: cores}`` (for tests and ``-v``).
        self.history: list[dict[int, list[int]]] = []

    @property
    def active(self) -> bool:
        return self.cores is not None

    def update(self, busy: Iterable[int]) -> None:
        if self.cores is None:
            return
        shares = divide(self.cores, busy)
        if shares == self.applied:
            return
        for pid, cores in shares.items():
            if self.applied.get(pid) != cores and not pin(pid, cores) and _refused(pid):
                self.cores = None  # the system does not let us: leave the workers as they are
                return
        self.applied = shares
        self.history.append(dict(shares))


def _refused(pid: int) -> bool:
    """Whether pinning ``pid`` failed for a reason other than the process having ended."""
    return Path(f"/proc/{pid}").exists()
