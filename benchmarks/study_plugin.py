"""A harness plugin for the benchmarks: the study's model 1 and the cats-vs-dogs folder, written by hand.

Loaded with ``-p study_plugin`` (the benchmark puts this folder on ``PYTHONPATH``), so the benchmarks do not
depend on the vision plugin. ``--data-dir`` must point at a folder containing ``cats_and_dogs_filtered``.
"""

from __future__ import annotations

import os
from pathlib import Path

import harness
from harness.data.sources import ImageFiles
from harness.specs import DatasetRequest, ModelRequest

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def model_1(request: ModelRequest, width: float = 1.0):  # a keras.Model
    """The study's model 1 (its Rescaling(1/255) is the harness's, from ``input_range='0-1'``);
    ``width`` scales the filters (the memory benchmark's variants)."""
    import keras
    from keras import layers

    return keras.Sequential([
        layers.Conv2D(int(32 * width), 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(int(32 * width), 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(int(64 * width), 3, activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dense(request.num_classes),
    ])


def _files(folder: Path, classes: tuple[str, ...]) -> list[tuple[str, int]]:
    return [(str(path), label) for label, name in enumerate(classes)
            for path in sorted((folder / name).iterdir()) if path.suffix.lower() in IMAGE_EXTENSIONS]


def cats_dogs_folder(request: DatasetRequest) -> ImageFiles:
    """``DATA_DIR/cats_and_dogs_filtered/{train,validation}/{cats,dogs}``; test = 20% of validation."""
    root = Path(request.data_dir or os.environ.get("HARNESS_DATA_DIR", ".")) / "cats_and_dogs_filtered"
    if not (root / "train").is_dir():
        raise harness.UsageError(f"no cats_and_dogs_filtered under --data-dir ({root} has no train/)")
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir()))
    return ImageFiles(class_names=classes, train=_files(root / "train", classes),
                      validation=_files(root / "validation", classes), root=str(root))


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="study_model1", factory=model_1, input_range="0-1",
                              description="the study's model 1, hand-written for the benchmarks")]


@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="bench_cats_dogs", factory=cats_dogs_folder, image_size=(160, 160),
                                description="cats_and_dogs_filtered under --data-dir (benchmarks)")]
