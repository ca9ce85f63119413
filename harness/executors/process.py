"""The ``process`` executor: each task trains in a worker process that this process supervises.

A worker is a spawned process that makes the run's runtime its own once (:func:`harness.runtime.apply`: its
Keras backend, the task's thread count, its GPU), builds the run's plugin manager (:class:`WorkerPlugins`) and
then trains the tasks it is sent, one at a time, through :func:`harness.runner.run_task`. Progress events and
the record come back over the worker's pipe; this process alone records them and calls the progress hook.

Since a worker trains one task at a time, the task it was training when it died is known:

- a worker that dies (a segfault, ``os.abort()``, the out-of-memory killer) is that task's error row
  (:func:`harness.runner.crashed`: ``worker died: SIGABRT``), and the next task gets a fresh worker;
- a task that runs past its ``timeout_seconds`` (``--task-timeout``) has its worker killed and is recorded
  as :func:`harness.runner.timed_out`;
- ``-x`` (``session.should_stop``) hands out nothing new; what trains finishes and is recorded;
- Ctrl-C or SIGTERM stops every worker at once; what finished is kept.

``--workers N`` trains N tasks at once (default 1). With GPUs, each worker sees one GPU of its own
(``CUDA_VISIBLE_DEVICES``), one task per GPU at a time. Keras has one backend per process: a worker serves one
backend, and a task of another backend gets a worker of its own. The executor decides nothing about how a task
trains (threads, precision, device placement come from the task): a task's numbers are the same on every
executor and for any ``--workers``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from harness import runner
from harness.errors import UsageError
from harness.record import error_record
from harness.shutdown import freeze_heap_at_exit
from harness.worker import WorkerPlugins

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

#: Longest wait for a worker's message when no task's time limit is nearer (Ctrl-C is seen at once anyway).
POLL_SECONDS = 1.0
#: Linux's ``prctl`` option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: Seconds a worker has to exit after it is asked to (end of run) or terminated (Ctrl-C) before it is killed.
EXIT_SECONDS = 5.0


class ProcessExecutor:
    """``--executor process``: ``--workers N`` supervised worker processes (one when ``--workers`` is not given)."""

    def __init__(self, config: Config) -> None:
        self.workers: int = config.options.workers
        self.plugins = WorkerPlugins.of(config)

    def run(self, session: Session, tasks: list[Task]) -> None:
        if not tasks:
            return
        payloads = [pickled(task) for task in tasks]
        gpus = session_gpus(session)
        # One task per GPU at a time: a worker per GPU (the first N with --workers N), else N CPU workers.
        slots: list[int | None] = list(gpus if self.workers == 1 else gpus[: self.workers]) or [None] * self.workers
        _Supervisor(session, self.plugins, slots).run(list(zip(tasks, payloads)))


def session_gpus(session: Session) -> list[int]:
    """The GPUs the run trains on: the session's runtime's, else its ``gpus`` (``[]``: CPU)."""
    from harness.runtime import Runtime

    runtime = getattr(session, "runtime", None)
    if isinstance(runtime, Runtime):
        return list(runtime.gpus)
    return list(getattr(session, "gpus", None) or [])


def pickled(task: Task) -> bytes:
    """``task`` as it travels to a worker; a task that cannot travel is a usage error naming it."""
    try:
        payload = pickle.dumps(task)
        pickle.loads(payload)
    except Exception as exc:  # any failure means the task cannot travel
        raise UsageError(
            f"--executor process: task {task.id} cannot be sent to a worker process ({type(exc).__name__}: {exc}); "
            "factories must be module-level functions (no lambdas or closures), or use --executor serial"
        ) from None
    return payload


# -------------------------------------------------------------------------------------------------
# In the driver
# -------------------------------------------------------------------------------------------------


@dataclass
class _Worker:
    """One worker process, the pipe to it, and the task it trains (if any)."""

    process: BaseProcess
    conn: Connection
    #: What it serves: (backend, threads).
    runtime: tuple[str, int]
    gpu: int | None
    ready: bool = False
    task: Task | None = None
    #: ``time.monotonic()`` past which its task is timed out.
    deadline: float | None = None

    @property
    def idle(self) -> bool:
        return self.ready and self.task is None


class _Supervisor:
    """The workers of one run, one per slot (a slot is a GPU, or a share of the CPU), and the tasks left."""

    def __init__(self, session: Session, plugins: WorkerPlugins, slots: list[int | None]) -> None:
        self.session = session
        self.plugins = plugins
        self.context = multiprocessing.get_context("spawn")
        self.slots: list[_Worker | None] = [None] * len(slots)
        self.gpus = slots
        self.waiting: list[tuple[Task, bytes]] = []

    def run(self, tasks: list[tuple[Task, bytes]]) -> None:
        self.waiting = tasks
        try:
            while self.hand_out() or any(w is not None and w.task is not None for w in self.slots):
                self.step()
        except BaseException:  # Ctrl-C, SIGTERM, a full disk, a bug: stop the workers now, keep what finished
            self.stop_all(at_once=True)
            raise
        self.stop_all(at_once=False)

    # -- handing out ------------------------------------------------------------------------------

    def hand_out(self) -> bool:
        """Give waiting tasks to idle workers of their runtime, retire idle workers of another runtime and
        start workers in free slots for the tasks that no worker will take; whether tasks are left waiting."""
        if self.session.should_stop:
            self.waiting.clear()
        for slot, worker in enumerate(self.slots):
            if not self.waiting or worker is None or not worker.idle:
                continue
            task, payload = self.waiting[0]
            if worker.runtime != (task.backend, task.threads):
                self.stop(slot)
            else:
                self.waiting.pop(0)
                self.give(worker, task, payload)
        starting = sum(w is not None and not w.ready for w in self.slots)
        for slot, worker in enumerate(self.slots):
            if worker is None and starting < len(self.waiting):
                task = self.waiting[starting][0]
                self.slots[slot] = self.start((task.backend, task.threads), self.gpus[slot])
                starting += 1
        return bool(self.waiting)

    def start(self, runtime: tuple[str, int], gpu: int | None) -> _Worker:
        here, there = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, args=(there, self.plugins, runtime, gpu), daemon=True,
                                       name=f"harness-worker-{runtime[0]}")
        process.start()
        there.close()  # this process keeps its end only: the pipe ends when the worker does
        return _Worker(process, here, runtime, gpu)

    def give(self, worker: _Worker, task: Task, payload: bytes) -> None:
        worker.task = task
        worker.deadline = time.monotonic() + task.timeout_seconds if task.timeout_seconds else None
        try:
            worker.conn.send_bytes(payload)
        except OSError:  # it died in the meantime: seen, and recorded, in the next step
            pass

    # -- waiting ----------------------------------------------------------------------------------

    def step(self) -> None:
        """Wait for a message, a worker's end or the nearest time limit, and act on what came."""
        workers = [w for w in self.slots if w is not None]
        deadlines = [w.deadline for w in workers if w.deadline is not None]
        timeout = POLL_SECONDS if not deadlines else max(0.0, min(POLL_SECONDS, min(deadlines) - time.monotonic()))
        ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout)
        for slot, worker in enumerate(self.slots):
            if worker is None:
                continue
            if worker.conn in ready:
                self.read(worker)
            if worker.process.sentinel in ready:
                self.ended(slot, worker)
            elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                self.timed_out(slot, worker)

    def read(self, worker: _Worker) -> None:
        """Every message the worker has sent so far."""
        try:
            while worker.conn.poll():
                self.handle(worker, worker.conn.recv())
        except (EOFError, OSError):  # it ended: seen through its sentinel
            pass

    def handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "failed":  # it could not start: the run's plugins or runtime are at fault, not a task
            raise UsageError(f"--executor process: a worker process could not start: {message[1]}")
        elif worker.task is None:
            return
        elif kind == "event":
            self.session.hook.harness_combination_progress(session=self.session, task=worker.task, event=message[1])
        elif kind == "result":
            self.record(worker, message[1])
        elif kind == "unusable":  # its modules differ from this process's
            self.record(worker, dict(error_record(worker.task, message[1], "plugin")))

    def record(self, worker: _Worker, result: dict[str, Any]) -> None:
        task, worker.task, worker.deadline = worker.task, None, None
        assert task is not None
        self.session.record(task, result)

    def ended(self, slot: int, worker: _Worker) -> None:
        """The worker's process ended: its last messages are read; a task it had not finished died with it."""
        self.read(worker)
        worker.process.join()
        self.slots[slot] = None
        worker.conn.close()
        if worker.task is not None:
            self.record(worker, runner.crashed(worker.task, worker.process.exitcode))
        elif not worker.ready:
            raise UsageError(f"--executor process: a worker process died while starting "
                             f"({_ended_how(worker.process.exitcode)}); "
                             "try --executor serial to see why")

    def timed_out(self, slot: int, worker: _Worker) -> None:
        assert worker.task is not None and worker.task.timeout_seconds is not None
        self.kill(worker)
        self.read(worker)  # it may have finished just in time
        self.slots[slot] = None
        worker.conn.close()
        if worker.task is not None:
            self.record(worker, runner.timed_out(worker.task, worker.task.timeout_seconds))

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self, slot: int) -> None:
        """Ask the worker of ``slot`` to exit (it is idle), and wait for it."""
        worker = self.slots[slot]
        assert worker is not None
        self.slots[slot] = None
        try:
            worker.conn.send_bytes(b"")
        except OSError:
            pass
        worker.process.join(EXIT_SECONDS)
        if worker.process.is_alive():
            self.kill(worker)
        worker.conn.close()

    def stop_all(self, at_once: bool) -> None:
        """Every worker, idle ones asked to exit; ``at_once``: terminated whatever they do (Ctrl-C)."""
        for slot, worker in enumerate(self.slots):
            if worker is None:
                continue
            if at_once:
                worker.process.terminate()
                worker.process.join(EXIT_SECONDS)
                self.kill(worker)
                worker.conn.close()
                self.slots[slot] = None
            else:
                self.stop(slot)

    @staticmethod
    def kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()


