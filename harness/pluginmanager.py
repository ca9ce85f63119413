"""Finding and loading plugins: the ``harness`` entry points, ``-p`` modules and ``harness_plugins.py``."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from harness import hookspec
from harness.errors import PluginError, UsageError

ENTRY_POINT_GROUP = "harness"
LOCAL_PLUGIN_FILE = "harness_plugins.py"
AUTOLOAD_ENV = "HARNESS_DISABLE_PLUGIN_AUTOLOAD"


@dataclass(frozen=True)
class PluginOrigin:
    """Where a registered plugin came from, for messages and ``harness list``."""

    name: str
    #: ``entry point``, ``-p`` or ``local file``.
    how: str
    #: Entry point value, module name or file path.
    where: str
    distribution: str = ""
    version: str = ""

    @property
    def package(self) -> str:
        if self.distribution:
            return f"{self.distribution} {self.version}".strip()
        return self.where

    def describe(self) -> str:
        if self.how == "entry point":
            return f"plugin {self.name!r} (entry point {self.where} in package {self.package})"
        return f"plugin {self.name!r} ({self.how} {self.where})"


class HarnessPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__("harness")
        self.add_hookspecs(hookspec)
        self.origins: dict[str, PluginOrigin] = {}

    def register_plugin(self, plugin: Any, origin: PluginOrigin) -> None:
        if self.is_blocked(origin.name) or self.has_plugin(origin.name):
            return
        try:
            self.register(plugin, name=origin.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"{origin.describe()} breaks the hook contract: {exc}") from None
        except ValueError as exc:
            raise PluginError(f"{origin.describe()} cannot be registered: {exc}") from None
        self.origins[origin.name] = origin

    def origin_of(self, plugin: Any) -> PluginOrigin:
        name = self.get_name(plugin) or repr(plugin)
        return self.origins.get(name, PluginOrigin(name=name, how="object", where=name))

    def check_contract(self) -> None:
        """Refuse hook implementations that match no hook spec (a typo in a hook name)."""
        for name, caller in self.hook.__dict__.items():
            if not name.startswith("harness_") or caller.spec is not None:
                continue
            for impl in caller.get_hookimpls():
                origin = self.origin_of(impl.plugin)
                raise PluginError(f"{origin.describe()} implements unknown hook {name!r}")


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()  # a scan of every installed package: done once


def _distribution_of(module_name: str) -> tuple[str, str]:
    top = module_name.split(".")[0]
    for dist_name in _packages_distributions().get(top, []):
        try:
            return dist_name, metadata.version(dist_name)
        except metadata.PackageNotFoundError:  # pragma: no cover - broken installs
            continue
    return "", ""


def _load_entry_points(pm: HarnessPluginManager, *, builtin_only: bool) -> None:
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        if builtin_only and (dist is None or dist.metadata["Name"] != "harness"):
            continue
        origin = PluginOrigin(
            name=ep.name,
            how="entry point",
            where=ep.value,
            distribution=dist.metadata["Name"] if dist is not None else "",
            version=dist.version if dist is not None else "",
        )
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is the plugin's fault
            raise PluginError(f"{origin.describe()} failed to import: {type(exc).__name__}: {exc}") from None
        pm.register_plugin(plugin, origin)


def _import_module_plugin(pm: HarnessPluginManager, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"-p {module_name}: cannot import module: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise PluginError(f"-p {module_name}: module failed to import: {type(exc).__name__}: {exc}") from None
    dist, version = _distribution_of(module_name)
    pm.register_plugin(
        module, PluginOrigin(name=module_name, how="-p", where=module_name, distribution=dist, version=version)
    )


def _load_local_file(pm: HarnessPluginManager, path: Path) -> None:
    origin = PluginOrigin(name="harness_plugins", how="local file", where=str(path))
    module_name = f"harness_plugins_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        del sys.modules[module_name]
        raise PluginError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from None
    pm.register_plugin(module, origin)


def parse_plugin_args(plugin_args: list[str]) -> tuple[list[str], list[str]]:
    """Split ``-p`` values into modules to load and names to block (``no:NAME``)."""
    load, block = [], []
    for arg in plugin_args:
        if arg.startswith("no:"):
            name = arg[3:]
            if not name:
                raise UsageError("-p no: needs a plugin name, e.g. -p no:terminal")
            block.append(name)
        else:
            load.append(arg)
    return load, block


def load_plugins(
    plugin_args: list[str] | None = None,
    *,
    cwd: Path | None = None,
    autoload: bool | None = None,
    extra: list[tuple[Any, str]] | None = None,
) -> HarnessPluginManager:
    """Build the plugin manager: blocked names first, then entry points, ``-p`` modules, the local file.

    With ``autoload`` false (or ``HARNESS_DISABLE_PLUGIN_AUTOLOAD`` set), only the built-in entry points of
    the ``harness`` distribution load; third-party plugins then need ``-p``.

    ``extra`` registers ready plugin objects with a name (the testing kit uses it).
    """
    pm = HarnessPluginManager()
    load, block = parse_plugin_args(plugin_args or [])
    for name in block:
        pm.set_blocked(name)
    for plugin, name in extra or []:
        pm.register_plugin(plugin, PluginOrigin(name=name, how="object", where=name))
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    # The built-in plugins are entry points of harness itself; they load even when autoloading of
    # third-party plugins is turned off (as pytest keeps its own plugins under PYTEST_DISABLE_PLUGIN_AUTOLOAD).
    _load_entry_points(pm, builtin_only=not autoload)
    for module_name in load:
        _import_module_plugin(pm, module_name)
    local = (cwd or Path.cwd()) / LOCAL_PLUGIN_FILE
    if local.is_file() and not pm.is_blocked("harness_plugins"):
        _load_local_file(pm, local)
    pm.check_contract()
    return pm
