"""Looking at the errors, from the per-image predictions (:mod:`harness.predictions`): a confusion matrix per
combination, its seeds pooled (``confusion-ID``, a table; the best few of a dataset drawn together in
``confusion-DATASET``), and the most confident mistakes of
each dataset's best combination (``mistakes-DATASET``: a table, and a figure of the images when the dataset
can be loaded here).

A record without predictions (an error, a run written before they were kept) adds nothing; a combination
without any has no confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.report import records as rec
from harness.report.context import Report

#: Name prefixes of the tables and figures, followed by the combination's id or the dataset.
CONFUSION, MISTAKES = "confusion-", "mistakes-"
#: Confusion matrices drawn (and shown) per dataset: its best combinations'.
SHOWN = 4
#: Mistakes listed and drawn per dataset.
MOST_CONFIDENT = 12
#: Images per row of the mistakes' figure.
PER_ROW = 6
#: A confusion matrix with more classes than this is drawn without its counts in the cells.
ANNOTATED_CLASSES = 12
MISTAKE_COLUMNS = ["id", "true", "predicted", "confidence", "seeds_wrong", "seeds"]


class Combination:
    """A combination of a dataset with its predictions: its name, its key in the tables and figures
    (``ID`` or ``ID-BACKEND``), and one predictions table per seed that has one."""

    def __init__(self, row: Any, several: bool, tables: list[Any]) -> None:
        self.label = rec.combination_label(row["augmentation"], row["model"], row["backend"] if several else None)
        self.key = f"{row['id']}-{row['backend']}" if several else str(row["id"])
        self.tables = tables


def combinations(report: Report, dataset: str) -> list[Combination]:
    """The combinations of ``dataset`` with predictions, best first (the order of the leaderboard)."""
    from harness.report.tables import combinations_table

    table = combinations_table(report.records)
    rows = table[(table["dataset"] == dataset) & table["test_accuracy"].notna()]
    several = rec.rows_of_several_backends(rows) if len(rows) else False
    records = rec.latest_per_task(rec.of_dataset(report.records, dataset))
    out = []
    for _, row in rows.iterrows():
        found = [read(report, r) for r in records
                 if r.get("id") == row["id"] and str(r.get("backend")) == str(row["backend"])]
        tables = [t for t in found if t is not None]
        if tables:
            out.append(Combination(row, several, tables))
    return out


def read(report: Report, record: dict[str, Any]) -> Any:
    """The record's predictions, ``None`` when it has none or its file cannot be read (a note says which:
    a damaged file costs its seed, not the report)."""
    try:
        return report.predictions(record)
    except Exception as exc:
        report.note(f"predictions of {record.get('id')} (seed {record.get('seed')}) not read: "
                    f"{record.get('predictions')}: {type(exc).__name__}: {exc}")
        return None


def class_names(report: Report, dataset: str, tables: Sequence[Any]) -> list[str]:
    """The dataset's class names, long enough for every label the predictions use (an unknown index is
    named by its number)."""
    names = [str(n) for n in (rec.dataset_info(report.records, dataset) or {}).get("class_names") or []]
    top = max((int(max(t["label"].max(), t["predicted"].max())) for t in tables if len(t)), default=-1)
    return names + [str(i) for i in range(len(names), top + 1)]


def confusion(tables: Sequence[Any], names: Sequence[str]) -> Any:
    """The confusion matrix of the predictions ``tables`` pooled (the seeds' counts added): how many test
    images of each true class (rows) were predicted as each class (columns)."""
    import numpy as np
    import pandas as pd

    k = len(names)
    counts = np.zeros((k, k), dtype=np.int64)
    for table in tables:
        np.add.at(counts, (table["label"].to_numpy(), table["predicted"].to_numpy()), 1)
    frame = pd.DataFrame(counts, index=pd.Index(list(names), name="true"), columns=list(names))
    frame.columns.name = "predicted"
    frame.attrs["values"] = "count"
    return frame


def confident_mistakes(tables: Sequence[Any], names: Sequence[str], limit: int = MOST_CONFIDENT) -> Any:
    """The ``limit`` test images predicted wrong with the highest confidence, over every seed: an image
    wrong on several seeds appears once, with its most confident wrong prediction and on how many of the
    seeds it was wrong."""
    import pandas as pd

    wrong = pd.concat([t[t["label"] != t["predicted"]] for t in tables], ignore_index=True)
    if wrong.empty:
        return pd.DataFrame(columns=MISTAKE_COLUMNS)
    seeds_wrong = wrong.groupby("id").size()
    top = wrong.sort_values(["confidence", "id"], ascending=[False, True], kind="stable").drop_duplicates("id")
    top = top.head(limit)
    return pd.DataFrame({
        "id": top["id"].tolist(),
        "true": [names[int(i)] for i in top["label"]],
        "predicted": [names[int(i)] for i in top["predicted"]],
        "confidence": top["confidence"].tolist(),
        "seeds_wrong": [int(seeds_wrong[i]) for i in top["id"]],
        "seeds": len(tables),
    }, columns=MISTAKE_COLUMNS)


def tables(report: Report) -> dict[str, Any]:
    """Every combination's ``confusion-KEY`` and each dataset's ``mistakes-DATASET`` (its best
    combination's most confident mistakes)."""
    out: dict[str, Any] = {}
    for dataset in rec.datasets(report.records):
        found = combinations(report, dataset)
        for combination in found:
            matrix = confusion(combination.tables, class_names(report, dataset, combination.tables))
            matrix.attrs["caption"] = (f"{combination.label}: test images of each true class (rows) by predicted "
                                       f"class (columns), {_pooled(combination.tables)}.")
            out[f"{CONFUSION}{combination.key}"] = matrix
        if found:
            best = found[0]
            mistakes = confident_mistakes(best.tables, class_names(report, dataset, best.tables))
            mistakes.attrs["caption"] = (f"The most confident mistakes of {best.label} (the best on {dataset}): "
                                         f"the image's id in the test split, its true and predicted class, the "
                                         f"model's confidence in its prediction, on how many seeds it was wrong.")
            out[f"{MISTAKES}{dataset}"] = mistakes
    return out


def _pooled(tables: Sequence[Any]) -> str:
    return f"{len(tables)} seeds pooled" if len(tables) > 1 else "1 seed"


# -- figures ----------------------------------------------------------------------------------------------


def _draw_confusion(ax: Any, matrix: Any, title: str) -> Any:
    """One confusion matrix on ``ax``: each cell shaded by its share of its row (the true class), its count
    written in it (up to :data:`ANNOTATED_CLASSES` classes)."""
    import numpy as np

    counts = matrix.to_numpy()
    k = len(counts)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    slanted = k > 4  # long class names side by side would overlap
    ax.set_xticks(range(k), [str(c) for c in matrix.columns], rotation=45 if slanted else 0,
                  ha="right" if slanted else "center")
    ax.set_yticks(range(k), [str(c) for c in matrix.index])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= ANNOTATED_CLASSES:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=9 if k <= 6 else 7,
                        color="white" if shares[i, j] > 0.6 else "black")
    ax.set_title(title, fontsize=10)
    return image


def confusion_figure(matrices: Sequence[tuple[str, Any]], dataset: str) -> Any:
    """The confusion matrices ``(title, matrix)`` of a dataset's best combinations as small multiples, two
    to a row, on one colour scale: the share of the true class."""
    import math

    from harness.report.figures import MAX_WIDTH, PANELS_PER_ROW, new_figure

    k = max(len(matrix) for _, matrix in matrices)
    # many classes: one matrix a row, so that its cells stay readable
    ncols = 1 if k > ANNOTATED_CLASSES else min(PANELS_PER_ROW, len(matrices))
    nrows = math.ceil(len(matrices) / ncols)
    side = min(max(3.4, 0.45 * k + 2.0), (MAX_WIDTH - 0.9) / ncols)
    figure = new_figure(side * ncols + 0.9, (side + 0.3) * nrows + 0.5)
    axes = figure.subplots(nrows, ncols, squeeze=False).flat
    for ax in list(axes)[len(matrices):]:
        ax.set_visible(False)
    image = None
    for ax, (title, matrix) in zip(figure.axes, matrices):
        image = _draw_confusion(ax, matrix, title)
    figure.colorbar(image, ax=figure.axes[: len(matrices)], label="share of the true class", shrink=0.8)
    best = f"matrices: the best {len(matrices)} combinations" if len(matrices) > 1 else "matrix: the best combination"
    figure.suptitle(f"Confusion {best} on {dataset}", fontsize=11)
    return figure


def _test_ids(data: Any) -> list[str]:
    """The ids of the loaded dataset's test images: its ``ids`` of the test split when it has them,
    else their positions (``0``, ``1``, ...), the ids of a generated dataset."""
    from collections.abc import Mapping

    ids = getattr(data, "ids", None)
    test = ids.get("test") if isinstance(ids, Mapping) else None
    if test is not None:
        return [str(i) for i in test]
    return [str(i) for i in range(len(data.arrays["test"][1]))]


def mistake_images(data: Any, mistakes: Any) -> tuple[list[tuple[Any, Any]], int, int]:
    """Each mistake (a row of :func:`confident_mistakes`) with its image, its id looked up in the loaded
    test split; how many ids were not found there, and how many of the images found carry another label
    here than in the predictions (the ids may then not name the images the run tested)."""
    images, labels = data.arrays["test"]
    where = {image_id: i for i, image_id in enumerate(_test_ids(data))}
    names = [str(n) for n in data.class_names]
    found, missing, relabelled = [], 0, 0
    for row in mistakes.itertuples(index=False):
        index = where.get(str(row.id))
        if index is None:
            missing += 1
            continue
        found.append((row, images[index]))
        label = int(labels[index])
        relabelled += (names[label] if label < len(names) else str(label)) != row.true
    return found, missing, relabelled


def image_notes(report: Report, dataset: str, mistakes: Any) -> list[str]:
    """What a reader must know about the mistakes' images of ``dataset``: that they could not be shown (the
    dataset not loadable here), or that some ids were not found or are labelled otherwise here."""
    data = report.load_dataset(dataset)
    if data is None:
        return [f"images not shown: dataset {dataset!r} cannot be loaded here; the table lists the images' ids"]
    _, missing, relabelled = mistake_images(data, mistakes)
    out = [f"{missing} of the mistakes' ids are not in the test split of {dataset!r} loaded here"] if missing else []
    return out + ([f"{relabelled} of the images shown carry another label in {dataset!r} loaded here than in the "
                   f"run's predictions: the ids may not name the images the run tested"] if relabelled else [])


def mistakes_figure(found: Sequence[tuple[Any, Any]], title: str) -> Any:
    """The mistakes' images in rows of :data:`PER_ROW`, each titled with its true and predicted class and
    the confidence of the prediction."""
    from harness.report.figures import new_figure
    from harness.report.samples import _show

    rows = (len(found) + PER_ROW - 1) // PER_ROW
    figure = new_figure(1.5 * PER_ROW + 0.3, 1.9 * rows + 0.6)
    axes = figure.subplots(rows, PER_ROW, squeeze=False)
    for n, ax in enumerate(axes.flat):
        if n >= len(found):
            ax.set_visible(False)
            continue
        row, image = found[n]
        _show(ax, image, f"true: {row.true}\npredicted: {row.predicted}\n({row.confidence:.2f})")
        ax.title.set_fontsize(8)
    figure.suptitle(title, fontsize=10)
    return figure


def _mistakes_figure(report: Report, dataset: str, best: Combination) -> Any:
    """The figure of the best combination's most confident mistakes, ``None`` without images."""
    data = report.load_dataset(dataset)
    if data is None:
        return None
    mistakes = confident_mistakes(best.tables, class_names(report, dataset, best.tables))
    found, _, _ = mistake_images(data, mistakes)
    if not found:
        return None
    return mistakes_figure(found, f"Most confident mistakes: {best.label} on {dataset} ({_pooled(best.tables)})")


def figures(report: Report) -> dict[str, Any]:
    """Per dataset, the confusion matrices of its :data:`SHOWN` best combinations in one figure
    (``confusion-DATASET``) and the images of its best combination's most confident mistakes
    (``mistakes-DATASET``)."""
    from harness.report.builtin import Gallery

    out = Gallery(report)
    for dataset in rec.datasets(report.records):
        found = combinations(report, dataset)
        if not found:
            continue
        matrices = [(f"{c.label} ({_pooled(c.tables)})", confusion(c.tables, class_names(report, dataset, c.tables)))
                    for c in found[:SHOWN]]
        out.add(f"{CONFUSION}{dataset}", confusion_figure, matrices, dataset)
        out.add(f"{MISTAKES}{dataset}", _mistakes_figure, report, dataset, found[0])
    return {stem: figure for stem, figure in out.items() if figure is not None}
