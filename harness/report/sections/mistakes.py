"""Mistakes: per dataset, the confusion matrices of its best combinations (every combination's is in
``tables/confusion-*.csv``) and the most confident mistakes of the best one, as images when the dataset can
be loaded here, else as a table of the images' ids (see :mod:`harness.report.errors`)."""

from __future__ import annotations

from typing import Any

from harness.report import errors
from harness.report import records as rec
from harness.report.section import Content, Section, Table, Text

ID, TITLE = "mistakes", "Mistakes"

CONFUSION_CAPTION = ("Rows are the true classes, columns the predicted ones; the diagonal holds the right "
                     "answers. A cell's shade is its share of the row (the class's recall on the diagonal), its "
                     "number the count of test images, the seeds' predictions added. Every combination's matrix "
                     "is a table below or in the report's tables folder.")
MISTAKES_CAPTION = ("The test images the best combination got wrong with the highest confidence, over its seeds: "
                    "a confident mistake is often a wrong or ambiguous label, or a shortcut the model learned.")


def _confusion_tables(content: Content, found: list[errors.Combination]) -> list[Any]:
    """The (folded) tables of the best :data:`~harness.report.errors.SHOWN` combinations; the others' are
    taken off the page (their CSV files stay), with a line saying where they are."""
    blocks: list[Any] = []
    for combination in found[: errors.SHOWN]:
        name = f"{errors.CONFUSION}{combination.key}"
        frame = content.take_table(name)
        if frame is not None:
            blocks.append(Table(name, frame, title=f"Confusion matrix: {combination.label}", open=False))
    rest = [c for c in found[errors.SHOWN:] if content.take_table(f"{errors.CONFUSION}{c.key}") is not None]
    if rest:
        blocks.append(Text([f"The confusion matrices of the other {len(rest)} combinations are in the report's "
                            f"tables folder: {', '.join(f'{errors.CONFUSION}{c.key}.csv' for c in rest)}."],
                           "paragraph"))
    return blocks


def _mistakes(report: Any, content: Content, dataset: str, best: errors.Combination) -> tuple[list[Any], list[Any]]:
    """What is shown of the most confident mistakes, and what is folded below: their images (with what a
    reader must know about them) and their table folded, or the table open, in their place, with a note
    saying why there are no images."""
    name = f"{errors.MISTAKES}{dataset}"
    figure, frame = content.take_figure(name, MISTAKES_CAPTION), content.take_table(name)
    if frame is None:
        return ([figure] if figure is not None else []), []
    if frame.empty:
        return [Text([f"{best.label} made no mistake on the test images of {dataset}."], "paragraph")], []
    notes = [Text(errors.image_notes(report, dataset, frame), "note")]
    table = Table(name, frame, title=f"Most confident mistakes: {best.label}", open=figure is None)
    if figure is None:
        return [*notes, table], []
    return [figure, *(notes if notes[0].lines else [])], [table]


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    for dataset in rec.datasets(report.records):
        found = errors.combinations(report, dataset)
        if not found:
            continue
        confusion = content.take_figure(f"{errors.CONFUSION}{dataset}", CONFUSION_CAPTION)
        images, table = _mistakes(report, content, dataset, found[0])
        blocks += [Text([dataset], "heading"), *([confusion] if confusion is not None else []), *images,
                   *_confusion_tables(content, found), *table]
    return Section(ID, TITLE, blocks) if blocks else None
