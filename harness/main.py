"""``harness run``: collect, select, run each task, report; every way out maps to an :class:`ExitCode`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.engine import precision
from harness.errors import ExitCode
from harness.session import Session, runtime_versions

if TYPE_CHECKING:
    from harness.config import Config


def run(config: Config) -> ExitCode:
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
        hook.harness_session_finish(session=session, exitstatus=int(status))
        if session.store is not None:
            session.store.write_results()
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
