"""``harness run``: a thin caller of the session's sequence (:meth:`harness.session.Session.run`: start, collect,
choose the runtime, make the tasks, run them, finish; ``docs/run.md``). Every way out maps to an
:class:`~harness.errors.ExitCode`, and ``harness_session_finish`` receives the one the process returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import ExitCode
from harness.session import NO_SELECTION, SELECTION_OPTIONS, Session, selected, whole_grid

if TYPE_CHECKING:
    from harness.config import Config

__all__ = ["NO_SELECTION", "SELECTION_OPTIONS", "run", "selected", "whole_grid"]


def run(config: Config) -> ExitCode:
    """Run the session of ``config``; a usage error or an internal error propagates after
    ``harness_session_finish`` (to be printed by the command)."""
    return Session(config).run()
