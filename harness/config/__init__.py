"""Options and configuration, split by job as pytest's ``config/`` is:

- :mod:`harness.config.parsers`: value parsers (a text or a TOML value to a typed value, or a ``ValueError``
  that quotes it);
- :mod:`harness.config.options`: option declarations (:class:`Option`, harness's own table
  :data:`RUN_OPTIONS`, the plugins' :class:`OptionParser`) and the frozen :class:`Options` they are read from;
- :mod:`harness.config.files`: ``harness.toml`` and ``[tool.harness]``;
- :mod:`harness.config.stash`: :class:`Stash` and :class:`StashKey`, typed per-run storage for plugins;
- :mod:`harness.config.resolve`: defaults, file, preset and command line merged into one :class:`Options`;
- :mod:`harness.config.argparsing`: the command line, built from the declarations (argparse stays inside it).

This module holds :class:`Config` and re-exports the names above.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config.files import CONFIG_TABLES, EARLY_KEYS, ConfigFile, find_config_file
from harness.config.options import RUN_OPTION_BY_DEST, RUN_OPTIONS, Option, OptionParser, Options
from harness.config.parsers import (
    backend_names,
    checked,
    choice,
    device_ids,
    fraction,
    nonnegative_int,
    number,
    parse_assignment,
    parse_duration,
    parse_scalar,
    positive_int,
    seed_number,
    selection_name,
    string,
)
from harness.config.resolve import BUILTIN_BUDGETS, _suggest, _unknown, command_options, resolve_options
from harness.config.stash import Stash, StashKey
from harness.errors import UsageError

if TYPE_CHECKING:
    import pluggy

    from harness.pluginmanager import HarnessPluginManager

__all__ = [
    "BUILTIN_BUDGETS", "CONFIG_TABLES", "EARLY_KEYS", "RUN_OPTIONS", "RUN_OPTION_BY_DEST", "Config", "ConfigFile",
    "Option", "OptionParser", "Options", "Stash", "StashKey", "_suggest", "_unknown", "backend_names", "checked",
    "choice", "command_options", "device_ids", "find_config_file", "fraction", "nonnegative_int", "number",
    "parse_assignment", "parse_duration", "parse_scalar", "positive_int", "resolve_options", "seed_number",
    "selection_name", "string",
]


class Config:
    """The resolved options of one invocation, with the plugin manager and a stash for plugins."""

    def __init__(
        self,
        options: Options,
        pluginmanager: HarnessPluginManager,
        file: ConfigFile,
        cwd: Path,
        args: list[str],
    ) -> None:
        self._options = options
        self.pluginmanager = pluginmanager
        self.file = file
        self.cwd = cwd
        self.args = args
        self.stash = Stash()
        #: Presets from plugins and the configuration file, filled by :func:`resolve_options`.
        self.presets: dict[str, dict[str, Any]] = {}
        #: Where each preset comes from: its plugin's package (``name version``) or the configuration file.
        self.preset_origins: dict[str, str] = {}

    @property
    def options(self) -> Options:
        """The command's options, frozen: ``config.options.epochs``."""
        return self._options

    @property
    def option(self) -> Options:
        """The same as :attr:`options` (the former name)."""
        return self._options

    @property
    def command(self) -> str:
        """The command that runs (``run``, ``list``, a plugin's ``export``...)."""
        return str(self._options.get("command") or "")

    def _resolved(self, options: Options) -> None:
        """The options once the configuration file and the presets are resolved (set once, by the command line's
        parser, before ``harness_configure``)."""
        self._options = options

    @property
    def hook(self) -> pluggy.HookRelay:
        """Call a hook on every plugin: ``config.hook.harness_NAME(arg=...)``."""
        return self.pluginmanager.hook

    def table(self, name: str) -> dict[str, Any]:
        """A table of the configuration file (``params``, ``datasets``, ...), empty when absent."""
        value = self.file.values.get(name, {})
        if not isinstance(value, dict):
            raise UsageError(f"{self.file.label}: '{name}' must be a table")
        return value

    def budget_profiles(self) -> dict[str, dict[str, Any]]:
        profiles = {name: dict(values) for name, values in BUILTIN_BUDGETS.items()}
        profiles.update(self.table("budgets"))
        return profiles
