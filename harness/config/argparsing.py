"""The command line, built from the declarations: each :class:`~harness.commands.Command` a subparser, each
:class:`~harness.config.Option` an argument. argparse is used here and nowhere in the plugin contract."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from harness.config.options import Option
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.commands import Command

PLUGIN_HELP = "load a plugin module, or block one with no:NAME (repeatable)"
#: The namespace's attribute that holds the command that runs (the innermost subcommand).
_COMMAND = "_harness_command"


class HarnessArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (exit code 4) instead of exiting with 2, and takes options
    only as spelled in full (as pytest does): the pre-parser and the parser then agree on every argument."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def preparse(argv: list[str]) -> argparse.Namespace:
    """What is needed before the plugins load, parsed by a small parser of its own: the ``-p`` values (before
    or after the command), the command, and ``--resume`` with ``--output`` (to find the run to resume)."""
    parser = HarnessArgumentParser(prog="harness", add_help=False)
    parser.add_argument("-p", dest="plugins", action="append", default=[])
    parser.add_argument("command", nargs="?")
    parser.add_argument("--resume", nargs="?", const="latest", default=None)
    parser.add_argument("--output", default=None)
    return parser.parse_known_args(argv)[0]


def _argparse_type(opt: Option[Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        if text is argparse.SUPPRESS:  # an optional positional left out: argparse passes its default through
            return text
        try:
            return opt.parse_text(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = opt.dest
    return convert


def _kwargs(opt: Option[Any]) -> dict[str, Any]:
    """argparse's arguments for one declaration; a value left out is absent from the namespace (``SUPPRESS``),
    so that what the command line gave is told from the defaults."""
    kwargs: dict[str, Any] = {"help": opt.help.replace("%", "%%"), "default": argparse.SUPPRESS}
    if opt.count:
        return {**kwargs, "action": "count"}
    if opt.flag:
        return {**kwargs, "action": "store_true"}
    kwargs.update(type=_argparse_type(opt), metavar=opt.metavar)
    if opt.many:
        kwargs["action"] = "append"
    if opt.nargs:
        kwargs.update(nargs=opt.nargs, const=opt.const)
    if opt.positional and not opt.nargs:
        del kwargs["default"]
    return kwargs


def add_option(parser: argparse.ArgumentParser, groups: dict[str, Any], opt: Option[Any]) -> None:
    """One declaration as an argument of ``parser``, in the group named by ``opt.group``."""
    if opt.positional:
        parser.add_argument(opt.dest, **_kwargs(opt))
        return
    group = groups.get(opt.group)
    if group is None:
        group = groups[opt.group] = parser.add_argument_group(opt.group)
    group.add_argument(*opt.flags, dest=opt.dest, **_kwargs(opt))


def _add_command(sub: Any, command: Command) -> None:
    parser = sub.add_parser(command.name, help=command.help, description=command.description)
    if command.configured:
        parser.add_argument("-p", dest="plugins", action="append", default=argparse.SUPPRESS, metavar="NAME",
                            help=PLUGIN_HELP)
    groups: dict[str, Any] = {}
    for opt in command.options.values():
        add_option(parser, groups, opt)
    if command.subcommands:
        nested = parser.add_subparsers(dest=f"_{command.name}_subcommand", metavar="COMMAND", required=True,
                                       parser_class=HarnessArgumentParser)
        for subcommand in command.subcommands.values():
            _add_command(nested, subcommand)
    else:
        parser.set_defaults(**{_COMMAND: command})


def build_parser(commands: Mapping[str, Command], *, version: str, description: str) -> argparse.ArgumentParser:
    """``harness``'s parser: ``--version``, ``-p`` and one subparser per command (in the order given)."""
    parser = HarnessArgumentParser(prog="harness", description=description)
    parser.add_argument("--version", action="version", version=f"harness {version}")
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="NAME", help=PLUGIN_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=HarnessArgumentParser)
    for command in commands.values():
        _add_command(sub, command)
    return parser


def parsed(namespace: argparse.Namespace) -> tuple[Command | None, dict[str, Any]]:
    """The command that runs and the values the command line gave (checked, typed), by dest."""
    values = {key: value for key, value in vars(namespace).items()
              if key not in ("command", "plugins", _COMMAND) and not key.startswith("_")}
    return getattr(namespace, _COMMAND, None), values
