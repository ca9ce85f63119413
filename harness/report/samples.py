"""Figures that show images: sample training images per class and an augmentation's effect on one image."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.report.figures import new_figure

#: At most this many classes get a row in the sample grid.
MAX_CLASSES = 10


def _show(ax: Any, image: np.ndarray, title: str) -> None:
    image = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def sample_grid(images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | list[str], dataset: str,
                per_class: int = 3) -> Any:
    """The first ``per_class`` training images of each class, one row per class, titled with the class name."""
    classes = list(range(min(len(class_names), MAX_CLASSES)))
    figure = new_figure(2.1 * per_class + 0.3, 2.2 * len(classes) + 0.6)
    axes = figure.subplots(len(classes), per_class, squeeze=False)
    for row, label in enumerate(classes):
        picks = np.flatnonzero(np.asarray(labels) == label)[:per_class]
        for col in range(per_class):
            ax = axes[row][col]
            if col < len(picks):
                height, width = images[picks[col]].shape[:2]
                _show(ax, images[picks[col]], f"{class_names[label]} ({width}x{height})")
            else:
                ax.set_visible(False)
    more = f", first {MAX_CLASSES} of {len(class_names)} classes" if len(class_names) > MAX_CLASSES else ""
    figure.suptitle(f"Sample training images: {dataset}{more}")
    return figure


def augmented_versions(layer: Any, image: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """``count`` draws of ``layer(image, training=True)`` (pixels as float 0-255, as in training)."""
    import keras

    from harness import backends

    backends.load(keras.backend.backend()).seed(seed)  # keras.utils.set_random_seed imports TensorFlow
    batch = np.asarray(image, dtype=np.float32)[None, ...]
    return [np.asarray(keras.ops.convert_to_numpy(layer(batch, training=True)))[0] for _ in range(count)]


def augmentation_examples(image: np.ndarray, versions: list[np.ndarray], augmentation: str, dataset: str,
                          class_name: str) -> Any:
    """One training image and several augmented versions of it in a row."""
    figure = new_figure(2.0 * (len(versions) + 1) + 0.3, 2.7)
    axes = figure.subplots(1, len(versions) + 1, squeeze=False)[0]
    _show(axes[0], image, f"original ({class_name})")
    for i, (ax, version) in enumerate(zip(axes[1:], versions), start=1):
        _show(ax, version, f"augmented #{i}")
    figure.suptitle(f"Augmentation '{augmentation}' on a training image of {dataset} (training=True)")
    return figure
