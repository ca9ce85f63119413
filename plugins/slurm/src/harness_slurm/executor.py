"""The SLURM executor: the run's pending tasks (one combination and seed each) are one SLURM job array,
submitted through submitit; each element trains its task with :func:`harness.runner.run_task`
(:mod:`harness_slurm.element`) and hands the record back; this process alone records them.

- **Where files go**: ``RUN_DIR/slurm/N/`` (``N``: 1, then 2 for a resumed run...): submitit's sbatch file,
  pickles and each element's logs (``ARRAY_INDEX_0_log.out`` / ``.err``), and the elements' track files.
  The run directory must be on a filesystem the nodes share; the start says which filesystem it and the
  decode cache are on.
- **What a task gets**: ``--slurm-cpus-per-task`` CPUs (default: the run's ``--threads``, which it trains
  with), ``--slurm-gpus-per-task`` GPUs, ``--slurm-mem``, ``--slurm-time`` (default: the task's
  ``--task-timeout``, or the one a time budget gives, plus :data:`START_MARGIN_SECONDS`; the start says which),
  ``--slurm-partition``, ``--slurm-setup`` lines and any ``--slurm-sbatch KEY=VALUE``.
- **Results** come back as elements finish: the driver watches the result files submitit writes and asks
  ``squeue`` (no accounting database needed) for the states; the terminal shows where each task started
  (node and job id) and its progress; each record names its ``node``, ``slurm_job_id`` and ``attempts``.
- **Faults**: an element that SLURM requeues (``scontrol requeue``, a preemption, a failed node) trains
  again from the start and is recorded once, ``attempts`` counting its starts; one that is cancelled
  (``scancel``) is a ``lost`` row naming the cancellation; one stopped at its time limit or memory limit an
  error row saying which; a SLURM controller that stops answering ends the run with exit 6.
- **Ctrl-C or SIGTERM** cancels the array (``scancel``) and ends the run (exit 2) with what finished recorded;
  ``--resume`` submits only what is missing, on any executor. ``-x`` cancels the elements not yet started.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import InfrastructureLost, UsageError, WorkerPlugins, error_record
from harness_slurm import cluster
from harness_slurm.element import train

if TYPE_CHECKING:
    from harness import Config, Session, Task

#: Seconds added to a task's timeout for the SLURM time limit: starting Python, imports, loading data.
START_MARGIN_SECONDS = 300.0
#: Seconds between two looks at the result and track files.
POLL_SECONDS = 0.5
#: Seconds between two ``squeue`` calls.
STATE_SECONDS = 2.0
#: Seconds an element may be finished in SLURM's eyes without its result file before it is a row of its own
#: (a shared filesystem may show a file late).
RESULT_GRACE_SECONDS = 10.0
#: Seconds SLURM may stay unreachable before the run ends as lost.
UNREACHABLE_SECONDS = 120.0
#: Seconds before the time limit at which SLURM warns an element (``--signal USR2@...``).
WARNING_SECONDS = 30




def minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def duration(mins: int) -> str:
    """``90`` minutes as ``1h30m``."""
    hours, rest = divmod(mins, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def time_limit(option: float | None, tasks: list[Task], partition: str | None) -> tuple[str, str]:
    """The array's time limit as sbatch takes it (``90``: minutes, or the partition's ``2-00:00:00`` or
    ``infinite``) and where it comes from: ``--slurm-time``, else the tasks' timeout plus
    :data:`START_MARGIN_SECONDS`, else the partition's own limit (submitit would give 5 minutes)."""
    if option is not None:
        return str(minutes(option)), "--slurm-time"
    timeouts = [t.timeout_seconds for t in tasks]
    if all(timeouts):
        longest = max(float(t) for t in timeouts if t)
        return (str(minutes(longest + START_MARGIN_SECONDS)),
                f"the task timeout {duration(minutes(longest))} + {duration(minutes(START_MARGIN_SECONDS))}")
    return (cluster.partition_time(partition),
            "the partition's: no --slurm-time, --task-timeout or time budget")


