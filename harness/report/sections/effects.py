"""Factor effects: per dataset, does each augmentation help against ``none`` (pooled over the models and per
model), and each model against the reference's model; a table and a forest plot (see
:mod:`harness.report.paired`)."""

from __future__ import annotations

from typing import Any

from harness.report import paired
from harness.report.section import Content, Section, Table

ID, TITLE = "factor-effects", "Factor effects"

CAPTION = ("Right of the dashed line (0) the level helps. A diamond is an effect pooled over the models (or "
           "augmentations), a circle its effect on one of them; the bars are 95% intervals, and one that "
           "crosses 0 leaves the sign of the effect open.")


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    for name, frame in content.take_tables(lambda name: name.startswith(f"{paired.EFFECTS}-")):
        if len(frame):
            blocks.append(Table(name, frame, title=f"Factor effects: {name[len(paired.EFFECTS) + 1:]}"))
        figure = content.take_figure(name, CAPTION)
        if figure is not None:
            blocks.append(figure)
    return Section(ID, TITLE, blocks) if blocks else None
