"""Finding and loading plugins: harness's own, the ``harness`` entry points, ``-p`` modules and
``harness_plugins.py``.

The order of registration is fixed (see :func:`load_plugins`): harness's own plugins by module name, then the
entry points of installed packages sorted by name, then ``-p`` modules (the configuration file's ``plugins``,
then the command line's, in order), then the working directory's ``harness_plugins.py``. pluggy calls the
implementations of a hook in the reverse order (last registered first), so a local plugin is asked before an
installed one, and both before harness's own; ``tryfirst``/``trylast`` and wrappers change that as pluggy
documents.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pluggy
from pluggy import HookImpl

from harness import hookspec
from harness.errors import PluginError, UsageError

ENTRY_POINT_GROUP = "harness"
LOCAL_PLUGIN_FILE = "harness_plugins.py"
AUTOLOAD_ENV = "HARNESS_DISABLE_PLUGIN_AUTOLOAD"
#: harness's own plugins, registered first and in this order, by module name: not through entry points, so
#: that an install whose metadata is stale still has every one of them.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("core", "harness.builtin.core"),
    ("engine", "harness.engine.train"),
    ("synthetic", "harness.builtin.synthetic"),
    ("terminal", "harness.terminal"),
    ("reports", "harness.report.plugin"),
    ("tensorboard", "harness.builtin.tensorboard"),
)
#: Built-ins that ``-p no:NAME`` may not block: without them ``harness run`` cannot work.
ESSENTIAL: tuple[str, ...] = ("core", "engine")


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
        #: What :func:`load_plugins` built this manager from (a worker process rebuilds it from the same):
        #: the ``-p`` values (the configuration file's, then the command line's), the autoload setting and
        #: the working directory whose ``harness_plugins.py`` it loaded.
        self.plugin_args: tuple[str, ...] = ()
        self.autoload = True
        self.cwd: Path | None = None

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

    def check_pending(self) -> None:
        """pluggy's check that every implementation matches a hook spec, as a one-line :class:`PluginError`
        naming the plugin and the hook (a misspelt hook name gets a suggestion)."""
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            origin = self.origin_of(exc.plugin)
            found = re.search(r"unknown hook '([^']+)'", str(exc))
            if found is None:  # pragma: no cover - pluggy's message changed
                raise PluginError(f"{origin.describe()} breaks the hook contract: {exc}") from None
            name = found[1]
            specs = [n for n, caller in vars(self.hook).items() if not n.startswith("_") and caller.has_spec()]
            close = difflib.get_close_matches(name, specs, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PluginError(f"{origin.describe()} implements unknown hook {name!r}{hint}") from None

    def call_attributed(self, caller: pluggy.HookCaller, **kwargs: Any) -> list[tuple[PluginOrigin, Any]]:
        """Call a hook through pluggy (wrappers, ordering and tracing included) and return each result with
        the plugin that contributed it, in pluggy's call order.

        pluggy returns a hook's results as one list; which implementation returned which is seen as it
        happens: for the call, each implementation's function is replaced by one that notes the value it
        returns (a ``wrapper=True`` generator's final value included), and put back after. A result that a
        ``wrapper=True`` implementation added is credited to that wrapper. A failure propagates with a note
        naming the plugin (see :meth:`culprit`). No profile or trace function is set, so ``python -m
        cProfile``, coverage and debuggers see the call as it is.
        """
        returned: dict[int, tuple[HookImpl, Any]] = {}
        originals = [(each, each.function) for each in caller.get_hookimpls() if not each.hookwrapper]
        for each, function in originals:
            object.__setattr__(each, "function", _noting(each, function, returned))
        try:
            results = caller(**kwargs)
        except Exception as exc:
            culprit = self.culprit(caller, exc)
            if culprit is not None and hasattr(exc, "add_note"):
                exc.add_note(f"raised by {culprit.describe()} in {caller.name}")
            raise
        finally:
            for each, function in originals:
                object.__setattr__(each, "function", function)
        wrappers = [impl for impl, _ in returned.values() if impl.wrapper]
        attributed = []
        for result in results:
            impl = returned[id(result)][0] if id(result) in returned else (wrappers[0] if wrappers else None)
            origin = self.origin_of(impl.plugin) if impl is not None else PluginOrigin("?", "wrapper", "?")
            attributed.append((origin, result))
        return attributed

    def culprit(self, caller: pluggy.HookCaller, exc: BaseException) -> PluginOrigin | None:
        """The plugin whose implementation of ``caller`` an exception came out of (the innermost on its
        traceback), or ``None``."""
        impls = _by_code(caller)
        found = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code in impls:
                found = _running(impls[tb.tb_frame.f_code], tb.tb_frame)
            tb = tb.tb_next
        return self.origin_of(found.plugin) if found is not None else None


def _by_code(caller: pluggy.HookCaller) -> dict[Any, list[HookImpl]]:
    """A hook's implementations by the code object their function runs (several for one class's method)."""
    impls: dict[Any, list[HookImpl]] = {}
    for impl in caller.get_hookimpls():
        function = getattr(impl.function, "__func__", impl.function)
        impls.setdefault(getattr(function, "__code__", None), []).append(impl)
    return impls


def _noting(impl: HookImpl, function: Any, returned: dict[int, tuple[HookImpl, Any]]) -> Any:
    """``function`` as pluggy calls it, noting in ``returned`` (by id, the value kept alive with it) what it
    returns: for a wrapper (a generator function), the value its generator ends with."""
    def note(value: Any) -> Any:
        if value is not None:
            returned[id(value)] = (impl, value)
        return value

    if impl.wrapper:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return note((yield from function(*args, **kwargs)))
        return wrapper

    def plain(*args: Any, **kwargs: Any) -> Any:
        return note(function(*args, **kwargs))
    return plain


def _running(candidates: list[HookImpl], frame: FrameType) -> HookImpl:
    """Which of the implementations that share a function (methods of one class, registered as several
    plugins) the frame runs: the one bound to the frame's ``self``."""
    if len(candidates) > 1 and frame.f_code.co_argcount:
        bound = frame.f_locals.get(frame.f_code.co_varnames[0])
        for impl in candidates:
            if getattr(impl.function, "__self__", None) is bound:
                return impl
    return candidates[-1]


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


