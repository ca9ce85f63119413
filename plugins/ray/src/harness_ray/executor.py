"""The Ray executor: each pending task (one combination and seed) is one Ray task.

- **Where**: ``--ray-address`` (or ``RAY_ADDRESS``), else the cluster started on this machine with
  ``ray start`` (``auto``), else a Ray started for the run and stopped after it, every address of it on
  127.0.0.1.
- **What a task needs**: ``--ray-cpus-per-task`` CPUs (also its TensorFlow thread count) and
  ``--ray-gpus-per-task`` GPUs (default: 1 when the cluster has GPUs). As many tasks are handed out as the
  cluster has room for; the next is handed out when one finishes, so ``-x`` starts nothing new.
- **Results**: they come back as they finish (``ray.wait``); this process alone records them, adding the
  ``node`` (``IP/node-id``) and ``gpu`` (the GPU ids Ray gave the task) each trained on, and ``attempts``.
- **Failures**: a task whose worker process or node dies is retried by Ray (``MAX_RETRIES`` times, on
  another node when its node is gone) and ``attempts`` counts the tries, ``attempt_nodes`` lists where; an
  exception raised by training is never retried: it is the task's record, status ``error``.
- **Ctrl-C** cancels what is queued or running (``ray.cancel``) and ends the run (exit 2) with what
  finished recorded; ``--resume`` then trains the rest.
- **Plugins on the nodes**: the working directory's ``harness_plugins.py`` travels in the job's
  ``runtime_env`` (``working_dir``), and so do ``-p`` modules that no installed distribution provides
  (``py_modules``); installed plugin packages (harness, harness-vision, ...) must be installed on every node.
- **Data on the nodes**: each task carries the dataset's split digest computed here; a node whose files
  give another digest fails the task with a ``data`` error instead of training on other data.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import socket
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.record import ErrorKind
from harness.record import error_record as task_error_record
from harness.worker import WorkerPlugins, train_task

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

#: How many times Ray runs a task again when its worker process or node dies.
MAX_RETRIES = 3
#: Seconds between two looks for finished tasks and progress events.
POLL_SECONDS = 0.2
#: Ray's switch between a cluster-wide node address and 127.0.0.1 (the default on macOS and Windows).
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Seconds to wait for a TCP connection to an explicit ``HOST:PORT`` before calling it unreachable.
CONNECT_TIMEOUT = 5.0


# -------------------------------------------------------------------------------------------------
# Connecting
# -------------------------------------------------------------------------------------------------


def cluster_running() -> bool:
    """Whether a Ray head runs on this machine (a ``gcs_server`` process), which ``auto`` connects to."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "gcs_server":
                return True
        except OSError:
            continue
    return False


def resolve_address(option: str | None) -> str:
    """``--ray-address``, else ``RAY_ADDRESS``, else ``auto`` when a cluster runs here, else ``local``."""
    return option or os.environ.get("RAY_ADDRESS") or ("auto" if cluster_running() else "local")


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable ``HOST:PORT`` for minutes: refuse it in seconds instead."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise UsageError(f"--ray-address {address}: no Ray cluster answers there ({exc})") from None


def connect(address: str, runtime_env: dict[str, Any]) -> Any:
    """``ray.init`` for the run; returns the ``ray`` module."""
    if address == "local" and "ray" not in sys.modules:
        # Read by Ray when it is imported: the local instance's nodes, workers and servers use 127.0.0.1,
        # never this machine's network address.
        os.environ[LOOPBACK_ENV] = "0"
    import ray

    _check_reachable(address)
    extra: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
    try:
        ray.init(address=address, runtime_env=runtime_env or None, log_to_driver=False,
                 logging_level=logging.WARNING, **extra)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(f"--ray-address {address}: cannot start or join a Ray cluster: {exc}") from None
    return ray


# -------------------------------------------------------------------------------------------------
# Plugins that travel with the job
# -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Shipped:
    """What a worker needs beyond the installed packages: ``harness_plugins.py`` (under the module name it
    has here, so that the tasks' factories unpickle) in the job's working directory."""

    local_module: str | None = None


