"""The executor seam: how a session's pending tasks get trained (in this process, in worker processes, on a
cluster). Executors are plugins: each is an :class:`ExecutorSpec` returned by the ``harness_executors_register``
hook, chosen with ``--executor NAME`` and listed by ``harness list executors``. harness's own ``serial`` and
``process`` executors register through that same hook (:mod:`harness.builtin.core`).

Whatever the executor, a task trains by a call of the ``harness_combination_train`` hook in the process where it
trains (see :mod:`harness.worker` for another process), and the driver (this process) alone stores the results,
through ``session.record``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from harness.errors import PluginError, UsageError

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

REGISTER_HOOK = "harness_executors_register"


class Executor(Protocol):
    """Trains a session's tasks."""

    def run(self, session: Session, tasks: list[Task]) -> None:
        """Train ``tasks`` (the pending ones). Each task trains through :func:`harness.runner.run_task` in
        the process where it trains, after :func:`harness.runtime.apply` (``task.backend``, ``task.threads``)
        there; a supervising executor bounds it by ``task.timeout_seconds``. For each finished task call
        ``session.record(task, result)`` in this process; forward progress with
        ``session.hook.harness_combination_progress(session=, task=, event=)``; stop handing out work once
        ``session.should_stop`` is set (what trains may finish). Ctrl-C raises :class:`KeyboardInterrupt`
        here, after stopping what trains elsewhere. An executor that loses what it trains on (a cluster's
        head) raises :class:`harness.errors.InfrastructureLost` naming it: the session keeps what was
        recorded, writes the report and exits 6."""


@dataclass(frozen=True)
class ExecutorSpec:
    """An executor a plugin contributes: ``factory(config)`` builds it for one run."""

    name: str
    factory: Callable[[Config], Executor]
    description: str = ""
    #: Filled in when collected: the plugin that contributed the spec and its distribution.
    plugin: str = ""
    package: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or " " in self.name:
            raise ValueError(f"executor name {self.name!r} is invalid: use a non-empty name without spaces")
        if not callable(self.factory):
            raise TypeError(f"executor {self.name!r}: factory must be callable, got {self.factory!r}")


def collect_executors(config: Config) -> dict[str, ExecutorSpec]:
    """Every plugin's executors by name, in the plugins' order of registration; a name given twice is an error
    naming both plugins."""
    from harness.registry import contributions

    specs: dict[str, ExecutorSpec] = {}
    for origin, result in contributions(config, REGISTER_HOOK):
        items = [result] if isinstance(result, ExecutorSpec) else result
        if not isinstance(items, (list, tuple)) or not all(isinstance(s, ExecutorSpec) for s in items):
            raise PluginError(f"{origin.describe()}: {REGISTER_HOOK} returned {result!r}, expected a list of "
                              "ExecutorSpec objects")
        for spec in items:
            if spec.name in specs:
                first = specs[spec.name]
                raise PluginError(f"executor {spec.name!r} is registered twice: by plugin {first.plugin!r} "
                                  f"(package {first.package}) and by plugin {origin.name!r} "
                                  f"(package {origin.package})")
            specs[spec.name] = dataclasses.replace(spec, plugin=origin.name, package=origin.package)
    return specs


def executor_name(config: Config) -> str:
    """``--executor``, else ``process``: supervised worker processes, so that a task that crashes or hangs is
    an error row and not the end of the run (``serial``, in this process, is for debugging)."""
    name = config.options.executor
    return str(name) if name else "process"


def chosen_executor(config: Config) -> ExecutorSpec:
    """The spec of the run's executor; an unknown name is a usage error listing the known ones."""
    from harness.config import _unknown

    specs = collect_executors(config)
    name = executor_name(config)
    if name not in specs:
        raise UsageError("--executor: " + _unknown("executor", name, specs))
    return specs[name]


def make_executor(config: Config) -> Executor:
    return chosen_executor(config).factory(config)


def with_data_digests(tasks: list[Task]) -> list[Task]:
    """Each task with its dataset's split digest computed here (once per dataset and split seed), for an
    executor whose tasks train on other machines: a node whose files give another digest refuses its task
    with a data error. A dataset that cannot be listed here (its files are only on the nodes) travels
    without one."""
    from harness.data.prepare import split_digest
    from harness.errors import DataError
    from harness.specs import DatasetRequest

    digests: dict[tuple[str, int], str | None] = {}
    out = []
    for task in tasks:
        key = (task.dataset.name, task.split_seed)
        if key not in digests:
            request = DatasetRequest(params=dict(task.dataset.params), data_dir=task.data_dir,
                                     cache_dir=task.cache_dir, seed=task.split_seed,
                                     image_size=task.dataset.image_size, channels=task.dataset.channels)
            try:
                digests[key] = split_digest(task.dataset, request, split_seed=task.split_seed)
            except (DataError, OSError):
                digests[key] = None
        out.append(dataclasses.replace(task, data_digest=digests[key]))
    return out
