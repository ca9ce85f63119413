"""What runs in a worker process (a process pool's worker, a Ray worker): the run's plugins, rebuilt there,
train a task through the ``harness_combination_train`` hook, as they would in the driver.

Everything here is picklable and self-contained: an executor sends :class:`WorkerPlugins` and the
:class:`~harness.engine.task.Task` to the worker and calls :func:`train_task` there, which trains it through
:func:`harness.runner.run_task`, the one way a task becomes a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.config import Config
    from harness.engine.task import Task
    from harness.pluginmanager import HarnessPluginManager

#: This process's plugin managers, one per set of plugin options (a worker serves one run).
_MANAGERS: dict[WorkerPlugins, HarnessPluginManager] = {}


@dataclass(frozen=True)
class WorkerPlugins:
    """The run's plugin options, to build the same plugin manager in a worker: harness's own plugins, the
    installed ones (unless autoloading is off), the ``-p`` modules (which must be importable there), blocked
    names (``-p no:NAME``) and the working directory's ``harness_plugins.py``. Plugin objects registered by
    hand (the testing kit's ``extra_plugins``) do not travel."""

    #: ``-p`` values (modules and ``no:NAME``), the configuration file's ``plugins`` first.
    plugin_args: tuple[str, ...]
    autoload: bool
    #: Where ``harness_plugins.py`` is looked for.
    cwd: str

    @classmethod
    def of(cls, config: Config) -> WorkerPlugins:
        pm = config.pluginmanager
        return cls(plugin_args=tuple(pm.plugin_args), autoload=pm.autoload, cwd=str(pm.cwd or config.cwd))

    def manager(self) -> HarnessPluginManager:
        """This process's plugin manager for these options, built on first use. Call it before unpickling a
        task whose factories live in ``harness_plugins.py``: it loads that module under its name."""
        pm = _MANAGERS.get(self)
        if pm is None:
            from harness.pluginmanager import load_plugins

            pm = _MANAGERS[self] = load_plugins(list(self.plugin_args), cwd=Path(self.cwd), autoload=self.autoload)
        return pm


def train_task(plugins: WorkerPlugins, task: Task,
               emit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``task`` with the run's plugins (built once per process from ``plugins``) through
    :func:`harness.runner.run_task`, passing each progress event to ``emit``; returns the record (an
    exception of the trainer is an error record, as in every executor)."""
    from harness.runner import run_task

    return run_task(plugins.manager().hook, task, emit)
