"""The one way a task becomes a record, whatever the executor (pytest's ``CallInfo.from_call``).

Every executor (serial, process, Ray, and those of plugins) and the pytest plugin train a task by calling
:func:`run_task` in the process where it trains. It calls the ``harness_combination_train`` hook and turns
whatever happens into a record: a trainer's exception becomes an error row with its traceback, a missing
trainer a usage error row. What cannot be seen from inside the process (the process died, the task ran past
``--task-timeout``, the cluster was lost) is turned into a record by the supervising executor with
:func:`crashed`, :func:`timed_out` and :func:`lost`: one error policy, one wording.
"""

from __future__ import annotations

import signal
import traceback
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from harness import backendlog
from harness.engine import events
from harness.record import error_record

if TYPE_CHECKING:
    from collections.abc import Callable

    import pluggy

    from harness.engine.task import Task


def run_task(hook: pluggy.HookRelay, task: Task,
             emit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``task`` through ``hook.harness_combination_train`` in this process, passing each progress event
    to ``emit``; return its record. Never raises for the task's own failures: an exception (from the trainer,
    a plugin's factory, the data) becomes an ``error`` record saying which; ``KeyboardInterrupt`` and
    ``SystemExit`` propagate (they end the run, not the task). The backends' own log lines go to the run's
    ``backend.log`` meanwhile (:mod:`harness.backendlog`)."""
    try:
        with backendlog.to_log(), events.listening(emit) if emit is not None else nullcontext():
            result: dict[str, Any] | None = hook.harness_combination_train(task=task)
    except Exception as exc:  # a combination's failure is data
        return raised(task, exc)
    if result is None:
        return dict(error_record(task, "no plugin implements harness_combination_train", "usage"))
    return result


def raised(task: Task, exc: BaseException) -> dict[str, Any]:
    """The record of a task whose training raised ``exc``: the message, its kind, the traceback."""
    from harness.engine.errors import error_kind, oom_message

    kind = error_kind(exc)
    message = oom_message(exc) if kind == "oom" else f"{type(exc).__name__}: {exc}"
    return dict(error_record(task, message, kind, "".join(traceback.format_exception(exc))))  # type: ignore[arg-type]


def crashed(task: Task, exitcode: int | None) -> dict[str, Any]:
    """The process training ``task`` died: ``worker died: SIGABRT`` (killed by a signal, as
    :attr:`multiprocessing.Process.exitcode` gives it, negative) or ``worker died: exit code 3``."""
    if exitcode is not None and exitcode < 0:
        try:
            how = signal.Signals(-exitcode).name
        except ValueError:
            how = f"signal {-exitcode}"
        if how == "SIGKILL":
            how += " (killed: out of memory, or by hand)"
    else:
        how = f"exit code {exitcode}" if exitcode is not None else "lost"
    return dict(error_record(task, f"worker died: {how}", "worker"))


def timed_out(task: Task, seconds: float) -> dict[str, Any]:
    """``task`` ran past ``--task-timeout`` and was stopped: ``timed out after 30s``."""
    return dict(error_record(task, f"timed out after {seconds:g}s (--task-timeout)", "timeout"))


def lost(task: Task, what: str) -> dict[str, Any]:
    """The infrastructure training ``task`` went away (a Ray head, a SLURM job): ``what`` says which."""
    return dict(error_record(task, what, "lost"))
