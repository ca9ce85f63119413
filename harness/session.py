"""A session: one run (``harness run``, ``pytest --harness``), from its start to the stored results and the
exit status; the sequence and the hooks it calls are described in ``docs/run.md``."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import backends, manifest, matrix, reuse
from harness.backends import Device
from harness.data.cache import default_cache_dir
from harness.engine import precision
from harness.engine.task import Task
from harness.errors import ExitCode, InfrastructureLost, UsageError
from harness.executor import executor_name
from harness.gpus import visible_gpus
from harness.record import RecordError, error_record, skip_record, validate
from harness.registry import Registry, build_registry
from harness.resume import without_resume
from harness.runtime import Runtime
from harness.shutdown import raise_if_interrupted
from harness.specs import Budget, Combination
from harness.store import RunStore, StoreError
from harness.system import usable_cores
from harness.words import plural

if TYPE_CHECKING:
    from harness.config import Config


#: Options that choose what runs. Without any of them (from the command line, a preset or the configuration
#: file), ``harness run`` shows what the whole installed grid would be and asks for a selection.
SELECTION_OPTIONS = ("dataset", "augmentation", "model", "keyword", "markexpr", "preset")

#: What to do when nothing is selected: the one-line error.
NO_SELECTION = ("no selection: choose what to train with --preset NAME (`harness list presets`), --dataset/"
                "--augmentation/--model NAME (`harness list`), -k/-m EXPR, or dataset = [...] and model = [...] "
                "in a [tool.harness] table of pyproject.toml (or harness.toml); --collect-only lists every "
                "combination")

#: With a time budget and no ``--task-timeout``, a task may take this many times the budget, plus
#: :data:`TIMEOUT_MARGIN_SECONDS` (model building, data preparation, evaluation) before it is stopped.
TIMEOUT_BUDGET_FACTOR = 3.0
TIMEOUT_MARGIN_SECONDS = 600.0


class Session:
    """One run, from start to finish, as pytest's ``wrap_session`` and ``pytest_runtestloop``: :meth:`run`
    opens the run directory, calls ``harness_session_start``, collects, decides the runtime, makes the tasks,
    hands the pending ones to ``harness_runloop`` (the executor) and ends with ``harness_session_finish``.

    Entry points (``harness run``, ``pytest --harness``) call its phases; plugins and executors read its
    attributes and call :meth:`record`, nothing outside sets them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hook = config.hook
        self.registry: Registry = Registry()
        self.combinations: list[Combination] = []
        self.tasks: list[Task] = []
        #: How the run's tasks train, decided once (:meth:`choose_runtime`); ``None`` until then.
        self.runtime: Runtime | None = None
        self.store: RunStore | None = None
        #: Records stored by this run (a resumed run's earlier ones included, skips left out).
        self.results: list[dict[str, Any]] = []
        #: Tasks that finished but could not be written to the record (a full disk): shown, then the run ends.
        self.unrecorded: list[dict[str, Any]] = []
        #: Why the run stops handing out tasks (``-x``, ``--maxfail``, lost infrastructure); ``None``: it does not.
        self.should_stop: str | None = None
        #: Tasks of this session that failed or errored (``-x`` / ``--maxfail`` count them).
        self.failures = 0
        self.started = time.time()
        self.exitstatus: ExitCode = ExitCode.OK
        #: Configuration hashes a resumed run finished already (passed or failed: results, not retried).
        self._done: set[str] = set()
        #: Configuration hashes a resumed run recorded as errors: trained again, the new record superseding.
        self._errored: set[str] = set()
        #: The runtime a resumed run recorded: reused as it is (threads included).
        self._stored_runtime: Runtime | None = None
        #: Whether this session made its run directory (``False`` with ``--resume``), and the --output folder.
        self._created = False
        self._created_output = False
        #: Versions of Keras and the backends, and the devices, for the run's metadata.
        self._versions: dict[str, Any] = {}
        #: The folder ``--reuse`` reads (checked before the run directory is made); ``None`` without it.
        self._reuse_dir: Path | None = None
        #: Tasks whose records were taken from earlier runs (``--reuse``): configuration hash -> the run.
        self._reused: dict[str, str] = {}
        #: The parts of the reproducibility manifest that do not depend on the run (collected once).
        self._environment: dict[str, Any] | None = None

    @property
    def run_dir(self) -> Path | None:
        return self.store.run_dir if self.store else None

    @property
    def backends(self) -> list[str]:
        """The run's Keras backends (``--backend``), once the runtime is chosen."""
        return list(self.runtime.backends) if self.runtime else []

    @property
    def precisions(self) -> dict[str, str]:
        return dict(self.runtime.precisions) if self.runtime else {}

    @property
    def created(self) -> bool:
        """Whether this session made its run directory (``False`` when it resumes one)."""
        return self._created

    @property
    def precision(self) -> str:
        """The first backend's precision policy (the one a run on one backend has)."""
        return self.runtime.precision(self.runtime.backends[0]) if self.runtime else "float32"

    @property
    def gpus(self) -> list[int]:
        """The GPUs tasks train on (indices as CUDA numbers them; ``--devices``), one task per GPU at a time."""
        return list(self.runtime.gpus) if self.runtime else []

    @property
    def already_done(self) -> set[str]:
        """Configuration hashes a resumed run does not train again."""
        return set(self._done)

    @property
    def reused(self) -> dict[str, str]:
        """Tasks of this run whose records ``--reuse`` took from earlier runs: configuration hash -> the run
        that trained it (``reused_from``)."""
        return dict(self._reused)

    @property
    def retrying(self) -> int:
        """Tasks of this run that a resumed run trains again because they errored."""
        return sum(task.config_hash in self._errored for task in self.tasks)

    # -- the sequence -----------------------------------------------------------------------------

    def run(self) -> ExitCode:
        """The whole run; every way out maps to an :class:`ExitCode`, which ``harness_session_finish``
        receives whenever ``harness_session_start`` completed. A usage error or an internal error propagates
        after it (the command prints it)."""
        try:
            self.start()
        except BaseException:
            self.close_store()
            raise
        status = ExitCode.INTERNAL_ERROR
        try:
            status = self.main()
        except KeyboardInterrupt:
            status = ExitCode.INTERRUPTED
        except InfrastructureLost as exc:
            status = self.lost(exc)
        except UsageError:
            status = ExitCode.USAGE_ERROR
            raise
        finally:
            self.finish(status)
        return status

    def start(self) -> None:
        """Open the run directory (none with ``--collect-only``), then ``harness_session_start``."""
        option = self.config.options
        if not option.collect_only:
            if option.get("reuse"):
                self._reuse_dir = reuse.source_dir(option["reuse"], option.output, self.config.cwd)
            self.open_store()
        self.hook.harness_session_start(session=self)

    def main(self) -> ExitCode:
        """Collect, decide the runtime, make the tasks, record the run's description, run the loop."""
        combinations = self.collect()
        if self.config.options.collect_only:
            return ExitCode.OK if combinations else ExitCode.NO_COMBINATIONS
        if combinations and not selected(self.config):
            if self.config.options.quiet == 0:
                sys.stdout.write(whole_grid(self))
            raise UsageError(NO_SELECTION)
        runnable = any(c.skip_reason is None for c in combinations)
        if runnable:
            self.choose_runtime()
            self.make_tasks()
            self.reuse_finished()
        self.describe_run()
        if not runnable:
            return ExitCode.NO_COMBINATIONS
        self.hook.harness_runloop(session=self)
        return self.exit_code()

    def finish(self, status: ExitCode) -> None:
        """``harness_session_finish`` with the run's exit status, then ``results.csv``."""
        self.exitstatus = status
        try:
            self.hook.harness_session_finish(session=self, exitstatus=int(status))
        finally:
            self.close_store()

    def lost(self, exc: InfrastructureLost) -> ExitCode:
        """The executor lost what it trains on: one line, what finished is kept (and reported at finish)."""
        self.should_stop = "infrastructure lost"
        where = f"`harness run --resume {self.run_dir}`" if self.run_dir else "`harness run --resume`"
        sys.stderr.write(f"harness: lost {exc}; what finished is kept, {where} trains the rest "
                         f"(on any executor)\n")
        return ExitCode.INFRASTRUCTURE_LOST

    # -- collection -------------------------------------------------------------------------------

    def collect(self) -> list[Combination]:
        self.registry = build_registry(self.config)
        combinations = matrix.select(self.config, self.registry, matrix.collect(self.registry))
        self.hook.harness_collection_modify(session=self, combinations=combinations)
        self.combinations = combinations
        self.hook.harness_collection_finish(session=self)
        return combinations

    def narrow(self, ids: set[str]) -> None:
        """Keep only the combinations ``ids`` (pytest's selection: ``-k``, ``--lf``, ``--deselect``)."""
        self.combinations = [c for c in self.combinations if c.id in ids]

    # -- the runtime ------------------------------------------------------------------------------

    def choose_runtime(self) -> Runtime:
        """Decide how every task of the run trains (:class:`~harness.runtime.Runtime`): the backends
        (``--backend``), each one's precision (``--precision``; ``auto`` asks the backend for its devices),
        ``--threads`` (default: the cores this machine gives harness) and the GPUs (``--devices``, else every
        visible one, found without importing a framework). A resumed run reuses the runtime it recorded
        (threads, backends, precisions: what its tasks compute), with the GPUs of the machine that resumes it."""
        if self._stored_runtime is not None:  # what a task computes stays; where it trains is this machine's
            gpus = tuple(choose_gpus(self.config.options.devices, visible_gpus()))
            self.runtime = replace(self._stored_runtime, gpus=gpus)
        else:
            self.runtime = decide_runtime(self.config.options)
        only = self.runtime.backends[0] if len(self.runtime.backends) == 1 else None
        if only is not None and backends.keras_backend() in (None, only):  # before anything here imports Keras
            backends.activate(only)  # (a process that trains activates its backend itself: runtime.apply)
        self._versions = runtime_versions(list(self.runtime.backends))
        return self.runtime

    def adopt_runtime(self, runtime: Runtime) -> None:
        """Take a runtime decided elsewhere (pytest-xdist's controller: its workers' choice)."""
        self.runtime = runtime
        self._versions = runtime_versions(list(runtime.backends))

    # -- tasks ------------------------------------------------------------------------------------

    def make_tasks(self, only: set[str] | None = None) -> list[Task]:
        """Every runnable combination, with each seed (``--repeats``), on each backend of the runtime; ``only``:
        the task ids to keep (pytest's selection of items)."""
        assert self.runtime is not None, "choose_runtime() first"
        option = self.config.options
        runnable = [c for c in self.combinations if c.skip_reason is None]
        names = self.runtime.backends
        tasks: list[Task] = []
        for backend in names:
            for combination in runnable:
                budget = self.hook.harness_budget_make(config=self.config, combination=combination)
                tasks.extend(self._task(combination, budget, backend, repeat, len(names) > 1)
                             for repeat in range(option.repeats))
        if only is not None:
            tasks = [task for task in tasks if task.id in only]
        total = len(tasks)
        self.tasks = [replace(task, index=index, total=total) for index, task in enumerate(tasks)]
        return self.tasks

    def _task(self, combination: Combination, budget: Budget, backend: str, repeat: int, several: bool) -> Task:
        option = self.config.options
        assert self.runtime is not None
        return Task(dataset=combination.dataset, augmentation=combination.augmentation, model=combination.model,
                    budget=budget, seed=option.seed + repeat, repeat=repeat, split_seed=option.seed,
                    batch_size=option.batch_size, precision=self.runtime.precision(backend), backend=backend,
                    threads=self.runtime.threads, restore_best=not option.keep_last_weights,
                    target_accuracy=option.target_accuracy, data_dir=self.data_dir, cache_dir=self.cache_dir,
                    feature_cache=not option.no_feature_cache, backend_in_id=several,
                    timeout_seconds=task_timeout(option.task_timeout, budget))

    def reuse_finished(self) -> int:
        """``--reuse``: copy into this run the records (and predictions) of the tasks that earlier runs
        finished with the same configuration and runtime (:mod:`harness.reuse`); they are done, only the rest
        goes to the executor. Returns how many were reused."""
        if self._reuse_dir is None or self.store is None or self.runtime is None:
            return 0
        current = {**self._versions, "runtime": self.runtime.as_dict()}
        runs = reuse.earlier_runs(self._reuse_dir, exclude=self.store.run_dir)
        pending = [task for task in self.tasks if task.config_hash not in self._done]
        for key, found in reuse.find(pending, runs, current).items():
            record = reuse.copy(found, self.store, self.config.cwd)
            self._done.add(key)
            self._errored.discard(key)
            self._reused[key] = str(record[reuse.FIELD])
            self.results.append(record)
        return len(self._reused)

    def pending_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.config_hash not in self._done]

    # -- the store --------------------------------------------------------------------------------

    def open_store(self) -> RunStore:
        """Create the run directory, or reopen it with ``--resume``: what it recorded is then done."""
        option = self.config.options
        if option.resume:
            self.store = self._reopen(option.resume)
            return self.store
        output = Path(option.output)
        if not output.is_absolute():
            output = self.config.cwd / output
        self._created_output = not output.exists()
        try:
            self.store = RunStore.create(output, self.metadata())
        except OSError as exc:
            raise UsageError(f"--output {option.output}: cannot create the run directory: {exc}") from None
        self.store.lock()
        self._created = True
        return self.store

    def describe_run(self, **extra: Any) -> None:
        """Complete a new run's metadata once the selection, tasks and runtime are known (``extra``: more
        keys, e.g. pytest's command line), and record the skipped combinations the record does not have."""
        assert self.store is not None
        if self._created:
            self.store.write_metadata({**self.metadata(), **extra})
        recorded_skips = {r.get("id") for r in self.store.records() if r.get("status") == "skipped"}
        for combination in self.combinations:
            if combination.skip_reason is not None and combination.id not in recorded_skips:
                self.store.append(skip_record(combination, self.config.options.seed))

    def close_store(self) -> None:
        """Write ``results.csv`` and release the run directory; a directory this run created that received
        nothing (no combination selected, or an error before any task) is removed."""
        store = self.store
        if store is None:
            return
        if self._created and not self.tasks and not store.records():
            store.close()
            shutil.rmtree(store.run_dir, ignore_errors=True)
            if self._created_output:  # nor the --output folder it made for it
                with contextlib.suppress(OSError):
                    store.run_dir.parent.rmdir()
            self.store = None
            return
        try:
            store.write_results()
        except StoreError as exc:  # a full or read-only disk: the record is complete, `harness report` rebuilds it
            sys.stderr.write(f"harness: {exc}\n")
        finally:
            store.close()

    def _reopen(self, resume: str) -> RunStore:
        """``resume`` is the run directory, resolved with its stored command line (:mod:`harness.resume`):
        its passed and failed tasks are done, its errored ones are trained again, its runtime is reused."""
        store = RunStore.open(Path(resume))
        store.lock()
        store.repair()
        self._done = store.finished_hashes()
        self._errored = store.errored_hashes()
        self.results = [r for r in store.records() if r.get("status") != "skipped"]
        lost = store.metadata_problem()
        if lost:  # written anew from the command line given with --resume (harness.resume.stored_run)
            store.notes.append(f"{lost}: written anew from the command line given with --resume")
        metadata = store.metadata() or {**self.metadata(), "argv": without_resume(self.config.args)}
        if isinstance(metadata.get("runtime"), dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self._stored_runtime = Runtime.from_dict(metadata["runtime"])
        metadata.setdefault("resumes", []).append(
            {"at": time.time(), "argv": self.config.args, "host": socket.gethostname(),
             "already_done": len(self._done), "retried": len(self._errored)})
        store.write_metadata(metadata)
        return store

    @property
    def data_dir(self) -> str | None:
        """``--data-dir``, else ``HARNESS_DATA_DIR``, else ``None``."""
        return self.config.options.data_dir or os.environ.get("HARNESS_DATA_DIR") or None

    @property
    def cache_dir(self) -> str:
        option = self.config.options
        return str(Path(option.cache_dir) if option.cache_dir else default_cache_dir())

    def metadata(self) -> dict[str, Any]:
        pm = self.config.pluginmanager
        return {
            "data_dir": self.data_dir,
            "cache_dir": self.cache_dir,
            "harness_version": harness.__version__,
            "argv": self.config.args,
            "cwd": str(self.config.cwd),
            "started_at": self.started,
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "git_commit": _git_commit(self.config.cwd),
            "harness_git_commit": _git_commit(Path(harness.__file__).parent),
            "workers": self.config.options.workers,
            "executor": executor_name(self.config),
            "budget": _budget_of(self.tasks),
            "plugins": {name: origin.package for name, origin in sorted(pm.origins.items())},
            "precision": self.precision,
            "precisions": self.precisions,
            "selection": [c.id for c in self.combinations],
            **({"runtime": self.runtime.as_dict()} if self.runtime else {}),
            **self._versions,
            **({"reused": {"tasks": len(self._reused), "from": sorted(set(self._reused.values()))}}
               if self._reused else {}),
            "manifest": self.manifest(),
        }

    def manifest(self) -> dict[str, Any]:
        """The run's reproducibility manifest (:mod:`harness.manifest`): this machine's software and hardware
        (collected once per session), the GPU models, the runtime and the command that reproduces the run."""
        if self._environment is None:
            self._environment = manifest.collect(self.config.cwd)
        option = self.config.options
        runtime = self.runtime.as_dict() if self.runtime else None
        details = self._versions.get("device_details") or []
        gpus = [str(d.get("name")) for d in details if isinstance(d, dict) and d.get("kind") == "gpu"]
        return {**self._environment, "gpus": gpus, "runtime": runtime,
                "reproduce": manifest.reproduce(self.config.args, runtime, option.seed,
                                                option.repeats)}

    def record(self, task: Task, result: dict[str, Any]) -> None:
        """Store one finished task (the one place results are written) and tell the plugins; executors call
        it in this process for each task they finish."""
        assert self.store is not None
        try:
            validate(result)
        except RecordError as exc:  # a trainer plugin's bad record is the task's error, not the run's end
            result = dict(error_record(task, f"{self._trainers()} returned an invalid record: {exc}", "plugin"))
        try:
            result = self.store.append(result)
        except StoreError as exc:
            self.unrecorded.append(result)
            raise StoreError(f"{exc}: {task.id} trained but is not recorded; make room, then "
                             f"`harness run --resume {self.store.run_dir}` trains it again") from None
        self.results.append(result)
        self.hook.harness_combination_result(session=self, task=task, result=result)
        if result.get("status") in ("failed", "error"):
            self._count_failure()
        raise_if_interrupted()  # a Ctrl-C or SIGTERM whose KeyboardInterrupt was lost: stop now

    def _count_failure(self) -> None:
        self.failures += 1
        option = self.config.options
        limit = 1 if option.exitfirst else option.maxfail
        if limit and self.failures >= limit:
            flag = "-x" if option.exitfirst else f"--maxfail {limit}"
            self.should_stop = f"stopped after {self.failures} failed or errored ({flag})"

    def _trainers(self) -> str:
        """The plugins that implement ``harness_combination_train``, for a message."""
        names = [impl.plugin_name for impl in self.hook.harness_combination_train.get_hookimpls()]
        return f"harness_combination_train (plugin {', '.join(repr(n) for n in reversed(names))})"

    def not_run(self) -> int:
        """The run's tasks that have no record (or only an error a resume retries): the run stopped early,
        was interrupted or lost its infrastructure."""
        if self.store is None:
            return 0
        done = self.store.finished_hashes() | self.store.errored_hashes()
        return sum(task.config_hash not in done for task in self.tasks)

    def exit_code(self) -> ExitCode:
        """The run's verdict (:func:`verdict`) on every record it has, a resumed run's earlier ones included."""
        records = (self.store.records() if self.store else []) + self.unrecorded
        return verdict(records)


def verdict(records: list[dict[str, Any]]) -> ExitCode:
    """The exit status the run's verdict gives: each combination judged once, its seeds pooled and the
    run's tests Holm-corrected, as the leaderboard and the summary's last line judge it
    (:func:`combination_statuses`); per-seed tests do not decide it. ``NO_COMBINATIONS`` when nothing
    trained (only skips), ``OK`` when every combination passed, else ``FAILED``."""
    statuses = [s for s in combination_statuses(records) if s != "skipped"]
    if not statuses:
        return ExitCode.NO_COMBINATIONS
    return ExitCode.OK if all(s == "passed" for s in statuses) else ExitCode.FAILED


def combination_statuses(records: list[dict[str, Any]]) -> list[str]:
    """The status of each combination (and backend) of ``records`` (the latest record of each task), from
    the report's combinations table: ``passed`` when its seeds' pooled test beats the baseline after Holm's
    correction, ``failed`` otherwise, ``error`` when a seed errored, ``skipped``."""
    from harness.report.records import latest_per_task

    latest = latest_per_task(records)
    if not latest:
        return []
    from harness.report.tables import combinations_table

    return [str(status) for status in combinations_table(latest)["status"]]


def selected(config: Config) -> bool:
    """Whether the run names what to train (or resumes a run that did)."""
    origins = config.options.option_origins
    return bool(config.options.resume) or any(name in origins for name in SELECTION_OPTIONS)


def whole_grid(session: Session) -> str:
    """What ``harness run`` without a selection would train: the parts, with the tags that cost (downloads,
    pretrained weights, slow models), and the number of trainings with their budget."""
    config = session.config
    combinations = session.combinations
    runnable = [c for c in combinations if c.skip_reason is None]
    lines = ["without a selection, harness would train every installed dataset x augmentation x model:"]
    for kind in ("dataset", "augmentation", "model"):
        specs = {getattr(c, kind).name: getattr(c, kind) for c in combinations}
        names = [name + (f" [{', '.join(sorted(spec.tags))}]" if spec.tags else "") for name, spec in specs.items()]
        lines.append(f"  {plural(len(specs), kind)}: {', '.join(names)}")
    trainings = len(runnable) * config.options.repeats * len(config.options.backend or [None])
    costs = [f"{sum(tag in c.tags for c in runnable)} {what}" for tag, what in
             (("download", "on downloaded data"), ("pretrained", "with pretrained weights"), ("slow", "slow"))
             if any(tag in c.tags for c in runnable)]
    budget = config.hook.harness_budget_make(config=config, combination=runnable[0]).describe() if runnable else ""
    skipped = len(combinations) - len(runnable)
    lines.append(f"  {plural(len(combinations), 'combination')}" + (f" ({skipped} to skip)" if skipped else "")
                 + f": {plural(trainings, 'training')}" + (f" of {budget} each" if budget else "")
                 + (f" ({', '.join(costs)})" if costs else ""))
    return "".join(f"{line}\n" for line in lines)


def task_timeout(given: float | None, budget: Budget) -> float | None:
    """``--task-timeout`` when given; else, with a time budget, :data:`TIMEOUT_BUDGET_FACTOR` times it plus
    :data:`TIMEOUT_MARGIN_SECONDS` (building the model, preparing data and evaluating take time the budget
    does not count); else ``None`` (unbounded)."""
    if given is not None:
        return float(given)
    if budget.seconds:
        return TIMEOUT_BUDGET_FACTOR * float(budget.seconds) + TIMEOUT_MARGIN_SECONDS
    return None


def decide_runtime(option: Any) -> Runtime:
    """A new run's :class:`Runtime` from its options (see :meth:`Session.choose_runtime`)."""
    names = list(option.backend or [backends.default_name()])
    found = visible_gpus()
    gpus = choose_gpus(option.devices, found)
    precisions = {name: _precision(option.precision, name, found) for name in names}
    threads = option.threads or usable_cores()
    return Runtime(backends=tuple(names), precisions=tuple(sorted(precisions.items())), threads=threads,
                   gpus=tuple(gpus))


def choose_gpus(devices: list[int] | None, found: list[Device]) -> list[int]:
    """``--devices`` (each checked against what this machine shows), else every visible GPU."""
    visible = list(range(len(found)))
    if devices is None:
        return visible
    unknown = sorted(set(devices) - set(visible))
    if unknown:
        raise UsageError(f"--devices {','.join(map(str, devices))}: no GPU {unknown[0]} here "
                         f"(visible: {','.join(map(str, visible)) or 'none'})")
    return list(devices)


def _precision(policy: str, backend: str, gpus: list[Device]) -> str:
    """``--precision`` for ``backend``; ``auto`` asks the backend which devices it trains on (a framework
    built without CUDA sees no GPU where ``nvidia-smi`` lists one)."""
    if policy != "auto":
        return precision.resolve(policy, gpus or [Device("cpu", "CPU")])
    return precision.resolve(policy, backends.load(backend).devices())


def _budget_of(tasks: list[Task]) -> dict[str, Any] | None:
    budgets = {t.budget for t in tasks}
    return next(iter(budgets)).as_dict() if len(budgets) == 1 else None


def _git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def runtime_versions(names: list[str]) -> dict[str, Any]:
    """The backends' and Keras' versions (read from the installed packages) and the GPUs this machine shows
    (:func:`harness.gpus.visible_gpus`): imports no framework."""
    from importlib.metadata import PackageNotFoundError, version

    def installed_version(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    found = visible_gpus()
    out: dict[str, Any] = {"backends": names, "keras": installed_version("keras"),
                           "devices": [d.name for d in found] or ["CPU"],
                           "device_details": [d.as_dict() for d in found] or [Device("cpu", "CPU").as_dict()],
                           "gpu": bool(found)}
    for name in names:
        out[name] = installed_version(name) or installed_version(backends.PACKAGES[name] + "-cpu")
    return out
