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
from harness.config import OptionParser, StashKey
from harness.errors import UsageError
from harness.store import StoreError

if TYPE_CHECKING:
    from harness.report.context import Report
    from harness.report.write import WrittenReport
    from harness.session import Session

#: The report written at the end of ``harness run`` (absent when none was written).
WRITTEN: StashKey[WrittenReport] = StashKey()


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--reference", metavar="AUGMENTATION-MODEL",
                     help="the combination that scores 1 on every dataset in the leaderboard across datasets "
                          "(0 is the label-frequency baseline), e.g. none-small_cnn; with several backends "
                          "add -BACKEND (default: the best of the run on each dataset)")


def reference_keys(session: Session) -> list[str]:
    """What ``--reference`` may name in this run: ``AUGMENTATION-MODEL`` of the selected combinations, with
    ``-BACKEND`` for each backend when the run has several."""
    pairs = sorted({f"{c.augmentation.name}-{c.model.name}" for c in session.combinations})
    backends = list(getattr(session.config.option, "backend", None) or [])
    if len(backends) > 1:
        return [f"{pair}-{backend}" for pair in pairs for backend in backends]
    return pairs


@harness.hookimpl(tryfirst=True)
def harness_collection_finish(session: Session) -> None:
    """Refuse a ``--reference`` that names no selected combination, before anything trains."""
    reference = getattr(session.config.option, "reference", None)
    if reference is None or not session.combinations:
        return
    known = reference_keys(session)
    if str(reference) not in known:
        from harness.config import _unknown

        raise UsageError(f"--reference: {_unknown('combination', str(reference), dict.fromkeys(known))} "
                         "(AUGMENTATION-MODEL, with -BACKEND when the run has several backends)")


def _keep_reference(session: Session) -> None:
    """Store ``--reference`` in the run's metadata, so ``harness report`` rebuilds the same leaderboard."""
    reference = getattr(session.config.option, "reference", None)
    if reference is None or session.store is None:
        return
    metadata = session.store.metadata()
    if metadata.get("reference") != reference:
        session.store.write_metadata({**metadata, "reference": str(reference)})


@harness.hookimpl(tryfirst=True)
def harness_report_tables(report: Report) -> dict[str, Any]:
    from harness.report import errors, paired, seeds
    from harness.report.across_datasets import reference_of
    from harness.report.tables import builtin_tables

    reference = reference_of(report.metadata)
    found = builtin_tables(report.records, reference=reference)
    paired.add_tables(report, found)
    return {**found, **seeds.tables(report.records, reference), **errors.tables(report)}


@harness.hookimpl(tryfirst=True)
def harness_report_figures(report: Report) -> dict[str, Any]:
    from harness.report import errors, paired
    from harness.report.builtin import builtin_figures

    return {**builtin_figures(report), **paired.figures(report), **errors.figures(report)}


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
        _keep_reference(session)
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
