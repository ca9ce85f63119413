"""The three Keras backends side by side on this CPU: the study's small CNN through ``harness run`` (step time,
compile time) and the feed alone (images per second), each backend in its own process.

    python benchmarks/backends_cpu.py                     # 160 px, batch 32, 12 steps, every installed backend
    python benchmarks/backends_cpu.py --size 96 --steps 8 --backends jax,torch

Step time: the record's ``train_seconds`` over the steps on the clock (the first step of the phase compiles
and is ``compile_seconds``, off the clock: see ``harness/engine/budget.py``). The training set is a whole
number of batches, so no short last batch recompiles on JAX. Feed alone: the training feed of each backend
over ``--feed-images`` uint8 images, read as Keras reads it (``tf.data`` on TensorFlow; on JAX and PyTorch
the ``PyDataset`` through Keras' data adapter: harness's feed with one background gather two batches ahead,
the same without prefetching, Keras' threaded enqueuer with 2 workers, and a plain generator with the same
background gathers), two epochs, best of 3 rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, machine

FEED = r"""
import json, sys, time
import numpy as np
from harness import backends
from harness.backends import feed as harness_feed
name, n, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
backend = backends.activate(name)
backend.configure()
images = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
labels = (np.arange(n) % 2).astype(np.int32)

def keras_epochs(feed, epochs=2):
    from keras.src.trainers.data_adapters import get_data_adapter
    adapter = get_data_adapter(feed)
    for _ in range(epochs):
        adapter.on_epoch_begin()
        for _x, _y in adapter.get_numpy_iterator():
            pass
        adapter.on_epoch_end()

def tf_epochs(ds, epochs=2):
    for _ in range(epochs):
        for _x, _y in ds:
            pass

variants = {}
if name == "tensorflow":
    variants["tf.data (harness)"] = lambda: tf_epochs(backend.make_feed(images, labels, batch, shuffle=True, seed=1))
variants["PyDataset, prefetch 2 (harness)"] = lambda: keras_epochs(
    harness_feed.batch_feed(images, labels, batch, shuffle=True, seed=1))
variants["PyDataset, no prefetch"] = lambda: keras_epochs(
    harness_feed.batch_feed(images, labels, batch, shuffle=True, seed=1, prefetch=0))

def enqueued():
    feed = harness_feed.batch_feed(images, labels, batch, shuffle=True, seed=1, prefetch=0)
    feed.workers = 2
    keras_epochs(feed)

variants["PyDataset, Keras enqueuer (2 threads)"] = enqueued

def plain_generator(epochs=2):
    from concurrent.futures import ThreadPoolExecutor
    from keras.src.trainers.data_adapters import get_data_adapter
    pool = ThreadPoolExecutor(1)
    def batches():
        for epoch in range(epochs):
            index = harness_feed.batch_indices(n, batch, shuffle=True, seed=1, epoch=epoch)
            ahead = [pool.submit(harness_feed.gather, images, labels, i) for i in index[:2]]
            for k in range(len(index)):
                if k + 2 < len(index):
                    ahead.append(pool.submit(harness_feed.gather, images, labels, index[k + 2]))
                yield ahead[k].result()
    adapter = get_data_adapter(batches())
    for _x, _y in adapter.get_numpy_iterator():
        pass

variants["plain generator, background gathers"] = plain_generator
out = {}
for label, run in variants.items():
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    out[label] = 2 * n / best
print("RESULT " + json.dumps(out))
"""


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    paths = [str(REPO), str(REPO / "plugins" / "vision" / "src"), out.get("PYTHONPATH", "")]
    out["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    out.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return out


def train(name: str, size: int, steps: int, batch: int, where: Path) -> dict[str, float]:
    per_class = batch * steps // 2  # one epoch of whole batches: no short batch to recompile
    cmd = [sys.executable, "-m", "harness", "run", "--backend", name, "--dataset", "synthetic", "--model",
           "small_cnn", "--augmentation", "none", "--steps", str(steps), "--batch-size", str(batch),
           "--set", f"synthetic.image_size=[{size},{size}]", "--set", "synthetic.num_classes=2",
           "--set", f"synthetic.train_per_class={per_class}", "--set", "synthetic.validation_per_class=16",
           "--set", "synthetic.test_per_class=16", "--output", str(where / name), "-q", "-p", "no:reports"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=where)
    records = list((where / name).glob("*/records.jsonl"))
    if not records:
        raise SystemExit(f"{name}: harness run failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    record = json.loads(records[0].read_text().splitlines()[-1])
    if record.get("status") == "error":
        raise SystemExit(f"{name}: {record.get('error')}")
    timed = record["steps"] - 1
    return {"step": record["train_seconds"] / timed, "compile": record["compile_seconds"],
            "images_per_second": record["images_per_second"], "compiled": record["compiled"]}


def feed(name: str, n: int, size: int, batch: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", FEED, name, str(n), str(size), str(batch)], capture_output=True,
                         text=True, env=env())
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"{name}: feed benchmark failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--feed-images", type=int, default=2000)
    args = parser.parse_args()
    names = [n for n in args.backends.split(",") if installed(n)]
    print(machine())
    print(f"small CNN, {args.size} px, batch {args.batch_size}, float32, {args.steps} steps (first one compiles)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = train(name, args.size, args.steps, args.batch_size, Path(tmp))
            print(f"  {name:<11} {1000 * r['step']:8.0f} ms/step  {r['images_per_second']:7.1f} images/s  "
                  f"compile {r['compile']:5.1f} s  compiled {r['compiled']}", flush=True)
    print(f"feed alone: {args.feed_images} images at {args.size} px, batch {args.batch_size}, 2 epochs, best of 3")
    for name in names:
        for label, rate in feed(name, args.feed_images, args.size, args.batch_size).items():
            print(f"  {name:<11} {label:<40} {rate:10,.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
