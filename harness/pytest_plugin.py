"""``pytest --harness``: the combinations of harness's configuration as pytest items.

An opt-in pytest plugin (the ``pytest11`` entry point ``harness.pytest_plugin``, or ``-p harness.pytest_plugin``
where plugin autoloading is off). Without ``--harness`` it adds its options and does nothing else: it collects
nothing and imports nothing beyond :mod:`harness.config`.

With ``--harness``, the ``[tool.harness]`` configuration of pytest's rootdir (``harness.toml`` or
``pyproject.toml``; or ``--harness-preset NAME``, and ``harness run``'s options under a ``--harness-`` prefix)
is resolved exactly as ``harness run`` resolves it (:func:`harness.cli.make_config`), its combinations are
collected by harness's own :class:`~harness.session.Session`, and each combination and seed becomes an item
``harness::DATASET-AUGMENTATION-MODEL[seed=N]``, marked ``harness`` and with its specs' tags as markers.

The plugin is a thin caller of harness's session (:class:`~harness.session.Session`, ``docs/run.md``): it
calls its phases where pytest's happen (start, collection, runtime, tasks, record, finish). An item trains
its task through :func:`harness.runner.run_task`, as every executor does, timed
by pytest-benchmark's ``benchmark`` fixture when that plugin is installed (one round, pedantic; accuracy,
baseline, lift and p-value in ``extra_info``). It **passes** when the task's status is ``passed`` (the test
accuracy beats the label-frequency baseline significantly), **fails** with the accuracy, baseline and
p-value when it is ``failed``, **errors** with the training's exception when it is ``error`` (training runs
in the item's setup, so pytest counts it as an error), and is **skipped** when the model cannot take the
dataset.

The run directory is written by one process, as ``harness run`` writes it: the process that runs pytest
(pytest-xdist's controller with ``-n N``) opens it when the session starts, each item's record travels to it
with the item's report (pytest-xdist serializes it with the report), and it stores it through
``Session.record``; the report is written when the session finishes.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.config import Config as HarnessConfig
    from harness.engine.task import Task
    from harness.session import Session as HarnessSession
    from harness.specs import Combination

#: ``harness run`` options that pytest's own options replace (``-k``, ``-m``, ``-x``, ``--maxfail``,
#: ``--collect-only``, ``-v``, ``-q``) or that have no meaning under pytest (``--resume``: use ``--lf``).
NOT_OFFERED = ("keyword", "markexpr", "collect_only", "exitfirst", "maxfail", "verbose", "quiet", "resume")
#: The attribute of a setup report that carries the task's record (a JSON line), to the process that stores it.
RECORD_ATTR = "harness_record"
#: The attribute of a setup report that carries the task's id.
TASK_ATTR = "harness_task"
#: The attribute of a setup report that carries the runtime the worker that trained decided
#: (:meth:`harness.runtime.Runtime.as_dict`): pytest-xdist's controller writes the run's metadata from it.
RUNTIME_ATTR = "harness_runtime"


# -------------------------------------------------------------------------------------------------
# Options
# -------------------------------------------------------------------------------------------------


def _offered() -> list[Any]:
    """harness's own options of ``harness run`` that ``pytest --harness`` takes as ``--harness-NAME``: each
    declaration of :data:`harness.config.RUN_OPTIONS` (the same one that gives ``harness run``'s flag and the
    ``[tool.harness]`` key), but those pytest replaces and those without a plain value (counts, an optional
    value). A plugin's options are given with ``--harness-arg`` (the plugins load after pytest's options)."""
    from harness.config import RUN_OPTIONS

    return [opt for opt in RUN_OPTIONS if opt.dest not in NOT_OFFERED and not opt.count and opt.nargs is None]


def _long_flag(opt: Any) -> str:
    return next(flag for flag in opt.flags if flag.startswith("--"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness (train the combinations of [tool.harness] as tests)")
    group.addoption("--harness", action="store_true", default=False,
                    help="collect the combinations of the rootdir's harness configuration as items "
                         "harness::DATASET-AUGMENTATION-MODEL[seed=N]")
    group.addoption("--harness-plugin", dest="harness_plugins", action="append", default=[], metavar="NAME",
                    help="harness's -p: load a harness plugin module, or block one with no:NAME (repeatable)")
    group.addoption("--harness-arg", dest="harness_args", action="append", default=[], metavar="ARG",
                    help="an option of `harness run` that a harness plugin adds, passed as it is (repeatable), "
                         "e.g. --harness-arg=--reference=none-small_cnn")
    for opt in _offered():
        flag = "--harness-" + _long_flag(opt)[2:]
        kwargs: dict[str, Any] = {"dest": "harness_" + opt.dest, "help": f"harness run's {_long_flag(opt)}: "
                                  + opt.help.replace("%", "%%")}
        if opt.flag:
            kwargs.update(action="store_true", default=False)
        elif opt.many:
            kwargs.update(action="append", default=[], metavar=opt.metavar)
        else:
            kwargs.update(default=None, metavar=opt.metavar)
        group.addoption(flag, **kwargs)


def harness_argv(config: pytest.Config) -> list[str]:
    """The ``harness run`` command line that the ``--harness-`` options stand for. harness's terminal reporter
    is blocked (``-p no:terminal``): pytest reports."""
    argv = ["run", "-p", "no:terminal"]
    for plugin in config.getoption("harness_plugins") or []:
        argv += ["-p", plugin]
    for opt in _offered():
        value = config.getoption("harness_" + opt.dest)
        flag = _long_flag(opt)
        if opt.flag:
            argv += [flag] if value else []
        elif opt.many:
            for item in value or []:
                argv += [flag, item]
        elif value is not None:
            argv += [flag, value]
    return argv + list(config.getoption("harness_args") or [])


def _pytest_spelling(message: str) -> str:
    """A harness message with its options as pytest spells them (``--epochs`` -> ``--harness-epochs``)."""
    flags = sorted((_long_flag(opt)[2:] for opt in _offered()), key=len, reverse=True)
    message = re.sub(r"^harness(?: run)?: ", "", message)
    message = re.sub(r"(?<![\w-])-p (?=\S)", "--harness-plugin ", message)
    return re.sub(r"(?<![\w-])--(" + "|".join(map(re.escape, flags)) + r")\b", r"--harness-\1", message)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "harness: a combination of harness's configuration (pytest --harness)")
    if config.getoption("harness", False):
        config.pluginmanager.register(HarnessPlugin(config), "harness-session")
        if _benchmark_off_under_xdist(config):
            config.pluginmanager.register(BenchmarkNote(), "harness-benchmark-note")


def _benchmark_off_under_xdist(config: pytest.Config) -> bool:
    """pytest-benchmark is installed and on, and pytest-xdist runs the items (``-n``): it times nothing then."""
    if not config.pluginmanager.hasplugin("benchmark"):
        return False
    if config.getoption("benchmark_disable", False) or config.getoption("benchmark_skip", False):
        return False
    return config.getoption("dist", "no") != "no" or "PYTEST_XDIST_WORKER" in os.environ


class BenchmarkNote:
    """Under ``-n``, pytest-benchmark turns itself off and says so at the very end as a warning of its own, in
    each process that collected a benchmark; harness says it once, at the start, in its own words."""

    NOTE = ("harness: training times are not benchmarked under -n (pytest-benchmark is off with pytest-xdist); "
            "run without -n to time them")

    def pytest_report_header(self) -> str:
        return self.NOTE

    @pytest.hookimpl(wrapper=True)
    def pytest_unconfigure(self) -> Generator[None, None, None]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Benchmarks are automatically disabled because xdist")
            return (yield)


# -------------------------------------------------------------------------------------------------
# Collection
# -------------------------------------------------------------------------------------------------


class HarnessCollector(pytest.Collector):
    """The ``harness`` node: one item per collected combination and seed."""

    def __init__(self, *, plugin: HarnessPlugin, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plugin = plugin

    def collect(self) -> list[HarnessItem]:
        plugin = self.plugin
        option = plugin.hconfig.option
        items = []
        for combination in plugin.hsession.combinations:
            for tag in sorted(combination.tags):
                self.config.addinivalue_line("markers", f"{tag}: a harness tag (declared by a spec)")
            for repeat in range(option.repeats):
                seed = option.seed + repeat
                item = HarnessItem.from_parent(self, name=f"{combination.id}[seed={seed}]", callobj=plugin.callobj,
                                               combination=combination, seed=seed)
                item.add_marker("harness")
                for tag in sorted(combination.tags):
                    item.add_marker(tag)
                if combination.skip_reason is not None:
                    item.add_marker(pytest.mark.skip(reason=combination.skip_reason))
                items.append(item)
        return items

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.plugin.config_path, 0, "harness"


class HarnessFailed(Exception):
    """The combination did not beat its baseline significantly (a record of status ``failed``)."""


class HarnessError(Exception):
    """The combination's training raised (a record of status ``error``)."""


