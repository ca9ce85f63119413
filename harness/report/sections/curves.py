"""Learning curves: training and validation accuracy per epoch of every combination, per dataset."""

from __future__ import annotations

from typing import Any

from harness.report import records as rec
from harness.report.section import Content, Section

ID, TITLE = "learning-curves", "Learning curves"

CAPTION = ("A gap between training and validation accuracy that widens with the epochs is overfitting; the "
           "star marks the epoch whose weights were tested (the best validation accuracy). A curve that stays "
           "near the dashed baseline has learned little beyond the label frequencies.")


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    for dataset in rec.datasets(report.records):
        figure = content.take_figure(f"curves-{dataset}", CAPTION)
        if figure is not None:
            blocks.append(figure)
    return Section(ID, TITLE, blocks) if blocks else None
