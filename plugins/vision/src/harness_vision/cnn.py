"""Models trained from scratch: the study's small CNN and a compact residual network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness import TRAINER_PARAMS, ModelRequest, UsageError
from harness_vision._params import check_known, number, whole


def small_cnn(request: ModelRequest) -> Any:
    """The study's model: three 3x3 convolutions (32, 32, 64) with max pooling, a 64-unit dense layer, logits."""
    import keras
    from keras import layers

    owner = "model small_cnn"
    check_known(request.params, ("dropout", *TRAINER_PARAMS), owner)
    inputs = keras.Input(shape=request.input_shape)
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(number(request.params, "dropout", owner, low=0.0, high=0.99))(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(request.num_classes)(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _conv_bn(x: Any, filters: int, kernel: int, stride: int, *, relu: bool) -> Any:
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def _residual_block(x: Any, filters: int, stride: int) -> Any:
    """Two 3x3 convolutions with batch norm, added to the input (projected when its shape changes)."""
    from keras import layers

    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, relu=False)
    y = _conv_bn(x, filters, 3, stride, relu=True)
    y = _conv_bn(y, filters, 3, 1, relu=False)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def _widths(params: Mapping[str, Any], owner: str) -> list[int]:
    widths = params["widths"]
    if not isinstance(widths, (list, tuple)) or not widths or not all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths
    ):
        raise UsageError(f"{owner}: parameter widths={widths!r} is invalid: expected a list of positive whole numbers")
    return list(widths)


def resnet_small(request: ModelRequest) -> Any:
    """A compact ResNet: a strided stem, then one stage per width (halving the size after the first)."""
    import keras
    from keras import layers

    owner = "model resnet_small"
    params = request.params
    check_known(params, ("widths", "blocks_per_stage", "dropout", *TRAINER_PARAMS), owner)
    widths = _widths(params, owner)
    blocks = whole(params, "blocks_per_stage", owner, low=1)
    inputs = keras.Input(shape=request.input_shape)
    x = _conv_bn(inputs, widths[0], 3, 2, relu=True)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, filters in enumerate(widths):
        for block in range(blocks):
            x = _residual_block(x, filters, stride=2 if stage > 0 and block == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(number(params, "dropout", owner, low=0.0, high=0.99))(x)
    outputs = layers.Dense(request.num_classes)(x)
    return keras.Model(inputs, outputs, name="resnet_small")
