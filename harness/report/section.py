"""What a report is made of, whatever it is written as: sections of text, tables and figures.

Each section of the report has its own module under :mod:`harness.report.sections`, with one function
``build(report, content) -> Section | None``. ``content`` holds the tables and figures collected from every
plugin through the report hooks; a section takes those it shows (:meth:`Content.take`), and what no section
takes is shown at the end. The writers (:mod:`~harness.report.html`, :mod:`~harness.report.markdown`, the
CSV and PNG files of :mod:`~harness.report.files`) only render these blocks: no section writes a file, no
writer decides what a section says."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Text:
    """Lines of prose. ``kind``: ``items`` (a list), ``warning`` (what must be known before trusting the
    numbers), ``power`` (what the test can detect, beside the verdicts: a note, not an error), ``note``
    (what the report could not show), ``paragraph``, or ``heading`` (one line: a part of the section, such
    as one dataset)."""

    lines: list[str]
    kind: str = "items"


@dataclass
class Table:
    """A table: ``name`` is its file stem (``tables/NAME.csv``) and anchor; ``title`` what a reader sees."""

    name: str
    frame: Any
    title: str = ""
    caption: str = ""
    #: Shown open (a leaderboard) or folded away (the full tables).
    open: bool = True

    def __post_init__(self) -> None:
        self.title = self.title or self.name
        self.caption = self.caption or str(self.frame.attrs.get("caption", ""))


@dataclass
class Figure:
    """A figure: ``stem`` is its file stem (``figures/STEM.png``); ``png`` is set once it is drawn."""

    stem: str
    figure: Any
    title: str = ""
    caption: str = ""
    png: bytes = b""


@dataclass
class Facts:
    """Label and value pairs (the run's command, versions, devices)."""

    rows: list[tuple[str, str]]


Block = Text | Table | Figure | Facts


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def tables(self) -> Iterator[Table]:
        return (b for b in self.blocks if isinstance(b, Table))

    def figures(self) -> Iterator[Figure]:
        return (b for b in self.blocks if isinstance(b, Figure))


class Content:
    """The tables and figures collected from the plugins, by name, in the order they came; each is shown
    by the first section that takes it."""

    def __init__(self, tables: dict[str, Any], figures: dict[str, Figure]) -> None:
        self.tables = dict(tables)
        self.figures = dict(figures)

    def take_tables(self, wanted: Callable[[str], bool]) -> list[tuple[str, Any]]:
        found = [(name, frame) for name, frame in self.tables.items() if wanted(name)]
        for name, _ in found:
            del self.tables[name]
        return found

    def take_figures(self, wanted: Callable[[str], bool]) -> list[Figure]:
        found = [figure for stem, figure in self.figures.items() if wanted(figure.stem)]
        for figure in found:
            del self.figures[figure.stem]
        return found

    def take_table(self, name: str) -> Any:
        """The table called ``name`` (``None`` when no plugin made it)."""
        return self.tables.pop(name, None)

    def take_figure(self, stem: str, caption: str = "") -> Figure | None:
        """The figure ``stem`` (``None`` when no plugin made it), with ``caption`` when it has none of its own."""
        figure = self.figures.pop(stem, None)
        if figure is not None and not figure.caption:
            figure.caption = caption
        return figure

    def table_and_figure(self, table: str, title: str, stem: str, caption: str) -> list[Any]:
        """A section's usual blocks: the table ``table`` (shown as ``title``), then the figure ``stem`` with
        ``caption``; what no plugin made is left out."""
        frame, figure = self.take_table(table), self.take_figure(stem, caption)
        return [*([Table(table, frame, title=title)] if frame is not None else []),
                *([figure] if figure is not None else [])]


#: What every section module provides.
Builder = Callable[[Any, Content], "Section | None"]
