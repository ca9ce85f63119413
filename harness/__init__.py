"""harness: a plugin-based, pytest-style benchmarking harness for image classification.

Importing this package is cheap: it never imports TensorFlow or matplotlib.
"""

from __future__ import annotations

import pluggy

from harness.errors import DataError, ExitCode, PluginError, UsageError
from harness.specs import (
    AugmentationSpec,
    Budget,
    Combination,
    DatasetRequest,
    DatasetSpec,
    ModelRequest,
    ModelSpec,
)

__version__ = "0.1.0"

#: Marker for hook implementations: ``@harness.hookimpl def harness_models_register(config): ...``
hookimpl = pluggy.HookimplMarker("harness")

__all__ = [
    "AugmentationSpec",
    "Budget",
    "Combination",
    "DataError",
    "DatasetRequest",
    "DatasetSpec",
    "ExitCode",
    "ModelRequest",
    "ModelSpec",
    "PluginError",
    "UsageError",
    "__version__",
    "hookimpl",
]
