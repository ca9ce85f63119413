"""The registry: every dataset, augmentation, model and preset the plugins contribute, by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import PluginError, UsageError
from harness.specs import AugmentationSpec, DatasetSpec, ModelSpec

if TYPE_CHECKING:
    from harness.config import Config
    from harness.pluginmanager import PluginOrigin

S = TypeVar("S", DatasetSpec, AugmentationSpec, ModelSpec)

KINDS: dict[str, tuple[str, Any]] = {
    "datasets": ("harness_datasets_register", DatasetSpec),
    "augmentations": ("harness_augmentations_register", AugmentationSpec),
    "models": ("harness_models_register", ModelSpec),
}
#: Spec fields that a table in configuration may set directly; every other key is a parameter.
SPEC_FIELDS = ("description", "tags", "image_size", "channels", "num_classes", "input_range", "min_image_size")


@dataclass
class Registry:
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    augmentations: dict[str, AugmentationSpec] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> dict[str, Any]:
        return getattr(self, kind)  # type: ignore[no-any-return]


def contributions(config: Config, hook_name: str) -> list[tuple[PluginOrigin, Any]]:
    """Each plugin's contribution to a registration hook, with its origin, in the plugins' order of
    registration (harness's own first): the reverse of pluggy's call order. A hook that raises is a bug in
    its plugin: the exception propagates (an internal error, with its traceback and the plugin named)."""
    pm = config.pluginmanager
    return list(reversed(pm.call_attributed(getattr(pm.hook, hook_name), config=config)))


def collect_specs(config: Config, kind: str) -> dict[str, Any]:
    hook_name, spec_type = KINDS[kind]
    specs: dict[str, Any] = {}
    for origin, result in contributions(config, hook_name):
        if isinstance(result, spec_type):
            result = [result]
        if not isinstance(result, (list, tuple)):
            raise PluginError(f"{origin.describe()}: {hook_name} returned {result!r}, expected a list of "
                              f"{spec_type.__name__} objects")
        for spec in result:
            if not isinstance(spec, spec_type):
                raise PluginError(
                    f"{origin.describe()}: {hook_name} returned {spec!r}, expected {spec_type.__name__} objects"
                )
            spec = dataclasses.replace(spec, plugin=origin.name, package=origin.package)
            if spec.name in specs:
                first = specs[spec.name]
                raise PluginError(
                    f"{spec_type.kind} {spec.name!r} is registered twice: by plugin {first.plugin!r} "
                    f"(package {first.package}) and by plugin {spec.plugin!r} (package {spec.package})"
                )
            specs[spec.name] = spec
    return specs


def check_params(spec: S, keys: Iterable[str], where: str) -> None:
    """Refuse a parameter ``spec`` does not declare (a misspelt ``dropuot``) when collecting, with the
    closest names, rather than after its combinations trained."""
    import difflib

    accepted = spec.accepted_params()
    for key in keys:
        if key in accepted or key in SPEC_FIELDS:
            continue
        close = difflib.get_close_matches(key, sorted(accepted), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"{where}: {spec.kind} {spec.name!r} has no parameter {key!r}{hint} "
                         f"(its parameters: {', '.join(sorted(accepted)) or 'none'})")


def derive(base: S, name: str, table: dict[str, Any], where: str) -> S:
    """A spec defined in configuration from a registered one: spec fields are set, other keys are params."""
    # A defined dataset has its data: it is no longer a template waiting for a path.
    fields: dict[str, Any] = {"name": name, "plugin": f"{base.plugin} ({where})", "tags": base.tags - {"user-data"}}
    params = dict(base.params)
    check_params(base, (key for key in table if key != "plugin"), where)
    for key, value in table.items():
        if key == "plugin":
            continue
        if key in SPEC_FIELDS and hasattr(base, key):
            fields[key] = tuple(value) if key == "image_size" else value
            if key not in base.params:
                continue
        params[key] = value
    fields["params"] = params
    if "description" not in fields:
        fields["description"] = f"{base.description} (from {where})".strip()
    try:
        return dataclasses.replace(base, **fields)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {base.kind} {name!r}: {exc}") from None


def add_configured(config: Config, registry: Registry) -> None:
    """Add the datasets, augmentations and models that ``[tool.harness.datasets.NAME]`` tables define."""
    for kind in KINDS:
        specs = registry.of_kind(kind)
        for name, table in config.table(kind).items():
            where = f"{config.file.label} {kind}.{name}"
            if not isinstance(table, dict) or "plugin" not in table:
                raise UsageError(f"{where}: needs a 'plugin' key naming the {kind[:-1]} it is built from")
            base_name = table["plugin"]
            if base_name not in specs:
                from harness.config import _unknown

                raise UsageError(f"{where}: " + _unknown(kind[:-1], str(base_name), specs))
            if name in specs:
                raise UsageError(f"{where}: {kind[:-1]} {name!r} already exists (from plugin {specs[name].plugin!r})")
            specs[name] = derive(specs[base_name], name, table, where)


def collect_presets(config: Config) -> dict[str, dict[str, Any]]:
    """The plugins' presets, then the configuration file's; where each comes from (its plugin's package, or
    the file) goes to ``config.preset_origins``."""
    presets: dict[str, dict[str, Any]] = {}
    for origin, result in contributions(config, "harness_presets_register"):
        if not isinstance(result, dict):
            raise PluginError(f"{origin.describe()}: harness_presets_register returned {result!r}, expected a "
                              "dict of presets by name")
        presets.update(result)
        config.preset_origins.update(dict.fromkeys(result, origin.package))
    presets.update(config.table("presets"))
    config.preset_origins.update(dict.fromkeys(config.table("presets"), config.file.label))
    return presets


def apply_params(config: Config, registry: Registry) -> None:
    """Apply parameter overrides (files, preset, ``--set``) to every spec, refusing unknown names."""
    overrides: dict[str, dict[str, Any]] = {}
    for name, values in config.table("params").items():
        overrides.setdefault(name, {}).update(values)
    options = config.options  # `harness report` builds a registry too: it has no --set and no preset
    for name, values in options.get("preset_params", {}).items():
        overrides.setdefault(name, {}).update(values)
    for name, key, value in options.get("settings", []):
        overrides.setdefault(name, {})[key] = value
    for name, values in overrides.items():
        owners = [kind for kind in KINDS if name in registry.of_kind(kind)]
        if not owners:
            everything = {n: None for kind in KINDS for n in registry.of_kind(kind)}
            from harness.config import _unknown

            raise UsageError("--set/params: " + _unknown("dataset, augmentation or model", name, everything))
        for kind in owners:
            specs = registry.of_kind(kind)
            if len(owners) == 1:  # a name shared by two kinds takes the parameters of either
                check_params(specs[name], values, f"--set/params {name}")
            specs[name] = derive_params(specs[name], values)


def derive_params(spec: S, values: dict[str, Any]) -> S:
    """``spec`` with ``values`` applied: a spec field (``image_size``...) sets the field, and the parameter too
    when the spec also has one of that name (``synthetic``'s ``num_classes``); everything else is a parameter."""
    params = dict(spec.params)
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if key in SPEC_FIELDS:
            if not hasattr(spec, key):
                raise UsageError(f"--set/params: {spec.kind} {spec.name!r} has no {key!r} to set")
            fields[key] = tuple(value) if key == "image_size" else value
            if key not in spec.params:
                continue
        params[key] = value
    fields["params"] = params
    try:
        return dataclasses.replace(spec, **fields)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--set/params: {spec.kind} {spec.name!r}: {exc}") from None


def build_registry(config: Config) -> Registry:
    registry = Registry(presets=config.presets)
    for kind in KINDS:
        setattr(registry, kind, collect_specs(config, kind))
    add_configured(config, registry)
    apply_params(config, registry)
    return registry
