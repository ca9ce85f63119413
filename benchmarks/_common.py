"""Shared by the benchmark suite and scripts: the machine's description, the subprocesses' environment, the real
data. (The timing itself is pytest-benchmark's: see conftest.py.)"""

from __future__ import annotations

import os
import platform
import shutil
import sys
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


def files_of(folder: Path) -> list[tuple[str, int]]:
    """``(path, label)`` of every image under ``folder/CLASS/``, classes in sorted order."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    return [(str(p), label) for label, name in enumerate(classes) for p in sorted((folder / name).iterdir())]


def model_1(*, policy: str = "float32", xla: bool = False, augmentation: Any = None, uint8: bool = False) -> Any:
    """The study's model 1 (benchmarks/study_plugin.py) behind a ``Rescaling(1/255)``, compiled as harness
    compiles it (Adam, sparse cross-entropy from logits, float32 logits), under ``policy``; ``augmentation``: a
    Keras layer put first; ``uint8``: the input is the cache's uint8 images, as harness feeds them."""
    import keras
    from study_plugin import model_1 as body

    from harness.specs import ModelRequest

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(1)
        inputs = keras.Input((160, 160, 3), dtype="uint8" if uint8 else "float32")
        x = augmentation(inputs) if augmentation is not None else inputs
        logits = body(ModelRequest(input_shape=(160, 160, 3), num_classes=2, params={}, seed=1))(
            keras.layers.Rescaling(1 / 255.0)(x))
        model = keras.Model(inputs, keras.layers.Activation("linear", dtype="float32")(logits))
        model.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"], jit_compile=xla,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model


def decoded(folder: Path, cache_dir: Path) -> tuple[Any, Any]:
    """The images and labels under ``folder/CLASS/``, decoded at 160x160 through harness's decode-once cache."""
    from harness.data import cache

    arrays, _ = cache.load_files({"train": files_of(folder)}, (160, 160), 3, cache_dir)
    return arrays["train"]
