"""Built-in essentials: the ``none`` augmentation, the budget, the ``serial`` and ``process`` executors and the
run loop that calls the chosen one (replaceable hooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import harness
from harness.config import OptionParser, StashKey, parse_duration, positive_int
from harness.errors import UsageError
from harness.executor import ExecutorSpec, chosen_executor, executor_name, make_executor
from harness.executors.process import ProcessExecutor
from harness.executors.serial import SerialExecutor
from harness.specs import AugmentationSpec, Budget, Combination

if TYPE_CHECKING:
    from harness.config import Config
    from harness.session import Session

#: Used when no budget is given anywhere.
DEFAULT_EPOCHS = 5
#: The run's budget, resolved once from the options and the profile.
BUDGET_KEY = StashKey[Budget]()

#: Budget options: the ``Budget`` field, the option's dest, how a profile's value is read.
_LIMITS = (("epochs", "epochs", positive_int), ("seconds", "time", parse_duration),
           ("steps", "steps", positive_int), ("images", "images", positive_int))
#: Ranks of where an option's value came from (see ``config.options.origin``).
_RANK = {"default": 0, "file": 1, "preset": 2, "command line": 3}


def _no_augmentation(params: object) -> None:
    return None


@harness.hookimpl
def harness_augmentations_register(config: Config) -> list[AugmentationSpec]:
    """``none``: the axis every grid has, so a dataset x model pair always runs unaugmented too."""
    return [AugmentationSpec(name="none", factory=_no_augmentation, description="no augmentation")]


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--executor", metavar="NAME",
                     help="how the tasks train: process (default: supervised worker processes; a task that "
                          "crashes, runs out of memory or passes --task-timeout becomes an error row and the run "
                          "goes on), serial (unprotected, in this process: for debugging with pdb) or one a "
                          "plugin adds (see `harness list executors`)")
    parser.addoption("--workers", parse=positive_int, default=1, metavar="N",
                     help="train N tasks at a time, each in its own worker process (default 1; one per GPU when "
                          "GPUs are visible)")


@harness.hookimpl
def harness_executors_register(config: Config) -> list[ExecutorSpec]:
    return [ExecutorSpec(name="serial", factory=SerialExecutor, description="one task after the other in this "
                         "process, unprotected (a crash ends the run, no --task-timeout): for debugging with pdb"),
            ExecutorSpec(name="process", factory=ProcessExecutor, description="the default: --workers N supervised "
                         "worker processes on this machine (a crash or a timeout is the task's error row)")]


@harness.hookimpl
def harness_configure(config: Config) -> None:
    if config.command == "run":
        config.stash[BUDGET_KEY] = resolve_budget(config)
        chosen_executor(config)  # an unknown --executor is a usage error before anything runs
        _check_serial(config)


def _check_serial(config: Config) -> None:
    """The serial executor trains in this process: one task at a time, with one Keras backend."""
    if executor_name(config) != "serial":
        return
    workers = config.options.workers
    if workers > 1:
        raise UsageError(f"--workers {workers}: the serial executor trains in this process; use --executor "
                         "process (or leave --executor out)")
    names = config.options.backend or []
    if len(names) > 1:
        raise UsageError(f"--backend {','.join(names)}: the serial executor trains in this process, and Keras has "
                         "one backend per process; use --executor process (or leave --executor out)")


# -------------------------------------------------------------------------------------------------
# The budget
# -------------------------------------------------------------------------------------------------


def profile_limits(name: str, values: Any) -> dict[str, Any]:
    """A budget profile's limits as ``Budget`` fields, each checked (keys ``epochs``, ``time``, ``steps``,
    ``images``)."""
    if not isinstance(values, dict):
        raise UsageError(f"budget profile {name!r} must be a table of limits (epochs, time, steps, images)")
    by_key = {dest: (field, parse) for field, dest, parse in _LIMITS}
    limits: dict[str, Any] = {}
    for key, value in values.items():
        if key not in by_key:
            raise UsageError(f"budget profile {name!r}: unknown limit {key!r} (expected epochs, time, steps, images)")
        field, parse = by_key[key]
        try:
            limits[field] = parse(value)
        except ValueError as exc:
            raise UsageError(f"budget profile {name!r}: {key}: {exc}") from None
    if not limits:
        raise UsageError(f"budget profile {name!r} has no limit: give epochs, time, steps or images")
    return limits


def resolve_budget(config: Config) -> Budget:
    """The run's budget: ``--epochs``, ``--time``, ``--steps``, ``--images`` and ``--budget PROFILE``.

    A profile replaces the limits set at a lower level than the one that chose it (a profile chosen on the
    command line replaces ``epochs = 5`` of the configuration file); limits set at the same level or above
    are kept and override the profile's (``--budget smoke --epochs 2``).
    """
    option = config.options
    limits: dict[str, Any] = {}
    profile_rank = -1
    if option.budget is not None:
        profiles = config.budget_profiles()
        if option.budget not in profiles:
            from harness.config import _unknown

            raise UsageError("--budget: " + _unknown("budget profile", option.budget, profiles))
        limits.update(profile_limits(option.budget, profiles[option.budget]))
        profile_rank = _RANK[option.origin("budget")]
    for field, dest, _ in _LIMITS:
        value = option[dest]
        if value is None:
            continue
        if _RANK[option.origin(dest)] >= profile_rank:
            limits[field] = value
    if not limits:
        limits["epochs"] = DEFAULT_EPOCHS
    try:
        return Budget(**limits)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"budget: {exc}") from None


@harness.hookimpl(trylast=True)
def harness_budget_make(config: Config, combination: Combination) -> Budget:
    if BUDGET_KEY in config.stash:
        return config.stash[BUDGET_KEY]
    return resolve_budget(config)


# -------------------------------------------------------------------------------------------------
# The run loop
# -------------------------------------------------------------------------------------------------


@harness.hookimpl(trylast=True)
def harness_runloop(session: Session) -> bool:
    """Train the pending tasks with the run's executor (``--executor``, default ``process``); an executor that
    loses its infrastructure raises :class:`~harness.errors.InfrastructureLost`, which the session reports."""
    make_executor(session.config).run(session, session.pending_tasks())
    return True


# -------------------------------------------------------------------------------------------------
# The backends' log lines (harness.backendlog)
# -------------------------------------------------------------------------------------------------

#: What ``HARNESS_BACKEND_LOG`` held before the run named its ``backend.log``.
_BACKEND_LOG_BEFORE = StashKey[Any]()


@harness.hookimpl
def harness_session_start(session: Session) -> None:
    """Send the backends' own log lines (TensorFlow's C++ notices...) to ``RUN_DIR/backend.log`` unless ``-v``."""
    from harness import backendlog

    options = session.config.options
    verbosity = int(options.verbose or 0) - int(options.quiet or 0)
    session.config.stash[_BACKEND_LOG_BEFORE] = backendlog.start(session.run_dir, verbosity)


@harness.hookimpl
def harness_session_finish(session: Session, exitstatus: int) -> None:
    from harness import backendlog

    if _BACKEND_LOG_BEFORE in session.config.stash:
        backendlog.finish(session.config.stash[_BACKEND_LOG_BEFORE], session.run_dir)
