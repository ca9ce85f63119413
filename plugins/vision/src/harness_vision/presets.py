"""Presets: named sets of options for ``harness run --preset NAME``."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import harness

if TYPE_CHECKING:
    from harness import Config

#: The original study: cats and dogs, no augmentation vs flip + rotation, its three models, 20 epochs.
SEED = {
    "dataset": ["cats_and_dogs"],
    "augmentation": ["none", "flip_rotate"],
    "model": ["small_cnn", "small_cnn_scaled", "mobilenet_v2"],
    "epochs": 20,
}


@harness.hookimpl
def harness_presets_register(config: Config) -> dict[str, dict[str, Any]]:
    return {"seed": copy.deepcopy(SEED)}
