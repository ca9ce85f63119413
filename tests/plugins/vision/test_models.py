"""The models plugin: every model builds and maps small images to logits; the weights options of the
transfer models (none, a local weights file, fine-tuning) work without internet."""

from __future__ import annotations

import numpy as np
import pytest
from harness_vision import models, transfer

from harness import ModelRequest, UsageError

#: Keras (TF backend) warns from inside its own weight handling under numpy 2; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SPECS = {spec.name: spec for spec in models.harness_models_register(config=None)}
SHAPE = (32, 32, 3)
#: Transfer models built from scratch, so that no test downloads ImageNet weights.
OFFLINE = {"mobilenet_v2": {"weights": "none"}, "efficientnet_b0": {"weights": "none"}}


def request(name: str, shape: tuple[int, int, int] = SHAPE, num_classes: int = 3, **params) -> ModelRequest:
    return ModelRequest(input_shape=shape, num_classes=num_classes,
                        params={**SPECS[name].params, **OFFLINE.get(name, {}), **params}, seed=1)


def pixels(spec_name: str, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Two random images in the model's declared input range."""
    low, high = {"0-255": (0, 255), "0-1": (0, 1), "-1-1": (-1, 1)}[SPECS[spec_name].input_range]
    return np.random.default_rng(0).uniform(low, high, size=(2, *shape)).astype("float32")


def to_numpy(tensor) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(tensor)


def test_the_studys_models_are_registered_with_their_input_ranges():
    ranges = {name: spec.input_range for name, spec in SPECS.items()}
    assert ranges["small_cnn"] == "0-255" and ranges["small_cnn_scaled"] == "-1-1"
    assert ranges["mobilenet_v2"] == "-1-1"
    assert SPECS["mobilenet_v2"].params["learning_rate"] == 1e-4
    assert {"pretrained", "slow"} <= SPECS["mobilenet_v2"].tags


#: The ImageNet architectures take seconds to build: tests/test_contract.py builds them in the default run.
HEAVY = {"mobilenet_v2", "efficientnet_b0"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in HEAVY else name
                                  for name in sorted(SPECS)])
def test_model_maps_images_to_logits(name):
    model = SPECS[name].factory(request(name))

    logits = to_numpy(model(pixels(name), training=False))

    assert logits.shape == (2, 3)
    assert np.all(np.isfinite(logits))
    assert SPECS[name].description and "\n" not in SPECS[name].description


@pytest.mark.parametrize("name", ["small_cnn", "resnet_small"])
def test_scratch_model_builds_at_its_minimum_size(name):
    side = SPECS[name].min_image_size
    model = SPECS[name].factory(request(name, shape=(side, side, 1), num_classes=2))

    assert to_numpy(model(pixels(name, (side, side, 1)))).shape == (2, 2)


def test_small_cnn_is_the_studys_architecture():
    model = SPECS["small_cnn"].factory(request("small_cnn", shape=(160, 160, 3), num_classes=2))

    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dropout", "Dense",
                     "Dense"]
    assert [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"] == [32, 32, 64]
    assert model.layers[-2].units == 64 and model.layers[-1].activation.__name__ == "linear"


@pytest.fixture(scope="module")
def scratch_mobilenet():
    """A MobileNetV2 built from scratch (``weights=none``), shared by the tests that only look at it."""
    return SPECS["mobilenet_v2"].factory(request("mobilenet_v2"))


def test_mobilenet_v2_from_scratch_trains_its_base(scratch_mobilenet):
    base = transfer.base_of(scratch_mobilenet)

    assert base.trainable and len(base.trainable_weights) > 0


def test_mobilenet_v2_from_scratch_uses_fast_batch_norm_statistics(scratch_mobilenet):
    import keras

    norms = [layer for layer in transfer.base_of(scratch_mobilenet).layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == transfer.SCRATCH_BATCH_NORM_MOMENTUM for layer in norms)


@pytest.fixture(scope="module")
def mobilenet_weights(tmp_path_factory):
    """A weights file for MobileNetV2's base, as a user's pre-downloaded ImageNet file would be."""
    import keras

    base = keras.applications.MobileNetV2(input_shape=SHAPE, include_top=False, weights=None)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_base.weights.h5"
    base.save_weights(str(path))
    return path, base.get_weights()


def test_mobilenet_v2_loads_a_local_weights_file_and_freezes_its_base(mobilenet_weights):
    path, saved = mobilenet_weights

    model = SPECS["mobilenet_v2"].factory(request("mobilenet_v2", weights=str(path)))

    base = transfer.base_of(model)
    assert not base.trainable
    for loaded, expected in zip(base.get_weights(), saved):
        np.testing.assert_array_equal(loaded, expected)
    assert to_numpy(model(pixels("mobilenet_v2"))).shape == (2, 3)


def test_a_frozen_mobilenet_v2_splits_into_cached_features_and_a_head_that_shares_its_weights(mobilenet_weights):
    model = SPECS["mobilenet_v2"].factory(request("mobilenet_v2", weights=str(mobilenet_weights[0])))

    front, head = SPECS["mobilenet_v2"].features(model)

    assert not front.trainable_weights
    assert {id(w) for w in head.trainable_weights} == {id(w) for w in model.trainable_weights}
    images = pixels("mobilenet_v2")
    features = to_numpy(front(images, training=False))
    assert features.shape == (2, 1280)  # pooled: what is cached per image
    np.testing.assert_allclose(to_numpy(head(features, training=False)), to_numpy(model(images, training=False)),
                               rtol=1e-5, atol=1e-5)


def test_a_mobilenet_v2_trained_from_scratch_is_not_split(scratch_mobilenet):
    assert SPECS["mobilenet_v2"].features(scratch_mobilenet) is None


def test_fine_tune_unfreezes_the_top_layers_but_not_batch_norm(mobilenet_weights):
    params = {**SPECS["mobilenet_v2"].params, "weights": str(mobilenet_weights[0]), "fine_tune_layers": 10}
    model = SPECS["mobilenet_v2"].factory(ModelRequest(SHAPE, 3, params, seed=1))

    SPECS["mobilenet_v2"].fine_tune(model, params)

    base = transfer.base_of(model)
    trainable = [layer for layer in base.layers if layer.trainable]
    assert base.trainable and trainable
    assert all(base.layers.index(layer) >= len(base.layers) - 10 for layer in trainable)
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in trainable)