def _ended_how(exitcode: int | None) -> str:
    """``killed by SIGSEGV`` or ``exit code 1``, for a worker that ended before its first task."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


# -------------------------------------------------------------------------------------------------
# In a worker process
# -------------------------------------------------------------------------------------------------


def _serve(conn: Connection, plugins: WorkerPlugins, runtime: tuple[str, int], gpu: int | None) -> None:
    """A worker's life: make the runtime its own and build the run's plugins (before a task that refers to
    ``harness_plugins.py`` is unpickled), say it is ready, then train each task it is sent until it gets an
    empty message or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the workers itself
    _die_with_the_driver()
    freeze_heap_at_exit()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from harness import runtime as runtime_module

        runtime_module.apply(runtime[0], runtime[1], gpu)
        pm = plugins.manager()
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not payload:
            return
        try:
            task: Task = pickle.loads(payload)
        except Exception as exc:  # the driver checked it: the worker's modules differ from the driver's
            conn.send(("unusable", f"a worker process could not unpickle the task: {type(exc).__name__}: {exc}"))
            continue
        result = _train(pm, task, conn)
        try:
            conn.send(("result", result))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # pickled whole before it is sent
            conn.send(("result", runner.raised(task, exc)))


def _die_with_the_driver() -> None:
    """On Linux, have the kernel kill this worker when the driver dies (``kill -9``), rather than let it train
    a task nobody will record."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _train(pm: Any, task: Task, conn: Connection) -> dict[str, Any]:
    lock = threading.Lock()  # a trainer may emit from several threads: one message at a time on the pipe

    def emit(event: dict[str, Any]) -> None:
        with lock:
            conn.send(("event", event))

    return runner.run_task(pm.hook, task, emit)
