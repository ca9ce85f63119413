"""Where the augmentation runs: inside the model (the harness's way) or in the tf.data pipeline.

    python benchmarks/augmentation_placement.py [--steps 30] [--rounds 3] [--train-per-class N]

The study's model 1 behind its flip + rotation(0.2) augmentation, on the real cats-vs-dogs images (160x160,
batch 32) fed from the decode-once cache: once with the Keras augmentation layers as the model's first
layers (active only in training), once with the same layers mapped over the training batches in tf.data
(``num_parallel_calls=AUTOTUNE``, so they run beside the training step). Times ``--steps`` training steps per
variant per round after a warm-up, alternating the variants; prints the median seconds per step.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _common import find_data, machine, median, step_times, subset


def augmentation():  # a keras.Sequential
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomRotation(0.2, seed=2)])


def model(in_model: bool):  # a keras.Model
    import keras
    from study_plugin import model_1

    from harness.specs import ModelRequest

    keras.utils.set_random_seed(1)
    inputs = keras.Input((160, 160, 3))
    x = augmentation()(inputs) if in_model else inputs
    body = model_1(ModelRequest(input_shape=(160, 160, 3), num_classes=2, params={}, seed=1))
    built = keras.Model(inputs, body(keras.layers.Rescaling(1 / 255.0)(x)))
    built.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-per-class", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline_throughput import files_of

    from harness.backends.tensorflow import make_dataset
    from harness.data import cache

    with tempfile.TemporaryDirectory(prefix="placement-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, 1, Path(tmp))
        arrays, _ = cache.load_files({"train": files_of(data / "train")}, (160, 160), 3, Path(tmp) / "cache")
        feed = make_dataset(*arrays["train"], 32, shuffle=True, seed=1).repeat()
        layers = augmentation()
        mapped = feed.map(lambda x, y: (layers(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        variants = {"in the model": (model(True), feed), "in the pipeline": (model(False), mapped.prefetch(2))}
        print(f"machine: {machine()}")
        times = step_times(variants, args.steps, args.rounds)
        base = median(times["in the model"])
        for name, values in times.items():
            print(f"augmentation {name:<16} median {median(values) * 1000:6.0f} ms/step "
                  f"(x{median(values) / base:.2f}; rounds: {', '.join(f'{v * 1000:.0f}' for v in values)} ms)")
        print(f"load after: {machine().split('load average ')[1]}")


if __name__ == "__main__":
    main()
