"""The ``process`` executor: ``--workers N`` spawned processes (each with its own Keras backend), each building
the run's plugin manager and training the tasks it is sent through the ``harness_combination_train`` hook
(:func:`harness.worker.train_task`). Progress events come back over a queue and reach the hooks in this
process, which alone records the results.

Keras has one backend per process: a run with several backends trains each backend's tasks in pools of their
own, one backend after the other. With GPUs (``session.gpus``: those visible, or ``--devices``), there is one
worker per GPU, each seeing only its own (``CUDA_VISIBLE_DEVICES``), and no finisher.

Each worker has cores/N threads of its backend, N being the number of workers training at once. A TensorFlow
process cannot change its thread count, so the **last task** of a run (when a worker is free and nothing else
is waiting) goes to a fresh process with a thread per core (the *finisher*, started early): it finishes on the
whole machine instead of on one worker's share while the other cores have nothing left to do.

When a worker dies (killed, out of memory, a crash in native code), its pool breaks and takes the other
workers down with it. The tasks that were training then are *suspects*: each is run again alone in a
one-worker pool, and one that kills its worker there is recorded as an error. Tasks that had not started go to
a fresh pool.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.record import error_record
from harness.shutdown import freeze_heap_at_exit
from harness.system import usable_cores
from harness.worker import WorkerPlugins, train_task

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

#: Seconds between two looks at the progress queue while workers train.
POLL_SECONDS = 0.2


class ProcessExecutor:
    """``--workers N`` worker processes (``--executor process``; one when ``--workers`` is not given)."""

    def __init__(self, config: Config) -> None:
        self.workers = int(getattr(config.option, "workers", 1) or 1)
        self.plugins = WorkerPlugins.of(config)

    def run(self, session: Session, tasks: list[Task]) -> None:
        if not tasks:
            return
        check_picklable(tasks)
        workers = _Workers(session, self.plugins, tasks)
        size = len(session.gpus) if session.gpus and self.workers == 1 else self.workers
        try:
            for backend in dict.fromkeys(task.backend for task in tasks):
                self.run_backend(session, workers, [task for task in tasks if task.backend == backend], size)
        finally:
            workers.close()

    def run_backend(self, session: Session, workers: _Workers, pending: list[Task], size: int) -> None:
        """Train one backend's tasks in pools of ``size`` workers."""
        suspects: list[Task] = []
        while (pending or suspects) and not session.should_stop:
            if suspects:
                _PoolRun(workers, [suspects.pop(0)], 1, alone=True).run()
                continue
            recorded = len(session.results)
            training, pending = _PoolRun(workers, pending, size).run()
            if pending and not training and len(session.results) == recorded:
                raise UsageError("--workers: the worker processes stopped before training anything (see the "
                                 "messages above); try --workers 1")
            suspects.extend(training)


def check_picklable(tasks: list[Task]) -> None:
    for task in tasks:
        try:
            pickle.loads(pickle.dumps(task))
        except Exception as exc:  # any failure means the task cannot travel
            raise UsageError(
                f"--workers: task {task.id} cannot be sent to a worker process ({type(exc).__name__}: {exc}); "
                "factories must be module-level functions (no lambdas or closures), or use --workers 1"
            ) from None


# -------------------------------------------------------------------------------------------------
# In the driver
# -------------------------------------------------------------------------------------------------


class _Workers:
    """The worker pools of one run and what they tell the driver over the progress queue: which processes each
    pool has, which tasks started, their progress (forwarded to the hooks)."""

    def __init__(self, session: Session, plugins: WorkerPlugins, tasks: list[Task]) -> None:
        self.session = session
        self.plugins = plugins
        self.cores = usable_cores()
        self.context = multiprocessing.get_context("spawn")
        self.progress = self.context.Queue()
        self.by_id = {task.id: task for task in tasks}
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.tokens: dict[ProcessPoolExecutor, int] = {}
        self.pids: dict[int, set[int]] = {}

    def start_pool(self, size: int, threads: int, backend: str) -> ProcessPoolExecutor:
        token = len(self.tokens)
        gpus = None
        if self.session.gpus:  # a queue per pool: each of its workers takes one GPU (in turn, if fewer)
            gpus = self.context.Queue()
            for slot in range(size):
                gpus.put(self.session.gpus[slot % len(self.session.gpus)])
        pool = ProcessPoolExecutor(max_workers=size, mp_context=self.context, initializer=_start_worker,
                                   initargs=(self.plugins, self.progress, token, threads, backend, gpus))
        self.tokens[pool] = token
        self.pids[token] = set()
        return pool

    def drain(self) -> None:
        while True:
            try:
                kind, key, value = self.progress.get_nowait()
            except (queue_module.Empty, EOFError, OSError):
                return
            if kind == "worker":
                self.pids[key].add(value)
            elif kind == "started":
                self.started.add(key)
            elif key not in self.finished:  # an event that arrives after its task's result is stale
                task = self.by_id[key]
                self.session.hook.harness_combination_progress(session=self.session, task=task, event=value)

    def training(self, task: Task) -> bool:
        return task.id in self.started and task.id not in self.finished

    def record(self, task: Task, result: dict[str, Any]) -> None:
        self.finished.add(task.id)
        self.session.record(task, result)

    def terminate(self, pool: ProcessPoolExecutor) -> None:
        """Stop a pool's processes now, rather than after their tasks (Ctrl-C)."""
        self.drain()
        for pid in self.pids[self.tokens[pool]]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.progress.close()
        self.progress.join_thread()


