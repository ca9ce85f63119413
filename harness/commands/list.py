"""``harness list [KIND]``: the datasets, augmentations, models, presets, budgets, executors or plugins there are."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from harness.config.parsers import choice
from harness.errors import ExitCode

if TYPE_CHECKING:
    from harness.commands import Commands
    from harness.config import Config
    from harness.registry import Registry

LIST_KINDS = ("datasets", "augmentations", "models", "presets", "budgets", "executors", "plugins")


def list_plugins(config: Config, out: TextIO) -> None:
    for name, origin in sorted(config.pluginmanager.origins.items()):
        out.write(f"{name:<28} {origin.package:<28} {origin.how} {origin.where}\n")


def list_executors(config: Config, out: TextIO) -> None:
    from harness.executor import collect_executors

    executors = collect_executors(config)
    width = max(len(name) for name in executors) + 2
    for spec in executors.values():
        out.write(f"{spec.name:<{width}}{spec.description}  ({spec.package or spec.plugin})\n")


def list_budgets(config: Config, out: TextIO) -> None:
    for name, limits in sorted(config.budget_profiles().items()):
        out.write(f"{name:<16} {', '.join(f'{k}={v}' for k, v in limits.items())}\n")


def list_presets(config: Config, registry: Registry, out: TextIO) -> None:
    for preset, values in sorted(registry.presets.items()):
        summary = ", ".join(f"{k}={v}" for k, v in values.items() if k != "params")
        out.write(f"  {preset:<22} {summary}  ({config.preset_origins.get(preset, '?')})\n")


def list_specs(config: Config, registry: Registry, kind: str, out: TextIO) -> None:
    specs = registry.of_kind(kind)
    width = max((len(s) for s in specs), default=0) + 2
    for spec in specs.values():
        tags = f" [{', '.join(sorted(spec.tags))}]" if spec.tags else ""
        out.write(f"  {spec.name:<{width}}{spec.description}{tags}  ({spec.package or spec.plugin})\n")
        if config.options.list_verbose:
            out.write(parameters(spec, " " * (width + 2)))
    if not specs:
        out.write("  (none)\n")


#: Kinds listed without the registry, by the function that lists them.
_PLAIN = {"plugins": list_plugins, "executors": list_executors, "budgets": list_budgets}


def listing(config: Config) -> ExitCode:
    from harness.registry import KINDS, build_registry

    kind, out = config.options.kind, sys.stdout
    if kind in _PLAIN:
        _PLAIN[kind](config, out)
        return ExitCode.OK
    registry = build_registry(config)
    for name in [kind] if kind else [*KINDS, "presets"]:
        out.write(f"{name}:\n")
        if name == "presets":
            list_presets(config, registry, out)
        else:
            list_specs(config, registry, name, out)
    return ExitCode.OK


def parameters(spec: Any, indent: str) -> str:
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


def register(commands: Commands) -> None:
    command = commands.add("list", help="list datasets, augmentations, models, presets, executors or plugins",
                           handler=listing, configured=True)
    command.addargument("kind", parse=choice(*LIST_KINDS), optional=True, metavar="KIND",
                        help=f"what to list: {', '.join(LIST_KINDS)} (default: all but plugins)")
    command.addoption("-v", "--verbose", dest="list_verbose", flag=True,
                      help="also each part's parameters, with their defaults")
