"""The ``harness`` command: ``run``, ``list``, ``report``, ``compare``, ``cache`` and the plugins' commands."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import harness
from harness import resume
from harness.config import (
    RUN_OPTION_BY_DEST,
    Config,
    ConfigFile,
    Option,
    add_run_options,
    find_config_file,
    resolve_options,
)
from harness.errors import ExitCode, PluginError, UsageError
from harness.pluginmanager import HarnessPluginManager, load_plugins
from harness.redact import redact
from harness.shutdown import terminate_as_interrupt

LIST_KINDS = ("datasets", "augmentations", "models", "presets", "budgets", "executors", "plugins")


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (exit code 4) instead of exiting with 2, and takes options
    only as spelled in full (as pytest does): the pre-parser and the parser then agree on every argument."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _preparse(argv: list[str]) -> argparse.Namespace:
    """What is needed before the plugins load, parsed by a small parser of its own: the ``-p`` values (before
    or after the command), the command, and ``--resume`` with ``--output`` (to find the run to resume)."""
    parser = _Parser(prog="harness", add_help=False)
    parser.add_argument("-p", dest="plugins", action="append", default=[])
    parser.add_argument("command", nargs="?")
    parser.add_argument("--resume", nargs="?", const="latest", default=None)
    parser.add_argument("--output", default=None)
    return parser.parse_known_args(argv)[0]


def _file_plugins(file: ConfigFile) -> list[str]:
    """The configuration file's ``plugins``: modules to load (or ``no:NAME``), as ``-p`` takes them."""
    values = file.values.get("plugins", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{file.label}: plugins: expected a list of module names, e.g. plugins = [\"my_plugin\"]")
    return values


def build_parser(pm: HarnessPluginManager | None) -> tuple[argparse.ArgumentParser, dict[str, Option[Any]]]:
    parser = _Parser(prog="harness", description="Train every dataset x augmentation x model combination under a "
                     "fixed budget and report it against the label-frequency baseline.")
    parser.add_argument("--version", action="version", version=f"harness {harness.__version__}")
    plugin_help = "load a plugin module, or block one with no:NAME (repeatable)"
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="NAME", help=plugin_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="train the selected combinations and write a run directory",
                         description="Train the selected combinations for the budget and write OUTPUT/RUN_ID/.")
    run.add_argument("-p", dest="plugins", action="append", default=argparse.SUPPRESS, metavar="NAME",
                     help=plugin_help)
    add_run_options(run)
    extra = _plugin_options(run, pm) if pm is not None else {}

    lister = sub.add_parser("list", help="list datasets, augmentations, models, presets, executors or plugins")
    lister.add_argument("kind", nargs="?", choices=LIST_KINDS, help="what to list (default: all but plugins)")
    lister.add_argument("-v", "--verbose", dest="list_verbose", action="store_true",
                        help="also each part's parameters, with their defaults")
    lister.add_argument("-p", dest="plugins", action="append", default=argparse.SUPPRESS, metavar="NAME",
                        help=plugin_help)

    report = sub.add_parser("report", help="rebuild a run's report from its stored record",
                            description="Rewrite results.csv, the tables, the figures and both pages of a run "
                                        "directory from its records.jsonl and metadata.json.")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--data-dir", dest="report_data_dir", default=None, metavar="DIR",
                        help="where the run's datasets are, for the figures of images (default: the run's own "
                             "--data-dir, else HARNESS_DATA_DIR)")
    report.add_argument("--reference", dest="report_reference", default=None, metavar="AUGMENTATION-MODEL",
                        help="the combination that scores 1 in the leaderboard across datasets (kept in the "
                             "run's metadata for later rebuilds; default: the run's own --reference, else the "
                             "best of the run on each dataset)")

    compare = sub.add_parser("compare", help="compare two runs combination by combination")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    compare.add_argument("--fail-on-drop", type=float, default=None, metavar="POINTS",
                         help="exit with 1 when any combination lost more than POINTS accuracy points")

    cache = sub.add_parser("cache", help="show or clear the cache (decoded images and downloads)")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--cache-dir", default=None, metavar="DIR")
    if pm is not None:
        _plugin_commands(sub, pm)
    return parser, extra


