"""A small GitHub-flavoured Markdown table writer (no ``tabulate`` dependency)."""

from __future__ import annotations

import re
from typing import Any

_NUMBER = re.compile(r"^[+-]?[\d,]*\.?\d+(e[+-]?\d+)?%?$", re.IGNORECASE)


def escape(text: str) -> str:
    """Make ``text`` safe inside a table cell: pipes escaped, line breaks as ``<br>``."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def _numeric(values: list[str]) -> bool:
    filled = [v for v in values if v]
    return bool(filled) and all(_NUMBER.match(v) for v in filled)


def table(frame: Any) -> str:
    """``frame`` (already text, see :func:`harness.report.formatting.display_frame`) as a Markdown table;
    numeric columns are right-aligned."""
    columns = [str(c) for c in frame.columns]
    rows = [[escape(str(v)) for v in row] for row in frame.itertuples(index=False, name=None)]
    header = [escape(c) for c in columns]
    widths = [max([len(header[i]), 3, *(len(r[i]) for r in rows)]) for i in range(len(columns))]
    right = [_numeric([r[i] for r in rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if r else "-" * w for w, r in zip(widths, right)) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"
