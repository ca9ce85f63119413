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
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, cast

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
    ("commands", "harness.commands.builtin"),
)
#: Built-ins that ``-p no:NAME`` may not block: without them ``harness run`` cannot work.
ESSENTIAL: tuple[str, ...] = ("core", "engine", "commands")


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
        #: The exceptions :meth:`call_attributed` saw come out of a plugin, by id, with that plugin.
        self._failures: dict[int, tuple[BaseException, PluginOrigin]] = {}

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

    def call_attributed(self, caller: pluggy.HookCaller, *,
                        per_plugin: Callable[[PluginOrigin], Mapping[str, Any]] | None = None,
                        **kwargs: Any) -> list[tuple[PluginOrigin, Any]]:
        """Call each implementation of a hook and return its result with the plugin that returned it, in
        pluggy's call order (last registered first, ``tryfirst``/``trylast`` respected).

        The loop is pluggy's own ``_multicall``, written out here so that it knows whom it calls: each
        implementation of ``caller.get_hookimpls()`` is called with its ``argnames`` from ``kwargs`` (and from
        ``per_plugin(origin)``, arguments made for that plugin: its own option parser, its own command
        registration), and credited to ``impl.plugin_name``. No pluggy object is changed, no frame is read, no
        profile or trace function is set (``python -m cProfile`` sees the calls as they are).

        ``wrapper=True`` implementations run around the loop as pluggy runs them: they see the list of results
        and may return another; a result a wrapper adds is credited to it. Old-style ``hookwrapper=True``
        implementations are refused (:class:`PluginError`): their ``Result`` object has no owner to credit.
        pluggy's hook-call tracing and monitoring do not see this call. An exception propagates with a note
        naming the plugin it came out of, which :meth:`culprit` also returns.
        """
        impls = caller.get_hookimpls()
        self._refuse_old_style_wrappers(caller, impls)
        results: list[tuple[HookImpl, Any]] = []
        teardowns: list[tuple[HookImpl, Generator[None, Any, Any]]] = []
        exception: BaseException | None = None
        current: HookImpl | None = None
        try:
            for impl in reversed(impls):
                current = impl
                args = self._arguments(impl, kwargs, per_plugin)
                if impl.wrapper:
                    teardowns.append((impl, _first_yield(impl, args)))
                    continue
                value = impl.function(*args)
                if value is not None:
                    results.append((impl, value))
        except BaseException as exc:
            exception = self._blame(caller, current, exc)
        for wrapper, teardown in reversed(teardowns):
            results, exception = self._unwrap(caller, wrapper, teardown, results, exception)
        if exception is not None:
            raise exception
        return [(self.origin_of(impl.plugin), value) for impl, value in results]

    def _refuse_old_style_wrappers(self, caller: pluggy.HookCaller, impls: list[HookImpl]) -> None:
        for impl in impls:
            if impl.hookwrapper:
                raise PluginError(f"{self.origin_of(impl.plugin).describe()}: {caller.name}: an old-style "
                                  "hookwrapper=True cannot wrap a registration hook; use wrapper=True")

    def _arguments(self, impl: HookImpl, kwargs: Mapping[str, Any],
                   per_plugin: Callable[[PluginOrigin], Mapping[str, Any]] | None) -> list[Any]:
        """The arguments of one implementation, by its ``argnames``, as ``_multicall`` takes them."""
        given = {**kwargs, **per_plugin(self.origin_of(impl.plugin))} if per_plugin is not None else kwargs
        try:
            return [given[name] for name in impl.argnames]
        except KeyError as exc:
            raise pluggy.HookCallError(f"hook call must provide argument {exc.args[0]!r}") from None

    def _unwrap(self, caller: pluggy.HookCaller, wrapper: HookImpl, teardown: Generator[None, Any, Any],
                results: list[tuple[HookImpl, Any]], exception: BaseException | None
                ) -> tuple[list[tuple[HookImpl, Any]], BaseException | None]:
        """A wrapper's part after its ``yield``: it gets the results (or the exception) and returns the results
        it keeps; each is credited to the plugin that returned it, a new one to the wrapper."""
        try:
            if exception is not None:
                teardown.throw(exception)
            else:
                teardown.send([value for _, value in results])
            teardown.close()
        except StopIteration as stop:
            owners = {id(value): impl for impl, value in results}
            returned = stop.value if isinstance(stop.value, list) else []
            return [(owners.get(id(value), wrapper), value) for value in returned if value is not None], None
        except BaseException as exc:
            return results, self._blame(caller, wrapper, exc) if exc is not exception else exc
        raise PluginError(f"{self.origin_of(wrapper.plugin).describe()}: {caller.name}: its wrapper yields twice")

    def _blame(self, caller: pluggy.HookCaller, impl: HookImpl | None, exc: BaseException) -> BaseException:
        """Note on ``exc`` the plugin that raised it (the implementation the loop was calling)."""
        if impl is None or not isinstance(exc, Exception) or id(exc) in self._failures:
            return exc
        origin = self.origin_of(impl.plugin)
        if len(self._failures) >= 32:  # the latest are enough: a caller asks about the one it just caught
            del self._failures[next(iter(self._failures))]
        self._failures[id(exc)] = (exc, origin)
        if hasattr(exc, "add_note"):
            exc.add_note(f"raised by {origin.describe()} in {caller.name}")
        return exc

    def culprit(self, caller: pluggy.HookCaller, exc: BaseException) -> PluginOrigin | None:
        """The plugin whose implementation of a hook raised ``exc`` in :meth:`call_attributed`, or ``None``."""
        found = self._failures.get(id(exc))
        return found[1] if found is not None and found[0] is exc else None


def _first_yield(impl: HookImpl, args: list[Any]) -> Generator[None, Any, Any]:
    """A ``wrapper=True`` implementation, run to its ``yield``."""
    generator = cast("Generator[None, Any, Any]", impl.function(*args))
    try:
        next(generator)
    except StopIteration:
        raise PluginError(f"plugin {impl.plugin_name!r}: its wrapper of a registration hook did not yield") from None
    return generator


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