def _plugin_commands(sub: argparse._SubParsersAction, pm: HarnessPluginManager) -> None:
    """Commands that plugins add (``harness_subcommands_register``); each parser gets its handler."""
    caller, taken = pm.hook.harness_subcommands_register, set(sub.choices)
    try:
        contributed = pm.call_attributed(caller, subparsers=sub)
    except argparse.ArgumentError as exc:  # a name already taken (Python 3.11+ refuses it)
        culprit = pm.culprit(caller, exc)
        raise PluginError(f"{culprit.describe() if culprit else 'a plugin'}: {exc}") from None
    for origin, handlers in contributed:
        for name, handler in handlers.items():
            if name in taken or name not in sub.choices or not callable(handler):
                raise PluginError(f"{origin.describe()}: harness_subcommands_register: command {name!r} is "
                                  "already taken, was not added, or has no callable handler")
            taken.add(name)
            sub.choices[name].set_defaults(command_handler=handler)


def _plugin_options(run: argparse.ArgumentParser, pm: HarnessPluginManager) -> dict[str, Option[Any]]:
    """Let plugins add options; their defaults move into the option table so files can set them too."""
    before = {id(action) for action in run._actions}
    pm.hook.harness_options_add.call_historic(kwargs={"parser": run})
    extra: dict[str, Option[Any]] = {}
    for action in run._actions:
        if id(action) in before or action.dest in RUN_OPTION_BY_DEST:
            continue
        parse = action.type if callable(action.type) else None
        extra[action.dest] = Option(action.dest, tuple(action.option_strings), action.help or "",
                                    parse=parse, default=action.default)
        action.default = argparse.SUPPRESS
    return extra


def make_config(argv: list[str], cwd: Path, extra_plugins: list[tuple[Any, str]] | None = None) -> Config:
    """Load the plugins and parse the command line into a :class:`Config`. With ``run --resume``, the run's
    stored command line is resolved first (its working directory, plugins and options; see
    :mod:`harness.resume`)."""
    early = _preparse(argv)
    plugin_args: list[str] = early.plugins
    stored = None
    if early.command == "run" and early.resume is not None:
        output = early.output or find_config_file(cwd).values.get("output") or "reports"
        stored = resume.stored_run(early.resume, str(output), cwd, given=argv)
        stored_plugins = _preparse(stored.argv).plugins
        resume.check_plugins(early.plugins, stored_plugins, stored)
        plugin_args = [*stored_plugins, *(p for p in early.plugins if p not in stored_plugins)]
        cwd = stored.cwd
    file = find_config_file(cwd)
    pm = load_plugins([*_file_plugins(file), *plugin_args], cwd=cwd, extra=extra_plugins)
    parser, extra = build_parser(pm)
    namespace = parser.parse_args(argv)
    if namespace.command is None:
        parser.print_help()
        raise SystemExit(int(ExitCode.USAGE_ERROR))
    if stored is not None:
        options = {**RUN_OPTION_BY_DEST, **extra}
        namespace = resume.merge(parser, namespace, stored, defaults={d: o.default for d, o in options.items()},
                                 flags={d: o.flags[0] if o.flags else d for d, o in options.items()})
    config = Config(namespace, pm, file, cwd, list(argv))
    if namespace.command in ("run", "list"):
        from harness.registry import collect_presets

        config.presets = collect_presets(config)
        cli_values = argparse.Namespace(**{k: v for k, v in vars(namespace).items()
                                           if k not in ("command", "plugins", "kind")})
        config.option = resolve_options(cli_values, file, config.presets, extra)
        config.option.command = namespace.command
        config.option.kind = getattr(namespace, "kind", None)
    pm.hook.harness_configure.call_historic(kwargs={"config": config})
    return config


