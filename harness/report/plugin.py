"""The built-in report plugin: its tables and figures come through the same report hooks as a third
party's, and it writes the report when a run ends, also after an interruption, for what finished.

Importing this module is cheap (it is loaded for every ``harness`` command): pandas and matplotlib are
imported only when a report is built.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING, Any

import harness
from harness.config import StashKey
from harness.store import StoreError

if TYPE_CHECKING:
    from harness.report.context import Report
    from harness.report.write import WrittenReport
    from harness.session import Session

#: The report written at the end of ``harness run`` (absent when none was written).
WRITTEN: StashKey[WrittenReport] = StashKey()


@harness.hookimpl(tryfirst=True)
def harness_report_tables(report: Report) -> dict[str, Any]:
    from harness.report.tables import builtin_tables

    return builtin_tables(report.records)


@harness.hookimpl(tryfirst=True)
def harness_report_figures(report: Report) -> dict[str, Any]:
    from harness.report.builtin import builtin_figures

    return builtin_figures(report)


def session_report(session: Session) -> Report:
    """The report of the session's run directory, with the session's specs and data locations."""
    from harness.report.context import Report

    assert session.store is not None
    return Report(
        run_dir=session.store.run_dir, records=session.store.records(), metadata=session.store.metadata(),
        registry=session.registry, data_dir=session.data_dir, cache_dir=session.cache_dir,
    )


@harness.hookimpl(tryfirst=True)
def harness_session_finish(session: Session, exitstatus: int) -> None:
    """Write the report of what finished, before the terminal summary points to it."""
    if session.store is None or not session.store.records():
        return
    from harness.report.write import write_report

    try:
        written = write_report(session_report(session), session.config.pluginmanager)
    except (OSError, StoreError) as exc:  # a full or read-only disk: the user's to fix, one line
        why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
        sys.stderr.write(f"harness: the report could not be written ({why}); the "
                         f"results are kept: rebuild it with `harness report {session.store.run_dir}`\n")
        return
    except Exception:  # the run's results are kept; the report can be rebuilt
        traceback.print_exc()
        sys.stderr.write(f"harness: the report could not be written; the results are kept: rebuild it with "
                         f"`harness report {session.store.run_dir}`\n")
        return
    session.config.stash[WRITTEN] = written


@harness.hookimpl
def harness_terminal_summary(session: Session, terminal: Any) -> None:
    if WRITTEN not in session.config.stash:
        return
    written = session.config.stash[WRITTEN]
    for line in written.terminal_lines():
        terminal.write_line(line)
    terminal.write_line(f"report: {written.html}")
