"""Generate the reference pages from the code (run by mkdocs-gen-files at every ``mkdocs build``).

- ``reference/options.md``: every option of ``harness run``, harness's own and those of the plugin packages of
  this repository, with its configuration-file key, from the option declarations (:func:`declared_options`);
- ``reference/plugins.md``: every built-in dataset, augmentation, model, preset, executor and budget profile,
  with its parameters, from the registered specs (:func:`registered`).

The plugin packages of this repository are loaded from their source folders (``plugins/*/src``) with plugin
autoloading off, so that the pages are the same whatever is installed. The hooks' page is written by hand
(``reference/hooks.md``) and filled by mkdocstrings from ``harness/hookspec.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The plugin packages of this repository, as ``-p`` modules (their entry points).
PLUGIN_MODULES = ("harness_vision.datasets", "harness_vision.augmentations", "harness_vision.models",
                  "harness_vision.presets", "harness_example", "harness_ray", "harness_mlflow")


@dataclass(frozen=True)
class OptionDoc:
    """One option as the reference shows it."""

    flags: tuple[str, ...]
    metavar: str | None
    help: str
    default: Any
    group: str
    #: The key of ``[tool.harness]``/``harness.toml`` (and presets) that sets it.
    key: str
    #: Who declares it: ``harness`` or the plugin's module.
    plugin: str


@contextlib.contextmanager
def repository_plugins() -> Iterator[list[str]]:
    """The ``-p`` arguments that load this repository's plugin packages from source, with autoloading off
    (restored afterwards)."""
    paths = [str(p) for p in sorted((ROOT / "plugins").glob("*/src"))]
    saved_path, saved_env = list(sys.path), os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD")
    sys.path[:0] = paths
    os.environ["HARNESS_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield [arg for module in PLUGIN_MODULES for arg in ("-p", module)]
    finally:
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("HARNESS_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["HARNESS_DISABLE_PLUGIN_AUTOLOAD"] = saved_env


# The one place that reads the option declarations: harness's own table (harness.config.RUN_OPTIONS) and what
# each plugin declares in harness_options_add (harness.cli.plugin_options). Point it elsewhere if they move.
def declared_options() -> list[OptionDoc]:
    """Every option of ``harness run``: harness's declarations first, then the plugins', in their order."""
    from harness.cli import plugin_options
    from harness.config import RUN_OPTIONS
    from harness.pluginmanager import load_plugins

    with repository_plugins() as plugin_args, tempfile.TemporaryDirectory() as empty:
        pm = load_plugins(plugin_args[1::2], cwd=Path(empty))
        extra = plugin_options(pm)
    return [OptionDoc(opt.flags, opt.metavar, opt.help, opt.default, opt.group, opt.file_key, opt.plugin or "harness")
            for opt in (*RUN_OPTIONS, *extra.values())]


def registered() -> dict[str, Any]:
    """The specs, presets, executors and budget profiles of harness and this repository's plugin packages."""
    from harness.cli import make_config
    from harness.config import BUILTIN_BUDGETS
    from harness.executor import collect_executors
    from harness.registry import build_registry

    with repository_plugins() as plugin_args, tempfile.TemporaryDirectory() as empty:
        config = make_config([*plugin_args, "list"], Path(empty))
        try:
            registry = build_registry(config)
            found: dict[str, Any] = {kind: list(registry.of_kind(kind).values())
                                     for kind in ("datasets", "augmentations", "models")}
            found["presets"] = dict(config.presets)
            found["executors"] = list(collect_executors(config).values())
            found["budgets"] = dict(BUILTIN_BUDGETS)
        finally:
            config.hook.harness_unconfigure(config=config)
    return found


