"""Tracebacks of errors inside combinations, shown as pytest's ``--tb`` shows them.

A task that raised keeps its traceback in the record (``traceback``, the text of
:func:`traceback.format_exception`): it is made where the task trained, a worker process or another machine,
so only its text travels. :func:`format_traceback` turns that text into one of the styles of ``--tb``:

- ``short`` (the default): the frames of the last exception that are not harness's own (nor pluggy's), each as
  ``FILE:LINE: in FUNCTION`` with its source line, then the exception: where the plugin's code failed. When
  every frame is harness's, the last one is kept.
- ``long``: the whole traceback, chained exceptions included.
- ``no``: nothing (the message alone is on the result's line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pluggy

import harness

#: The styles ``--tb`` takes.
STYLES = ("short", "long", "no")

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')
#: Lines between two chained exceptions (``raise ... from``, or an exception while handling another).
_CHAINS = ("The above exception was the direct cause of the following exception:",
           "During handling of the above exception, another exception occurred:")
#: Frames in these folders are the host's, not the plugin's: ``short`` leaves them out.
_HOST_DIRS = tuple(str(Path(str(module.__file__)).resolve().parent) + os.sep for module in (harness, pluggy))


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    source: str


def _last_exception(text: str) -> list[str]:
    """The lines of the last exception of a (possibly chained) traceback."""
    lines = text.rstrip("\n").splitlines()
    start = 0
    for index, line in enumerate(lines):
        if line.strip() in _CHAINS:
            start = index + 1
    return [line for line in lines[start:] if line.strip()]


def parse(text: str) -> tuple[list[Frame], list[str]]:
    """The frames of the last exception in ``text`` and its closing lines (``Type: message``)."""
    lines = _last_exception(text)
    frames: list[Frame] = []
    message: list[str] = []
    index = 0
    while index < len(lines):
        match = _FRAME.match(lines[index])
        if match:
            source = ""
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following.startswith("    ") and not _FRAME.match(following):
                source = following.strip()
                index += 1
            while index + 1 < len(lines) and set(lines[index + 1].strip()) <= set("^~ ") and lines[index + 1].strip():
                index += 1  # the ^^^^ markers under the source line
            frames.append(Frame(match["file"], int(match["line"]), match["function"], source))
        elif frames or not lines[index].startswith(("Traceback", "  ")):
            message.append(lines[index])
        index += 1
    return frames, message


def _is_host(file: str) -> bool:
    try:
        resolved = str(Path(file).resolve())
    except OSError:
        return False
    return resolved.startswith(_HOST_DIRS)


def _shown_path(file: str, cwd: Path | None) -> str:
    if cwd is not None:
        try:
            return os.path.relpath(file, cwd) if Path(file).resolve().is_relative_to(cwd.resolve()) else file
        except (OSError, ValueError):
            return file
    return file


def format_traceback(text: str, style: str, cwd: Path | None = None) -> list[str]:
    """The lines to show for the traceback ``text`` in ``style`` (see the module's docstring); paths under
    ``cwd`` are shown relative to it."""
    if style == "no" or not text:
        return []
    if style == "long":
        return text.rstrip("\n").splitlines()
    frames, message = parse(text)
    shown = [frame for frame in frames if not _is_host(frame.file)] or frames[-1:]
    lines = []
    for frame in shown:
        lines.append(f"{_shown_path(frame.file, cwd)}:{frame.line}: in {frame.function}")
        if frame.source:
            lines.append(f"    {frame.source}")
    lines.extend(f"E   {line}" for line in message)
    return lines
