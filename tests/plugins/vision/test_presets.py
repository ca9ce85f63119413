"""The presets plugin, and the package's entry points: every module loads as a plugin of the contract."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from harness_vision import augmentations, datasets, models, presets

from harness.pluginmanager import HarnessPluginManager, PluginOrigin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = Path(__file__).parents[3] / "plugins" / "vision" / "pyproject.toml"


def test_entry_points_are_plugins_of_the_hook_contract():
    entry_points = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["harness"]
    pm = HarnessPluginManager()

    for name, module in entry_points.items():
        pm.register_plugin(importlib.import_module(module), PluginOrigin(name, "entry point", module))
    pm.check_pending()

    assert set(entry_points) == {"vision-datasets", "vision-augmentations", "vision-models", "vision-presets"}


def test_seed_preset_is_the_study_and_names_registered_parts():
    seed = presets.harness_presets_register(config=None)["seed"]
    registered = {
        "dataset": {spec.name for spec in datasets.harness_datasets_register(config=None)},
        "augmentation": {spec.name for spec in augmentations.harness_augmentations_register(config=None)} | {"none"},
        "model": {spec.name for spec in models.harness_models_register(config=None)},
    }

    assert seed == {"dataset": ["cats_and_dogs"], "augmentation": ["none", "flip_rotate"],
                    "model": ["small_cnn", "small_cnn_scaled", "mobilenet_v2"], "epochs": 20}
    for key, names in registered.items():
        assert set(seed[key]) <= names


def test_presets_are_fresh_copies():
    presets.harness_presets_register(config=None)["seed"]["model"].append("x")

    assert "x" not in presets.harness_presets_register(config=None)["seed"]["model"]
