"""Shared by the benchmark scripts: the machine's description, medians, timed subprocesses, the real data."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: The study's public archive (used only when no local copy is found).
ORIGIN = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"


def machine() -> str:
    """CPU model, cores, bf16/AMX flags and the load average now (these machines are shared and noisy)."""
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
            elif line.startswith("flags"):
                flags = set(line.partition(":")[2].split())
    except OSError:
        pass
    units = ",".join(sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile", "avx512f"})) or "none"
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores ({units}), load average {load}, Python {sys.version.split()[0]}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt(values: list[float]) -> str:
    return f"median {median(values):.3f} s (runs: {', '.join(f'{v:.3f}' for v in values)})"


def step_times(variants: dict[str, tuple[Any, Any]], steps: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per training step of each ``(compiled model, repeated feed)``: a 3-step ``fit`` first traces
    each one, then ``steps``-step ``fit`` calls alternate between them ``rounds`` times (side by side, so the
    machine's drifting load hits every variant alike)."""
    for model, feed in variants.values():
        model.fit(feed, steps_per_epoch=3, epochs=1, verbose=0)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (model, feed) in variants.items():
            start = time.perf_counter()
            model.fit(feed, steps_per_epoch=steps, epochs=1, verbose=0)
            times[name].append((time.perf_counter() - start) / steps)
    return times


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
          check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of one subprocess, with its output captured."""
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and out.returncode not in (0, 1):  # 1: a harness run whose combination did not beat the baseline
        raise SystemExit(f"{' '.join(cmd)} failed with {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return elapsed, out


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for harness subprocesses: only harness's own plugins plus ``-p`` modules from here."""
    env = dict(os.environ)
    env["HARNESS_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def find_data(explicit: str | None = None) -> Path:
    """The ``cats_and_dogs_filtered`` folder: ``--data``, ``HARNESS_BENCH_DATA``, ``../shared/data``, else download."""
    candidates = [explicit, os.environ.get("HARNESS_BENCH_DATA"), REPO.parent / "shared" / "data"]
    for candidate in filter(None, candidates):
        path = Path(candidate)
        for folder in (path, path / "cats_and_dogs_filtered"):
            if (folder / "train").is_dir() and (folder / "validation").is_dir():
                return folder
    import keras

    cache = Path.home() / ".keras" / "datasets"
    cache.mkdir(parents=True, exist_ok=True)  # get_file silently falls back to /tmp/.keras otherwise
    extracted = Path(keras.utils.get_file("cats_and_dogs.zip", origin=ORIGIN, extract=True,
                                          cache_dir=str(cache.parent)))
    return extracted / "cats_and_dogs_filtered"  # get_file returns the extracted folder (Keras 3)


def subset(data: Path, per_class_train: int | None, per_class_val: int | None, where: Path) -> Path:
    """A ``cats_and_dogs_filtered`` folder of symbolic links to the first N images of each class and split
    (``data`` itself when no limit is given), so both contenders read exactly the same files."""
    if per_class_train is None and per_class_val is None:
        return data
    target = where / "cats_and_dogs_filtered"
    if target.exists():
        shutil.rmtree(target)
    for split, limit in (("train", per_class_train), ("validation", per_class_val)):
        for class_dir in sorted(p for p in (data / split).iterdir() if p.is_dir()):
            (target / split / class_dir.name).mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:limit]:
                (target / split / class_dir.name / image.name).symlink_to(image)
    return target
