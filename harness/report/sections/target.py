"""Time to the target accuracy (``--target-accuracy``): the protocol's table and figure (see
:mod:`harness.report.time_to_target`)."""

from __future__ import annotations

from typing import Any

from harness.report import time_to_target
from harness.report.section import Content, Section, Table

ID, TITLE = "time-to-target", "Time to target"

CAPTION = ("Left is faster. Filled markers are the runs averaged into a combination's result, hollow ones the "
           "fastest and slowest runs dropped, a cross at the right edge a run that never reached the target "
           "within its budget.")


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    frame = content.take_table(time_to_target.NAME)
    if frame is not None:
        blocks.append(Table(time_to_target.NAME, frame, title="Time to the target accuracy"))
    figure = content.take_figure(time_to_target.NAME)
    if figure is not None:
        figure.caption = figure.caption or CAPTION
        blocks.append(figure)
    return Section(ID, TITLE, blocks) if blocks else None
