"""The one place where a command line, a URI or a path passes on its way into a report (the pages, the
tables' captions, the terminal's report lines): the place to redact secrets in it (``user:password@`` in a
URI, a token in a query string) before anything is shown or written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.store import shown_command, shown_path


def shown(text: Any) -> str:
    """``text`` (a command line, a URI, a path, an error message quoting one) as a report may show it."""
    return str(text)


def command(metadata: Mapping[str, Any]) -> str:
    """The run's command line as a report shows it (see :func:`harness.store.shown_command`)."""
    return shown(shown_command(metadata))


def path(value: Any, metadata: Mapping[str, Any]) -> str:
    """A path or URI of the run, relative to the directory it ran in when inside it."""
    return shown(shown_path(str(value), metadata.get("cwd") or "."))