def _load_builtins(pm: HarnessPluginManager) -> None:
    import harness

    for name, module_name in BUILTIN_PLUGINS:
        if not pm.is_blocked(name):
            origin = PluginOrigin(name=name, how="built-in", where=module_name, distribution="harness",
                                  version=harness.__version__)
            pm.register_plugin(importlib.import_module(module_name), origin)


def _load_entry_points(pm: HarnessPluginManager) -> None:
    """Third-party plugins: the ``harness`` entry points of installed packages, sorted by name. harness's
    own entry points, if an older install still declares some, are left out: its built-ins load by name."""
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name) or (dist is not None and dist.name == "harness"):
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
        except Exception as exc:  # any import failure is the plugin's fault
            raise PluginError(f"{origin.describe()} failed to import: {type(exc).__name__}: {exc}") from None
        pm.register_plugin(plugin, origin)


def _import_module_plugin(pm: HarnessPluginManager, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"-p {module_name}: cannot import module: {exc}") from None
    except Exception as exc:  # the module's own failure
        raise PluginError(f"-p {module_name}: module failed to import: {type(exc).__name__}: {exc}") from None
    dist, version = _distribution_of(module_name)
    pm.register_plugin(
        module, PluginOrigin(name=module_name, how="-p", where=module_name, distribution=dist, version=version)
    )


def _load_local_file(pm: HarnessPluginManager, path: Path) -> None:
    origin = PluginOrigin(name="harness_plugins", how="local file", where=str(path))
    # The same name in every process (a worker loads the file too, and unpickles tasks that refer to it).
    module_name = f"harness_plugins_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the module's own failure
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
    """Build the plugin manager. Blocked names (``-p no:NAME``) first, then, in this order of registration:

    1. harness's own plugins (:data:`BUILTIN_PLUGINS`), by module name; the essential ones cannot be blocked;
    2. ``extra``: ready plugin objects with a name (the testing kit uses it);
    3. the ``harness`` entry points of installed packages, sorted by name, unless ``autoload`` is false
       (or ``HARNESS_DISABLE_PLUGIN_AUTOLOAD`` is set): third-party plugins then need ``-p``;
    4. ``-p`` modules, in the order given;
    5. ``harness_plugins.py`` of the working directory.

    pluggy calls a hook's implementations last registered first (5 to 1), ``tryfirst``/``trylast`` aside.
    Every implementation is then checked against the hook specs (pluggy's ``check_pending``).
    """
    pm = HarnessPluginManager()
    pm.plugin_args = tuple(plugin_args or ())
    load, block = parse_plugin_args(plugin_args or [])
    for name in block:
        if name in ESSENTIAL:
            raise UsageError(f"-p no:{name}: {name!r} is essential to harness and cannot be blocked "
                             f"(essential: {', '.join(ESSENTIAL)})")
        pm.set_blocked(name)
    _load_builtins(pm)
    for plugin, name in extra or []:
        pm.register_plugin(plugin, PluginOrigin(name=name, how="object", where=name))
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    pm.autoload, pm.cwd = autoload, cwd
    if autoload:
        _load_entry_points(pm)
    for module_name in load:
        _import_module_plugin(pm, module_name)
    local = (cwd or Path.cwd()) / LOCAL_PLUGIN_FILE
    if local.is_file() and not pm.is_blocked("harness_plugins"):
        _load_local_file(pm, local)
    pm.check_pending()
    return pm
