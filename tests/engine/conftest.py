"""An inline plugin of tiny models (and models that fail on purpose) for the engine's tests, on small
synthetic images: 16x16 pixels, 32 training images (4 batches of 8)."""

from __future__ import annotations

import os

import pytest

ENGINE_PLUGIN = '''
import time

import harness


def tiny(request):
    import keras
    width = int(request.params.get("width", 4))
    return keras.Sequential([
        keras.layers.Conv2D(width, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(request.num_classes),
    ])


def slow(request):
    """tiny, with a forward pass that sleeps: every batch takes at least ``nap`` seconds (on every backend)."""
    import keras

    nap = float(request.params["nap"])

    def sleep(a):
        time.sleep(nap)
        return a

    class Nap(keras.layers.Layer):
        def call(self, x):
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf
                y = tf.numpy_function(sleep, [x], x.dtype, stateful=True)
                y.set_shape(x.shape)
                return y
            if keras.backend.backend() == "jax":
                import jax
                return jax.pure_callback(sleep, jax.ShapeDtypeStruct(x.shape, x.dtype), x)
            return sleep(x)

    return keras.Sequential([Nap(), tiny(request)])


def broken(request):
    raise RuntimeError("factory exploded")


def unjittable(request):
    """tiny behind a layer XLA cannot compile (``supports_jit=False``): on JAX, the whole step runs uncompiled."""
    import keras
    return keras.Sequential([keras.layers.RandomRotation(0.1), tiny(request)])


def nan(request):
    import keras
    return keras.Sequential([tiny(request), keras.layers.Lambda(lambda x: x * float("inf"))])


def oom(request):
    """What each backend raises when the device is out of memory."""
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[4096,4096,4096]")
    if keras.backend.backend() == "torch":
        import torch
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 256.00 GiB")
    raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 281474976710656 bytes.")


def interrupt(request):
    raise KeyboardInterrupt


def frozen(request):
    """A frozen base (conv + pooling, called in inference mode), then the head: splittable for feature caching."""
    import keras
    inputs = keras.Input(request.input_shape)
    seed = int(request.params.get("base_seed", 0))  # like pretrained weights: the same for every task seed
    init = keras.initializers.GlorotUniform(seed=seed) if seed >= 0 else "glorot_uniform"
    base = keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init),
                             keras.layers.GlobalAveragePooling2D()], name="base")
    base.trainable = bool(request.params.get("train_base", False))
    x = base(inputs, training=False)
    if request.params.get("dropout"):
        x = keras.layers.Dropout(request.params["dropout"])(x)
    return keras.Model(inputs, keras.layers.Dense(request.num_classes)(x))


def frozen_split(body):
    import keras
    base = body.layers[1]
    if base.trainable:
        return None
    features = keras.Input(base.output.shape[1:])
    x = features
    for layer in body.layers[2:]:
        x = layer(x)
    return base, keras.Model(features, x)


def leaky_split(body):
    """A wrong split: its front part has trainable weights."""
    import keras
    features = keras.Input(body.output.shape[1:])
    return body, keras.Model(features, features)


def flip(params):
    import keras
    return keras.layers.RandomFlip("horizontal")


@harness.hookimpl
def harness_augmentations_register(config):
    return [harness.AugmentationSpec(name="flip", factory=flip)]


def unfreeze(body, params):
    body.trainable = True


@harness.hookimpl
def harness_models_register(config):
    return [
        harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.01}),
        harness.ModelSpec(name="tiny_b", factory=tiny, input_range="0-1", params={"learning_rate": 0.01, "width": 6}),
        harness.ModelSpec(name="tiny_c", factory=tiny, input_range="0-1", params={"learning_rate": 0.01, "width": 3}),
        harness.ModelSpec(name="slow", factory=slow, input_range="0-1", params={"learning_rate": 0.01, "nap": 0.05}),
        harness.ModelSpec(name="broken", factory=broken),
        harness.ModelSpec(name="unjittable", factory=unjittable, input_range="0-1"),
        harness.ModelSpec(name="nan_loss", factory=nan, input_range="0-1"),
        harness.ModelSpec(name="oom", factory=oom),
        harness.ModelSpec(name="interrupt", factory=interrupt),
        harness.ModelSpec(name="needs_big", factory=tiny, min_image_size=64),
        harness.ModelSpec(name="frozen_only", factory=tiny, input_range="0-1", params={"epochs_frozen": 1}),
        harness.ModelSpec(name="frozen", factory=frozen, input_range="0-1", features=frozen_split,
                          params={"learning_rate": 0.01, "dropout": 0.0, "train_base": False, "base_seed": 0}),
        harness.ModelSpec(name="leaky", factory=frozen, input_range="0-1", features=leaky_split,
                          params={"learning_rate": 0.01}),
        harness.ModelSpec(name="two_phase", factory=tiny, input_range="0-1", fine_tune=unfreeze,
                          params={"epochs_frozen": 1, "fine_tune_learning_rate": 0.001}),
    ]
'''

#: Small synthetic images: 32 training, 16 validation and 16 test images of 2 classes, 16x16 pixels.
SMALL = ["--dataset", "synthetic", "--augmentation", "none", "--batch-size", "8",
         "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=16",
         "--set", "synthetic.validation_per_class=8", "--set", "synthetic.test_per_class=8"]


class EngineTester:
    """``harness_tester`` with only the built-in plugins and the engine's inline models; the report writer
    is blocked (it is tested on its own and takes seconds per run)."""

    def __init__(self, tester) -> None:
        self.tester = tester
        self.path = tester.path
        tester.make_plugin(ENGINE_PLUGIN)

    def run(self, *args: str):
        """``harness -p no:reports ARGS``; a ``run`` trains in this process (``--executor serial``) unless the
        test names an executor: the engine is tested here, not the supervision of the default executor."""
        if args and args[0] == "run" and "--executor" not in args:
            args = ("run", "--executor", "serial", *args[1:])
        return self.tester.run("-p", "no:reports", *args)

    def make_config(self, text: str):
        return self.tester.make_config(text)

    def make_plugin(self, source: str, name: str = "harness_plugins.py"):
        return self.tester.make_plugin(source, name)


@pytest.fixture
def engine_tester(harness_tester, monkeypatch) -> EngineTester:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return EngineTester(harness_tester)


#: The Keras backend these tests run on: the process's (``KERAS_BACKEND``; tox's py-jax sets it).
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
#: For tests of what only TensorFlow has (its graphs, its gradient registry).
tensorflow_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's own machinery")


def models(*names: str) -> list[str]:
    """``--model NAME`` for each name (run in this order: registration order)."""
    return [arg for name in names for arg in ("--model", name)]
