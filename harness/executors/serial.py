"""The ``serial`` executor: one task after the other, in this process, through the run's plugin manager.

Unprotected: a task that crashes its process (``os.abort()``, a segfault in native code, the out-of-memory
killer) ends the run, and one that hangs is never stopped (``--task-timeout`` does not apply). It is there to
debug a plugin with ``pdb`` or a profiler, in the process you started; the default executor, ``process``,
supervises each task in a worker process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import runtime
from harness.runner import run_task

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session


class SerialExecutor:
    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, session: Session, tasks: list[Task]) -> None:
        """Apply the run's runtime to this process (before the first task imports Keras), then train each
        task with :func:`harness.runner.run_task` and record it, until the session says stop."""
        for task in tasks:
            runtime.apply(task.backend, task.threads)

            def forward(event: dict[str, Any], task: Task = task) -> None:
                session.hook.harness_combination_progress(session=session, task=task, event=event)

            session.record(task, run_task(session.hook, task, forward))
            if session.should_stop:
                break