class _PoolRun:
    """One pool's life: tasks are handed out as its workers free up, the last one to the finisher. Ends when
    every task handed out is settled; returns the tasks that were training when the pool broke (suspects)
    and those that had not started."""

    def __init__(self, workers: _Workers, tasks: list[Task], size: int, alone: bool = False) -> None:
        self.workers = workers
        self.waiting = deque(tasks)
        self.size = min(size, len(tasks))
        #: One suspect alone in its pool: if the pool breaks, the task killed its worker.
        self.alone = alone
        threads = max(1, workers.cores // self.size)
        backend = tasks[0].backend  # a pool's tasks share their backend (see ProcessExecutor.run)
        self.pool = workers.start_pool(self.size, threads, backend)
        self.pools = [self.pool]
        self.finisher: ProcessPoolExecutor | None = None
        if self.size > 1 and len(tasks) > self.size and workers.cores > threads and not workers.session.gpus:
            self.finisher = workers.start_pool(1, workers.cores, backend)
            self.finisher.submit(_warm_up)  # it imports its backend now, while the others train
            self.pools.append(self.finisher)
        self.futures: dict[Future[dict[str, Any]], tuple[Task, ProcessPoolExecutor]] = {}
        self.broken = False
        self.suspects: list[Task] = []
        self.not_started: list[Task] = []

    def run(self) -> tuple[list[Task], list[Task]]:
        try:
            self.hand_out()
            while self.futures:
                done, _ = wait(list(self.futures), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                self.workers.drain()
                for future in done:
                    self.settle(future)
                if self.workers.session.should_stop:
                    self.stop_handing_out()
                self.hand_out()
        except BaseException:  # Ctrl-C or a bug here: stop the workers now rather than after their tasks
            for pool in self.pools:
                self.workers.terminate(pool)
            raise
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        return self.suspects, [*self.not_started, *self.waiting]

    def busy(self) -> int:
        return sum(owner is self.pool for _, owner in self.futures.values())

    def hand_out(self) -> None:
        """Submit waiting tasks while the pool has free workers; the last one goes to the finisher."""
        while self.waiting and not self.broken and self.busy() < self.size:
            task, target = self.waiting[0], self.pool
            if len(self.waiting) == 1 and self.finisher is not None:
                target, self.finisher = self.finisher, None
            try:
                future = target.submit(_train, task)
            except BrokenProcessPool:  # its process died before this task (a finisher: in its start-up)
                self.broken |= target is self.pool
                continue
            self.waiting.popleft()
            self.futures[future] = (task, target)

    def settle(self, future: Future[dict[str, Any]]) -> None:
        task, owner = self.futures.pop(future)
        if future.cancelled():
            return
        try:
            result = future.result()
        except BrokenProcessPool:
            self.lost(task, owner)
            return
        self.workers.record(task, result)

    def lost(self, task: Task, owner: ProcessPoolExecutor) -> None:
        """``task``'s pool broke: a worker died."""
        if self.alone or owner is not self.pool:  # alone in its pool: it killed its worker
            self.workers.record(task, dict(error_record(task, "the worker process training it died", "worker")))
        elif self.workers.training(task):
            self.suspects.append(task)
        else:
            self.not_started.append(task)
        self.broken |= owner is self.pool

    def stop_handing_out(self) -> None:
        """``-x``: start nothing new; what is already training finishes and is recorded."""
        self.waiting.clear()
        self.not_started.clear()
        for future in list(self.futures):
            if future.cancel():
                del self.futures[future]


# -------------------------------------------------------------------------------------------------
# In a worker process
# -------------------------------------------------------------------------------------------------

_PROGRESS: Any = None
_PLUGINS: WorkerPlugins | None = None


def _start_worker(plugins: WorkerPlugins, progress: Any, token: int, threads: int, backend: str,
                  gpus: Any = None) -> None:
    """Runs once in each worker: take a GPU of its own from ``gpus`` (a queue of GPU indices), make ``backend``
    its Keras backend with ``threads`` threads (before any plugin imports Keras), announce it, build the
    run's plugin manager."""
    global _PROGRESS, _PLUGINS
    from harness import backends

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the workers itself
    freeze_heap_at_exit()  # the pool's shutdown waits for the workers to exit: make that quick
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    backends.activate(backend).configure(threads)
    progress.put(("worker", token, os.getpid()))
    _PROGRESS, _PLUGINS = progress, plugins
    plugins.manager()  # loads harness_plugins.py under its own name, before a task that refers to it arrives


def _warm_up() -> None:
    """Nothing: submitted to start a worker (and its initializer) before it has a task."""


def _train(task: Task) -> dict[str, Any]:
    assert _PLUGINS is not None
    progress = _PROGRESS
    progress.put(("started", task.id, None))

    def emit(event: dict[str, Any]) -> None:
        progress.put(("event", task.id, event))

    return train_task(_PLUGINS, task, emit)
