"""The report as one self-contained HTML page, from the report's sections: tables inline (sortable by a
click on a header), figures embedded as base64 PNG. Every text from the run is escaped here."""

from __future__ import annotations

import base64
import html
from typing import Any

from harness.report import formatting
from harness.report.section import Facts, Figure, Section, Table, Text

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1280px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-dir="asc"]::after { content: " \\25B2"; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; }
table.leaderboard { font-size: 0.95em; } table.leaderboard td { white-space: nowrap; }
table.leaderboard td:first-child { white-space: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
td.passed { color: #176f2c; font-weight: bold; } td.failed { color: #b3261e; font-weight: bold; }
td.error { color: #8a2be2; font-weight: bold; } td.skipped { color: #777; }
.meta { color: #555; font-size: 0.9em; } table.meta td { border: none; padding: 1px 10px 1px 0; }
.scroll { overflow-x: auto; } figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; max-width: 60em; }
.notes li { color: #8a5a00; } .warnings li { color: #b3261e; }
.power { background: #eef4fb; border-left: 4px solid #4c72b0; padding: 0.4em 0.8em; margin: 0.6em 0; color: #233; }
.power ul { margin: 0; padding-left: 1.2em; } .caption { color: #444; font-size: 0.9em; max-width: 60em; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: bold; padding: 0.2em 0; }
nav a { margin-right: 1em; }
@media (max-width: 900px) {
  body { padding: 0 0.5em; } table, table.leaderboard { font-size: 0.8em; } th, td { padding: 2px 4px; }
}
"""

#: Click a column's header to sort the table by it (numbers as numbers, blanks last); no library, no network.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, column) {
    th.title = "sort by " + th.textContent;
    th.addEventListener("click", function () {
      var ascending = th.dataset.dir !== "asc", body = table.tBodies[0];
      Array.prototype.forEach.call(heads, function (h) { delete h.dataset.dir; });
      th.dataset.dir = ascending ? "asc" : "desc";
      function key(row) {
        var text = row.cells[column].textContent.trim(), bare = text.replace(/^< */, "").replace(/,/g, "");
        if (text === "") { return null; }
        if (!/^[+-]?[0-9.]+(e[+-]?[0-9]+)?%?$/i.test(bare)) { return text.toLowerCase(); }
        return parseFloat(bare) - (text.charAt(0) === "<" ? 1e-9 : 0);  /* "< 0.001" below 0.001 */
      }
      Array.prototype.slice.call(body.rows).map(function (row, i) { return [key(row), i, row]; })
        .sort(function (a, b) {
          if (a[0] === null || b[0] === null) { return (a[0] === null) - (b[0] === null) || a[1] - b[1]; }
          var x = a[0], y = b[0];
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : a[1] - b[1]) * (ascending ? 1 : -1);
        })
        .forEach(function (entry) { body.appendChild(entry[2]); });
    });
  });
});
"""

_STATUS_WORDS = {"passed", "failed", "error", "skipped"}


def _cell(column: str, value: str, numeric: bool) -> str:
    classes = []
    if numeric:
        classes.append("num")
    if column == "status" and value in _STATUS_WORDS:
        classes.append(value)
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{html.escape(value)}</td>"


def table(frame: Any, numeric_columns: set[str], css_class: str = "sortable") -> str:
    """A text frame (see :func:`harness.report.formatting.display_frame`) as an HTML table, sortable by a
    click on a column's header."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(_cell(str(c), str(v), str(c) in numeric_columns) for c, v in zip(frame.columns, values))
        rows.append(f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


_LIST_CLASS = {"items": "summary", "warning": "warnings", "note": "notes"}


def _text_block(block: Text) -> list[str]:
    if block.kind == "heading":
        return [f"<h3>{html.escape(line)}</h3>" for line in block.lines]
    if block.kind == "paragraph":
        return [f'<p class="caption">{html.escape(line)}</p>' for line in block.lines]
    items = [f"<li>{html.escape(line)}</li>" for line in block.lines]
    if block.kind == "power":
        return ['<div class="power"><strong>About the power of the tests</strong><ul>', *items, "</ul></div>"]
    return [f'<ul class="{_LIST_CLASS.get(block.kind, block.kind)}">', *items, "</ul>"]


def _table_block(block: Table, text_frame: Any, numeric: set[str]) -> list[str]:
    human = formatting.human_frame(text_frame)
    css = "sortable leaderboard" if block.open else "sortable"
    body = table(human, {formatting.header(c) for c in numeric}, css)
    caption = f'<p class="caption">{html.escape(block.caption)}</p>' if block.caption else ""
    anchor = html.escape(f"table-{block.name}")
    if block.open:
        return [f'<h3 id="{anchor}">{html.escape(block.title)}</h3>', body, caption]
    return [f'<details id="{anchor}"><summary>{html.escape(block.title)}</summary>', caption, body, "</details>"]


def _figure_block(block: Figure) -> list[str]:
    caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
    return [f'<figure id="{html.escape(f"figure-{block.stem}")}">', image(block.png, block.title or block.stem),
            caption, "</figure>"]


def _facts_block(block: Facts) -> list[str]:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in block.rows)
    return [f'<table class="meta">{rows}</table>']


def section(part: Section, text_frames: dict[str, Any], numeric: dict[str, set[str]]) -> list[str]:
    """One section's HTML; ``text_frames``: each table as text, ``numeric``: its numeric columns, by name."""
    out = [f'<h2 id="{html.escape(part.id)}">{html.escape(part.title)}</h2>']
    for block in part.blocks:
        if isinstance(block, Text):
            out += _text_block(block)
        elif isinstance(block, Table):
            out += _table_block(block, text_frames[block.name], numeric[block.name])
        elif isinstance(block, Figure):
            out += _figure_block(block)
        else:
            out += _facts_block(block)
    return out


def page(*, title: str, subtitle: str, sections: list[Section], text_frames: dict[str, Any],
         numeric: dict[str, set[str]]) -> str:
    """The whole page: the title, a line under it (when the run started, its command), links to the
    sections, then every section in order."""
    nav = "".join(f'<a href="#{html.escape(s.id)}">{html.escape(s.title.lower())}</a>' for s in sections)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>',
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f'<p class="meta">{html.escape(subtitle)}</p>', f"<nav>{nav}</nav>"]
    for part in sections:
        parts += section(part, text_frames, numeric)
    parts += [f"<script>{SCRIPT}</script>", "</body></html>\n"]
    return "\n".join(p for p in parts if p)
