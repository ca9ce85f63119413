"""The plugin contract: every hook a plugin of ``harness`` can implement, by phase.

Plugins implement hooks with the :data:`harness.hookimpl` marker and register through the ``harness``
entry-point group (or ``-p MODULE`` or a ``harness_plugins.py`` in the working directory). The built-in
parts of harness are plugins of this same contract.

Order: harness's own plugins register first (by module name: ``core``, ``engine``, ``synthetic``,
``terminal``, ``reports``, ``tensorboard``, ``commands``; ``core``, ``engine`` and ``commands`` cannot be
blocked), then the entry points of
installed packages sorted by name, then ``-p`` modules, then ``harness_plugins.py``. pluggy calls a hook's
implementations last registered first, unless ``tryfirst``/``trylast`` say otherwise; ``wrapper=True``
implementations wrap all the others and see their list of results. For a hook that stops at the first
non-``None`` result, the local file is asked first and harness's own plugins last. Every implementation is
checked against these specs when the plugins are loaded (an unknown hook name is an error).

The registration hooks (``harness_options_add``, ``harness_subcommands_register`` and the ``*_register``
hooks of collection) are called implementation by implementation in pluggy's order
(:meth:`harness.pluginmanager.HarnessPluginManager.call_attributed`), so that each contribution is credited
to its plugin; a ``wrapper=True`` implementation wraps them as usual, an old-style ``hookwrapper=True`` one
is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import pandas

    from harness.commands import Commands
    from harness.config import Config, OptionParser
    from harness.engine.task import Task
    from harness.executor import ExecutorSpec
    from harness.report.context import Report
    from harness.session import Session
    from harness.specs import AugmentationSpec, Budget, Combination, DatasetSpec, ModelSpec
    from harness.terminal import TerminalReporter

hookspec = pluggy.HookspecMarker("harness")

# -------------------------------------------------------------------------------------------------
# Initialization
# -------------------------------------------------------------------------------------------------


@hookspec
def harness_options_add(parser: OptionParser) -> None:
    """Declare options of ``harness run``: ``parser.addoption("--vision-size", parse=positive_int, default=160,
    help=...)``.

    One declaration gives the command-line flag, the ``[tool.harness]``/``harness.toml`` key (the option's
    dest, ``vision_size``) and the value's check (``parse`` takes the text or the file's value and returns the
    typed value or raises :class:`ValueError`; a bad value is one line quoting it, exit code 4). Read the
    value as ``config.options.vision_size``. Each plugin gets a parser of its own: its options form a group
    named after the plugin in ``harness run --help``; give them a common prefix. A flag or dest that harness
    or another plugin already declares is an error naming both plugins. Called once, when the command line
    is built (a plugin registered later adds no option). Under ``pytest --harness`` a plugin's option is
    given as ``--harness-arg=--vision-size=96``.
    """


@hookspec(historic=True)
def harness_configure(config: Config) -> None:
    """Called after the command line and configuration files are parsed, before collection.

    Validate your options here and raise :class:`harness.UsageError` with a one-line message on bad
    values. Keep per-run state in ``config.stash``.
    """


@hookspec
def harness_unconfigure(config: Config) -> None:
    """Called before the process exits, after ``harness_session_finish``."""


@hookspec
def harness_subcommands_register(commands: Commands) -> None:
    """Add commands to ``harness``: ``commands.add(NAME, help=..., handler=...)`` returns a
    :class:`~harness.commands.Command` whose ``addoption(...)`` and ``addargument(NAME)`` declare its options
    and whose ``add(SUBNAME, ...)`` makes a subcommand.

    harness's own ``run``, ``list``, ``report``, ``compare`` and ``cache`` are added through this hook too
    (the built-in plugin ``commands``), and harness-mlflow's ``harness export mlflow RUN_DIR``. Called once
    when the command line is built, for every command (the plugin cannot know yet which one runs).
    ``harness NAME ...`` then calls ``handler(config)`` (``config.options`` holds the parsed values;
    ``harness_configure`` has run) and exits with the :class:`~harness.ExitCode` it returns; a
    :class:`harness.UsageError` it raises is one line and exit code 4. Import what the command needs inside
    the handler, so that ``harness --help`` stays light. A name that harness or another plugin already uses
    is an error naming both plugins.
    """


# -------------------------------------------------------------------------------------------------
# Collection: what there is to run
# -------------------------------------------------------------------------------------------------


@hookspec
def harness_datasets_register(config: Config) -> list[DatasetSpec] | None:
    """Return the :class:`~harness.specs.DatasetSpec` objects this plugin contributes.

    Every implementation is called; names must be unique across all plugins.
    """


@hookspec
def harness_augmentations_register(config: Config) -> list[AugmentationSpec] | None:
    """Return the :class:`~harness.specs.AugmentationSpec` objects this plugin contributes."""


@hookspec
def harness_models_register(config: Config) -> list[ModelSpec] | None:
    """Return the :class:`~harness.specs.ModelSpec` objects this plugin contributes."""


@hookspec
def harness_presets_register(config: Config) -> dict[str, dict[str, Any]] | None:
    """Return named presets for ``harness run --preset NAME``, by name.

    A preset is a table of option values, keyed as in ``[tool.harness]`` (``dataset``, ``augmentation``,
    ``model``, ``epochs``, ``params``, ...). A preset overrides the configuration files; the command line
    overrides the preset.
    """


@hookspec
def harness_executors_register(config: Config) -> list[ExecutorSpec] | None:
    """Return the :class:`~harness.executor.ExecutorSpec` objects this plugin contributes: ways to train a
    run's tasks, chosen with ``--executor NAME`` and listed by ``harness list executors``.

    Every implementation is called; names must be unique across all plugins. harness's own ``serial`` (one
    task after the other in this process) and ``process`` (``--workers N`` worker processes) come through this
    hook too. An executor's ``run(session, tasks)`` trains each task by calling ``harness_combination_train``
    in the process where it trains (:func:`harness.worker.train_task` in another process) and calls
    ``session.record(task, result)`` here for each (see :class:`harness.executor.Executor`).
    """


@hookspec
def harness_collection_modify(session: Session, combinations: list[Combination]) -> None:
    """Select, deselect, reorder or skip the collected combinations, in place.

    Called after the built-in selection (``--dataset``, ``-k``, ``-m`` and the rest) has run. Remove
    items to deselect them; call ``combination.skip(reason)`` to report them as skipped.
    """


@hookspec
def harness_collection_finish(session: Session) -> None:
    """Called when ``session.combinations`` is final."""


# -------------------------------------------------------------------------------------------------
# Running
# -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def harness_budget_make(config: Config, combination: Combination) -> Budget | None:
    """Return the training budget for one combination. Stops at the first non-``None`` result.

    The built-in implementation builds it from ``--epochs``, ``--time``, ``--steps``, ``--images`` and
    the budget profile; implement this hook to give some combinations a different budget.
    """


@hookspec(firstresult=True)
def harness_runloop(session: Session) -> bool | None:
    """Run every task of the session. Stops at the first non-``None`` result.

    The built-in implementation hands the pending tasks to the run's executor (``--executor``; see
    ``harness_executors_register``): to train elsewhere (worker processes, several GPUs, a cluster),
    contribute an executor rather than replace this hook. An implementation that replaces it calls
    ``session.record(task, result)`` in this process for each finished task, which is what stores it. A
    wrapper (``wrapper=True``) sees the loop begin and end (the terminal reporter prints its header so).
    """


@hookspec(firstresult=True)
def harness_combination_train(task: Task) -> dict[str, Any] | None:
    """Train and evaluate one combination for one seed; return its result record.

    Stops at the first non-``None`` result, so a plugin can replace the default trainer. The task is
    picklable and self-contained; the record is a JSON-serializable ``dict``
    (:class:`harness.record.Record` documents its fields; the store refuses one that breaks it).
    """


@hookspec
def harness_combination_progress(session: Session, task: Task, event: dict[str, Any]) -> None:
    """Receive progress while a task trains, in this process (also for tasks that train in workers).

    ``event["kind"]`` is, in order: ``prepare`` (loading the data), ``decode`` (decoding images into the
    cache, with ``done`` and ``total``), ``features`` (computing a frozen base's outputs, with ``done`` and
    ``total``), ``start`` (training begins; ``baseline``), then ``batch`` and ``epoch`` as training goes.
    ``decode`` and ``features`` come only when there is such work to do.
    """


@hookspec
def harness_combination_result(session: Session, task: Task, result: dict[str, Any]) -> None:
    """Receive each task's result record, after it is stored."""


