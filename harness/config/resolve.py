"""Resolution: the defaults, the configuration file, the preset and the command line, merged into one frozen
:class:`~harness.config.options.Options`.

The command line wins over a preset, which wins over the configuration file, which wins over the defaults.
Every value is checked when it is read, and a bad one is reported with the place it came from.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from typing import Any

from harness.config.files import CONFIG_TABLES, EARLY_KEYS, ConfigFile
from harness.config.options import RUN_OPTION_BY_DEST, Option, Options
from harness.errors import UsageError

#: Budget profiles every run knows; the configuration file's ``[budgets.NAME]`` add to them.
BUILTIN_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 1, "steps": 5},
    "default": {"epochs": 5},
    "full": {"epochs": 20},
}


def _iter_layers(
    file: ConfigFile, preset: tuple[str, dict[str, Any]] | None
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield file.label, {k: v for k, v in file.values.items() if k not in CONFIG_TABLES and k not in EARLY_KEYS}
    if preset is not None:
        yield f"preset {preset[0]!r}", preset[1]


def _given(cli: argparse.Namespace | Mapping[str, Any]) -> dict[str, Any]:
    return dict(vars(cli) if isinstance(cli, argparse.Namespace) else cli)


def _preset(name: Any, presets: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    if name is None:
        return None
    if name not in presets:
        raise UsageError(_unknown("preset", str(name), presets))
    return str(name), dict(presets[name])


def resolve_options(
    cli: argparse.Namespace | Mapping[str, Any],
    file: ConfigFile,
    presets: dict[str, dict[str, Any]],
    extra_options: Mapping[str, Option[Any]] | None = None,
) -> Options:
    """Merge defaults, the configuration file, the preset and the command line (``cli``: the values given,
    already checked) into one frozen :class:`Options`; ``extra_options`` are the plugins' declarations."""
    known = {**RUN_OPTION_BY_DEST, **(extra_options or {})}
    given = _given(cli)
    resolved: dict[str, Any] = {dest: opt.default for dest, opt in known.items()}
    preset = _preset(given.get("preset") or file.values.get("preset"), presets)
    origins: dict[str, str] = {}
    for where, layer in _iter_layers(file, preset):
        layer_origin = "preset" if where.startswith("preset") else "file"
        for key, value in layer.items():
            dest = key.replace("-", "_")
            if dest == "params" and layer_origin == "preset":
                continue
            if dest not in known:
                raise UsageError(f"{where}: unknown option {key!r}" + _suggest(dest, known))
            resolved[dest] = known[dest].from_file(value, where)
            origins[dest] = layer_origin
    for dest, value in given.items():
        resolved[dest] = value
        origins[dest] = "command line"
    # Kept for readers of the former namespace; read ``options.origin(NAME)`` and ``preset_params`` instead.
    resolved["option_origins"] = dict(origins)
    resolved["preset_params"] = dict(preset[1].get("params", {})) if preset is not None else {}
    return Options(resolved, origins)


def command_options(cli: argparse.Namespace | Mapping[str, Any], declared: Mapping[str, Option[Any]]) -> Options:
    """The options of a command that reads no configuration file: its declared defaults and the command line."""
    given = _given(cli)
    values = {dest: opt.default for dest, opt in declared.items()}
    values.update(given)
    return Options(values, dict.fromkeys(given, "command line"))


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _unknown(kind: str, name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known)) or 'none'})"
