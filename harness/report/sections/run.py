"""The run's facts: when it started, its command, versions, devices and host."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from harness.report import shown
from harness.report.section import Content, Facts, Section

ID, TITLE = "run", "Run"


def started(metadata: Mapping[str, Any]) -> str:
    value = metadata.get("started_at")
    try:
        return _dt.datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d %H:%M:%S") if value else "?"
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def facts(metadata: Mapping[str, Any], run_id: str) -> list[tuple[str, str]]:
    return [
        ("run", run_id), ("started", started(metadata)), ("command", shown.command(metadata)),
        ("harness", str(metadata.get("harness_version", "?"))),
        ("TensorFlow / Keras", f"{metadata.get('tensorflow', '?')} / {metadata.get('keras', '?')}"),
        ("devices", ", ".join(str(d) for d in metadata.get("devices") or []) or "?"),
        ("precision", str(metadata.get("precision", "?"))),
        ("host", f"{metadata.get('host', '?')} ({metadata.get('platform', '?')}, "
                 f"Python {metadata.get('python', '?')})"),
        ("git commit", str(metadata.get("git_commit") or "-")),
    ]


def subtitle(metadata: Mapping[str, Any]) -> str:
    """The line under the page's title: when the run started and its command."""
    return f"started {started(metadata)} \u00b7 {shown.command(metadata)}"


def build(report: Any, content: Content) -> Section:
    return Section(ID, TITLE, [Facts(facts(report.metadata, report.run_id))])
