"""Commands of ``harness``: the registration object of ``harness_subcommands_register`` and the built-in commands.

A command is made the same way whether harness or a plugin adds it: in ``harness_subcommands_register(commands)``,
``commands.add(NAME, help=..., handler=...)`` returns a :class:`Command`, whose ``addoption``/``addargument``
declare its options (the same declarations as ``harness run``'s, see :class:`harness.config.Option`) and whose
``add`` makes a subcommand (``harness export mlflow RUN_DIR``). ``harness NAME ...`` then calls
``handler(config)`` (``config.options`` holds the parsed values; ``harness_configure`` has run) and exits with
the :class:`~harness.ExitCode` it returns. harness's own ``run``, ``list``, ``report``, ``compare`` and
``cache`` are the modules of this package, registered by the built-in plugin :mod:`harness.commands.builtin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.config.options import DeclarationError, Option, make_option

if TYPE_CHECKING:
    from harness.config import Config

#: What a command runs: the invocation's :class:`~harness.config.Config` in, an exit code out.
Handler = Callable[["Config"], Any]


class Command:
    """One command (or subcommand) of ``harness``, with the options it declares."""

    def __init__(self, name: str, *, help: str, description: str = "", handler: Handler | None = None,
                 plugin: str = "", configured: bool = False) -> None:
        if not name or not name.replace("-", "").replace("_", "").isalnum() or name.startswith("-"):
            raise DeclarationError(f"command name {name!r}: expected a word such as 'export'")
        self.name = name
        self.help = help
        self.description = description or help
        self.handler = handler
        #: The plugin that added it (its name).
        self.plugin = plugin
        #: Whether its options are resolved with the configuration file and presets (``run``, ``list``).
        self.configured = configured
        self.options: dict[str, Option[Any]] = {}
        self.subcommands: dict[str, Command] = {}

    def declare(self, *options: Option[Any]) -> None:
        """Add ready :class:`Option` declarations (``run`` takes harness's table and the plugins' options so)."""
        for option in options:
            flags = {flag for declared in self.options.values() for flag in declared.flags}
            if option.dest in self.options or flags & set(option.flags):
                raise DeclarationError(f"{self.name}: option {option.long_flag} is declared twice")
            self.options[option.dest] = option

    def addoption(self, *flags: str, dest: str | None = None, help: str = "", parse: Callable[[Any], Any] | None = None,
                  default: Any = None, metavar: str | None = None, many: bool = False, flag: bool = False,
                  count: bool = False, nargs: str | None = None, const: Any = None) -> Option[Any]:
        """Declare an option of this command, as :meth:`harness.config.OptionParser.addoption` does."""
        option = make_option(flags, plugin=self.plugin, group=self.name, dest=dest, help=help, parse=parse,
                             default=default, metavar=metavar, many=many, flag=flag, count=count, nargs=nargs,
                             const=const)
        self.declare(option)
        return option

    def addargument(self, name: str, *, help: str = "", parse: Callable[[Any], Any] | None = None,
                    metavar: str | None = None, optional: bool = False, default: Any = None) -> Option[Any]:
        """Declare a positional argument (``RUN_DIR``); ``optional``: it may be left out (then ``default``)."""
        if not name.isidentifier():
            raise DeclarationError(f"{self.name}: argument {name!r}: expected a name such as run_dir")
        option: Option[Any] = Option(name, (), help, parse, default, self.name, metavar=metavar,
                                     nargs="?" if optional else None, plugin=self.plugin)
        self.declare(option)
        return option

    def add(self, name: str, *, help: str, description: str = "", handler: Handler | None = None) -> Command:
        """A subcommand: ``harness THIS NAME ...`` (this command then needs one)."""
        if name in self.subcommands:
            raise DeclarationError(f"{self.name}: subcommand {name!r} is added twice")
        command = Command(name, help=help, description=description, handler=handler, plugin=self.plugin)
        self.subcommands[name] = command
        return command


class Commands:
    """What ``harness_subcommands_register(commands)`` gets: one per plugin, which each command it adds is
    credited to (a name already taken is an error naming both plugins)."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.added: list[Command] = []

    def add(self, name: str, *, help: str, description: str = "", handler: Handler | None = None,
            configured: bool = False) -> Command:
        """Add ``harness NAME``. ``handler(config)`` runs it (a command with subcommands may have none);
        ``configured``: its options are ``harness run``'s, resolved with the configuration file and presets."""
        command = Command(name, help=help, description=description, handler=handler, plugin=self.plugin,
                          configured=configured)
        self.added.append(command)
        return command