def limit_words(limit: str) -> str:
    """``90`` (minutes) as ``1h30m``; the partition's forms as they are."""
    return duration(int(limit)) if limit.isdigit() else limit


def next_folder(run_dir: Path) -> Path:
    """``RUN_DIR/slurm/N``, the first ``N`` not used yet: a fresh submitit folder for each run of the array."""
    base = run_dir / "slurm"
    number = 1
    while (base / str(number)).exists():
        number += 1
    folder = base / str(number)
    (folder / "track").mkdir(parents=True)
    return folder


@dataclass
class Element:
    """One task of the array, and what the driver has seen of it."""

    task: Task
    job: Any
    track: Path
    #: Bytes of the track file read so far.
    offset: int = 0
    #: The node of each start.
    tries: list[str] = field(default_factory=list)
    #: ``time.monotonic()`` when SLURM was first seen to have finished it without a result file.
    ended_at: float | None = None
    #: Its time limit and where it comes from, in words.
    limit: str = ""

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    @property
    def node(self) -> str | None:
        return self.tries[-1] if self.tries else None


class SlurmExecutor:
    """``--executor slurm`` (see the module's docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, session: Session, tasks: list[Task]) -> None:
        if not tasks:
            return
        assert session.run_dir is not None
        options = self.config.options
        problem = cluster.why_unusable(options.slurm_partition)
        if problem is not None:
            raise UsageError(f"--executor slurm: {problem}")
        hosts = cluster.node_hosts(options.slurm_partition)
        announce(session, shared_files(session, hosts))
        folder = next_folder(session.run_dir)
        elements = submit(session, harness.with_data_digests(tasks), folder, options)
        _Driver(session, elements, folder, options).run()


def announce(session: Session, line: str) -> None:
    if int(session.config.options.quiet or 0) == 0:
        sys.stdout.write(f"harness: {line}\n")
        sys.stdout.flush()


def shared_files(session: Session, hosts: list[str]) -> str:
    """One line: whether the nodes see the run directory and the decode cache (by their filesystems)."""
    assert session.run_dir is not None
    run_kind, run_shared = cluster.sharing(session.run_dir, hosts)
    cache_kind, cache_shared = cluster.sharing(Path(session.cache_dir), hosts)
    one = " (the cluster's one node is this machine)" if cluster.only_this_machine(hosts) else ""
    run_word = "shared" if run_shared else "NOT known to be shared: the nodes must see it at the same path"
    cache_word = "shared" if cache_shared else "per node: each node decodes the images once for itself"
    return (f"SLURM files{one}: run directory on {run_kind} ({run_word}), decode cache {session.cache_dir} on "
            f"{cache_kind} ({cache_word})")


def parameters(tasks: list[Task], options: Any) -> tuple[dict[str, Any], str, str]:
    """submitit's parameters for the array, how the start describes them, and the time limit in words."""
    threads = max(task.threads for task in tasks)
    cpus = options.slurm_cpus_per_task or threads
    limit, why = time_limit(options.slurm_time, tasks, options.slurm_partition)
    # submitit writes --time (its 5 minutes by default): the limit goes in its own line, which replaces that.
    params: dict[str, Any] = {"job_name": "harness", "cpus_per_task": cpus, "signal_delay_s": WARNING_SECONDS,
                              "additional_parameters": {"time": limit, **dict(options.slurm_sbatch or [])}}
    if limit.isdigit():
        params["time"] = int(limit)
    words = [f"{cpus} CPU{'s' if cpus > 1 else ''}"]
    if options.slurm_gpus_per_task:
        params["gpus_per_task"] = options.slurm_gpus_per_task
        words.append(f"{options.slurm_gpus_per_task} GPU(s)")
    if options.slurm_mem:
        params["mem"] = options.slurm_mem
        words.append(f"{options.slurm_mem} memory")
    limit_text = f"{limit_words(limit)}, {why}"
    words.append(f"time limit {limit_words(limit)} ({why})")
    if options.slurm_partition:
        params["partition"] = options.slurm_partition
    if options.slurm_array_parallelism:
        params["array_parallelism"] = options.slurm_array_parallelism
    if options.slurm_setup:
        params["setup"] = list(options.slurm_setup)
    return params, ", ".join(words), limit_text


