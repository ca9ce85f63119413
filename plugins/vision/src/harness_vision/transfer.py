"""Models built on a ``keras.applications`` base: ImageNet weights, a local weights file, or from scratch.

The ``weights`` parameter is ``"imagenet"`` (downloaded by Keras into ``~/.keras/models``; when that cannot
be done, a :class:`~harness.DataError` says how to do without), ``"none"`` (or ``None``: random
initialization; the whole model trains) or the path of a weights file for the base alone
(``.weights.h5`` from ``base.save_weights`` or a Keras ``..._notop.h5`` file). With pretrained weights the
base is frozen and runs in inference mode; :func:`fine_tune` unfreezes its top layers for a second phase.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness import DataError, ModelRequest, UsageError
from harness_vision._params import check_known, number, text, whole
from harness_vision.archive import failure_cause
from harness_vision.cnn import TRAINER_PARAMS

#: Parameters every transfer model takes, besides the trainer's.
COMMON_PARAMS = ("weights", "dropout", "fine_tune_layers")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, shortened."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_weights(base: Any, weights: str, owner: str) -> None:
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UsageError(f"{owner}: weights file {path} does not exist (weights is 'imagenet', 'none' or a path)")
    try:
        with warnings.catch_warnings():
            # On a partial match Keras only warns and keeps random weights for the rest: refuse that too.
            warnings.simplefilter("error", UserWarning)
            base.load_weights(str(path))
    except (ValueError, OSError, KeyError, UserWarning) as exc:
        raise UsageError(f"{owner}: cannot load weights from {path}: {_one_line(exc)}") from None


def _weights(params: Mapping[str, Any], owner: str) -> str:
    """The ``weights`` parameter: ``"imagenet"``, ``"none"`` (also ``None``, from Python) or a file's path."""
    value = params["weights"]
    if value is None:
        return "none"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return text(params, "weights", owner)


def _base(application: Callable[..., Any], request: ModelRequest, owner: str, **kwargs: Any) -> Any:
    """The application without its top, with the weights the ``weights`` parameter names. ImageNet weights
    that cannot be downloaded are a :class:`~harness.DataError` that says how to do without them."""
    weights = _weights(request.params, owner)
    try:
        base = application(input_shape=request.input_shape, include_top=False,
                           weights="imagenet" if weights == "imagenet" else None, **kwargs)
    except ValueError as exc:
        raise UsageError(f"{owner}: {_one_line(exc)}") from None
    except Exception as exc:  # Keras's get_file raises a bare Exception when the weights cannot be fetched
        if weights != "imagenet":
            raise
        name = owner.split()[-1]
        raise DataError(f"{owner}: cannot download the ImageNet weights ({failure_cause(exc)}): train from "
                        f"scratch with --set {name}.weights=none, or give a weights file with --set "
                        f"{name}.weights=PATH") from None
    if weights not in ("imagenet", "none"):
        _load_weights(base, weights, owner)
    if weights == "none":
        _fast_batch_norm(base)
    return base


#: Batch-norm momentum for a base trained from scratch. Keras applications use 0.999, whose moving
#: statistics need thousands of steps to settle: after a few epochs on a small dataset the model predicts
#: one class at inference (seen on cats_and_dogs: validation accuracy stuck at the baseline).
SCRATCH_BATCH_NORM_MOMENTUM = 0.9


def _fast_batch_norm(base: Any) -> None:
    from keras import layers

    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = SCRATCH_BATCH_NORM_MOMENTUM


def _pretrained(params: Mapping[str, Any]) -> bool:
    return params["weights"] not in ("none", None)


def _with_head(base: Any, request: ModelRequest, owner: str, name: str) -> Any:
    """Base -> global max pooling -> dropout -> dense logits; a pretrained base is frozen, in inference mode."""
    import keras
    from keras import layers

    whole(request.params, "fine_tune_layers", owner, low=1)  # checked now, not after a first training phase
    pretrained = _pretrained(request.params)
    base.trainable = not pretrained
    inputs = keras.Input(shape=request.input_shape)
    x = base(inputs, training=False) if pretrained else base(inputs)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dropout(number(request.params, "dropout", owner, low=0.0, high=0.99))(x)
    outputs = layers.Dense(request.num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


def mobilenet_v2(request: ModelRequest) -> Any:
    """MobileNetV2 (inputs in [-1, 1]) with a global-max-pooling head: the study's transfer model."""
    import keras

    owner = "model mobilenet_v2"
    check_known(request.params, (*COMMON_PARAMS, "alpha", *TRAINER_PARAMS), owner)
    alpha = number(request.params, "alpha", owner, low=0.01, high=10.0)
    base = _base(keras.applications.MobileNetV2, request, owner, alpha=alpha)
    return _with_head(base, request, owner, "mobilenet_v2")


def efficientnet_b0(request: ModelRequest) -> Any:
    """EfficientNetB0 (inputs in 0-255, it rescales and normalizes itself) with a global-max-pooling head."""
    import keras

    owner = "model efficientnet_b0"
    check_known(request.params, (*COMMON_PARAMS, *TRAINER_PARAMS), owner)
    base = _base(keras.applications.EfficientNetB0, request, owner)
    return _with_head(base, request, owner, "efficientnet_b0")


def features(body: Any) -> tuple[Any, Any] | None:
    """The split for feature caching (``ModelSpec.features``): the frozen base with its global pooling, and
    the head (dropout, dense) on the pooled features; ``None`` when the base trains (``weights = "none"``)."""
    import keras

    base = base_of(body)
    if base.trainable:
        return None
    layers = body.layers
    position = layers.index(base)
    pooling = layers[position + 1]
    front = keras.Sequential([keras.Input(shape=base.input_shape[1:]), base, pooling], name=f"{body.name}_front")
    pooled = keras.Input(shape=pooling.output.shape[1:], name="pooled")
    x = pooled
    for layer in layers[position + 2:]:
        x = layer(x)
    return front, keras.Model(pooled, x, name=f"{body.name}_head")


def base_of(body: Any) -> Any:
    """The application base inside a model that :func:`_with_head` built (its only nested model)."""
    import keras

    return next(layer for layer in body.layers if isinstance(layer, keras.Model))


def fine_tune(body: Any, params: Mapping[str, Any]) -> None:
    """Unfreeze the top ``fine_tune_layers`` layers of a pretrained base, batch norm layers excepted.

    Batch norm layers stay frozen (and the base stays in inference mode) so that a small dataset does not
    wreck the ImageNet statistics. A base trained from scratch (``weights = "none"``) is left as it is:
    it is already trainable.
    """
    if not _pretrained(params):
        return
    from keras import layers

    count = int(params["fine_tune_layers"])
    base = base_of(body)
    base.trainable = True
    for position, layer in enumerate(base.layers):
        in_top = position >= len(base.layers) - count
        layer.trainable = in_top and not isinstance(layer, layers.BatchNormalization)
