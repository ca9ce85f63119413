"""``harness run``: train the selected combinations and write a run directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.config.options import RUN_OPTIONS
from harness.errors import ExitCode

if TYPE_CHECKING:
    from harness.commands import Commands
    from harness.config import Config


def run(config: Config) -> ExitCode:
    from harness.main import run as run_session

    return run_session(config)


def register(commands: Commands) -> None:
    """``run`` with harness's option table; the plugins' options (``harness_options_add``) join it later."""
    command = commands.add("run", help="train the selected combinations and write a run directory",
                           description="Train the selected combinations for the budget and write OUTPUT/RUN_ID/.",
                           handler=run, configured=True)
    command.declare(*RUN_OPTIONS)
