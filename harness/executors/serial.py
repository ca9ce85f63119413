"""The ``serial`` executor: one task after the other, in this process, through the run's plugin manager."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import backendlog
from harness.engine import events
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session


class SerialExecutor:
    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, session: Session, tasks: list[Task]) -> None:
        for task in tasks:
            def forward(event: dict[str, Any], task: Task = task) -> None:
                session.hook.harness_combination_progress(session=session, task=task, event=event)

            with backendlog.to_log(), events.listening(forward):
                result = session.hook.harness_combination_train(task=task)
            if result is None:
                raise UsageError("no plugin implements harness_combination_train")
            session.record(task, result)
            if session.should_stop:
                break
