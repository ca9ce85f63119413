"""The Ray executor: each pending task (one combination and seed) is one Ray task.

- **Where**: ``--ray-address`` (or ``RAY_ADDRESS``), else a Ray started for the run and stopped after it,
  every address of it on 127.0.0.1 (even when another cluster runs on this machine: ``--ray-address auto``
  joins that one). An address that does not answer, or a cluster that refuses harness (token authentication),
  is a usage error within seconds, naming the address and the cause.
- **What a task needs**: ``--ray-cpus-per-task`` CPUs (default: the task's threads, ``--threads``; some node
  must have that many) and ``--ray-gpus-per-task`` GPUs (default: 1 when the cluster has GPUs). Each Ray
  worker applies the run's runtime (:func:`harness.runtime.apply`: backend and threads), so a task's numbers
  are those of any other executor. As many tasks are handed out as the cluster has room for; the next is
  handed out when one finishes, so ``-x`` starts nothing new.
- **Results**: they come back as they finish (``ray.wait``); this process alone records them, adding the
  ``node`` (``IP/node-id``) and ``gpu`` (the GPU ids Ray gave the task) each trained on, and ``attempts``.
- **Failures**: a task whose worker process or node dies is retried by Ray (``MAX_RETRIES`` times, on
  another node when its node is gone) and ``attempts`` counts the tries, ``attempt_nodes`` lists where; an
  exception raised by training is never retried: it is the task's record, status ``error``
  (:func:`harness.runner.run_task`). A task that trains past its ``timeout_seconds`` (``--task-timeout``)
  is cancelled and recorded as timed out.
- **A lost head**: the driver checks every second that the cluster's head answers; when it does not, the run
  ends with :class:`~harness.errors.InfrastructureLost` (exit 6), what finished being recorded already.
- **Ray's messages** (its log lines, warnings, the local cluster's output) go to ``ray.log`` in the run
  directory; the terminal gets one line saying where.
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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import InfrastructureLost, UsageError, WorkerPlugins, error_record

if TYPE_CHECKING:
    from harness import Config, Session, Task

#: How many times Ray runs a task again when its worker process or node dies.
MAX_RETRIES = 3
#: Seconds between two looks for finished tasks and progress events.
POLL_SECONDS = 0.2
#: Ray's switch between a cluster-wide node address and 127.0.0.1 (the default on macOS and Windows).
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Seconds to wait for a TCP connection to an explicit ``HOST:PORT`` before calling it unreachable.
CONNECT_TIMEOUT = 5.0
#: Seconds between two checks that the cluster's head still answers.
HEAD_CHECK_SECONDS = 1.0
#: Seconds to wait for the progress events of the tasks before looking at the head.
TRACKER_SECONDS = 10.0
#: Ray's setting: how long a driver waits for a lost head before Ray ends the process.
GCS_RECONNECT_ENV = "RAY_gcs_rpc_server_reconnect_timeout_s"
#: Ray's messages of a run, in its run directory.
RAY_LOG = "ray.log"


# -------------------------------------------------------------------------------------------------
# Connecting
# -------------------------------------------------------------------------------------------------


def resolve_address(option: str | None) -> str:
    """``--ray-address``, else ``RAY_ADDRESS``, else ``local``: a Ray of the run's own, even when another
    cluster runs on this machine (joining it takes ``--ray-address auto``)."""
    return option or os.environ.get("RAY_ADDRESS") or "local"


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable ``HOST:PORT`` for minutes: refuse it in seconds instead."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise UsageError(f"--ray-address {address}: no Ray cluster answers there ({exc})") from None


@contextmanager
def ray_messages(session: Session) -> Iterator[Path]:
    """While Ray runs in this process, what it writes to the standard error (its own log lines, those of the
    local cluster's servers, warnings) goes to ``ray.log`` in the run directory; the terminal gets one line
    saying where, if Ray said anything."""
    folder = session.run_dir or Path(tempfile.gettempdir())
    path = folder / RAY_LOG
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    stdout = sys.stdout
    log_text = open(path, "a", encoding="utf-8", errors="replace")
    sys.stdout = _RayThreadsTo(log_text, stdout)  # type: ignore[assignment]
    try:
        yield path
    finally:
        sys.stdout = stdout
        log_text.close()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        lines = _count_lines(path)
        if lines:
            sys.stderr.write(f"harness: Ray's messages ({lines} lines) are in {path}\n")


class _RayThreadsTo:
    """``sys.stdout`` while Ray runs: what Ray's own threads print there (a dead raylet's last 20 log lines,
    colours included, for one) goes to the log; everything else to the terminal as before."""

    def __init__(self, log: Any, stream: Any) -> None:
        self.log = log
        self.stream = stream

    def write(self, text: str) -> int:
        if threading.current_thread().name.startswith("ray_"):
            self.log.write(text)
            self.log.flush()
            return len(text)
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as log:
            return sum(1 for _ in log)
    except OSError:
        return 0


def _why_not(exc: BaseException, log: Path) -> str:
    """The cause of a failed ``ray.init``: the authentication Ray's log complains of, else Ray's message."""
    try:
        said = log.read_text(errors="replace")
    except OSError:
        said = ""
    if "InvalidAuthToken" in said or "Unauthenticated" in said or type(exc).__name__ == "AuthenticationError":
        return ("the cluster requires token authentication and this process has no valid token: set "
                "RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN, or the file ~/.ray/auth_token)")
    return f"{type(exc).__name__}: {exc}"


def connect(address: str, runtime_env: dict[str, Any], log: Path) -> Any:
    """``ray.init`` for the run; returns the ``ray`` module. Failing to start or join is a usage error that
    names the address and the cause (Ray's own lines are in ``log``)."""
    if address == "local" and "ray" not in sys.modules:
        # Read by Ray when it is imported: the local instance's nodes, workers and servers use 127.0.0.1,
        # never this machine's network address.
        os.environ[LOOPBACK_ENV] = "0"
    # Ray ends a driver whose cluster head is gone after this many seconds (60 by default), before it can say
    # so or write its report: harness watches the head itself (see _Driver.check_head).
    os.environ.setdefault(GCS_RECONNECT_ENV, "3600")
    import ray

    _check_reachable(address)
    extra: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
    try:
        ray.init(address=address, runtime_env=runtime_env or None, log_to_driver=False,
                 logging_level=logging.WARNING, **extra)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError, AuthenticationError...
        raise UsageError(f"--ray-address {address}: cannot start or join a Ray cluster: {_why_not(exc, log)} "
                         f"(Ray's messages: {log})") from None
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


def train_on_node(plugins: WorkerPlugins, payload: bytes, key: int, tracker: Any, shipped: Shipped,
                  runtime: tuple[str, int]) -> dict[str, Any]:
    """The Ray task: train one task with the run's plugins through :func:`harness.runner.run_task`; its
    record, with the node and GPU it used.

    The worker process makes ``runtime`` (the task's backend and threads) its own first
    (:func:`harness.runtime.apply`; Ray chose its GPU), before a plugin imports Keras. The task travels pickled
    and is unpickled after the shipped plugin file is loaded, since its factories may live there."""
    import ray

    context = ray.get_runtime_context()
    node = f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:8]}"
    gpus = [str(i) for i in context.get_accelerator_ids().get("GPU", [])]
    ray.get(tracker.put.remote(key, {"kind": "_try", "node": node}))  # before training: a retry is counted
    harness.apply_runtime(*runtime)
    if shipped.local_module is not None:
        _load_local_module(shipped.local_module)
        plugins = dataclasses.replace(plugins, cwd=os.getcwd())
    task: Task = pickle.loads(payload)

    def emit(event: dict[str, Any]) -> None:
        tracker.put.remote(key, event)

    try:
        hook = plugins.manager().hook
    except Exception as exc:  # the run's plugins do not load on this node
        result = harness.raised(task, exc)
    else:
        result = harness.run_task(hook, task, emit)
    result.update(node=node, gpu=",".join(gpus) or None)
    return result


