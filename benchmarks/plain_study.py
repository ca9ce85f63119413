"""The original study's way, written by hand: image_dataset_from_directory, prefetch, model.fit.

    python benchmarks/plain_study.py DATA_DIR/cats_and_dogs_filtered --epochs 1 [--steps N] [--precision P]
                                     [--grid]

Model 1, 160x160, batch 32, Adam, sparse cross-entropy from logits; the test set is 20% of the validation
batches, as in the study. With ``--grid``, the study's six cells one after the other in this process, as the
study's notebook does: {no augmentation, random flip + rotation(0.2)} x {model 1, model 1 on pixels scaled to
[-1, 1], model 4: a frozen MobileNetV2 base with a global-max-pooling head (learning rate 1e-4)}. Prints one line of
JSON (times, accuracy) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def model_1(num_classes: int, scaling=None, augmentation=()):
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((160, 160, 3)),
        *augmentation,
        scaling or layers.Rescaling(1.0 / 255),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dense(num_classes, dtype="float32"),
    ])


def mobilenet(num_classes: int, weights: str, augmentation=()):
    """The study's model 4: a frozen MobileNetV2 base in inference mode, global max pooling, dropout, dense.
    ``weights``: ``imagenet`` or the path of a base weights file (the benchmark writes one when ImageNet
    weights cannot be downloaded: the computation is the same whatever the weights' values)."""
    import keras
    from keras import layers

    inputs = keras.Input((160, 160, 3))
    x = inputs
    for layer in augmentation:
        x = layer(x)
    x = keras.applications.mobilenet_v2.preprocess_input(x)
    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False,
                                          weights="imagenet" if weights == "imagenet" else None)
    if weights != "imagenet":
        base.load_weights(weights)
    base.trainable = False
    x = layers.GlobalMaxPooling2D()(base(x, training=False))
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32")(x))


def grid(weights: str) -> list[tuple[str, object, float]]:
    """The study's six cells: (name, model, learning rate)."""
    from keras import layers

    def augmentation(aug_name: str) -> tuple:
        """Fresh layers for every model."""
        if aug_name == "none":
            return ()
        return (layers.RandomFlip("horizontal"), layers.RandomRotation(0.2))

    cells = []
    for aug_name in ("none", "flip_rotate"):
        cells += [
            (f"{aug_name}-model1", model_1(2, augmentation=augmentation(aug_name)), 1e-3),
            (f"{aug_name}-model3", model_1(2, layers.Rescaling(1 / 127.5, offset=-1), augmentation(aug_name)), 1e-3),
            (f"{aug_name}-mobilenet_v2", mobilenet(2, weights, augmentation(aug_name)), 1e-4),
        ]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: the whole set)")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grid", action="store_true", help="the study's six cells instead of model 1 alone")
    parser.add_argument("--mobilenet-weights", default="imagenet", help="imagenet or a base weights file (--grid)")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    kwargs = dict(image_size=(160, 160), batch_size=32, seed=args.seed, verbose=False)
    train = keras.utils.image_dataset_from_directory(os.path.join(args.data, "train"), shuffle=True, **kwargs)
    validation = keras.utils.image_dataset_from_directory(os.path.join(args.data, "validation"), shuffle=True,
                                                          **kwargs)
    batches = int(tf.data.experimental.cardinality(validation))
    test = validation.take(max(1, batches // 5))
    validation = validation.skip(max(1, batches // 5))
    autotune = tf.data.AUTOTUNE
    train, validation, test = (ds.prefetch(autotune) for ds in (train, validation, test))

    if args.steps:
        train = train.repeat()
    cells = grid(args.mobilenet_weights) if args.grid else [("none-model1", model_1(2), 1e-3)]
    fit_start = time.perf_counter()
    results = {}
    for name, model, learning_rate in cells:
        cell_start = time.perf_counter()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(train, validation_data=validation, epochs=args.epochs, steps_per_epoch=args.steps,
                            verbose=0)
        _, test_accuracy = model.evaluate(test, verbose=0)
        results[name] = {"val_accuracy": history.history["val_accuracy"][-1], "test_accuracy": test_accuracy,
                         "seconds": time.perf_counter() - cell_start}
    fit_seconds = time.perf_counter() - fit_start
    first = next(iter(results.values()))
    print(json.dumps({"fit_seconds": fit_seconds, "wall_seconds": time.perf_counter() - START,
                      "val_accuracy": first["val_accuracy"], "test_accuracy": first["test_accuracy"],
                      "cells": results, "precision": args.precision}))


if __name__ == "__main__":
    main()
