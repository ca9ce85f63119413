"""Contract tests over every registered dataset, augmentation and model: a plugin is tested the day it installs.

Models must build for a small input and return logits of the right shape; augmentations must keep the
shape and the 0-255 range and do nothing at inference; datasets that need no download or path must load.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from harness.cli import make_config
from harness.registry import build_registry


def _registry():
    with tempfile.TemporaryDirectory() as cwd:
        return build_registry(make_config(["list"], Path(cwd)))


REGISTRY = _registry()


def test_spec_metadata_is_complete() -> None:
    for kind in ("datasets", "augmentations", "models"):
        for spec in REGISTRY.of_kind(kind).values():
            assert spec.description, f"{kind[:-1]} {spec.name} has no description"
            assert spec.package, f"{kind[:-1]} {spec.name} has no package"


@pytest.mark.parametrize("name", sorted(REGISTRY.models))
def test_model_builds_and_returns_logits(name: str) -> None:
    import keras

    import harness

    spec = REGISTRY.models[name]
    params = dict(spec.params)
    if "weights" in params:
        params["weights"] = "none"  # no downloads in tests
    side = max(32, spec.min_image_size)
    channels = spec.channels or 3
    keras.backend.clear_session()
    model = spec.factory(harness.ModelRequest(input_shape=(side, side, channels), num_classes=3, params=params, seed=1))
    low, high = harness.specs.VALUE_RANGES[spec.input_range]
    x = np.random.default_rng(0).uniform(low, high, size=(2, side, side, channels)).astype("float32")
    logits = np.asarray(model(x, training=False))
    assert logits.shape == (2, 3)
    assert np.all(np.isfinite(logits))


@pytest.mark.parametrize("name", sorted(REGISTRY.augmentations))
def test_augmentation_keeps_shape_and_range_and_is_identity_at_inference(name: str) -> None:
    spec = REGISTRY.augmentations[name]
    layer = spec.factory(dict(spec.params))
    if layer is None:
        return
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 24, 24, 3)).astype("float32")
    trained = np.asarray(layer(x, training=True))
    assert trained.shape == x.shape
    assert trained.min() >= -1e-3 and trained.max() <= 255.0 + 1e-3
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), x, atol=1e-4)


#: Datasets that need a download or files the user points at are tested by their own plugin's tests.
LOADABLE = sorted(n for n, s in REGISTRY.datasets.items() if not s.tags & {"download", "user-data"})


@pytest.mark.parametrize("name", LOADABLE)
def test_dataset_loads_with_consistent_shapes(name: str, tmp_path: Path) -> None:
    from harness.data.prepare import prepare
    from harness.specs import DatasetRequest

    spec = REGISTRY.datasets[name]
    request = DatasetRequest(params=dict(spec.params), data_dir=None, cache_dir=str(tmp_path), seed=1,
                             image_size=spec.image_size, channels=spec.channels)
    data = prepare(spec, request, split_seed=1)
    for split, (x, y) in data.arrays.items():
        assert x.shape[1:] == (*spec.image_size, spec.channels), split
        assert x.dtype == np.uint8 and len(x) == len(y) > 0
    assert 0.0 < data.info["baseline_accuracy"] < 1.0