def submit(session: Session, tasks: list[Task], folder: Path, options: Any) -> list[Element]:
    """Submit the tasks as one job array (each element trains one); a cluster that refuses it is a usage
    error naming sbatch's answer."""
    import submitit

    params, described, limit = parameters(tasks, options)
    plugins = WorkerPlugins.of(session.config)
    tracks = [folder / "track" / f"{index}.jsonl" for index in range(len(tasks))]
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):  # sbatch's complaints: in the error, not on the terminal
            executor = submitit.SlurmExecutor(folder=folder)
            executor.update_parameters(**params)
            jobs = executor.map_array(train, [plugins] * len(tasks), [pickle.dumps(t) for t in tasks],
                                      [(t.backend, t.threads) for t in tasks], [str(p) for p in tracks],
                                      [limit] * len(tasks))
    except (RuntimeError, ValueError) as exc:  # submitit's FailedJobError (sbatch's refusal) is a RuntimeError
        raise UsageError(f"--executor slurm: sbatch refused the job array: {_last_line(str(exc))}") from None
    array_id = str(jobs[0].job_id).split("_")[0]
    at_once = options.slurm_array_parallelism
    what = f"job array {array_id}" if len(tasks) > 1 else f"job {array_id}"  # submitit submits one task as a job
    announce(session, f"SLURM {what}: {len(tasks)} task{'s' if len(tasks) != 1 else ''}"
                      f"{f', {at_once} at a time' if at_once else ''}, each {described}"
                      f"{f' on partition {options.slurm_partition}' if options.slurm_partition else ''}; "
                      f"logs in {folder}")
    return [Element(task, job, track, limit=limit) for task, job, track in zip(tasks, jobs, tracks)]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


