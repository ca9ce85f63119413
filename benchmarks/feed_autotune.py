"""Whole training epochs through the harness feed with ``tf.data`` autotuning on and off, side by side.

    python benchmarks/feed_autotune.py [--precision mixed_bfloat16] [--rounds 8] [--train-per-class N]

The study's model 1 on the real cats-vs-dogs images (160x160, batch 32) from the decode-once cache, two
copies of it in one process, each with its own feed:

- ``autotune on``: the feed as it was before (``num_parallel_calls`` and ``prefetch`` set to ``AUTOTUNE``,
  ``tf.data``'s autotuning enabled, its default);
- ``harness feed``: :func:`harness.engine.feed.make_dataset` now (two gathers in parallel, two batches
  prefetched, autotuning off).

Each round trains one whole epoch with each, alternating (after a warm-up epoch each that traces), and
prints ms per step per epoch, the medians, and how many epochs ran at more than 1.2x the fastest one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import find_data, machine, median, subset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--train-per-class", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline_throughput import files_of
    from study_plugin import model_1

    from harness.backends import tensorflow as harness_feed
    from harness.data import cache
    from harness.specs import ModelRequest

    keras.mixed_precision.set_global_policy(args.precision)

    def autotuned(x, y):  # the feed before, autotuning on
        ds = tf.data.Dataset.range(len(y)).shuffle(len(y), seed=1, reshuffle_each_iteration=True).batch(32)
        ds = ds.map(harness_feed._gather(x, y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)

    def model():
        keras.utils.set_random_seed(1)
        inputs = keras.Input((160, 160, 3), dtype="uint8")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        body = model_1(ModelRequest(input_shape=(160, 160, 3), num_classes=2, params={}, seed=1))
        m = keras.Model(inputs, keras.layers.Activation("linear", dtype="float32")(body(x)))
        m.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    with tempfile.TemporaryDirectory(prefix="feed-autotune-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, 1, Path(tmp))
        arrays, _ = cache.load_files({"train": files_of(data / "train")}, (160, 160), 3, Path(tmp) / "cache")
        x, y = arrays["train"]
        steps = -(-len(y) // 32)
        variants = {"autotune on": (model(), autotuned(x, y)),
                    "harness feed": (model(), harness_feed.make_dataset(x, y, 32, shuffle=True, seed=1))}
        print(f"machine: {machine()}")
        print(f"{len(y)} training images, {steps} steps per epoch, {args.precision}, {args.rounds} rounds")
        for m, ds in variants.values():
            m.fit(ds, epochs=1, verbose=0)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (m, ds) in variants.items():
                start = time.perf_counter()
                m.fit(ds, epochs=1, verbose=0)
                times[name].append((time.perf_counter() - start) / steps * 1000)
        fastest = min(min(v) for v in times.values())
        for name, values in times.items():
            slow = sum(v > 1.2 * fastest for v in values)
            print(f"{name:>13}: ms/step per epoch {' '.join(f'{v:.0f}' for v in values)}; median "
                  f"{median(values):.0f}; {slow} of {len(values)} epochs above 1.2x the fastest ({fastest:.0f})")


if __name__ == "__main__":
    main()