# -------------------------------------------------------------------------------------------------
# Reporting
# -------------------------------------------------------------------------------------------------


@hookspec
def harness_report_tables(report: Report) -> dict[str, pandas.DataFrame] | None:
    """Return tables to add to a run's report, by name (written as CSV, Markdown and in the HTML page).

    ``report`` (:class:`harness.report.context.Report`) gives the records (``report.records``), the
    run's metadata (``report.metadata``), the run directory (``report.run_dir``), ``report.note(text)``
    to leave a note in the report, ``report.load_dataset(name)`` and ``report.augmentation(name, dataset)``. A
    table may carry ``attrs["caption"]``. Called by ``harness run`` at the end and by ``harness report``.

    The first plugin to use a name keeps it (the built-in report plugin is ``tryfirst``). A plugin that raises
    loses its contribution and the report says so in a note; the other plugins' tables are kept.
    """


@hookspec
def harness_report_figures(report: Report) -> dict[str, Any] | None:
    """Return matplotlib figures to add to a run's report, by file stem (written as PNG)."""


@hookspec
def harness_terminal_summary(session: Session, terminal: TerminalReporter) -> None:
    """Add a section to the terminal summary at the end of ``harness run``."""


@hookspec
def harness_session_start(session: Session) -> None:
    """Called once the run directory exists (``session.run_dir``; reopened with ``--resume``), before collection.

    With ``--collect-only`` no directory is made: ``session.run_dir`` is ``None``. A run that selects nothing
    (or stops on an error before any task) removes the directory it made, after ``harness_session_finish``.
    """


@hookspec
def harness_session_finish(session: Session, exitstatus: int) -> None:
    """Called at the end of a run whose ``harness_session_start`` completed, whatever the way out.

    ``exitstatus`` is the :class:`~harness.ExitCode` the process returns: 0 all passed, 1 some failed or
    errored, 2 interrupted, 3 internal error, 4 usage error (e.g. a bad ``--set``), 5 nothing selected, 6 the
    executor lost its infrastructure (a cluster's head; what finished is kept and reported).
    The built-in report plugin writes the run's report here, then the terminal reporter prints the summary.
    """
