"""Where the time of a CPU training epoch goes: TensorFlow's profiler over model 1's training steps.

    python benchmarks/profile_epoch.py [--data DIR] [--steps 63] [--precision float32] [--augmentation]

Trains the study's model 1 (160x160, batch 32, Adam) on the real images through the harness feed, as
``harness run`` does, traces ``--steps`` steps (63 = one epoch of the 2,000 training images) after a
warm-up that traces the step function, and prints:

- the wall time per step, the model's multiply-adds per step and the rate they ran at;
- the time in TensorFlow ops grouped by kind (convolution forward, its two gradients, pooling, dense,
  optimizer, input pipeline, augmentation, ...), summed over threads, as a share of all op time;
- what is left between the ops: Python and Keras overhead per step.

The trace is read from the profiler's own output (``xplane.pb``), so nothing beyond TensorFlow is needed.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile
import time

from _common import find_data, machine

#: Event types that enclose other ops (counting them would count their ops twice).
CONTAINERS = ("Process",)
#: Op kinds, by substrings of the TensorFlow op type (first match wins).
KINDS = (
    ("convolution, filter gradient", ("Conv2DBackpropFilter",)),
    ("convolution, input gradient", ("Conv2DBackpropInput",)),
    ("convolution, forward", ("Conv2D", "FusedConv2D")),
    ("max pooling, gradient", ("MaxPoolGrad",)),
    ("max pooling, forward", ("MaxPool",)),
    ("dense (matmul) and its gradients", ("MatMul",)),
    ("bias and its gradient", ("BiasAdd",)),
    ("relu and its gradient", ("Relu",)),
    ("augmentation (image transform, flip)", ("ImageProjectiveTransform", "Reverse")),
    ("random numbers (dropout, augmentation)", ("Random", "Stateless")),
    ("optimizer (Adam)", ("ResourceApplyAdam", "AssignAddVariable", "AssignSubVariable", "AssignVariable", "Sqrt",
                          "ReadVariableOp")),
    ("input pipeline (gather from the cache, cast)", ("Iterator", "PyFunc", "EagerPyFunc", "NumpyFunction", "Cast",
                                                      "Prefetch", "MapDataset")),
    ("loss, metrics, dropout", ("SparseSoftmax", "Mul", "Sum", "Mean", "ArgMax", "Equal", "Greater", "Select",
                                "DivNoNan", "RealDiv", "Sub", "AddV2", "Reshape")),
)


def model_1(augmentation: bool):  # a keras.Model
    import keras
    from keras import layers

    inputs = keras.Input((160, 160, 3))
    x = inputs
    if augmentation:
        x = layers.RandomRotation(0.2)(layers.RandomFlip("horizontal")(x))
    x = layers.Rescaling(1 / 255)(x)
    for filters in (32, 32):
        x = layers.MaxPooling2D()(layers.Conv2D(filters, 3, activation="relu")(x))
    x = layers.Flatten()(layers.Conv2D(64, 3, activation="relu")(x))
    x = layers.Dense(64, activation="relu")(layers.Dropout(0.2)(x))
    model = keras.Model(inputs, layers.Dense(2, dtype="float32")(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def multiply_adds() -> float:
    """Forward multiply-adds of model 1 per 160x160 image (valid 3x3 convolutions, then the dense layers)."""
    conv1 = 158 * 158 * 32 * (3 * 3 * 3)
    conv2 = 77 * 77 * 32 * (3 * 3 * 32)
    conv3 = 36 * 36 * 64 * (3 * 3 * 32)
    dense = 36 * 36 * 64 * 64 + 64 * 2
    return float(conv1 + conv2 + conv3 + dense)


def kind_of(op_type: str) -> str:
    for kind, needles in KINDS:
        if any(needle in op_type for needle in needles):
            return kind
    return f"other ({op_type})"


def op_times(logdir: str) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per op type and per op (``scope/name:Type``), summed over threads, from the profiler's
    ``xplane.pb`` of the host; events that contain others (a function's ``Process``) are left out."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    totals: dict[str, float] = collections.defaultdict(float)
    by_name: dict[str, float] = collections.defaultdict(float)
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_") and "Eigen" not in line.name and "tf_data" not in line.name:
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name:  # TF op events are "scope/name:Type"
                    continue
                op_type = name.rsplit(":", 1)[1]
                if op_type in CONTAINERS:
                    continue
                totals[op_type] += event.duration_ps / 1e12
                by_name[name] += event.duration_ps / 1e12
    return totals, by_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--steps", type=int, default=63)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--augmentation", action="store_true", help="model 2: flip and rotation in the model")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from harness.backends.tensorflow import make_dataset
    from harness.data.cache import load_files

    root = find_data(args.data)
    files = [(str(path), label) for label, name in enumerate(("cats", "dogs"))
             for path in sorted((root / "train" / name).iterdir())]
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        arrays, _ = load_files({"train": files}, (160, 160), 3, os.path.expanduser("~/.cache/harness-bench"))
        images, labels = arrays["train"]
        keras.utils.set_random_seed(1)
        keras.mixed_precision.set_global_policy(args.precision)
        model = model_1(args.augmentation)
        feed = make_dataset(images, labels, 32, shuffle=True, seed=1).repeat()
        model.fit(feed, steps_per_epoch=5, epochs=1, verbose=0)  # trace and warm up
        logdir = os.path.join(tmp, "trace")
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(feed, steps_per_epoch=args.steps, epochs=1, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        totals, by_name = op_times(logdir)

    print(f"machine: {machine()}")
    per_step = wall / args.steps
    macs = multiply_adds() * 32 * 3  # forward, input gradient and filter gradient: about 3x the forward
    print(f"model 1{' + flip/rotation' if args.augmentation else ''}, {args.precision}, {args.steps} steps: "
          f"{per_step * 1000:.0f} ms/step (profiled), {macs / 1e9:.1f} G multiply-adds/step, "
          f"{2 * macs / per_step / 1e9:.0f} GFLOP/s")
    by_kind: dict[str, float] = collections.defaultdict(float)
    for op_type, seconds in totals.items():
        by_kind[kind_of(op_type)] += seconds
    all_ops = sum(by_kind.values())
    print(f"time in TensorFlow ops, summed over threads: {all_ops:.1f} s ({all_ops / wall:.2f} x wall time)")
    for kind, seconds in sorted(by_kind.items(), key=lambda item: -item[1]):
        if seconds / all_ops >= 0.002:
            print(f"  {seconds / all_ops:6.1%}  {seconds / args.steps * 1000:7.1f} ms/step  {kind}")
    print("the ten costliest ops:")
    for name, seconds in sorted(by_name.items(), key=lambda item: -item[1])[:10]:
        print(f"  {seconds / all_ops:6.1%}  {seconds / args.steps * 1000:7.1f} ms/step  {name}")
    top = sorted(totals.items(), key=lambda item: -item[1])[:8]
    print(f"top op types: {', '.join(f'{k} {v / all_ops:.1%}' for k, v in top)}")


if __name__ == "__main__":
    main()
