"""What runs in each element of the job array, on a node: train one task through
:func:`harness.runner.run_task` and hand its record back (submitit pickles it next to the job's logs).

The element tells the driver where it runs and how training goes through a *track file* of its own on the
shared filesystem (JSON lines: one ``try`` line per start, a requeued element writes another, then the
progress events). Two limits turn into records here rather than into a killed process: the task's
``timeout_seconds`` (``--task-timeout``: :func:`harness.runner.timed_out`, as on every executor) and SLURM's
warning that the job's time limit is near (``USR2``, sent by ``--signal``: an error row saying so).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import WorkerPlugins, error_record

if TYPE_CHECKING:
    from harness import Task


class TimeLimit(BaseException):
    """SLURM warned that the job's time limit is near (not an ``Exception``: training does not catch it)."""


class TaskTimeout(BaseException):
    """The task ran past its ``timeout_seconds``."""


def job_id() -> str:
    """This element's SLURM id, ``ARRAY_INDEX`` (``123_4``), or the job id of a job that is no array."""
    array, index = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{index}" if array and index else os.environ.get("SLURM_JOB_ID", "?")


def plain(value: Any) -> Any:
    """A JSON value for what ``json`` cannot write (NumPy numbers)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


class Track:
    """The element's track file: appended a line at a time, flushed, from any thread."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.lock = threading.Lock()

    def write(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, default=plain) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(text)


def train(plugins: WorkerPlugins, payload: bytes, runtime: tuple[str, int], track_path: str,
          time_limit: str) -> dict[str, Any]:
    """The array element: the task's record, with the node and the SLURM job it trained in.

    The element applies ``runtime`` (backend, threads) before a plugin imports Keras; SLURM chose its GPUs
    (``CUDA_VISIBLE_DEVICES``). The task travels pickled and is unpickled once the run's plugins are built
    (its factories may live in the working directory's ``harness_plugins.py``)."""
    task: Task
    node, job = socket.gethostname(), job_id()
    track = Track(track_path)
    track.write({"kind": "try", "node": node, "job": job, "at": time.time()})
    harness.apply_runtime(*runtime)
    try:
        hook = plugins.manager().hook
    except Exception as exc:  # the run's plugins do not load on this node: the task's error row, if it unpickles
        try:
            task = pickle.loads(payload)
        except Exception:
            raise exc from None  # the element fails: the driver's row names the error and the log
        result = harness.raised(task, exc)
    else:
        task = pickle.loads(payload)
        result = _train(hook, task, track, time_limit)
    result.update(node=node, slurm_job_id=job)
    return result


def _train(hook: Any, task: Task, track: Track, time_limit: str) -> dict[str, Any]:
    """:func:`harness.runner.run_task` between the two limits."""

    def emit(event: dict[str, Any]) -> None:
        track.write({"kind": "event", "event": event})

    def near_limit(signum: int, frame: Any) -> None:
        raise TimeLimit

    def past_timeout(signum: int, frame: Any) -> None:
        raise TaskTimeout

    signal.signal(signal.SIGUSR2, near_limit)  # in place of submitit's (which would requeue or raise an Exception)
    if task.timeout_seconds:
        signal.signal(signal.SIGALRM, past_timeout)
        signal.setitimer(signal.ITIMER_REAL, task.timeout_seconds)
    try:
        return harness.run_task(hook, task, emit)
    except TimeLimit:
        return dict(error_record(task, f"hit the SLURM time limit ({time_limit}): SLURM stopped the job "
                                       "(give more with --slurm-time)", "timeout"))
    except TaskTimeout:
        return harness.timed_out(task, float(task.timeout_seconds or 0))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # the record is made: a late warning must not lose it
