"""Over seeds: each combination's interquartile mean with its stratified bootstrap interval and the
probability of improvement of the best over the others (see :mod:`harness.report.seeds`), across datasets
first (two or more), then per dataset, for runs of three seeds or more; a note when the run has too few."""

from __future__ import annotations

from typing import Any

from harness.report import records as rec
from harness.report import seeds
from harness.report.section import Content, Section, Table, Text

ID, TITLE = "seeds", "Over seeds"

#: Each dataset's tables, by name prefix, with what a reader sees as their title.
TITLES = ((seeds.IQM, "Interquartile mean"), (seeds.IMPROVEMENT, "Probability of improvement"))


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    for dataset in [seeds.ACROSS, *rec.datasets(report.records)]:
        for prefix, title in TITLES:
            frame = content.take_table(f"{prefix}{dataset}")
            if frame is not None:
                where = "across datasets (normalised score)" if dataset == seeds.ACROSS else dataset
                blocks.append(Table(f"{prefix}{dataset}", frame, title=f"{title}: {where}"))
    notes = seeds.notes(report.records)
    blocks += [Text(notes, "note")] if notes else []
    return Section(ID, TITLE, blocks) if blocks else None