def _accuracy(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "?"


def failure_message(record: dict[str, Any]) -> str:
    """``test accuracy 0.500 (32/64) does not beat the baseline 0.500 significantly (p = 0.55, lift +0.0 points)``."""
    test, baseline, p = record.get("test_accuracy"), record.get("baseline_accuracy"), record.get("p_value")
    counts = f" ({record['n_correct']}/{record['n_test']})" if "n_correct" in record and "n_test" in record else ""
    lift = (f", lift {100.0 * (test - baseline):+.1f} points" if isinstance(test, (int, float))
            and isinstance(baseline, (int, float)) else "")
    shown_p = f"{p:.3g}" if isinstance(p, (int, float)) else "?"
    return (f"test accuracy {_accuracy(test)}{counts} does not beat the baseline {_accuracy(baseline)} "
            f"significantly (p = {shown_p}{lift})")


def error_message(record: dict[str, Any]) -> str:
    """The training's exception (the record's ``error``), then its traceback when the record has one."""
    kind = record.get("error_kind")
    text = str(record.get("error") or "error")
    head = f"{text} ({kind})" if kind and kind != "exception" else text
    trace = record.get("traceback")
    return f"{head}\n\nthe training's traceback:\n{trace.rstrip()}" if trace else head


def _task_function() -> None:
    """What a harness item calls: nothing, the item's setup trains and its run checks (see HarnessItem)."""


def _benchmarked_task_function(benchmark: Any) -> None:
    """The same, asking pytest-benchmark's ``benchmark`` fixture (which times the training)."""


class HarnessItem(pytest.Function):
    """One combination and seed: trains in setup (an exception is then an error), checks the status in call."""

    def __init__(self, *, combination: Combination, seed: int, **kwargs: Any) -> None:
        super().__init__(originalname=combination.id, **kwargs)
        node_id: Any = getattr(self, "_id", None)
        if hasattr(node_id, "with_params"):  # a pytest whose node ids are structured: the seed as their parameters,
            self._id = node_id.with_params(f"seed={seed}")  # as --lf and --ff read an id back (nodeid: the same text)
        self.combination = combination
        self.seed = seed
        self.record: dict[str, Any] | None = None

    @property
    def plugin(self) -> HarnessPlugin:
        parent = self.parent
        assert isinstance(parent, HarnessCollector)
        return parent.plugin

    def setup(self) -> None:
        super().setup()  # fixtures, pytest-benchmark's among them
        benchmark: Any = self.funcargs.get("benchmark")
        task = self.plugin.task(self.name)
        if benchmark is not None:
            benchmark.group = f"harness {task.dataset.name}"  # read when its stats are made
            self.record = benchmark.pedantic(self.plugin.train, args=(task,), rounds=1, iterations=1,
                                             warmup_rounds=0)
            _describe_benchmark(benchmark, self.record)
        else:
            self.record = self.plugin.train(task)
        status = self.record.get("status")
        if status == "error":
            raise HarnessError(error_message(self.record))
        if status == "skipped":
            pytest.skip(str(self.record.get("error") or "skipped by harness"))

    def runtest(self) -> None:
        assert self.record is not None
        if self.record.get("status") != "passed":
            raise HarnessFailed(failure_message(self.record))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        """A failed combination: its accuracy, baseline and p-value, no traceback of this plugin."""
        if isinstance(excinfo.value, HarnessFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """An errored combination (raised in setup, which pytest shows through this method): the training's
        exception and its traceback, no traceback of this plugin."""
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super()._repr_failure_py(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.plugin.config_path, 0, f"harness::{self.name}"


def _describe_benchmark(benchmark: Any, record: dict[str, Any]) -> None:
    """pytest-benchmark's entry: the result in ``extra_info``; an errored task's time is left out of the JSON
    (pytest-benchmark leaves out a benchmark that ``has_error``)."""
    test, baseline = record.get("test_accuracy"), record.get("baseline_accuracy")
    benchmark.extra_info.update({
        "harness_id": record.get("id"), "seed": record.get("seed"), "status": record.get("status"),
        "accuracy": test, "baseline_accuracy": baseline,
        "lift_points": round(100.0 * (test - baseline), 6) if isinstance(test, float)
        and isinstance(baseline, float) else None,
        "p_value": record.get("p_value"), "train_seconds": record.get("train_seconds"),
        "compile_seconds": record.get("compile_seconds"), "epochs": record.get("epochs"),
        "steps": record.get("steps"), "backend": record.get("backend"),
    })
    if record.get("status") == "error":
        benchmark.has_error = True


# -------------------------------------------------------------------------------------------------
# The session
# -------------------------------------------------------------------------------------------------


class HarnessPlugin:
    """Registered with ``--harness``: the harness configuration and session of this pytest process."""

    def __init__(self, config: pytest.Config) -> None:
        from harness.cli import make_config
        from harness.errors import UsageError
        from harness.session import Session

        self.config = config
        #: pytest-xdist's workers train; the process that runs pytest (the controller) stores.
        self.is_worker = hasattr(config, "workerinput")
        self.collect_only = bool(config.option.collectonly)
        try:
            self.hconfig: HarnessConfig = make_config(harness_argv(config), Path(config.rootpath))
            backends = self.hconfig.option.backend or []
            if len(backends) > 1:
                raise UsageError(f"--backend {','.join(backends)}: pytest trains in one process per worker, "
                                 "with one Keras backend: run pytest once per backend (e.g. a tox environment each)")
            self.hsession: HarnessSession = Session(self.hconfig)
            self.hsession.collect()
        except UsageError as exc:
            raise pytest.UsageError(f"--harness: {_pytest_spelling(str(exc))}") from None
        file = self.hconfig.file.path
        self.config_path = file if file is not None else Path(config.rootpath)
        self.callobj = (_benchmarked_task_function if config.pluginmanager.hasplugin("benchmark")
                        else _task_function)
        self._tasks: dict[str, Task] | None = None
        #: The names of the selected items, once known.
        self._selected: set[str] | None = None
        self.runtime_json = ""
        self.started = False

    @property
    def xdist_controller(self) -> bool:
        """pytest-xdist's controller (``-n N``): it collects nothing and trains nothing."""
        return self.config.pluginmanager.hasplugin("dsession")

    # -- training (where items run) -------------------------------------------------------------

    def task(self, item_name: str) -> Task:
        """The task of an item, made as ``harness run`` makes it (backend, precision and budget chosen)."""
        if self._tasks is None:
            self._prepare_tasks()
        assert self._tasks is not None
        return self._tasks[item_name]

    def _prepare_tasks(self) -> None:
        """Decide the runtime and make the tasks, as ``harness run`` does, and apply the runtime to this
        process, which trains the items (a pytest-xdist worker, or pytest's own process without ``-n``)."""
        from harness import runtime
        from harness.record import to_json

        hs = self.hsession
        chosen = hs.choose_runtime()
        runtime.apply(chosen.backends[0], chosen.threads)
        self.runtime_json = to_json(chosen.as_dict())
        self._make_tasks()

    def _adopt_runtime(self, line: str) -> None:
        """pytest-xdist's controller: the runtime of the worker that trained first, as if decided here; then
        the tasks, and the metadata that ``harness run`` writes once they are known."""
        from harness.record import from_json
        from harness.runtime import Runtime

        self.hsession.adopt_runtime(Runtime.from_dict(dict(from_json(line))))
        self._make_tasks()
        self._describe_run()

    def _make_tasks(self) -> None:
        tasks = self.hsession.make_tasks(self._selected)
        self._tasks = {task.id: task for task in tasks}

    def train(self, task: Task) -> dict[str, Any]:
        """Train ``task`` with :func:`harness.runner.run_task` (as every executor does), its progress to
        ``harness_combination_progress``; an exception that escapes the trainer is an error record."""
        from harness.runner import run_task

        hs = self.hsession

        def forward(event: dict[str, Any]) -> None:
            hs.hook.harness_combination_progress(session=hs, task=task, event=event)

        return dict(run_task(hs.hook, task, forward))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
            None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if isinstance(item, HarnessItem) and call.when == "setup" and item.record is not None:
            from harness.record import to_json

            setattr(report, RECORD_ATTR, to_json(item.record))  # plain text: pytest-xdist sends it as it is
            setattr(report, TASK_ATTR, item.name)
            setattr(report, RUNTIME_ATTR, self.runtime_json)
        return report

    # -- collection -----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[
            None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            report.result.append(HarnessCollector.from_parent(collector, name="harness", nodeid="harness",
                                                              plugin=self))
        return report

    # -- the run directory (the process that runs pytest) -----------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Open the run directory and start harness's session (``harness_session_start``), as ``harness run``
        does; not with ``--collect-only``, not in a pytest-xdist worker."""
        if self.is_worker or self.collect_only:
            return
        from harness.errors import UsageError

        try:
            self.hsession.start()
        except UsageError as exc:
            self.hsession.close_store()
            raise pytest.UsageError(f"--harness: {_pytest_spelling(str(exc))}") from None
        self.started = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.started and not self.xdist_controller:
            self._begin([item.name for item in session.items if isinstance(item, HarnessItem)])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist's controller collects nothing itself: the selection is its first worker's collection."""
        if self.started and self._selected is None:
            prefix = "harness::"
            self._begin([nodeid[len(prefix):] for nodeid in ids if nodeid.startswith(prefix)])

    def _begin(self, names: list[str]) -> None:
        """The selection is known (after ``-k``, ``-m``, ``--lf``, ``--deselect``): narrow harness's session to
        it, make its tasks and write the run's metadata and skipped combinations, as ``harness run`` does.
        pytest-xdist's controller makes its tasks when the first worker reports what it chose (it trains
        nothing itself, and imports no backend)."""
        hs = self.hsession
        self._selected = set(names)
        hs.narrow({name.rpartition("[")[0] for name in self._selected})
        if not self.xdist_controller and any(c.skip_reason is None for c in hs.combinations):
            self._prepare_tasks()
        self._describe_run()

    def _describe_run(self) -> None:
        """The run's metadata as ``harness run`` writes it, with pytest's command line (``pytest_args``)."""
        self.hsession.describe_run(pytest_args=list(self.config.invocation_params.args))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Store a task's record (in this process, also for the tasks pytest-xdist's workers trained)."""
        line = getattr(report, RECORD_ATTR, None)
        if not self.started or line is None:
            return
        if self._tasks is None:
            self._adopt_runtime(str(getattr(report, RUNTIME_ATTR)))
        from harness.record import from_json
        from harness.store import StoreError

        record = dict(from_json(line))
        task = (self._tasks or {}).get(str(getattr(report, TASK_ATTR, "")))
        try:
            if task is not None:
                self.hsession.record(task, record)
            else:  # pragma: no cover - a worker trained an item the controller does not know
                assert self.hsession.store is not None
                self.hsession.store.append(record)
        except StoreError as exc:
            self.config.issue_config_time_warning(pytest.PytestWarning(f"harness: {exc}"), stacklevel=2)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """``harness_session_finish`` (the report is written there), then ``results.csv``."""
        if not self.started:
            return
        from harness.errors import ExitCode

        hs = self.hsession
        self.run_dir = hs.run_dir
        hs.finish(ExitCode.INTERRUPTED if exitstatus == ExitCode.INTERRUPTED else hs.exit_code())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run_dir = getattr(self, "run_dir", None)
        if run_dir is None or not Path(run_dir).is_dir():
            return
        from harness.report.plugin import WRITTEN

        terminalreporter.write_sep("-", "harness")
        if WRITTEN in self.hconfig.stash:
            for line in self.hconfig.stash[WRITTEN].terminal_lines():
                terminalreporter.write_line(line)
        report = Path(run_dir) / "report.html"
        terminalreporter.write_line(f"run directory: {run_dir}" + (f" (report: {report})" if report.is_file()
                                                                    else ""))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.hconfig.hook.harness_unconfigure(config=self.hconfig)
