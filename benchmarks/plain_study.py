"""The original study's way, written by hand: image_dataset_from_directory, prefetch, model.fit.

    python benchmarks/plain_study.py DATA_DIR/cats_and_dogs_filtered --epochs 1 [--steps N] [--precision P]

Model 1, 160x160, batch 32, Adam, sparse cross-entropy from logits; the test set is 20% of the validation
batches, as in the study. Prints one line of JSON (times, accuracy) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def model_1(num_classes: int):  # noqa: ANN201
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((160, 160, 3)),
        layers.Rescaling(1.0 / 255),
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: the whole set)")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--seed", type=int, default=1)
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

    model = model_1(2)
    model.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit_start = time.perf_counter()
    if args.steps:
        train = train.repeat()
    history = model.fit(train, validation_data=validation, epochs=args.epochs, steps_per_epoch=args.steps,
                        verbose=0)
    fit_seconds = time.perf_counter() - fit_start
    _, test_accuracy = model.evaluate(test, verbose=0)
    print(json.dumps({"fit_seconds": fit_seconds, "wall_seconds": time.perf_counter() - START,
                      "val_accuracy": history.history["val_accuracy"][-1], "test_accuracy": test_accuracy,
                      "precision": args.precision}))


if __name__ == "__main__":
    main()
