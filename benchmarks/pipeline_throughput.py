"""Input pipeline throughput, images per second: the harness's feed from the decode-once cache vs.
``keras.utils.image_dataset_from_directory`` on the same image files (160x160, batch 32, shuffled, prefetched).

    python benchmarks/pipeline_throughput.py [--rounds 3] [--train-per-class N] [--reference] [--train-steps N]

Each round iterates one full epoch of the training split through each pipeline (no model), alternating,
and the medians are compared. Also prints the decode-once cache's build time (cold) and hit time (warm).
``--train-steps N`` also times N training steps of the study's model 1 (float32) fed by each pipeline, side
by side in this process, three rounds. ``--reference`` adds the previous feed (``from_tensor_slices`` on the
whole array + a full shuffle buffer) and each variant's resident-memory growth, measured in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_env, find_data, machine, median, step_times, subset

SIZE, BATCH = (160, 160), 32


def files_of(folder: Path) -> list[tuple[str, int]]:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    return [(str(p), label) for label, name in enumerate(classes) for p in sorted((folder / name).iterdir())]


def rss_mib() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def pipelines(train: Path, cache_dir: Path):
    import tensorflow as tf

    from harness.backends.tensorflow import make_dataset
    from harness.data import cache

    arrays, _ = cache.load_files({"train": files_of(train)}, SIZE, 3, cache_dir)
    x, y = arrays["train"]

    def from_directory():
        import keras

        ds = keras.utils.image_dataset_from_directory(str(train), image_size=SIZE, batch_size=BATCH, shuffle=True,
                                                      seed=1, verbose=False)
        return ds.prefetch(tf.data.AUTOTUNE)

    def previous_feed():
        def to_float(a, b):
            return tf.cast(a, tf.float32), b

        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=1, reshuffle_each_iteration=True)
        return ds.batch(BATCH).map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    return {
        "harness feed (cache)": lambda: make_dataset(x, y, BATCH, shuffle=True, seed=1),
        "image_dataset_from_directory": from_directory,
        "from_tensor_slices (previous feed)": previous_feed,
    }


def epoch_rate(make) -> float:
    ds = make()
    start, n = time.perf_counter(), 0
    for _, labels in ds:
        n += int(labels.shape[0])
    return n / (time.perf_counter() - start)


def train_step_times(made: dict, names: list[str], steps: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per training step of model 1 fed by each pipeline (repeated), alternating pipelines."""
    import keras
    from study_plugin import model_1

    from harness.specs import ModelRequest

    models, feeds = {}, {name: made[name]().repeat() for name in names}
    for name in names:
        keras.utils.set_random_seed(1)
        inputs = keras.Input((*SIZE, 3))
        logits = model_1(ModelRequest((*SIZE, 3), 2, {}, 1))(keras.layers.Rescaling(1 / 255.0)(inputs))
        models[name] = keras.Model(inputs, logits)
        models[name].compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                             loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return step_times({name: (models[name], feeds[name]) for name in names}, steps, rounds)


def memory_child(name: str, train: Path, cache_dir: Path) -> None:
    """In a fresh process: resident memory growth of building the pipeline and running two epochs."""
    made = pipelines(train, cache_dir)
    before = rss_mib()
    for _ in range(2):
        epoch_rate(made[name])
    print(f"RSS_GROWTH={rss_mib() - before:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-per-class", type=int, default=None)
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--train", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.memory_child:
        memory_child(args.memory_child, Path(args.train), Path(args.cache_dir))
        return

    from harness.data import cache

    with tempfile.TemporaryDirectory(prefix="pipeline-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, 1, Path(tmp))
        train, cache_dir = data / "train", Path(tmp) / "cache"
        print(f"machine: {machine()}")
        n_files = len(files_of(train))
        start = time.perf_counter()
        cache.load_files({"train": files_of(train)}, SIZE, 3, cache_dir)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        cache.load_files({"train": files_of(train)}, SIZE, 3, cache_dir)
        warm = time.perf_counter() - start
        print(f"decode-once cache, {n_files} files: build {cold:.2f} s ({n_files / cold:.0f} images/s), "
              f"hit {warm * 1000:.0f} ms")

        made = pipelines(train, cache_dir)
        names = list(made) if args.reference else list(made)[:2]
        rates: dict[str, list[float]] = {name: [] for name in names}
        for name in names:
            epoch_rate(made[name])  # warm-up: tracing, file-system cache
        for _ in range(args.rounds):
            for name in names:
                rates[name].append(epoch_rate(made[name]))
        for name in names:
            print(f"{name:<36} median {median(rates[name]):8.0f} images/s "
                  f"(rounds: {', '.join(f'{r:.0f}' for r in rates[name])})")
        ours, theirs = median(rates[names[0]]), median(rates[names[1]])
        print(f"ratio harness feed / image_dataset_from_directory: {ours / theirs:.1f}x")
        if args.train_steps:
            steps = train_step_times(made, names, args.train_steps, 3)
            for name, values in steps.items():
                print(f"model 1 training fed by {name:<36} median {median(values) * 1000:5.0f} ms/step "
                      f"(rounds: {', '.join(f'{v * 1000:.0f}' for v in values)})")
        if args.reference:
            for name in names:
                out = subprocess.run([sys.executable, __file__, "--memory-child", name, "--train", str(train),
                                      "--cache-dir", str(cache_dir)], capture_output=True, text=True,
                                     env=bench_env())
                growth = re.search(r"RSS_GROWTH=(-?\d+)", out.stdout)
                print(f"{name:<36} resident memory growth over 2 epochs: "
                      f"{growth.group(1) + ' MiB' if growth else 'failed: ' + out.stderr[-300:]}")
        print(f"load after: {machine().split('load average ')[1]}")


if __name__ == "__main__":
    main()