@contextmanager
def job_files(session: Session) -> Iterator[tuple[dict[str, Any], Shipped]]:
    """The job's ``runtime_env`` (a working directory holding only ``harness_plugins.py``, and the ``-p``
    modules no installed distribution provides) and what the workers must load; cleans up after the run."""
    pm = session.config.pluginmanager
    runtime_env: dict[str, Any] = {}
    local_module = None
    py_modules = []
    for name, origin in sorted(pm.origins.items()):
        module = pm.get_plugin(name)
        if origin.how == "-p" and not origin.distribution and getattr(module, "__file__", None):
            py_modules.append(module)
        elif origin.how == "local file":
            local_module = module
    workdir = None
    try:
        if local_module is not None:
            workdir = tempfile.mkdtemp(prefix="harness-ray-job-")
            shutil.copy(local_module.__file__, Path(workdir) / "harness_plugins.py")
            runtime_env["working_dir"] = workdir
        if py_modules:
            runtime_env["py_modules"] = py_modules
        yield runtime_env, Shipped(local_module.__name__ if local_module is not None else None)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _load_local_module(name: str) -> None:
    """Load the shipped ``harness_plugins.py`` (the working directory) as ``name``, once per worker."""
    import importlib.util

    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, Path.cwd() / "harness_plugins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


# -------------------------------------------------------------------------------------------------
# What runs on a node
# -------------------------------------------------------------------------------------------------


