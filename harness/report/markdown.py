"""The report as Markdown: ``report.md`` from the report's sections, and each table as ``tables/NAME.md``
(a small GitHub-flavoured table writer, no ``tabulate`` dependency).

Every text that comes from the run (dataset, class, augmentation and model names, paths, parameters, error
messages, a plugin's captions) passes through :func:`text` or :func:`cell`, which escape what Markdown and
HTML would read as markup: a class folder named ``<img src=x onerror=alert(1)>`` stays text in any CommonMark
viewer. The only markup in the page is the writer's own."""

from __future__ import annotations

import re
from typing import Any

from harness.report import formatting
from harness.report.files import FIGURES_DIR
from harness.report.section import Facts, Figure, Section, Table, Text

_NUMBER = re.compile(r"^(< ?)?[+-]?[\d,]*\.?\d+(e[+-]?\d+)?%?$", re.IGNORECASE)
#: What CommonMark or GitHub reads as markup (or as raw HTML) anywhere in a line.
_MARKUP = re.compile(r"([\\`*\[\]<>&|~#])")
#: An underscore that could start or end emphasis: not between two letters or digits.
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
#: What starts a list, a quote or a rule when it starts a line: ``- x``, ``+ x``, ``1. x``, ``1) x``, ``===``.
_BLOCK_START = re.compile(r"^([-+=]|\d+[.)])")


def _inline(value: Any) -> str:
    flat = " ".join(str(value).split())
    return _LOOSE_UNDERSCORE.sub(r"\\_", _MARKUP.sub(r"\\\1", flat))


def _unblock(match: re.Match[str]) -> str:
    found = match.group(0)
    return "\\" + found if found[0] in "-+=" else found[:-1] + "\\" + found[-1]


def text(value: Any) -> str:
    """``value`` as Markdown text that renders as itself: markup characters backslash-escaped (``<`` too,
    so no HTML tag), what would start a list at the start of a line too, line breaks as spaces."""
    return _BLOCK_START.sub(_unblock, _inline(value))


def cell(value: Any) -> str:
    """``value`` inside a table cell: escaped as :func:`text`, line breaks kept as ``<br>`` (the writer's)."""
    return "<br>".join(_inline(line) for line in str(value).replace("\r\n", "\n").split("\n"))


def escape(value: str) -> str:
    """Make ``value`` safe inside a table cell (the name :func:`cell` had before)."""
    return cell(value)


def _numeric(values: list[str]) -> bool:
    filled = [v for v in values if v]
    return bool(filled) and all(_NUMBER.match(v) for v in filled)


def table(frame: Any) -> str:
    """``frame`` (already text, see :func:`harness.report.formatting.display_frame`) as a Markdown table;
    numeric columns are right-aligned."""
    columns = [str(c) for c in frame.columns]
    raw = [[str(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    rows = [[cell(v) for v in row] for row in raw]
    header = [cell(c) for c in columns]
    widths = [max([len(header[i]), 3, *(len(r[i]) for r in rows)]) for i in range(len(columns))]
    right = [_numeric([r[i] for r in raw]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if r else "-" * w for w, r in zip(widths, right)) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"


_PREFIX = {"warning": "**warning**: ", "power": "**power**: ", "note": "note: "}


def _text_block(block: Text) -> list[str]:
    if block.kind == "heading":
        return [f"### {text(line)}\n" for line in block.lines]
    if block.kind == "paragraph":
        return [*(text(line) for line in block.lines), ""]
    prefix = _PREFIX.get(block.kind, "")
    return [*(f"- {prefix}{text(line)}" for line in block.lines), ""]


def _table_block(block: Table, text_frame: Any) -> list[str]:
    caption = [text(block.caption), ""] if block.caption else []
    return [f"### {text(block.title)}\n", table(formatting.human_frame(text_frame)), *caption]


def _figure_block(block: Figure) -> list[str]:
    caption = [text(block.caption), ""] if block.caption else []
    return [f"![{text(block.title or block.stem)}]({FIGURES_DIR}/{block.stem}.png)\n", *caption]


def _facts_block(block: Facts) -> list[str]:
    return [*(f"- {text(label)}: {_inline(value)}" for label, value in block.rows), ""]


def section(part: Section, text_frames: dict[str, Any]) -> list[str]:
    """One section's lines; ``text_frames``: each table as text, by name."""
    lines = [f"## {text(part.title)}\n"]
    for block in part.blocks:
        if isinstance(block, Text):
            lines += _text_block(block)
        elif isinstance(block, Table):
            lines += _table_block(block, text_frames[block.name])
        elif isinstance(block, Figure):
            lines += _figure_block(block)
        else:
            lines += _facts_block(block)
    return lines


def page(title: str, sections: list[Section], text_frames: dict[str, Any]) -> str:
    """``report.md``: the title, then every section in order."""
    lines = [f"# {text(title)}\n"]
    for part in sections:
        lines += section(part, text_frames)
    return "\n".join(lines) + "\n"
