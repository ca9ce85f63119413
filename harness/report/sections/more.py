"""Everything else: the full tables (every combination, every seed, the labels, a plugin's tables), folded
away and sortable, and the figures no other section shows (a plugin's)."""

from __future__ import annotations

from typing import Any

from harness.report.section import Content, Section, Table

ID, TITLE = "tables", "Tables"

TITLES = {"combinations": "All combinations", "per_seed": "Every seed", "labels": "Labels per split"}


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = list(content.take_figures(lambda stem: True))
    blocks += [Table(name, frame, title=TITLES.get(name, name), open=False)
               for name, frame in content.take_tables(lambda name: True)]
    return Section(ID, TITLE, blocks) if blocks else None