class Tracker:
    """A Ray actor on the driver's node: where each try of a task started, and the progress events."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []

    def put(self, key: int, event: dict[str, Any]) -> None:
        self.events.append((key, event))

    def take(self) -> list[tuple[int, dict[str, Any]]]:
        events, self.events = self.events, []
        return events


def _set_threads(threads: int) -> None:
    """TensorFlow's thread pools as wide as the task's CPUs (once per worker process: it cannot change)."""
    from harness.engine.tfimport import ensure_tensorflow

    ensure_tensorflow()
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() != threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
        except RuntimeError:  # TensorFlow already started in this worker: it keeps its threads
            pass


def train_on_node(plugins: WorkerPlugins, payload: bytes, key: int, tracker: Any, shipped: Shipped,
                  threads: int) -> dict[str, Any]:
    """The Ray task: train one task with the run's plugins; its record, with the node and GPU it used.

    The task travels pickled and is unpickled here, after the shipped plugin file is loaded, since its
    factories may live there."""
    import ray

    context = ray.get_runtime_context()
    node = f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:8]}"
    gpus = [str(i) for i in context.get_accelerator_ids().get("GPU", [])]
    ray.get(tracker.put.remote(key, {"kind": "_try", "node": node}))  # before training: a retry is counted
    if shipped.local_module is not None:
        _load_local_module(shipped.local_module)
        plugins = dataclasses.replace(plugins, cwd=os.getcwd())
    if threads:
        _set_threads(threads)
    task: Task = pickle.loads(payload)

    def emit(event: dict[str, Any]) -> None:
        tracker.put.remote(key, event)

    try:
        result = train_task(plugins, task, emit)
    except Exception as exc:
        result = error_record(task, exc, "exception")
    result.update(node=node, gpu=",".join(gpus) or None)
    return result


def error_record(task: Task, exc: BaseException | str, kind: ErrorKind) -> dict[str, Any]:
    """The record of a task that produced none: identity, status ``error``, the message, kind and traceback."""
    if isinstance(exc, str):
        return dict(task_error_record(task, exc, kind))
    return dict(task_error_record(task, f"{type(exc).__name__}: {exc}", kind,
                                  "".join(traceback.format_exception(exc))))


# -------------------------------------------------------------------------------------------------
# The driver
# -------------------------------------------------------------------------------------------------


def data_digests(tasks: list[Task]) -> list[Task]:
    """Each task with its dataset's split digest computed here (once per dataset and split seed), so that a
    node with other files refuses it. A dataset that cannot be listed here (its files are only on the
    nodes) travels without one."""
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


class RayExecutor:
    """``--executor ray`` (see the module's docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, session: Session, tasks: list[Task]) -> None:
        if not tasks:
            return
        option = self.config.option
        tasks = data_digests(tasks)
        with job_files(session) as (runtime_env, shipped):
            ray = connect(resolve_address(getattr(option, "ray_address", None)), runtime_env)
            try:
                _Driver(ray, session, shipped, option).run(tasks)
            finally:
                ray.shutdown()


class _Driver:
    def __init__(self, ray: Any, session: Session, shipped: Shipped, option: Any) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        self.session = session
        self.shipped = shipped
        self.plugins = WorkerPlugins.of(session.config)
        self.cpus = float(getattr(option, "ray_cpus_per_task", 1.0) or 0.0)
        gpus = getattr(option, "ray_gpus_per_task", None)
        self.gpus = float(gpus if gpus is not None else (1 if ray.cluster_resources().get("GPU", 0) else 0))
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self.tracker = ray.remote(num_cpus=0)(Tracker).options(scheduling_strategy=here).remote()
        self.remote = ray.remote(train_on_node).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
        self.tries: dict[int, list[str]] = {}

    def slots(self) -> int:
        """How many tasks the cluster can train at once now (at least 1: Ray queues the rest)."""
        total = self.ray.cluster_resources()
        fits = [total.get("CPU", 0) / self.cpus if self.cpus else None,
                total.get("GPU", 0) / self.gpus if self.gpus else None]
        return max(1, int(min((f for f in fits if f is not None), default=len(self.tries) or 1)))

    def run(self, tasks: list[Task]) -> None:
        ray, session = self.ray, self.session
        waiting = list(enumerate(tasks))
        running: dict[Any, tuple[int, Task]] = {}
        threads = max(1, int(self.cpus))
        try:
            while waiting or running:
                room = self.slots() - len(running) if waiting else 0
                while waiting and room > 0 and not session.should_stop:
                    key, task = waiting.pop(0)
                    ref = self.remote.remote(self.plugins, pickle.dumps(task), key, self.tracker, self.shipped,
                                             threads)
                    running[ref] = (key, task)
                    room -= 1
                if session.should_stop:
                    waiting.clear()
                if not running:
                    break
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                self.drain(running)
                for ref in done:
                    key, task = running.pop(ref)
                    result = self.result_of(ref, task)
                    if result is not None:
                        tries = self.tries.pop(key, [])
                        result.update(attempts=max(1, len(tries)), attempt_nodes=tries)
                        session.record(task, result)
        except BaseException:  # Ctrl-C (or a bug here): stop what is queued and running, keep what finished
            for ref in running:
                ray.cancel(ref, force=True)
            raise

    def result_of(self, ref: Any, task: Task) -> dict[str, Any] | None:
        from ray import exceptions

        try:
            result: dict[str, Any] = self.ray.get(ref)
        except exceptions.TaskCancelledError:
            return None
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.OutOfMemoryError) as exc:
            return error_record(task, f"the worker training it died {MAX_RETRIES + 1} times: {exc}", "worker")
        except exceptions.RayTaskError as exc:  # train_on_node itself failed (harness missing on a node...)
            return error_record(task, exc, "exception")
        return result

    def drain(self, running: dict[Any, tuple[int, Task]]) -> None:
        """Progress events to the hooks, with the node each task runs on; remember each task's tries."""
        by_key = {key: task for key, task in running.values()}
        for key, event in self.ray.get(self.tracker.take.remote()):
            if event["kind"] == "_try":
                self.tries.setdefault(key, []).append(event["node"])
                continue
            task = by_key.get(key)
            if task is not None:
                event = {**event, "node": self.tries.get(key, ["?"])[-1]}
                self.session.hook.harness_combination_progress(session=self.session, task=task, event=event)