# -------------------------------------------------------------------------------------------------
# The driver
# -------------------------------------------------------------------------------------------------




class RayExecutor:
    """``--executor ray`` (see the module's docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, session: Session, tasks: list[Task]) -> None:
        if not tasks:
            return
        option = self.config.options
        tasks = harness.with_data_digests(tasks)
        address = resolve_address(option.ray_address)
        with ray_messages(session) as log, job_files(session) as (runtime_env, shipped):
            ray = connect(address, runtime_env, log)
            try:
                _Driver(ray, session, shipped, option, address).run(tasks)
            finally:
                ray.shutdown()


class _Driver:
    def __init__(self, ray: Any, session: Session, shipped: Shipped, option: Any, address: str) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        self.session = session
        self.shipped = shipped
        self.address = address
        self.plugins = WorkerPlugins.of(session.config)
        self.cpus: float | None = option.ray_cpus_per_task
        gpus = option.ray_gpus_per_task
        self.gpus = float(gpus if gpus is not None else (1 if ray.cluster_resources().get("GPU", 0) else 0))
        self.here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self.tracker = ray.remote(num_cpus=0)(Tracker).options(scheduling_strategy=self.here).remote()
        self.gcs = ray.get_runtime_context().gcs_address
        self.head_checked = time.monotonic()
        self.tries: dict[int, list[str]] = {}
        #: When each running task's current try started (``time.monotonic()``, as this process saw it).
        self.started: dict[int, float] = {}
        self.running: dict[Any, tuple[int, Task]] = {}

    def cpus_for(self, tasks: list[Task]) -> float:
        """CPUs per task: ``--ray-cpus-per-task``, else the tasks' threads; some node must have that many."""
        threads = max(task.threads for task in tasks)
        cpus = float(self.cpus if self.cpus is not None else threads)
        largest = max((n["Resources"].get("CPU", 0.0) for n in self.ray.nodes() if n["Alive"]), default=0.0)
        if cpus > largest:
            given = f"--ray-cpus-per-task {self.cpus:g}" if self.cpus is not None else f"--threads {threads}"
            raise UsageError(f"--executor ray: each task needs {cpus:g} CPUs ({given}) and the largest node of the "
                             f"Ray cluster at {self.address} has {largest:g}: lower --threads or "
                             "--ray-cpus-per-task, or add a larger node")
        return cpus

    def slots(self, cpus: float) -> int:
        """How many tasks the cluster can train at once now (at least 1: Ray queues the rest). Ray's answer
        comes from the head, and waits for ever for a head that is gone: the head is checked first."""
        self.check_head(now=True)
        total = self.ray.cluster_resources()
        fits = [total.get("CPU", 0) / cpus if cpus else None, total.get("GPU", 0) / self.gpus if self.gpus else None]
        return max(1, int(min((f for f in fits if f is not None), default=len(self.tries) or 1)))

    def run(self, tasks: list[Task]) -> None:
        cpus = self.cpus_for(tasks)
        remote = self.ray.remote(train_on_node).options(
            num_cpus=cpus, num_gpus=self.gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
        waiting = list(enumerate(tasks))
        try:
            while waiting or self.running:
                room = self.slots(cpus) - len(self.running) if waiting else 0
                while waiting and room > 0 and not self.session.should_stop:
                    key, task = waiting.pop(0)
                    ref = remote.remote(self.plugins, pickle.dumps(task), key, self.tracker, self.shipped,
                                        (task.backend, task.threads))
                    self.running[ref] = (key, task)
                    room -= 1
                if self.session.should_stop:
                    waiting.clear()
                if self.running:
                    self.step()
        except InfrastructureLost:  # nothing to cancel: the cluster is gone
            raise
        except BaseException:  # Ctrl-C (or a bug here): stop what is queued and running, keep what finished
            for ref in self.running:
                self.ray.cancel(ref, force=True)
            raise

    def step(self) -> None:
        """Wait a moment for a task to finish; record what finished, stop what ran out of time, check the head."""
        done, _ = self.ray.wait(list(self.running), num_returns=1, timeout=POLL_SECONDS)
        self.drain()
        for ref in done:
            key, task = self.running.pop(ref)
            self.started.pop(key, None)
            result = self.result_of(ref, task)
            if result is not None:
                tries = self.tries.pop(key, [])
                result.update(attempts=max(1, len(tries)), attempt_nodes=tries)
                self.session.record(task, result)
        self.stop_late()
        self.check_head()

    def stop_late(self) -> None:
        """Cancel each task that has trained longer than its ``timeout_seconds`` and record it as timed out."""
        now = time.monotonic()
        for ref, (key, task) in list(self.running.items()):
            began = self.started.get(key)
            if task.timeout_seconds is None or began is None or now - began < task.timeout_seconds:
                continue
            self.ray.cancel(ref, force=True)
            del self.running[ref]
            del self.started[key]
            result = harness.timed_out(task, task.timeout_seconds)
            tries = self.tries.pop(key, [])
            result.update(attempts=max(1, len(tries)), attempt_nodes=tries, node=tries[-1] if tries else None)
            self.session.record(task, result)

    def check_head(self, now: bool = False) -> None:
        """Every second (``now``: at once), whether the cluster's head (its GCS server) still answers: Ray
        itself would wait a minute, then end this process. A head that is gone is :class:`InfrastructureLost`."""
        if not now and time.monotonic() - self.head_checked < HEAD_CHECK_SECONDS:
            return
        self.head_checked = time.monotonic()
        host, _, port = self.gcs.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise InfrastructureLost(f"the Ray cluster at {self.address}: its head (GCS server {self.gcs}) "
                                     f"does not answer ({exc})") from None

    def result_of(self, ref: Any, task: Task) -> dict[str, Any] | None:
        from ray import exceptions

        try:
            result: dict[str, Any] = self.ray.get(ref)
        except exceptions.TaskCancelledError:
            return None
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.OutOfMemoryError) as exc:
            message = f"the worker training it died {MAX_RETRIES + 1} times: {exc}"
            return dict(error_record(task, message, "worker"))
        except exceptions.RayTaskError as exc:  # train_on_node itself failed (harness missing on a node...)
            return harness.raised(task, exc)
        return result

    def drain(self) -> None:
        """Progress events to the hooks, with the node each task runs on; remember each task's tries and when
        the current one started."""
        from ray import exceptions

        by_key = {key: task for key, task in self.running.values()}
        try:
            events = self.ray.get(self.tracker.take.remote(), timeout=TRACKER_SECONDS)
        except (exceptions.GetTimeoutError, exceptions.RayActorError):
            self.head_checked = 0.0  # the head may be gone: look now
            return
        for key, event in events:
            if event["kind"] == "_try":
                self.tries.setdefault(key, []).append(event["node"])
                self.started[key] = time.monotonic()
                continue
            task = by_key.get(key)
            if task is not None:
                event = {**event, "node": self.tries.get(key, ["?"])[-1]}
                self.session.hook.harness_combination_progress(session=self.session, task=task, event=event)
