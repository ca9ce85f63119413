"""Executors: how a session's pending tasks get trained. The driver (this process) alone writes the store,
through ``session.record``, whatever executor trains the tasks.

- :func:`run_serial`: one task after the other in this process, through the ``harness_combination_train`` hook.
- :func:`run_process_pool`: ``--workers N`` processes (started with ``spawn``, so each has its own TensorFlow),
  each calling :func:`harness.engine.train.train` on the tasks it is sent. Progress events come back over a
  queue and reach the hooks in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from harness.engine import events
from harness.errors import UsageError
from harness.shutdown import freeze_heap_at_exit

if TYPE_CHECKING:
    from harness.engine.task import Task
    from harness.session import Session

#: Seconds between two looks at the progress queue while workers train.
POLL_SECONDS = 0.2


def _forwarder(session: Session, task: Task) -> Callable[[dict[str, Any]], None]:
    def forward(event: dict[str, Any]) -> None:
        session.hook.harness_combination_progress(session=session, task=task, event=event)

    return forward


def run_serial(session: Session) -> None:
    """Train the pending tasks one after the other, in this process."""
    for task in session.pending_tasks():
        with events.listening(_forwarder(session, task)):
            result = session.hook.harness_combination_train(task=task)
        if result is None:
            raise UsageError("no plugin implements harness_combination_train (was the engine blocked with -p no:?)")
        session.record(task, result)
        if session.should_stop:
            break


# -------------------------------------------------------------------------------------------------
# Worker processes
# -------------------------------------------------------------------------------------------------

_QUEUE: Any = None


def _worker_init(progress: Any, local_modules: list[tuple[str, str]], threads: int | None) -> None:
    """Runs once in each worker: load the plugin files that are not importable by name, forward progress."""
    global _QUEUE
    import importlib.util
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the workers itself
    freeze_heap_at_exit()  # the pool's shutdown waits for the workers to exit: make that quick
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name, path in local_modules:
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    if threads:
        from harness.engine.tfimport import ensure_tensorflow

        ensure_tensorflow()  # quietly: no start-up notices from each worker
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    _QUEUE = progress
    events.subscribe(_put_event)


def _put_event(event: dict[str, Any]) -> None:
    if _QUEUE is not None:
        _QUEUE.put((os.getpid(), event))


def _warm_up() -> None:
    """Nothing: submitted to start a worker (and its initializer) before it has a task."""


def _train_in_worker(task: Task) -> tuple[int, dict[str, Any]]:
    from harness.engine.train import train

    _put_event({"kind": "_task", "task": task.id})
    return os.getpid(), train(task)


def local_plugin_modules(session: Session) -> list[tuple[str, str]]:
    """This run's plugin modules loaded from a file rather than imported by name (``harness_plugins.py``):
    workers load them under the same module name, so that their factories unpickle."""
    pm = session.config.pluginmanager
    found = []
    for name, origin in sorted(pm.origins.items()):
        module = pm.get_plugin(name)
        path = getattr(module, "__file__", None)
        if module is not None and origin.how == "local file" and path and module.__name__ in sys.modules:
            found.append((module.__name__, path))
    return found


def check_picklable(tasks: list[Task]) -> None:
    for task in tasks:
        try:
            pickle.loads(pickle.dumps(task))
        except Exception as exc:  # noqa: BLE001 - any failure means the task cannot travel
            raise UsageError(
                f"--workers: task {task.id} cannot be sent to a worker process ({type(exc).__name__}: {exc}); "
                "factories must be module-level functions (no lambdas or closures), or use --workers 1"
            ) from None


def check_default_trainer(session: Session) -> None:
    impls = session.hook.harness_combination_train.get_hookimpls()
    others = [impl.plugin_name for impl in impls if not impl.plugin_name == "engine"]
    if others:
        raise UsageError(f"--workers: worker processes use the built-in trainer, but plugin(s) "
                         f"{', '.join(others)} replace harness_combination_train; use --workers 1")


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one), else the CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_process_pool(session: Session, workers: int) -> None:
    """Train the pending tasks in ``workers`` spawned processes; record each result here as it arrives.

    Each worker has cores/N TensorFlow threads, N being the number of workers training at once. A
    TensorFlow process cannot change its thread count, so the **last task** of a run (when a worker is free
    and nothing else is waiting) goes to a fresh process with a thread per core: it finishes on the whole
    machine instead of on one worker's share while the other cores have nothing left to do.

    When a worker dies (killed, out of memory, a crash in native code), the pool breaks and takes down
    the other workers with it. The tasks that were training then are suspects: each is run again alone
    in a one-worker pool, and the one that kills its worker there is recorded as an error. Tasks that had
    not started go to a fresh pool.
    """
    pending = list(session.pending_tasks())
    if not pending:
        return
    check_default_trainer(session)
    check_picklable(pending)
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    pool = _Pools(session, context, progress)
    suspects: list[Task] = []
    try:
        while (pending or suspects) and not session.should_stop:
            if suspects:
                pool.run_once([suspects.pop(0)], 1, alone=True)
                continue
            recorded = len(session.results)
            running, pending = pool.run_once(pending, workers)
            if pending and not running and len(session.results) == recorded:
                raise UsageError("--workers: the worker processes stopped before training anything (see the "
                                 "messages above); try --workers 1")
            suspects.extend(running)
    finally:
        progress.close()
        progress.join_thread()


class _Pools:
    """Starts worker pools for one run: their initializer, the progress queue, the thread counts."""

    def __init__(self, session: Session, context: Any, progress: Any) -> None:
        self.session = session
        self.context = context
        self.progress = progress
        self.cores = usable_cores()
        self.modules = local_plugin_modules(session)

    def executor(self, workers: int, threads: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=self.context, initializer=_worker_init,
                                   initargs=(self.progress, self.modules, threads))

    def run_once(self, tasks: list[Task], workers: int, alone: bool = False) -> tuple[list[Task], list[Task]]:
        """One pool's life. If it breaks: the tasks that were training (suspects) and those not started.
        Tasks are handed out as workers free up; the last one goes to a finisher (see run_process_pool)."""
        session = self.session
        size = min(workers, len(tasks))
        threads = max(1, self.cores // size)
        running: dict[int, str] = {}  # worker pid -> id of the task it trains
        by_id = {task.id: task for task in tasks}
        waiting = list(tasks)
        suspects: list[Task] = []
        leftover: list[Task] = []
        executor = self.executor(size, threads)
        executors = [executor]
        finisher = None
        if size > 1 and len(tasks) > size and self.cores > threads:
            finisher = self.executor(1, self.cores)
            finisher.submit(_warm_up)  # it imports TensorFlow now, while the others train
            executors.append(finisher)
        futures: dict[Future[Any], tuple[Task, ProcessPoolExecutor]] = {}
        broken = False

        def hand_out() -> set[Future[Any]]:
            """Submit waiting tasks while the pool has free workers; returns the new futures."""
            nonlocal finisher, broken
            submitted: set[Future[Any]] = set()
            in_pool = sum(1 for f, (_, e) in futures.items() if e is executor and not f.done())
            while waiting and not broken and in_pool < size:
                task = waiting[0]
                target = executor
                if len(waiting) == 1 and finisher is not None:
                    target, finisher = finisher, None  # the last task: every core's threads
                try:
                    future = target.submit(_train_in_worker, task)
                except BrokenProcessPool:  # its process died before this task (a finisher: in its start-up)
                    if target is executor:
                        broken = True
                    continue
                waiting.pop(0)
                in_pool += target is executor
                futures[future] = (task, target)
                submitted.add(future)
            return submitted

        try:
            not_done = hand_out()
            while not_done:
                done, not_done = wait(not_done, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                _drain(session, self.progress, running, by_id)
                for future in done:
                    task, owner = futures[future]
                    if future.cancelled():
                        continue
                    try:
                        pid, result = future.result()
                    except BrokenProcessPool:
                        if alone or owner is not executor:  # alone in its pool: it killed its worker
                            session.record(task, _lost_record(task, "the worker process training it died"))
                        elif task.id in running.values():
                            suspects.append(task)
                        else:
                            leftover.append(task)
                        if owner is executor:
                            broken = True
                        continue
                    if running.get(pid) == task.id:
                        del running[pid]
                    session.record(task, result)
                if session.should_stop:
                    # Start nothing new (-x); what is already training finishes and is recorded.
                    waiting.clear()
                    for future in not_done:
                        future.cancel()
                    not_done = {f for f in not_done if not f.cancelled()}
                    leftover = []
                not_done |= hand_out()
        except BaseException:  # Ctrl-C or a bug here: stop the workers now rather than after their tasks
            for pool in executors:
                _terminate(pool)
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        for pool in executors:
            pool.shutdown(wait=True, cancel_futures=True)
        return suspects, leftover + waiting


def _terminate(executor: ProcessPoolExecutor) -> None:
    terminate = getattr(executor, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def _drain(session: Session, progress: Any, running: dict[int, str], by_id: dict[str, Task]) -> None:
    while True:
        try:
            pid, event = progress.get_nowait()
        except (queue_module.Empty, EOFError, OSError):
            return
        if event["kind"] == "_task":
            running[pid] = event["task"]
            continue
        task = by_id.get(running.get(pid, ""))
        if task is not None:
            session.hook.harness_combination_progress(session=session, task=task, event=event)


def _lost_record(task: Task, why: str) -> dict[str, Any]:
    import time

    return {"id": task.combination_id, "dataset": task.dataset.name, "augmentation": task.augmentation.name,
            "model": task.model.name, "seed": task.seed, "repeat": task.repeat, "split_seed": task.split_seed,
            "config_hash": task.config_hash, "combination_hash": task.combination_hash, "config": task.describe(),
            "status": "error", "error_kind": "worker", "error": why, "finished_at": time.time()}