class _Driver:
    """Waits for the array's elements, records each once, forwards progress; cancels the array when stopped."""

    def __init__(self, session: Session, elements: list[Element], folder: Path, options: Any) -> None:
        self.session = session
        self.waiting = {e.job_id: e for e in elements}
        self.array_id = elements[0].job_id.split("_")[0]
        self.folder = folder
        self.options = options
        self.checked = 0.0
        self.unreachable_since: float | None = None
        self.stopping = False

    def run(self) -> None:
        try:
            while self.waiting:
                self.step()
                if self.waiting:
                    time.sleep(POLL_SECONDS)
        except InfrastructureLost:
            raise
        except BaseException:  # Ctrl-C, SIGTERM, a bug: cancel the array, keep what finished
            self.cancel_all()
            raise

    def cancel_all(self) -> None:
        try:
            cluster.cancel(self.array_id)
        except cluster.SlurmUnreachable as exc:
            sys.stderr.write(f"harness: could not cancel SLURM job array {self.array_id}: {exc}\n")

    def step(self) -> None:
        for element in list(self.waiting.values()):
            self.read_track(element)
            self.collect(element)
        if self.session.should_stop and not self.stopping:
            self.stopping = True
            cluster.cancel(self.array_id, pending_only=True)
        if time.monotonic() - self.checked >= STATE_SECONDS:
            self.checked = time.monotonic()
            self.check_states()

    # -- what the elements say ------------------------------------------------------------------

    def read_track(self, element: Element) -> None:
        """New lines of the element's track file: its starts (a line in the terminal) and progress events."""
        try:
            with open(element.track, "rb") as track:
                track.seek(element.offset)
                data = track.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only: the element may be writing the next
        element.offset += end
        for raw in data[:end].splitlines():
            line = json.loads(raw)
            if line["kind"] == "try":
                element.tries.append(line["node"])
                self.started(element, line)
            elif line["kind"] == "event":
                where = f"{element.node}, SLURM job {element.job_id}"
                self.session.hook.harness_combination_progress(session=self.session, task=element.task,
                                                               event={**line["event"], "node": where})

    def started(self, element: Element, line: dict[str, Any]) -> None:
        task = element.task
        again = f" again (start {len(element.tries)})" if len(element.tries) > 1 else ""
        announce(self.session, f"[{task.index + 1}/{task.total}] {task.id}: SLURM job {line['job']} started"
                               f"{again} on {line['node']}")

    def collect(self, element: Element) -> None:
        """Record the element if its result file is there."""
        path = element.job.paths.result_pickle
        if not path.exists():
            return
        try:
            with open(path, "rb") as result_file:
                outcome, value = pickle.load(result_file)
        except (EOFError, pickle.UnpicklingError):  # still being written (a filesystem without atomic rename)
            return
        self.read_track(element)
        if outcome == "success":
            result = dict(value)
        else:  # the element itself failed (its plugins, harness missing on the node...)
            result = dict(error_record(element.task, f"SLURM job {element.job_id} failed: {_last_line(value)} "
                                                     f"(log: {element.job.paths.stderr})", "worker"))
        self.record(element, result)

    def record(self, element: Element, result: dict[str, Any]) -> None:
        del self.waiting[element.job_id]
        result.setdefault("node", element.node)
        result.setdefault("slurm_job_id", element.job_id)
        result.update(attempts=max(1, len(element.tries)), attempt_nodes=list(element.tries))
        self.session.record(element.task, result)

    # -- what SLURM says --------------------------------------------------------------------------

    def check_states(self) -> None:
        try:
            found = cluster.states(self.array_id)
        except cluster.SlurmUnreachable as exc:
            self.unreachable(exc)
            return
        self.unreachable_since = None
        now = time.monotonic()
        for job_id, element in list(self.waiting.items()):
            state = found.get(job_id)
            if state is not None and state.state in cluster.ACTIVE:
                element.ended_at = None
                continue
            if element.ended_at is None:
                element.ended_at = now
            elif now - element.ended_at >= RESULT_GRACE_SECONDS:
                self.ended(element, state)

    def unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = now
        elif now - self.unreachable_since >= UNREACHABLE_SECONDS:
            raise InfrastructureLost(f"the SLURM controller ({exc}) for {UNREACHABLE_SECONDS:g}s, with job array "
                                     f"{self.array_id} running")

    def ended(self, element: Element, state: cluster.ElementState | None) -> None:
        """SLURM finished the element and no result came: a row saying how it ended (unless ``-x`` cancelled
        it before it started: then it is not run at all)."""
        if state is not None and state.state == "CANCELLED" and self.stopping and not element.tries:
            del self.waiting[element.job_id]
            return
        self.record(element, why(element, state, self.options))


def why(element: Element, state: cluster.ElementState | None, options: Any) -> dict[str, Any]:
    """The record of an element that ended without a result, from its final SLURM state."""
    task, job = element.task, element.job_id
    name = state.state if state is not None else None
    on = f" on {element.node}" if element.node else ""
    if name == "CANCELLED":
        return harness.lost(task, f"SLURM job {job} was cancelled (scancel){on} before it finished")
    if name in ("TIMEOUT", "DEADLINE"):
        return dict(error_record(task, f"hit the SLURM time limit ({element.limit}): SLURM killed job {job}{on}",
                                 "timeout"))
    if name == "OUT_OF_MEMORY":
        limit = f"{options.slurm_mem}, --slurm-mem" if options.slurm_mem else "--slurm-mem"
        return dict(error_record(task, f"hit the SLURM memory limit ({limit}): SLURM killed job {job}{on}", "oom"))
    if name in ("NODE_FAIL", "BOOT_FAIL"):
        return harness.lost(task, f"the node{on} of SLURM job {job} failed ({name})")
    if name == "PREEMPTED":
        return harness.lost(task, f"SLURM job {job} was preempted{on} and not requeued")
    if name is None:
        return harness.lost(task, f"SLURM job {job} left no result and SLURM no longer knows it")
    log = Path(element.job.paths.stderr)
    see = f"see {log}" if log.exists() else f"and wrote no log ({log}): do the nodes see the run directory?"
    return dict(error_record(task, f"SLURM job {job} ended{on} ({name}, reason {state.reason if state else '?'}) "
                                   f"without a result: {see}", "worker"))
