"""Results per dataset: test accuracy with its interval, the grid of augmentations and models, and accuracy
against training time."""

from __future__ import annotations

from typing import Any

from harness.report import records as rec
from harness.report.section import Content, Section, Table, Text

ID, TITLE = "results", "Results"

#: What each figure adds to its title: how to read it.
CAPTIONS = {
    "test_accuracy": "Each bar is the 95% Wilson interval of the test accuracy (seeds pooled); the dashed line "
                     "is the label-frequency baseline. The status beside each name comes from the "
                     "Holm-corrected test of the leaderboard, not from the bar alone.",
    "grid": "Blue cells beat the baseline, red ones do not reach it, white is the baseline itself; a grey cell "
            "has no accuracy and shows why (error, skipped).",
    "accuracy_vs_time": "Up and to the left is better: more accuracy for less training time. Colours are "
                        "models, marker shapes augmentations, as in every figure of the report.",
}


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    several = len(rec.datasets(report.records)) > 1
    for dataset in rec.datasets(report.records):
        if several and any(f"{kind}-{dataset}" in content.figures for kind in CAPTIONS):
            blocks.append(Text([dataset], "heading"))
        for kind, caption in CAPTIONS.items():
            figure = content.take_figure(f"{kind}-{dataset}", caption)
            if figure is not None:
                blocks.append(figure)
        pivot = content.take_table(f"pivot-{dataset}")
        if pivot is not None:
            blocks.append(Table(f"pivot-{dataset}", pivot, title=f"Grid: {dataset}", open=False))
    return Section(ID, TITLE, blocks) if blocks else None