def _list(config: Config) -> ExitCode:
    from harness.registry import KINDS, build_registry

    kind = config.option.kind
    out = sys.stdout
    if kind == "plugins":
        for name, origin in sorted(config.pluginmanager.origins.items()):
            out.write(f"{name:<28} {origin.package:<28} {origin.how} {origin.where}\n")
        return ExitCode.OK
    if kind == "executors":
        from harness.executor import collect_executors

        executors = collect_executors(config)
        width = max(len(name) for name in executors) + 2
        for spec in executors.values():
            out.write(f"{spec.name:<{width}}{spec.description}  ({spec.package or spec.plugin})\n")
        return ExitCode.OK
    if kind == "budgets":
        for name, limits in sorted(config.budget_profiles().items()):
            out.write(f"{name:<16} {', '.join(f'{k}={v}' for k, v in limits.items())}\n")
        return ExitCode.OK
    registry = build_registry(config)
    kinds = [kind] if kind else [*KINDS, "presets"]
    for name in kinds:
        out.write(f"{name}:\n")
        if name == "presets":
            for preset, values in sorted(registry.presets.items()):
                summary = ", ".join(f"{k}={v}" for k, v in values.items() if k != "params")
                out.write(f"  {preset:<22} {summary}  ({config.preset_origins.get(preset, '?')})\n")
            continue
        specs = registry.of_kind(name)
        width = max((len(s) for s in specs), default=0) + 2
        for spec in specs.values():
            tags = f" [{', '.join(sorted(spec.tags))}]" if spec.tags else ""
            out.write(f"  {spec.name:<{width}}{spec.description}{tags}  ({spec.package or spec.plugin})\n")
            if getattr(config.option, "list_verbose", False):
                out.write(_parameters(spec, " " * (width + 2)))
        if not specs:
            out.write("  (none)\n")
    return ExitCode.OK


def _parameters(spec: Any, indent: str) -> str:
    """``harness list -v``: a spec's parameters, a line each: its default (those taken without one are
    ``optional``) and what it means when the spec says (``param_descriptions``)."""
    names = sorted(spec.accepted_params(), key=lambda name: (name not in spec.params, name))
    if not names:
        return f"{indent}parameters: none\n"
    shown = {name: f"{name} = {spec.params[name]!r}" if name in spec.params else f"{name} (optional)"
             for name in names}
    width = min(max(len(text) for text in shown.values()), 40) + 2
    lines = [f"{indent}{text:<{width - 2}}  {spec.describe_param(name)}".rstrip() for name, text in shown.items()]
    return "".join(f"{line}\n" for line in lines)


def _cache(args: argparse.Namespace) -> ExitCode:
    from harness.data import cache
    from harness.terminal import plural

    cache_dir = Path(args.cache_dir) if args.cache_dir else cache.default_cache_dir()
    if args.action == "clear":
        freed = cache.clear(cache_dir)
        print(f"cleared {cache_dir / cache.SUBDIR} and {cache_dir / cache.DOWNLOADS} ({freed / 2**20:.1f} MiB)")
        return ExitCode.OK
    summary = cache.info(cache_dir)
    print(f"decoded-image cache: {summary['path']}")
    for entry in summary["entries"]:
        height, width = entry["size"] or ("?", "?")
        print(f"  {entry['key']}  {plural(entry['files'], 'file')} at {height}x{width}x{entry['channels']}"
              f"  {entry['bytes'] / 2**20:.1f} MiB  skipped {entry['skipped']}  {entry['root']}")
    print(f"downloads: {summary['downloads_path']}")
    for download in summary["downloads"]:
        print(f"  {download['name']}  {download['bytes'] / 2**20:.1f} MiB")
    entries = plural(len(summary["entries"]), "entry").replace("entrys", "entries")
    print(f"total {(summary['bytes'] + summary['downloads_bytes']) / 2**20:.1f} MiB in {entries} "
          f"and {plural(len(summary['downloads']), 'download')} "
          "(move it with --cache-dir or HARNESS_CACHE_DIR; empty it with `harness cache clear`)")
    return ExitCode.OK


def dispatch(config: Config) -> ExitCode:
    command = config.option.command
    handler = getattr(config.option, "command_handler", None)
    if handler is not None:  # a plugin's command (harness_subcommands_register)
        return ExitCode(handler(config))
    if command == "run":
        from harness.main import run

        return run(config)
    if command == "list":
        return _list(config)
    if command == "cache":
        return _cache(config.option)
    if command == "report":
        from harness.report.rebuild import rebuild

        return rebuild(config, Path(config.option.run_dir))
    if command == "compare":
        from harness.report.compare import compare_command

        return compare_command(config)
    raise UsageError(f"unknown command {command!r}")


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
