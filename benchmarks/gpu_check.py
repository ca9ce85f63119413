"""The GPU check: the study's grid on the JAX backend on an NVIDIA GPU, with what it cost.

    python benchmarks/gpu_check.py                  # 6 cells, 20 epochs (each cell capped at --cell-time)
    python benchmarks/gpu_check.py --epochs 3       # quicker
    python benchmarks/gpu_check.py --epochs 1 --size 32 --per-class 16 --sync-steps 3   # a smoke run (CPU)

Needs only JAX (with CUDA), numpy, pandas, matplotlib, pluggy and the harness and Keras wheels (no
TensorFlow, no network): ``pip install --no-deps keras-*.whl harness-*.whl harness_vision-*.whl`` (Keras
also needs absl-py, rich, namex, h5py, optree and ml-dtypes; the preflight says what is missing). The data:
the study's cats-vs-dogs images when ``--data-dir`` (or ``HARNESS_DATA_DIR``) holds
``cats_and_dogs_filtered``, else synthetic images of the same size and counts (2,000 training, 1,000
validation images, 160 px, 2 classes). Model 4 (MobileNetV2, frozen base) gets random base weights saved to
a file when the ImageNet weights are not cached: the same computation, without a download.

Prints, per combination: images/s, step time, compile time, peak GPU memory (JAX's and ``nvidia-smi``'s),
GPU utilisation during the task (``nvidia-smi`` sampled every 0.2 s), and the grid's total time; then the
per-batch budget check measured both ways (reading the loss after every batch, a device synchronization,
against harness's clock-only check). Meant to finish in under 8 minutes (``--cell-time`` caps each cell).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

MODELS = ("small_cnn", "small_cnn_scaled", "mobilenet_v2")
AUGMENTATIONS = ("none", "flip_rotate")


def preflight() -> list[str]:
    """Versions and devices; exits with what is missing."""
    missing = []
    for module in ("jax", "keras", "numpy", "pandas", "matplotlib", "pluggy", "harness", "harness_vision"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        raise SystemExit("gpu_check: cannot import " + ", ".join(missing))
    import jax
    import keras

    import harness

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    print(f"python {sys.version.split()[0]}, jax {jax.__version__}, keras {keras.__version__} "
          f"({keras.backend.backend()}), harness {harness.__version__}; TensorFlow imported: "
          f"{'tensorflow' in sys.modules}")
    print("JAX devices: " + ", ".join(f"{d.device_kind}" for d in jax.devices()))
    if not gpus:
        print("gpu_check: JAX sees no GPU: the numbers below are CPU numbers")
    return [d.device_kind for d in gpus]


class Sampler:
    """``nvidia-smi`` every ``interval`` seconds: (time, utilization %, memory used MiB) of GPU 0."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.samples = interval, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _run(self) -> None:
        cmd = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-i", "0"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.split(",")
                self.samples.append((time.time(), float(out[0]), float(out[1])))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()

    def window(self, start: float, end: float) -> tuple[float | None, float | None]:
        """Mean utilization and peak memory (MiB) between ``start`` and ``end``."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return None, None
        return sum(s[1] for s in inside) / len(inside), max(s[2] for s in inside)


def data_args(data_dir: str | None, size: int = 160, per_class: int = 1000) -> list[str]:
    folder = Path(data_dir or os.environ.get("HARNESS_DATA_DIR", "") or "/nonexistent")
    for candidate in (folder, folder / "cats_and_dogs_filtered"):
        if (candidate / "train").is_dir():
            print(f"data: the study's images in {candidate}")
            return ["--dataset", "cats_and_dogs", "--data-dir", str(candidate.parent),
                    "--set", f"cats_and_dogs.image_size=[{size},{size}]"]
    held_out = max(1, per_class // 4)
    print(f"data: synthetic, 2 classes, {size} px, {2 * per_class:,} training / {2 * held_out:,} validation / "
          f"{2 * held_out:,} test images")
    return ["--dataset", "synthetic", "--set", f"synthetic.image_size=[{size},{size}]",
            "--set", "synthetic.num_classes=2", "--set", f"synthetic.train_per_class={per_class}",
            "--set", f"synthetic.validation_per_class={held_out}", "--set", f"synthetic.test_per_class={held_out}"]


def mobilenet_weights(where: Path, size: int = 160) -> list[str]:
    """``--set mobilenet_v2.weights=FILE`` with random base weights unless Keras has the ImageNet ones."""
    cached = list((Path.home() / ".keras" / "models").glob("mobilenet_v2_weights_tf_dim_ordering*notop.h5"))
    if cached:
        return []
    import keras

    path = where / "mobilenet_v2_random.weights.h5"
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    base.save_weights(str(path))
    keras.backend.clear_session()
    print("mobilenet_v2: no cached ImageNet weights, a frozen base with random weights instead")
    return ["--set", f"mobilenet_v2.weights={path}"]


def sync_cost(steps: int = 60, size: int = 160) -> None:
    """Per-step time of the study's small CNN with the loss read after every batch (a device sync) and with
    harness's clock-only check, on random ``size`` px batches already on the device."""
    import keras
    import numpy as np

    from harness.engine.budget import callback_list

    x = np.random.default_rng(0).integers(0, 256, (32 * steps, size, size, 3), dtype=np.uint8).astype("float32")
    y = (np.arange(32 * steps) % 2).astype("int32")

    class Reads(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            float((logs or {}).get("loss", 0.0))

    class ClockOnly(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            time.perf_counter()

    from harness_vision.models import _specs

    from harness import ModelRequest

    spec = next(s for s in _specs() if s.name == "small_cnn")  # its factory, with its default parameters

    results = {}
    for label, make in (("loss read every batch", lambda m: [Reads()]),
                        ("clock only (harness)", lambda m: callback_list(m, [ClockOnly()], 1, steps))):
        model = spec.factory(ModelRequest(input_shape=(size, size, 3), num_classes=2, params=dict(spec.params),
                                          seed=1, cache_dir=""))
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=make(model), shuffle=False)
        results[label] = (time.perf_counter() - start) / steps
        keras.backend.clear_session()
    for label, seconds in results.items():
        print(f"  {label:<24} {1000 * seconds:7.2f} ms/step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--cell-time", default="50s", help="training time cap per cell (default 50s)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--size", type=int, default=160, help="image side in pixels (default 160, the study's)")
    parser.add_argument("--per-class", type=int, default=1000,
                        help="synthetic training images per class (default 1000; a quarter as many to validate "
                             "and to test)")
    parser.add_argument("--sync-steps", type=int, default=60, help="steps of the budget-check measurement")
    args = parser.parse_args()
    started = time.time()
    preflight()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        cmd = [sys.executable, "-m", "harness", "run", "--backend", "jax",
               *data_args(args.data_dir, args.size, args.per_class),
               *[a for m in MODELS for a in ("--model", m)], *[a for g in AUGMENTATIONS for a in ("--augmentation", g)],
               "--epochs", str(args.epochs),
               "--time", args.cell_time, "--precision", args.precision, "--output", str(where / "runs"), "-q",
               "-p", "no:reports", *mobilenet_weights(where, args.size)]
        env = {k: v for k, v in os.environ.items() if k != "HARNESS_DISABLE_PLUGIN_AUTOLOAD"}
        with Sampler() as sampler:
            grid_start = time.time()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=where)
            grid_seconds = time.time() - grid_start
        records_files = list((where / "runs").glob("*/records.jsonl"))
        if not records_files:
            raise SystemExit(f"gpu_check: harness run failed ({out.returncode}):\n{out.stdout[-3000:]}\n"
                             f"{out.stderr[-5000:]}")
        records = [json.loads(line) for line in records_files[0].read_text().splitlines()]
    print(f"{'combination':<40} {'status':<7} {'img/s':>8} {'ms/step':>8} {'compile s':>9} {'train s':>8} "
          f"{'epochs':>6} {'test acc':>8} {'peak MiB':>9} {'smi MiB':>8} {'GPU %':>6}  compiled/aug")
    for r in records:
        if r.get("status") == "skipped":
            print(f"{r['id']:<40} skipped: {r.get('error')}")
            continue
        util, smi_mem = (v if v is not None else float("nan")
                         for v in sampler.window(r.get("started_at", 0), r.get("finished_at", 0)))
        timed_steps = max(1, (r.get("steps") or 1) - 1)
        peak = r.get("peak_memory_bytes")
        print(f"{r['id']:<40} {r.get('status', '?'):<7} {r.get('images_per_second') or 0:8.0f} "
              f"{1000 * (r.get('train_seconds') or 0) / timed_steps:8.1f} {r.get('compile_seconds') or 0:9.1f} "
              f"{r.get('train_seconds') or 0:8.1f} {r.get('epochs_fraction') or 0:6.1f} "
              f"{r.get('test_accuracy') or 0:8.3f} {peak / 2**20 if peak else float('nan'):9.0f} "
              f"{smi_mem:8.0f} {util:6.1f}"
              f"  {r.get('compiled')}/{r.get('augmentation_in')}")
        if r.get("status") == "error":
            print(f"    error ({r.get('error_kind')}): {str(r.get('error'))[:300]}")
    train_total = sum(r.get("train_seconds") or 0 for r in records)
    busy = [s[1] for s in sampler.samples]
    print(f"grid: {len(records)} cells, {grid_seconds:.1f} s total (training {train_total:.1f} s), precision "
          f"{records[0].get('precision') if records else '?'}, device {records[0].get('device') if records else '?'}; "
          f"GPU utilisation over the run: mean {sum(busy) / len(busy) if busy else float('nan'):.1f}% "
          f"({len(busy)} samples)")
    print(f"per-batch budget check, small CNN, {args.size} px, batch 32:")
    sync_cost(args.sync_steps, args.size)
    print(f"gpu_check: {time.time() - started:.1f} s in all")


if __name__ == "__main__":
    main()
