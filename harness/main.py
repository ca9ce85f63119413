"""``harness run``: collect, select, run each task, report; every way out maps to an :class:`ExitCode`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.engine import precision
from harness.errors import ExitCode
from harness.session import Session, resolve_resume_dir, runtime_versions

if TYPE_CHECKING:
    from harness.config import Config

#: Options of ``harness run`` that change how a run is shown or stopped, not what it trains: with only these
#: and ``--resume``, the run continues with the command line it was started with.
_NEUTRAL_FLAGS = {"-v", "--verbose", "-q", "--quiet", "-x", "--exitfirst"}
_NEUTRAL_WITH_VALUE = {"--output"}


def run(config: Config) -> ExitCode:
    resumed = _resume_config(config)
    if resumed is None:
        return _run(config)
    try:
        return _run(resumed)
    finally:
        resumed.hook.harness_unconfigure(config=resumed)


def _run(config: Config) -> ExitCode:
    session = Session(config)
    hook = config.hook
    hook.harness_session_start(session=session)
    status = ExitCode.INTERNAL_ERROR
    try:
        status = _collect_and_run(session)
    except KeyboardInterrupt:
        status = ExitCode.INTERRUPTED
    finally:
        session.exitstatus = status
        try:
            hook.harness_session_finish(session=session, exitstatus=int(status))
        finally:
            if session.store is not None:
                session.store.write_results()
                session.store.close()
    return status


def _collect_and_run(session: Session) -> ExitCode:
    config = session.config
    combinations = session.collect()
    if config.option.collect_only:
        return ExitCode.OK if combinations else ExitCode.NO_COMBINATIONS
    if not any(c.skip_reason is None for c in combinations):
        if combinations:
            session.open_store()
        return ExitCode.NO_COMBINATIONS
    runtime = runtime_versions()
    session.precision = precision.resolve(config.option.precision, runtime["gpu"])
    session.make_tasks()
    session.open_store()
    config.hook.harness_runloop(session=session)
    return session.exit_code()


# -------------------------------------------------------------------------------------------------
# ``harness run --resume`` alone continues the run with its own command line
# -------------------------------------------------------------------------------------------------


def _run_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` split at the ``run`` command: (what comes before it, what comes after it)."""
    index, skip = 0, False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "-p":
            skip = True
        elif arg == "run":
            return argv[:index], argv[index + 1:]
    return argv, []


def resume_only(argv: list[str]) -> tuple[bool, list[str]]:
    """Whether ``argv`` is ``run --resume [RUN_DIR]`` plus options that change nothing trained, and those
    options (``-v``, ``-q``, ``-x``)."""
    _, args = _run_args(argv)
    if not any(a == "--resume" or a.startswith("--resume=") for a in args):
        return False, []
    neutral: list[str] = []
    it = iter(enumerate(args))
    for index, arg in it:
        if arg == "--resume":
            if index + 1 < len(args) and not args[index + 1].startswith("-"):
                next(it)
        elif arg.startswith("--resume="):
            continue
        elif _is_neutral_flag(arg):
            neutral.append(arg)
        elif arg in _NEUTRAL_WITH_VALUE:
            next(it, None)
        elif any(arg.startswith(flag + "=") for flag in _NEUTRAL_WITH_VALUE):
            continue
        else:
            return False, []
    return True, neutral


def _is_neutral_flag(arg: str) -> bool:
    """``-v``, ``-vv``, ``-q``, ``-x`` and their long forms."""
    if arg in _NEUTRAL_FLAGS:
        return True
    return len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) <= {"v", "q", "x"}


def _stored_run_args(args: list[str]) -> list[str]:
    """The stored ``run`` arguments without ``--resume`` and the output flags (the new command line's count)."""
    kept, skip = [], False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--resume":
            skip = index + 1 < len(args) and not args[index + 1].startswith("-")
            continue
        if arg.startswith("--resume=") or _is_neutral_flag(arg):
            continue
        kept.append(arg)
    return kept


def _resume_config(config: Config) -> Config | None:
    """For ``harness run --resume [RUN_DIR]`` with no option that selects or budgets: the configuration of
    the command line stored in the run's ``metadata.json``, resuming that directory; otherwise ``None``."""
    if not config.option.resume:
        return None
    only, neutral = resume_only(config.args)
    if not only:
        return None
    from harness.cli import make_config
    from harness.store import RunStore

    run_dir = resolve_resume_dir(config, config.option.resume).resolve()
    metadata = RunStore.open(run_dir).metadata()
    stored = metadata.get("argv")
    if not isinstance(stored, list):
        return None
    before, after = _run_args([str(a) for a in stored])
    user_before, _ = _run_args(config.args)
    argv = [*user_before, *before, "run", *_stored_run_args(after), *neutral, "--resume", str(run_dir)]
    cwd = Path(metadata.get("cwd") or config.cwd)
    return make_config(argv, cwd if cwd.is_dir() else config.cwd)
