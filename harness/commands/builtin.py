"""The built-in plugin ``commands``: harness's own commands, added through ``harness_subcommands_register`` as a
plugin's are (each module of :mod:`harness.commands` declares one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import harness
from harness.commands import cache, compare, report, run
from harness.commands import list as listing

if TYPE_CHECKING:
    from harness.commands import Commands


@harness.hookimpl
def harness_subcommands_register(commands: Commands) -> None:
    for module in (run, listing, report, compare, cache):
        module.register(commands)
