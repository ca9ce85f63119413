"""The report as one self-contained HTML page: tables inline, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import datetime as _dt
import html
from collections.abc import Mapping
from typing import Any

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1280px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
td.passed { color: #176f2c; font-weight: bold; } td.failed { color: #b3261e; font-weight: bold; }
td.error { color: #8a2be2; font-weight: bold; } td.skipped { color: #777; }
.meta { color: #555; font-size: 0.9em; } .meta td { border: none; padding: 1px 10px 1px 0; }
.scroll { overflow-x: auto; } figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; } .notes li { color: #8a5a00; }
nav a { margin-right: 1em; }
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


def table(frame: Any, numeric_columns: set[str]) -> str:
    """A text frame (see :func:`harness.report.formatting.display_frame`) as an HTML table."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(_cell(str(c), str(v), str(c) in numeric_columns) for c, v in zip(frame.columns, values))
        rows.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _meta(metadata: Mapping[str, Any], run_id: str) -> str:
    started = metadata.get("started_at")
    when = _dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S") if started else "?"
    devices = ", ".join(metadata.get("devices") or []) or "?"
    rows = [
        ("run", run_id), ("started", when), ("command", "harness " + " ".join(metadata.get("argv") or [])),
        ("harness", str(metadata.get("harness_version", "?"))),
        ("TensorFlow / Keras", f"{metadata.get('tensorflow', '?')} / {metadata.get('keras', '?')}"),
        ("devices", devices), ("precision", str(metadata.get("precision", "?"))),
        ("host", f"{metadata.get('host', '?')} ({metadata.get('platform', '?')}, "
                 f"Python {metadata.get('python', '?')})"),
        ("git commit", str(metadata.get("git_commit") or "-")),
    ]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def page(*, title: str, run_id: str, metadata: Mapping[str, Any], summary: list[str],
         tables: list[tuple[str, str, str]], figures: list[tuple[str, str, bytes]], notes: list[str]) -> str:
    """The whole page. ``tables``: (name, caption, html table); ``figures``: (stem, caption, PNG bytes)."""
    nav = "".join(f'<a href="#{html.escape(n)}">{html.escape(n)}</a>' for n in ("summary", "tables", "figures"))
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>", _meta(metadata, run_id),
             f"<nav>{nav}</nav>", '<h2 id="summary">Summary</h2><ul>',
             *(f"<li>{html.escape(line)}</li>" for line in summary), "</ul>"]
    if notes:
        parts += ['<ul class="notes">', *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"]
    parts.append('<h2 id="tables">Tables</h2>')
    for name, caption, body in tables:
        parts += [f'<h3 id="table-{html.escape(name)}">{html.escape(name)}</h3>',
                  f"<p class=\"meta\">{html.escape(caption)}</p>" if caption else "", body]
    parts.append('<h2 id="figures">Figures</h2>')
    for stem, caption, png in figures:
        parts += [f'<figure id="figure-{html.escape(stem)}">', image(png, caption or stem),
                  f"<figcaption>{html.escape(stem)}{': ' + html.escape(caption) if caption else ''}</figcaption>",
                  "</figure>"]
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)
