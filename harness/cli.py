"""The ``harness`` command: the entry point, the command line built from the commands and options the plugins
declare (harness's own ``run``, ``list``, ``report``, ``compare`` and ``cache`` among them), and the dispatch."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import harness
from harness import resume
from harness.commands import Command, Commands
from harness.config import Config, ConfigFile, Option, OptionParser, Options, find_config_file
from harness.config.argparsing import build_parser as _argparse_parser
from harness.config.argparsing import parsed, preparse
from harness.config.options import RUN_OPTION_BY_DEST, DeclarationError
from harness.config.resolve import command_options, resolve_options
from harness.config.stash import StashKey
from harness.errors import ExitCode, PluginError, UsageError
from harness.pluginmanager import HarnessPluginManager, PluginOrigin, load_plugins
from harness.redact import redact
from harness.shutdown import terminate_as_interrupt

#: The command that runs (its handler is called by :func:`dispatch`).
COMMAND: StashKey[Command] = StashKey()
DESCRIPTION = ("Train every dataset x augmentation x model combination under a fixed budget and report it against "
               "the label-frequency baseline.")


def _file_plugins(file: ConfigFile) -> list[str]:
    """The configuration file's ``plugins``: modules to load (or ``no:NAME``), as ``-p`` takes them."""
    values = file.values.get("plugins", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{file.label}: plugins: expected a list of module names, e.g. plugins = [\"my_plugin\"]")
    return values


def plugin_options(pm: HarnessPluginManager) -> dict[str, Option[Any]]:
    """The options the plugins declare (``harness_options_add``), by dest; each plugin gets an
    :class:`OptionParser` of its own, so each option is credited to it. A dest or flag that harness or another
    plugin already declares is a :class:`PluginError` naming both."""
    parsers: dict[str, OptionParser] = {}

    def parser_for(origin: PluginOrigin) -> Mapping[str, Any]:
        return {"parser": parsers.setdefault(origin.name, OptionParser(origin.name))}

    try:
        pm.call_attributed(pm.hook.harness_options_add, per_plugin=parser_for)
    except DeclarationError as exc:
        raise PluginError(_blamed(pm, pm.hook.harness_options_add, exc)) from None
    declared: dict[str, Option[Any]] = dict(RUN_OPTION_BY_DEST)
    flags = {flag: opt for opt in declared.values() for flag in opt.flags}
    extra: dict[str, Option[Any]] = {}
    for name in reversed(list(parsers)):  # registration order: the first to declare keeps it
        for opt in parsers[name].declared:
            taken = declared.get(opt.dest) or next((flags[f] for f in opt.flags if f in flags), None)
            if taken is not None:
                raise PluginError(f"{_owner(pm, opt.plugin)}: harness_options_add: option {opt.long_flag} "
                                  f"(dest {opt.dest!r}) is already declared by {_owner(pm, taken.plugin)}")
            declared[opt.dest] = extra[opt.dest] = opt
            flags.update(dict.fromkeys(opt.flags, opt))
    return extra


def _owner(pm: HarnessPluginManager, plugin: str) -> str:
    return pm.origins[plugin].describe() if plugin in pm.origins else "harness"


def _blamed(pm: HarnessPluginManager, caller: Any, exc: BaseException) -> str:
    culprit = pm.culprit(caller, exc)
    return f"{culprit.describe() if culprit else 'a plugin'}: {caller.name}: {exc}"


def collect_commands(pm: HarnessPluginManager) -> dict[str, Command]:
    """Every command, harness's and the plugins' (``harness_subcommands_register``), in the plugins' order of
    registration; a name taken twice is a :class:`PluginError` naming both plugins."""
    registrations: dict[str, Commands] = {}

    def commands_for(origin: PluginOrigin) -> Mapping[str, Any]:
        return {"commands": registrations.setdefault(origin.name, Commands(origin.name))}

    caller = pm.hook.harness_subcommands_register
    try:
        pm.call_attributed(caller, per_plugin=commands_for)
    except DeclarationError as exc:
        raise PluginError(_blamed(pm, caller, exc)) from None
    commands: dict[str, Command] = {}
    for name in reversed(list(registrations)):
        for command in registrations[name].added:
            first = commands.get(command.name)
            if first is not None:
                raise PluginError(f"{_owner(pm, command.plugin)}: harness_subcommands_register: command "
                                  f"{command.name!r} is already added by {_owner(pm, first.plugin)}")
            if command.handler is None and not command.subcommands or not _callable(command):
                raise PluginError(f"{_owner(pm, command.plugin)}: harness_subcommands_register: command "
                                  f"{command.name!r} has no callable handler")
            commands[command.name] = command
    return commands


def _callable(command: Command) -> bool:
    if command.subcommands:
        return all(_callable(sub) for sub in command.subcommands.values())
    return callable(command.handler)


def build_commands(pm: HarnessPluginManager) -> tuple[dict[str, Command], dict[str, Option[Any]]]:
    """The commands, ``run`` with the plugins' options added, and those options by dest."""
    commands = collect_commands(pm)
    extra = plugin_options(pm)
    if "run" in commands:
        commands["run"].declare(*extra.values())
    return commands, extra


def make_config(argv: list[str], cwd: Path, extra_plugins: list[tuple[Any, str]] | None = None) -> Config:
    """Load the plugins and parse the command line into a :class:`Config`. With ``run --resume``, the run's
    stored command line is resolved first (its working directory, plugins and options; see
    :mod:`harness.resume`)."""
    early = preparse(argv)
    plugin_args: list[str] = early.plugins
    stored = None
    if early.command == "run" and early.resume is not None:
        output = early.output or find_config_file(cwd).values.get("output") or "reports"
        stored = resume.stored_run(early.resume, str(output), cwd, given=argv)
        stored_plugins = preparse(stored.argv).plugins
        resume.check_plugins(early.plugins, stored_plugins, stored)
        plugin_args = [*stored_plugins, *(p for p in early.plugins if p not in stored_plugins)]
        cwd = stored.cwd
    file = find_config_file(cwd)
    pm = load_plugins([*_file_plugins(file), *plugin_args], cwd=cwd, extra=extra_plugins)
    commands, extra = build_commands(pm)
    parser = _argparse_parser(commands, version=harness.__version__, description=DESCRIPTION)
    namespace = parser.parse_args(argv)
    if namespace.command is None:
        parser.print_help()
        raise SystemExit(int(ExitCode.USAGE_ERROR))
    if stored is not None:
        options = {**RUN_OPTION_BY_DEST, **extra}
        namespace = resume.merge(parser, namespace, stored, defaults={d: o.default for d, o in options.items()},
                                 flags={d: o.flags[0] if o.flags else d for d, o in options.items()})
    command, given = parsed(namespace)
    assert command is not None  # argparse requires a subcommand where a command has some
    config = Config(command_options({**given, "command": namespace.command}, command.options), pm, file, cwd,
                    list(argv))
    config.stash[COMMAND] = command
    if command.configured:
        config._resolved(_configured_options(config, command, given, extra))
    pm.hook.harness_configure.call_historic(kwargs={"config": config})
    return config


def _configured_options(config: Config, command: Command, given: dict[str, Any],
                        extra: dict[str, Option[Any]]) -> Options:
    """``run``'s and ``list``'s options: the plugins' presets are collected, then the defaults, the file, the
    preset and the command line resolved; ``list``'s own options keep their defaults."""
    from harness.registry import collect_presets

    config.presets = collect_presets(config)
    own = {dest: opt.default for dest, opt in command.options.items() if dest not in RUN_OPTION_BY_DEST
           and dest not in extra}
    resolved = resolve_options({**own, **given}, config.file, config.presets, extra)
    return Options({**resolved, "command": config.command}, resolved.origins)


def dispatch(config: Config) -> ExitCode:
    """Run the command: its handler, with the configuration."""
    command = config.stash[COMMAND]
    assert command.handler is not None
    return ExitCode(command.handler(config))


def main(argv: list[str] | None = None, *, cwd: Path | None = None,
         extra_plugins: list[tuple[Any, str]] | None = None) -> int:
    """Entry point of the ``harness`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cwd = Path(cwd or os.getcwd())
    config = None
    try:
        with terminate_as_interrupt():  # SIGTERM ends a run as Ctrl-C does (exit 2, what finished reported)
            config = make_config(argv, cwd, extra_plugins)
            return int(dispatch(config))
    except UsageError as exc:
        sys.stderr.write(f"harness: error: {redact(str(exc))}\n")
        return int(ExitCode.USAGE_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("harness: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else int(ExitCode.USAGE_ERROR)
    except Exception:  # internal errors keep their traceback
        traceback.print_exc()
        sys.stderr.write("harness: internal error (exit code 3)\n")
        return int(ExitCode.INTERNAL_ERROR)
    finally:
        if config is not None:
            config.hook.harness_unconfigure(config=config)


def console_main() -> NoReturn:
    from harness.shutdown import freeze_heap_at_exit

    freeze_heap_at_exit()
    sys.exit(main())
