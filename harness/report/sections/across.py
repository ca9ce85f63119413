"""Across datasets (a run on two datasets or more): each combination's normalised score, table and figure
(see :mod:`harness.report.across_datasets`)."""

from __future__ import annotations

from typing import Any

from harness.report import across_datasets
from harness.report.section import Content, Section

ID, TITLE = "across-datasets", "Across datasets"

CAPTION = ("Right is better. The diamond is a combination's mean normalised score with its standard deviation "
           "across datasets, each hollow marker its score on one dataset; the dashed line (0) is the "
           "label-frequency baseline, the dotted one (1) the reference.")


def build(report: Any, content: Content) -> Section | None:
    blocks = content.table_and_figure(across_datasets.NAME, "Leaderboard across datasets", across_datasets.FIGURE,
                                      CAPTION)
    return Section(ID, TITLE, blocks) if blocks else None