def test_fine_tune_leaves_a_scratch_base_trainable():
    params = request("mobilenet_v2").params
    model = SPECS["mobilenet_v2"].factory(request("mobilenet_v2"))

    SPECS["mobilenet_v2"].fine_tune(model, params)

    assert all(layer.trainable for layer in transfer.base_of(model).layers)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("mobilenet_v2", {"weights": "/no/such/file.h5"}, "weights file /no/such/file.h5 does not exist"),
        ("mobilenet_v2", {"alpha": 0}, "alpha=0 is invalid"),
        ("efficientnet_b0", {"fine_tune_layers": 0}, "model efficientnet_b0: parameter fine_tune_layers=0 is invalid"),
        ("small_cnn", {"dropuot": 0.1}, "model small_cnn: unknown parameter dropuot"),
        ("resnet_small", {"widths": [32, 0]}, "widths=\\[32, 0\\] is invalid"),
        ("resnet_small", {"blocks_per_stage": 0}, "blocks_per_stage=0 is invalid"),
    ],
)
def test_bad_params_are_one_line_usage_errors(name, params, message):
    with pytest.raises(UsageError, match=message):
        SPECS[name].factory(request(name, **params))


@pytest.mark.parametrize("other", [pytest.param("alpha", marks=pytest.mark.slow), "architecture"])
def test_a_weights_file_of_another_model_is_refused(tmp_path, other):
    import keras

    if other == "alpha":
        model = keras.applications.MobileNetV2(input_shape=SHAPE, include_top=False, weights=None, alpha=0.35)
    else:
        model = SPECS["small_cnn"].factory(request("small_cnn"))
    path = tmp_path / f"{other}.weights.h5"
    model.save_weights(str(path))

    with pytest.raises(UsageError, match=f"cannot load weights from {path}: ") as info:
        SPECS["mobilenet_v2"].factory(request("mobilenet_v2", weights=str(path)))

    assert "\n" not in str(info.value)


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square")
def test_imagenet_weights_that_cannot_download_say_how_to_do_without(tmp_path, monkeypatch):
    """Keras's bare Exception becomes a DataError with the way out; no network needed (a file:// origin that
    does not exist, and an empty Keras cache)."""
    import keras.src.applications.mobilenet_v2 as keras_mobilenet
    import keras.src.backend.config as keras_config

    from harness import DataError

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras"))
    monkeypatch.setattr(keras_mobilenet, "BASE_WEIGHT_PATH", (tmp_path / "nowhere").as_uri() + "/")
    with pytest.raises(DataError) as failed:
        SPECS["mobilenet_v2"].factory(request("mobilenet_v2", weights="imagenet"))
    assert str(failed.value) == (
        "model mobilenet_v2: cannot download the ImageNet weights (No such file or directory): train from "
        "scratch with --set mobilenet_v2.weights=none, or give a weights file with --set mobilenet_v2.weights=PATH")


def test_weights_none_from_python_trains_from_scratch():
    model = SPECS["mobilenet_v2"].factory(request("mobilenet_v2", weights=None))
    assert transfer.base_of(model).trainable and transfer.features(model) is None
