"""The built-in figures of a report, by file stem: per dataset the results (test accuracy with intervals,
the grid, training curves, accuracy against time) and the data (label frequencies, sample images, each
augmentation's effect). Figures of images need the dataset again and are left out, with a note, without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.report import figures, samples, tables
from harness.report import records as rec
from harness.report.context import Report

#: Augmented versions drawn next to the original image.
AUGMENTED_VERSIONS = 5


class Gallery(dict):  # type: ignore[type-arg]
    """Figures by stem; a builder that fails costs its own figure and leaves a note on the report."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report

    def add(self, stem: str, build: Callable[..., Any], *args: Any) -> None:
        try:
            self[stem] = build(*args)
        except Exception as exc:
            self.report.note(f"figure {stem!r} could not be built: {type(exc).__name__}: {exc}")


def result_figures(report: Report, dataset: str, combinations: Any, results: Any) -> dict[str, Any]:
    out = Gallery(report)
    trained = combinations[(combinations["dataset"] == dataset) & combinations["test_accuracy"].notna()]
    if trained.empty:
        return out
    out.add(f"test_accuracy-{dataset}", figures.test_accuracy_chart, combinations, dataset)
    pivot = tables.pivot_table(combinations, dataset)
    if pivot.size >= 2:
        out.add(f"grid-{dataset}", figures.grid_heatmap, pivot, dataset, rec.baseline(report.records, dataset),
                tables.status_pivot(combinations, dataset))
    out.add(f"curves-{dataset}", figures.accuracy_curves, report.records, dataset)
    out.add(f"accuracy_vs_time-{dataset}", figures.accuracy_vs_time, results, dataset)
    return out


def data_figures(report: Report, dataset: str) -> dict[str, Any]:
    out = Gallery(report)
    info = rec.dataset_info(report.records, dataset)
    if info is None or not info.get("class_counts"):  # a record that says nothing of the data's classes
        return out
    out.add(f"labels-{dataset}", figures.label_frequencies, info)
    data = report.load_dataset(dataset)
    if data is None:
        return out
    images, labels = data.arrays["train"]
    out.add(f"samples-{dataset}", samples.sample_grid, images, labels, data.class_names, dataset)
    for name in report.augmentations_of(dataset):
        figure = augmentation_figure(report, dataset, name, images, labels, data.class_names)
        if figure is not None:
            out[f"augment-{dataset}-{name}"] = figure
    return out


def augmentation_figure(report: Report, dataset: str, name: str, images: Any, labels: Any,
                        class_names: tuple[str, ...]) -> Any:
    """One training image and augmented versions of it, or ``None`` (no augmentation, or a note)."""
    found = report.augmentation(name, dataset)
    if found is None:
        return None
    spec, params = found
    try:
        from harness import backends

        # Before the plugin's factory imports Keras: the run's backend (set by `harness run`), else the default.
        backends.activate(backends.keras_backend() or backends.default_name()).configure()
        layer = spec.factory(dict(params))
        if layer is None:
            return None
        versions = samples.augmented_versions(layer, images[0], AUGMENTED_VERSIONS, seed=0)
    except Exception as exc:  # a note, not the end of the report
        report.note(f"augmentation {name!r} not shown on {dataset!r}: {type(exc).__name__}: {exc}")
        return None
    return samples.augmentation_examples(images[0], versions, name, dataset, class_names[int(labels[0])])


def protocol_figures(report: Report) -> dict[str, Any]:
    """The figures of the run as a whole: the leaderboard across datasets (two datasets or more) and the
    time to the target accuracy (``--target-accuracy``)."""
    from harness.report import across_datasets, time_to_target

    out = Gallery(report)
    board = across_datasets.table(report.records, across_datasets.reference_of(report.metadata))
    if board is not None and board["score"].notna().any():
        out.add(across_datasets.FIGURE, across_datasets.figure, board)
    if time_to_target.runs_by_combination(report.records):
        out.add(time_to_target.NAME, time_to_target.figure, report.records)
    return out


def builtin_figures(report: Report) -> dict[str, Any]:
    combinations = tables.combinations_table(report.records)
    results = tables.per_seed_table(report.records)
    out: dict[str, Any] = dict(protocol_figures(report))
    for dataset in rec.datasets(report.records):
        out.update(result_figures(report, dataset, combinations, results))
        out.update(data_figures(report, dataset))
    return out
