"""A session: one ``harness run``, from collection to the stored results."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import backends, matrix
from harness.data.cache import default_cache_dir
from harness.engine.task import Task
from harness.errors import ExitCode, UsageError
from harness.executor import executor_name
from harness.record import RecordError, error_record, skip_record, validate
from harness.registry import Registry, build_registry
from harness.resume import without_resume
from harness.shutdown import raise_if_interrupted
from harness.specs import Combination
from harness.store import RunStore, StoreError

if TYPE_CHECKING:
    from harness.config import Config


class Session:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.hook = config.hook
        self.registry: Registry = Registry()
        self.combinations: list[Combination] = []
        self.tasks: list[Task] = []
        self.store: RunStore | None = None
        self.results: list[dict[str, Any]] = []
        #: Tasks that finished but could not be written to the record (a full disk): shown, then the run ends.
        self.unrecorded: list[dict[str, Any]] = []
        self.already_done: set[str] = set()
        self.should_stop: str | None = None
        #: Tasks of this session that failed or errored (``-x`` / ``--maxfail`` count them).
        self.failures = 0
        self.started = time.time()
        self.precision = "float32"
        #: The Keras backends of this run (``--backend``), and each one's precision policy.
        self.backends: list[str] = []
        self.precisions: dict[str, str] = {}
        #: The GPUs tasks train on (indices as CUDA numbers them; ``--devices``), one task per GPU at a time.
        self.gpus: list[int] = []
        self.exitstatus: ExitCode = ExitCode.OK
        #: Whether this session made its run directory (``False`` with ``--resume``).
        self.created = False
        #: Whether this session made the ``--output`` folder too.
        self.created_output = False
        #: Keras and backend versions and devices, known once there is something to train.
        self.runtime: dict[str, Any] = {}

    @property
    def run_dir(self) -> Path | None:
        return self.store.run_dir if self.store else None

    # -- collection -------------------------------------------------------------------------------

    def collect(self) -> list[Combination]:
        self.registry = build_registry(self.config)
        combinations = matrix.select(self.config, self.registry, matrix.collect(self.registry))
        self.hook.harness_collection_modify(session=self, combinations=combinations)
        self.combinations = combinations
        self.hook.harness_collection_finish(session=self)
        return combinations

    # -- tasks ------------------------------------------------------------------------------------

    def make_tasks(self) -> list[Task]:
        """Every runnable combination, with each seed (``--repeats``), on each backend (``--backend``)."""
        option = self.config.option
        runnable = [c for c in self.combinations if c.skip_reason is None]
        cache_dir, data_dir = self.cache_dir, self.data_dir
        tasks = []
        names = self.backends or [backends.default_name()]
        for backend in names:
            for combination in runnable:
                budget = self.hook.harness_budget_make(config=self.config, combination=combination)
                for repeat in range(option.repeats):
                    tasks.append(Task(
                        dataset=combination.dataset, augmentation=combination.augmentation,
                        model=combination.model, budget=budget, seed=option.seed + repeat, repeat=repeat,
                        split_seed=option.seed, batch_size=option.batch_size,
                        precision=self.precisions.get(backend, self.precision), backend=backend,
                        restore_best=not option.keep_last_weights, target_accuracy=option.target_accuracy,
                        data_dir=data_dir, cache_dir=cache_dir, feature_cache=not option.no_feature_cache,
                        backend_in_id=len(names) > 1,
                    ))
        total = len(tasks)
        self.tasks = [_with_position(task, index, total) for index, task in enumerate(tasks)]
        return self.tasks

    def pending_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.config_hash not in self.already_done]

    # -- the store --------------------------------------------------------------------------------

    def open_store(self) -> RunStore:
        """Create the run directory, or reopen it with ``--resume``: what it recorded is then done."""
        option = self.config.option
        if option.resume:
            self.store = self._reopen(option.resume)
            return self.store
        output = Path(option.output)
        if not output.is_absolute():
            output = self.config.cwd / output
        self.created_output = not output.exists()
        try:
            self.store = RunStore.create(output, self.metadata())
        except OSError as exc:
            raise UsageError(f"--output {option.output}: cannot create the run directory: {exc}") from None
        self.store.lock()
        self.created = True
        return self.store

    def describe_run(self) -> None:
        """Complete a new run's metadata once the selection, tasks, precision and runtime are known, and
        record the skipped combinations that the record does not have yet."""
        assert self.store is not None
        if self.created:
            self.store.write_metadata(self.metadata())
        recorded_skips = {r.get("id") for r in self.store.records() if r.get("status") == "skipped"}
        for combination in self.combinations:
            if combination.skip_reason is not None and combination.id not in recorded_skips:
                self.store.append(skip_record(combination, self.config.option.seed))

    def close_store(self) -> None:
        """Write ``results.csv`` and release the run directory; a directory this run created that received
        nothing (no combination selected, or an error before any task) is removed."""
        store = self.store
        if store is None:
            return
        if self.created and not self.tasks and not store.records():
            store.close()
            shutil.rmtree(store.run_dir, ignore_errors=True)
            if self.created_output:  # nor the --output folder it made for it
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
        """``resume`` is the run directory, resolved with its stored command line (:mod:`harness.resume`)."""
        store = RunStore.open(Path(resume))
        store.lock()
        store.repair()
        self.already_done = store.finished_hashes()
        self.results = [r for r in store.records() if r.get("status") != "skipped"]
        lost = store.metadata_problem()
        if lost:  # written anew from the command line given with --resume (harness.resume.stored_run)
            store.notes.append(f"{lost}: written anew from the command line given with --resume")
        metadata = store.metadata() or {**self.metadata(), "argv": without_resume(self.config.args)}
        metadata.setdefault("resumes", []).append(
            {"at": time.time(), "argv": self.config.args, "host": socket.gethostname(),
             "already_done": len(self.already_done)})
        store.write_metadata(metadata)
        return store

    @property
    def data_dir(self) -> str | None:
        """``--data-dir``, else ``HARNESS_DATA_DIR``, else ``None``."""
        return self.config.option.data_dir or os.environ.get("HARNESS_DATA_DIR") or None

    @property
    def cache_dir(self) -> str:
        option = self.config.option
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
            "workers": int(getattr(self.config.option, "workers", 1) or 1),
            "executor": executor_name(self.config),
            "budget": _budget_of(self.tasks),
            "plugins": {name: origin.package for name, origin in sorted(pm.origins.items())},
            "precision": self.precision,
            "precisions": self.precisions,
            "selection": [c.id for c in self.combinations],
            **self.runtime,
        }

    def record(self, task: Task, result: dict[str, Any]) -> None:
        """Store one finished task (the one place results are written) and tell the plugins; executors call
        it in this process for each task they finish."""
        assert self.store is not None
        try:
            validate(result)
        except RecordError as exc:  # a trainer plugin's bad record is the task's error, not the run's end
            result = dict(error_record(task, f"{self._trainers()} returned an invalid record: {exc}", "plugin"))
        try:
            self.store.append(result)
        except StoreError as exc:
            self.unrecorded.append(result)
            raise StoreError(f"{exc}: {task.id} trained but is not recorded; make room, then "
                             f"`harness run --resume {self.store.run_dir}` trains it again") from None
        self.results.append(result)
        self.hook.harness_combination_result(session=self, task=task, result=result)
        if result.get("status") in ("failed", "error"):
            self.failures += 1
            option = self.config.option
            limit = 1 if option.exitfirst else getattr(option, "maxfail", None)
            if limit and self.failures >= limit:
                flag = "-x" if option.exitfirst else f"--maxfail {limit}"
                self.should_stop = f"stopped after {self.failures} failed or errored ({flag})"
        raise_if_interrupted()  # a Ctrl-C or SIGTERM whose KeyboardInterrupt was lost: stop now

    def _trainers(self) -> str:
        """The plugins that implement ``harness_combination_train``, for a message."""
        names = [impl.plugin_name for impl in self.hook.harness_combination_train.get_hookimpls()]
        return f"harness_combination_train (plugin {', '.join(repr(n) for n in reversed(names))})"

    def not_run(self) -> int:
        """The run's tasks that have no record: the run stopped early or was interrupted."""
        if self.store is None:
            return 0
        done = self.store.finished_hashes()
        return sum(task.config_hash not in done for task in self.tasks)

    def exit_code(self) -> ExitCode:
        statuses = [r.get("status") for r in self.results]
        if not statuses:
            return ExitCode.NO_COMBINATIONS
        if all(s == "passed" for s in statuses):
            return ExitCode.OK
        return ExitCode.FAILED


def _budget_of(tasks: list[Task]) -> dict[str, Any] | None:
    budgets = {t.budget for t in tasks}
    return next(iter(budgets)).as_dict() if len(budgets) == 1 else None


def _with_position(task: Task, index: int, total: int) -> Task:
    from dataclasses import replace

    return replace(task, index=index, total=total)


def _git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def runtime_versions(names: list[str]) -> dict[str, Any]:
    """The backends' and Keras' versions and the devices (the first backend's view), read from the installed
    packages and the frameworks: imports the frameworks (only called when training), not Keras."""
    from importlib.metadata import PackageNotFoundError, version

    def installed_version(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    found = backends.load(names[0]).devices()
    out: dict[str, Any] = {"backends": names, "keras": installed_version("keras"),
                           "devices": [d.name for d in found if d.kind == "gpu"] or ["CPU"],
                           "device_details": [d.as_dict() for d in found], "gpu": any(d.kind == "gpu" for d in found)}
    for name in names:
        out[name] = installed_version(name) or installed_version(backends.PACKAGES[name] + "-cpu")
    return out
