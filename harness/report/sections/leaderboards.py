"""The leaderboards: per dataset, its combinations best first in the few columns that answer the question
(see :func:`harness.report.tables.leaderboard`), and any table a plugin marks as a headline."""

from __future__ import annotations

from typing import Any

from harness.report.section import Content, Section, Table
from harness.report.tables import LEADERBOARD

ID, TITLE = "leaderboards", "Leaderboards"


def title_of(name: str) -> str:
    return f"Leaderboard: {name[len(LEADERBOARD):]}" if name.startswith(LEADERBOARD) else name


def build(report: Any, content: Content) -> Section | None:
    found = content.take_tables(lambda name: name.startswith(LEADERBOARD)
                                or bool(content.tables[name].attrs.get("headline")))
    blocks: list[Any] = [Table(name, frame, title=title_of(name)) for name, frame in found]
    return Section(ID, TITLE, blocks) if blocks else None
