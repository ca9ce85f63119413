"""Paired comparisons: per dataset, McNemar's test of the best combination (and of the ``--reference``)
against every other on the same test images (see :mod:`harness.report.paired`)."""

from __future__ import annotations

from typing import Any

from harness.report import paired
from harness.report.section import Content, Section, Table, Text

ID, TITLE = "paired-comparisons", "Paired comparisons"

INTRO = ("Every combination of a dataset is tested on the same images, so two of them can be compared image "
         "by image: McNemar's exact test asks whether, on the images exactly one of the two got right, one is "
         "right more often than chance. It tells apart combinations whose accuracy intervals overlap; a "
         "combination not separable from the best may be as good as it.")


def build(report: Any, content: Content) -> Section | None:
    found = content.take_tables(lambda name: name.startswith(f"{paired.MCNEMAR}-"))
    blocks: list[Any] = [Table(name, frame, title=f"McNemar: {name[len(paired.MCNEMAR) + 1:]}")
                         for name, frame in found if len(frame)]
    if not blocks:
        return None
    return Section(ID, TITLE, [Text([INTRO], "paragraph"), *blocks])
