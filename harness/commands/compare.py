"""``harness compare RUN_A RUN_B``: two runs, combination by combination."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.config.parsers import number
from harness.errors import ExitCode

if TYPE_CHECKING:
    from harness.commands import Commands
    from harness.config import Config


def compare(config: Config) -> ExitCode:
    from harness.report.compare import compare_command

    return compare_command(config)


def register(commands: Commands) -> None:
    command = commands.add("compare", help="compare two runs combination by combination", handler=compare)
    command.addargument("run_a", metavar="RUN_A")
    command.addargument("run_b", metavar="RUN_B")
    command.addoption("--fail-on-drop", parse=number, metavar="POINTS",
                      help="exit with 1 when any combination lost more than POINTS accuracy points")
    command.addoption("--csv", metavar="FILE",
                      help="also write the comparison to FILE as CSV: a line per row, with the test it used "
                           "(mcnemar or z-test) and why a row is unpaired")
