"""Training step time of the study's model 1 by precision policy and XLA, side by side in one process.

    python benchmarks/precision.py [--steps 20] [--rounds 3] [--variants float32,mixed_bfloat16,float32+xla,...]
                                   [--intra N] [--inter N] [--train-per-class N]

Feeds the real cats-vs-dogs images (160x160, batch 32) through the harness's feed from the decode-once cache,
and times ``--steps`` training steps per variant per round (the first round's compile/trace is excluded by a
warm-up ``fit``), alternating variants so machine noise hits them alike; prints median seconds per step and
the per-epoch estimate (63 steps). ``+xla`` compiles with ``jit_compile=True``. ``--intra``/``--inter`` set
TensorFlow's thread pools before anything runs (compare them across processes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import find_data, machine, median, step_times, subset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="float32,mixed_bfloat16")
    parser.add_argument("--intra", type=int, default=None)
    parser.add_argument("--inter", type=int, default=None)
    parser.add_argument("--train-per-class", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    if args.inter is not None:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)

    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline_throughput import files_of
    from study_plugin import model_1

    from harness.backends.tensorflow import make_dataset
    from harness.data import cache
    from harness.specs import ModelRequest

    with tempfile.TemporaryDirectory(prefix="precision-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, 1, Path(tmp))
        arrays, _ = cache.load_files({"train": files_of(data / "train")}, (160, 160), 3, Path(tmp) / "cache")
        x, y = arrays["train"]
        feed = make_dataset(x, y, 32, shuffle=True, seed=1).repeat()
        print(f"machine: {machine()}")
        print(f"threads: intra {tf.config.threading.get_intra_op_parallelism_threads()}, "
              f"inter {tf.config.threading.get_inter_op_parallelism_threads()} (0 = TensorFlow's default)")

        models = {}
        for variant in args.variants.split(","):
            policy, _, xla = variant.partition("+")
            keras.mixed_precision.set_global_policy(policy)
            keras.utils.set_random_seed(1)
            inputs = keras.Input((160, 160, 3))
            body = model_1(ModelRequest(input_shape=(160, 160, 3), num_classes=2, params={}, seed=1))
            logits = body(keras.layers.Rescaling(1 / 255.0)(inputs))
            outputs = keras.layers.Activation("linear", dtype="float32")(logits)
            model = keras.Model(inputs, outputs)
            model.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"], jit_compile=bool(xla),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            models[variant] = (model, feed)
        keras.mixed_precision.set_global_policy("float32")

        times = step_times(models, args.steps, args.rounds)
        base = median(times[next(iter(times))])
        for variant, values in times.items():
            print(f"{variant:<22} median {median(values) * 1000:6.0f} ms/step = {median(values) * 63:5.1f} s/epoch "
                  f"(x{median(values) / base:.2f}; rounds: {', '.join(f'{v * 1000:.0f}' for v in values)} ms)")
        print(f"load after: {machine().split('load average ')[1]}")


if __name__ == "__main__":
    main()