# -------------------------------------------------------------------------------------------------
# Pages
# -------------------------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def options_page() -> str:
    lines = ["# Options and configuration keys", "",
             "Generated from the option declarations at every build of this site. Each option of `harness run` "
             "is declared once, and that declaration is also its key in `[tool.harness]` of `pyproject.toml`, in "
             "`harness.toml` and in a preset (the key column; `-` or `_` alike). Under `pytest --harness`, "
             "harness's own options take a `--harness-` prefix (see [pytest and tox](../pytest.md)). The "
             "command line wins over a preset, which wins over the file, which wins over the defaults.", ""]
    group = None
    for opt in declared_options():
        if opt.group != group:
            group = opt.group
            lines += ["", f"## {group}", "", "| option | key | default | meaning | from |", "|---|---|---|---|---|"]
        flags = ", ".join(f"`{flag}{' ' + opt.metavar if opt.metavar else ''}`" for flag in opt.flags)
        key = f"`{opt.key}`"
        default = "" if opt.default in (None, [], False) else f"`{opt.default!r}`"
        lines.append(f"| {flags} | {key} | {_cell(default)} | {_cell(opt.help)} | {opt.plugin} |")
    lines += ["", "## Tables of the configuration file", "",
              "Besides the keys above, the file (not the command line) takes these tables: `plugins` (a list of "
              "modules to load, as `-p`), `[params.NAME]` (parameters of a dataset, augmentation or model, as "
              "`--set NAME.KEY=VALUE`), `[datasets.NAME]`, `[augmentations.NAME]`, `[models.NAME]` (a new one "
              "made from a registered one: `plugin = \"image_folder\"` and its parameters), `[presets.NAME]` "
              "(`--preset NAME`) and `[budgets.NAME]` (`--budget NAME`). See [Configuration](../configuration.md).",
              ""]
    return "\n".join(lines)


def _params_table(spec: Any) -> list[str]:
    names = sorted(spec.params) + sorted(set(spec.accepted_params()) - set(spec.params))
    rows = [(name, f"`{spec.params[name]!r}`" if name in spec.params else "optional", spec.describe_param(name))
            for name in names]
    if not rows:
        return ["No parameters.", ""]
    return ["| parameter | default | meaning |", "|---|---|---|",
            *(f"| `{name}` | {_cell(default)} | {_cell(meaning)} |" for name, default, meaning in rows), ""]


def plugins_page() -> str:
    found = registered()
    lines = ["# Built-in plugins", "",
             "Generated from the registered specs at every build of this site: harness's own and those of the "
             "plugin packages of this repository (`harness-vision`, `harness-example`, `harness-ray`, "
             "`harness-mlflow`). `harness list KIND -v` shows the same for what is installed where you run it. "
             "Set a parameter with `--set NAME.KEY=VALUE` or `[tool.harness.params.NAME]`.", ""]
    for kind in ("datasets", "augmentations", "models"):
        lines += [f"## {kind.capitalize()}", ""]
        for spec in found[kind]:
            tags = f" Tags: {', '.join(f'`{t}`' for t in sorted(spec.tags))}." if spec.tags else ""
            lines += [f"### `{spec.name}`", "", f"{spec.description} ({spec.package}).{tags}", "",
                      *_params_table(spec)]
    lines += ["## Presets", "", "| preset | options |", "|---|---|"]
    for name, values in sorted(found["presets"].items()):
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if not k.startswith("_"))
        lines.append(f"| `{name}` | {_cell(shown)} |")
    lines += ["", "## Executors", "", "| executor | what it does | from |", "|---|---|---|"]
    for spec in found["executors"]:
        lines.append(f"| `{spec.name}` | {_cell(spec.description)} | {spec.package or spec.plugin} |")
    lines += ["", "## Budget profiles", "", "| profile | limits |", "|---|---|"]
    for name, limits in sorted(found["budgets"].items()):
        lines.append(f"| `{name}` | {', '.join(f'{k}={v}' for k, v in limits.items())} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import mkdocs_gen_files

    for path, text in (("reference/options.md", options_page()), ("reference/plugins.md", plugins_page())):
        with mkdocs_gen_files.open(path, "w") as out:
            out.write(text)


if __name__ in ("__main__", "<run_path>"):
    main()
