"""``harness run``: the session's lifecycle (start, collect, run each task, finish); every way out maps to an
:class:`ExitCode`, and ``harness_session_finish`` receives the one the process returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness import backends
from harness.engine import precision
from harness.errors import ExitCode, UsageError
from harness.session import Session, runtime_versions

if TYPE_CHECKING:
    from harness.config import Config


def run(config: Config) -> ExitCode:
    """Open the run directory (none with ``--collect-only``), then ``harness_session_start``, collection and
    the run loop; ``harness_session_finish`` follows whenever ``harness_session_start`` completed, whatever
    the way out. A usage error or an internal error propagates after it (to be printed by the command)."""
    session = Session(config)
    hook = config.hook
    status = ExitCode.INTERNAL_ERROR
    try:
        if not config.option.collect_only:
            session.open_store()
        hook.harness_session_start(session=session)
    except BaseException:
        session.close_store()
        raise
    try:
        status = _collect_and_run(session)
    except KeyboardInterrupt:
        status = ExitCode.INTERRUPTED
    except UsageError:
        status = ExitCode.USAGE_ERROR
        raise
    finally:
        session.exitstatus = status
        try:
            hook.harness_session_finish(session=session, exitstatus=int(status))
        finally:
            session.close_store()
    return status


def _collect_and_run(session: Session) -> ExitCode:
    config = session.config
    combinations = session.collect()
    if config.option.collect_only:
        return ExitCode.OK if combinations else ExitCode.NO_COMBINATIONS
    runnable = any(c.skip_reason is None for c in combinations)
    if runnable:
        choose_backends(session)
        session.runtime = runtime_versions(session.backends)
        session.make_tasks()
    session.describe_run()
    if not runnable:
        return ExitCode.NO_COMBINATIONS
    config.hook.harness_runloop(session=session)
    return session.exit_code()


def choose_backends(session: Session) -> None:
    """The run's backends (``--backend``, else the default), each one's precision policy for the devices it
    sees, and the GPUs to train on (``--devices``, else every one visible). A run with one backend makes it
    this process's Keras backend; with several, each trains in its own worker processes."""
    config = session.config
    session.backends = list(config.option.backend or [backends.default_name()])
    for name in session.backends:
        backend = backends.activate(name) if len(session.backends) == 1 else backends.load(name)
        found = backend.devices()
        session.precisions[name] = precision.resolve(config.option.precision, found)
        session.gpus = session.gpus or [index for index, d in enumerate(found) if d.kind == "gpu"]
    session.precision = session.precisions[session.backends[0]]
    if config.option.devices is not None:
        unknown = sorted(set(config.option.devices) - set(session.gpus))
        if unknown:
            raise UsageError(f"--devices {','.join(map(str, config.option.devices))}: no GPU {unknown[0]} here "
                             f"(visible: {','.join(map(str, session.gpus)) or 'none'})")
        session.gpus = list(config.option.devices)
