"""The report as one self-contained HTML page: tables inline, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import datetime as _dt
import html
from collections.abc import Mapping
from typing import Any

from harness.store import shown_command

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
figcaption { color: #555; font-size: 0.9em; } .notes li { color: #8a5a00; } .warnings li { color: #b3261e; }
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
        var text = row.cells[column].textContent.trim(), number = parseFloat(text.replace(/,/g, ""));
        return text === "" ? null : (/^[+-]?[0-9.,]+(e[+-]?[0-9]+)?%?$/i.test(text) ? number : text.toLowerCase());
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


def _when(metadata: Mapping[str, Any]) -> str:
    started = metadata.get("started_at")
    return _dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S") if started else "?"


def _meta(metadata: Mapping[str, Any], run_id: str) -> str:
    devices = ", ".join(metadata.get("devices") or []) or "?"
    rows = [
        ("run", run_id), ("started", _when(metadata)),
        ("command", shown_command(metadata)),
        ("harness", str(metadata.get("harness_version", "?"))),
        ("TensorFlow / Keras", f"{metadata.get('tensorflow', '?')} / {metadata.get('keras', '?')}"),
        ("devices", devices), ("precision", str(metadata.get("precision", "?"))),
        ("host", f"{metadata.get('host', '?')} ({metadata.get('platform', '?')}, "
                 f"Python {metadata.get('python', '?')})"),
        ("git commit", str(metadata.get("git_commit") or "-")),
    ]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _list(items: list[str], css_class: str) -> list[str]:
    if not items:
        return []
    return [f'<ul class="{css_class}">', *(f"<li>{html.escape(item)}</li>" for item in items), "</ul>"]


def page(*, title: str, run_id: str, metadata: Mapping[str, Any], summary: list[str], warnings: list[str],
         leaderboards: list[tuple[str, str, str]], tables: list[tuple[str, str, str]],
         figures: list[tuple[str, str, bytes]], notes: list[str]) -> str:
    """The whole page, the answer first: summary and warnings, one leaderboard per dataset, the figures, then
    every table (collapsed, sortable) and the run's facts. ``leaderboards`` and ``tables``: (name, caption,
    html table); ``figures``: (stem, caption, PNG bytes)."""
    sections = ("summary", "figures", "tables", "run")
    nav = "".join(f'<a href="#{n}">{n}</a>' for n in sections)
    command = shown_command(metadata)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>',
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f'<p class="meta">started {html.escape(_when(metadata))} &middot; <code>{html.escape(command)}</code></p>',
             f"<nav>{nav}</nav>", '<h2 id="summary">Summary</h2>', *_list(summary, "summary"),
             *_list(warnings, "warnings"), *_list(notes, "notes")]
    for name, caption, body in leaderboards:
        parts += [f'<h3 id="table-{html.escape(name)}">{html.escape(name)}</h3>', body,
                  f'<p class="meta">{html.escape(caption)}</p>' if caption else ""]
    parts.append('<h2 id="figures">Figures</h2>')
    for stem, caption, png in figures:
        parts += [f'<figure id="figure-{html.escape(stem)}">', image(png, caption or stem),
                  f"<figcaption>{html.escape(stem)}{': ' + html.escape(caption) if caption else ''}</figcaption>",
                  "</figure>"]
    parts.append('<h2 id="tables">Tables</h2><p class="meta">Click a table to open it, a column header to sort.</p>')
    for name, caption, body in tables:
        parts += [f'<details id="table-{html.escape(name)}"><summary>{html.escape(name)}</summary>',
                  f"<p class=\"meta\">{html.escape(caption)}</p>" if caption else "", body, "</details>"]
    parts += ['<h2 id="run">Run</h2>', _meta(metadata, run_id), f"<script>{SCRIPT}</script>", "</body></html>\n"]
    return "\n".join(p for p in parts if p)
