"""Time to the target accuracy (``--target-accuracy``): the protocol's table and figure (see
:mod:`harness.report.time_to_target`)."""

from __future__ import annotations

from typing import Any

from harness.report import time_to_target
from harness.report.section import Content, Section

ID, TITLE = "time-to-target", "Time to target"

CAPTION = ("Left is faster. Filled markers are the runs averaged into a combination's result, hollow ones the "
           "fastest and slowest runs dropped, a cross at the right edge a run that never reached the target "
           "within its budget.")


def build(report: Any, content: Content) -> Section | None:
    blocks = content.table_and_figure(time_to_target.NAME, "Time to the target accuracy", time_to_target.NAME, CAPTION)
    return Section(ID, TITLE, blocks) if blocks else None
