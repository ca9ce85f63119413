"""Peak and current memory after each combination of a six-combination run, in one process.

    python benchmarks/memory.py [--steps 10] [--train-per-class 100] [--val-per-class 50] [--batch-size 32]
                                [--same [--repeats 6]]

The memory benchmark (``pytest benchmarks/test_memory.py``) runs this script in a fresh process, so that the
figures are this run's alone, and reads its last line (JSON: the rows below).

Runs ``harness run`` in this process (cats-vs-dogs subset at 160x160, augmentations none and flip, three
sizes of the study's model 1 = six combinations) and reads ``VmHWM`` (peak resident) and ``VmRSS`` (resident
now) from ``/proc/self/status`` when each combination's result arrives. Flat from the first combination to the
last means each combination's memory is released.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from _common import bench_env, find_data, machine, subset

import harness


def status_mib() -> dict[str, float]:
    text = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", text).group(1)) / 1024 for key in ("VmHWM", "VmRSS")}


class MemoryProbe:

    @harness.hookimpl
    def harness_models_register(self, config):
        from study_plugin import model_1

        def scaled(factor: float):
            return lambda request: model_1(request, width=factor)

        return [harness.ModelSpec(name="m1_half", factory=scaled(0.5), input_range="0-1"),
                harness.ModelSpec(name="m1_double", factory=scaled(2.0), input_range="0-1")]

    @harness.hookimpl
    def harness_augmentations_register(self, config):
        def flip(params):
            import keras

            return keras.layers.RandomFlip("horizontal")

        return [harness.AugmentationSpec(name="flip", factory=flip)]

    def __init__(self, trim: bool = False) -> None:
        self.rows: list[tuple[str, dict[str, float]]] = []
        self.trim = trim

    @harness.hookimpl
    def harness_combination_result(self, session, task, result):
        if self.trim:  # what the engine's release() would do with the recommended malloc_trim
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.rows.append((f"{task.id} {result.get('status')}", status_mib()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--val-per-class", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--same", action="store_true", help="one combination (none x model 1) with --repeats seeds")
    parser.add_argument("--repeats", type=int, default=6, help="the seeds of --same (default 6)")
    parser.add_argument("--malloc-trim", action="store_true",
                        help="return freed heap to the OS after each combination (glibc malloc_trim) before reading")
    args = parser.parse_args()
    import os

    os.environ.update(bench_env())
    sys.path.insert(0, str(Path(__file__).parent))
    from harness.cli import main as harness_main

    probe = MemoryProbe(trim=args.malloc_trim)
    grid = ["--augmentation", "none", "--augmentation", "flip", "--model", "study_model1", "--model", "m1_half",
            "--model", "m1_double"]
    if args.same:
        grid = ["--augmentation", "none", "--model", "study_model1", "--repeats", str(args.repeats)]
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, args.val_per_class, Path(tmp))
        print(f"machine: {machine()}")
        before = status_mib()
        code = harness_main(["run", "-p", "study_plugin", "--dataset", "bench_cats_dogs", *grid,
                             "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                             "--data-dir", str(data.parent),
                             "--cache-dir", str(Path(tmp) / "cache"), "--output", str(Path(tmp) / "reports"), "-q"],
                            extra_plugins=[(probe, "memory_probe")])
    print(f"before the run: peak {before['VmHWM']:.0f} MiB, resident {before['VmRSS']:.0f} MiB (exit code {code})")
    for index, (name, mib) in enumerate(probe.rows, start=1):
        print(f"after combination {index}: peak {mib['VmHWM']:7.0f} MiB  resident {mib['VmRSS']:7.0f} MiB  {name}")
    if len(probe.rows) >= 2:
        first, last = probe.rows[0][1], probe.rows[-1][1]
        growth = last["VmRSS"] - probe.rows[1][1]["VmRSS"]
        print(f"resident growth from combination 2 to {len(probe.rows)}: {growth:+.0f} MiB; "
              f"peak growth from 1 to {len(probe.rows)}: {last['VmHWM'] - first['VmHWM']:+.0f} MiB")
    print(f"load after: {machine().split('load average ')[1]}")
    print(json.dumps({"exit_code": code, "before": before,
                      "after": [{"task": name, **mib} for name, mib in probe.rows]}))


if __name__ == "__main__":
    main()
