"""Contract tests over every registered dataset, augmentation and model: a plugin is tested the day it installs.

The checks themselves are harness's testing kit (:mod:`harness.testing`), which a plugin package runs over
its own specs; below, they also fail on specs that break the contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.testing import (
    check_augmentation_spec,
    check_dataset_spec,
    check_model_spec,
    check_spec_metadata,
    registered_specs,
)

SPECS = registered_specs()
ALL = [spec for kind in ("datasets", "augmentations", "models") for spec in SPECS[kind]]
#: Datasets that need a download or files the user points at are tested by their own plugin's tests.
LOADABLE = [s for s in SPECS["datasets"] if not s.tags & {"download", "user-data"}]


def _name(spec) -> str:
    return spec.name


@pytest.mark.parametrize("spec", ALL, ids=lambda s: f"{s.kind}-{s.name}")
def test_spec_metadata_is_complete(spec) -> None:
    check_spec_metadata(spec)


@pytest.mark.parametrize("spec", SPECS["models"], ids=_name)
def test_model_builds_and_returns_logits(spec) -> None:
    check_model_spec(spec)


@pytest.mark.parametrize("spec", SPECS["augmentations"], ids=_name)
def test_augmentation_keeps_shape_and_range_and_is_identity_at_inference(spec) -> None:
    check_augmentation_spec(spec)


@pytest.mark.parametrize("spec", LOADABLE, ids=_name)
def test_dataset_loads_with_consistent_shapes(spec, tmp_path: Path) -> None:
    check_dataset_spec(spec, tmp_path)


# -------------------------------------------------------------------------------------------------
# The checks refuse what breaks the contract
# -------------------------------------------------------------------------------------------------


def _dense(request):
    import keras

    inputs = keras.Input(request.input_shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(request.num_classes)(x))


def _one_logit(request):
    import keras

    return keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])


def _split_trainable(model):
    """A wrong split: its front part (the whole model) has trainable weights."""
    import keras

    features = keras.Input(model.output.shape[1:])
    return model, keras.Model(features, features)


def _split_wrong_head(model):
    """A frozen front part, but a head that is not the model's: head(extractor(x)) != model(x)."""
    import keras

    pooling = model.layers[1]
    features = keras.Input(pooling.output.shape[1:])
    front = keras.Model(model.input, pooling.output)
    return front, keras.Model(features, keras.layers.Dense(model.output.shape[-1])(features))


def _split_right(model):
    import keras

    pooling = model.layers[1]
    features = keras.Input(pooling.output.shape[1:])
    return keras.Model(model.input, pooling.output), keras.Model(features, model.layers[2](features))


def test_model_check_refuses_wrong_logits() -> None:
    with pytest.raises(AssertionError, match=r"model 'one': logits of shape \(2, 1\)"):
        check_model_spec(harness.ModelSpec(name="one", factory=_one_logit))


def test_model_check_holds_the_features_rule() -> None:
    check_model_spec(harness.ModelSpec(name="split", factory=_dense, features=_split_right))
    with pytest.raises(AssertionError, match="frozen part of its features split has trainable weights"):
        check_model_spec(harness.ModelSpec(name="leaky", factory=_dense, features=_split_trainable))
    with pytest.raises(AssertionError, match=r"head\(extractor\(x\)\) differs from model\(x\)"):
        check_model_spec(harness.ModelSpec(name="other_head", factory=_dense, features=_split_wrong_head))


def _shrink(params):
    import keras

    return keras.layers.Resizing(12, 12)


def _double(params):
    import keras

    return keras.layers.Rescaling(2.0)


def test_augmentation_check_refuses_shape_and_range_changes() -> None:
    with pytest.raises(AssertionError, match="augmentation 'shrink': shape"):
        check_augmentation_spec(harness.AugmentationSpec(name="shrink", factory=_shrink))
    with pytest.raises(AssertionError, match="augmentation 'double': values outside 0-255"):
        check_augmentation_spec(harness.AugmentationSpec(name="double", factory=_double))


def test_metadata_check_names_the_spec() -> None:
    with pytest.raises(AssertionError, match="model 'bare' has no description"):
        check_spec_metadata(harness.ModelSpec(name="bare", factory=_dense))
