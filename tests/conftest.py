"""Shared fixtures. The ``harness_tester`` fixture comes from harness's testing kit, loaded here (opt-in, as
pytest's own ``pytester`` is)."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["harness.testing"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY_MODEL_PLUGIN = '''
import harness

def build(request):
    import keras
    return keras.Sequential([
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(request.num_classes),
    ])

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=build, description="a tiny CNN for tests", input_range="0-1",
                              params={"learning_rate": 0.01})]
'''


@pytest.fixture
def tiny_model_plugin() -> str:
    """Source of a plugin module that registers the ``tiny`` model."""
    return TINY_MODEL_PLUGIN
