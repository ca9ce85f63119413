"""The run's facts: when it started, its command and the command that reproduces it, versions, devices, host,
the git commit with its dirty flag and the count of installed distributions (the manifest: ``harness.manifest``)."""

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
    found = metadata.get("manifest")
    manifest: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return [
        ("run", run_id), ("started", started(metadata)), ("command", shown.command(metadata)),
        *([("reproduce", shown.shown(manifest["reproduce"]))] if manifest.get("reproduce") else []),
        ("harness", str(metadata.get("harness_version", "?"))),
        ("TensorFlow / Keras", f"{metadata.get('tensorflow', '?')} / {metadata.get('keras', '?')}"),
        ("devices", ", ".join(str(d) for d in metadata.get("devices") or []) or "?"),
        *([("CPU", str(manifest["cpu"]))] if manifest.get("cpu") else []),
        ("precision", str(metadata.get("precision", "?"))),
        ("host", f"{metadata.get('host', '?')} ({metadata.get('platform', '?')}, "
                 f"Python {metadata.get('python', '?')})"),
        ("git commit", git(metadata, manifest)),
        *([("installed", f"{len(manifest['distributions'])} distributions with their versions (metadata.json: "
                         "manifest.distributions)")] if isinstance(manifest.get("distributions"), Mapping) else []),
    ]


def git(metadata: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """The working directory's commit and whether it had local changes (``dirty``, with the hash of the diff),
    from the manifest; a run written before it has the commit alone."""
    state = manifest.get("git")
    if "git" in manifest and not isinstance(state, Mapping):
        return "- (not a git working tree)"
    if not isinstance(state, Mapping):
        return str(metadata.get("git_commit") or "-")
    if state.get("dirty") is None:
        return f"{state.get('commit')} (local changes unknown)"
    if not state.get("dirty"):
        return f"{state.get('commit')} (clean)"
    return f"{state.get('commit')} (dirty: uncommitted changes, diff sha256 {str(state.get('diff_sha256'))[:12]})"


def subtitle(metadata: Mapping[str, Any]) -> str:
    """The line under the page's title: when the run started and its command."""
    return f"started {started(metadata)} \u00b7 {shown.command(metadata)}"


def build(report: Any, content: Content) -> Section:
    return Section(ID, TITLE, [Facts(facts(report.metadata, report.run_id))])
