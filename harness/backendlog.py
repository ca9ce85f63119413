"""The backends' own log lines go to the run's ``backend.log``, not to the terminal (unless ``-v``).

TensorFlow, JAX and XLA write notices from C++ straight to the process's standard error (file descriptor
2), whatever Python does with ``sys.stderr``: ``I0000 ... Memory patch applied: M_TRIM_THRESHOLD=128 kb was
set.``, oneDNN notes, absl warnings. They are not harness's and say nothing about the run. While a task
trains, :func:`to_log` points descriptor 2 at ``RUN_DIR/backend.log`` and keeps Python's ``sys.stderr`` (what
harness and the plugins print) on the terminal. The run's driver names the file in the environment
(:data:`ENV`) when its run directory exists, so that worker processes started after it write there too; with
``-v`` it names none and everything reaches the terminal as before.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The environment variable naming the file; unset (or empty): the backends write to the terminal.
ENV = "HARNESS_BACKEND_LOG"
#: The file's name in the run directory.
FILE_NAME = "backend.log"


def start(run_dir: Path | None, verbosity: int) -> str | None:
    """Name ``run_dir``'s log in the environment unless ``verbosity`` is above 0 (``-v``); return what
    :data:`ENV` held before, for :func:`finish`."""
    before = os.environ.get(ENV)
    if run_dir is not None and verbosity <= 0:
        os.environ[ENV] = str(run_dir / FILE_NAME)
    return before


def finish(before: str | None, run_dir: Path | None = None) -> None:
    """Put :data:`ENV` back as :func:`start` found it (an in-process run leaves the environment as it was), and
    remove ``run_dir``'s log if the backends wrote nothing to it."""
    log = run_dir / FILE_NAME if run_dir is not None else None
    if log is not None and log.is_file() and log.stat().st_size == 0:
        log.unlink()
    if before is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = before


def _python_stderr_on(fd: int) -> bool:
    """Whether ``sys.stderr`` writes to descriptor ``fd`` (not so under pytest's ``capsys``, for one)."""
    try:
        return sys.stderr.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


@contextmanager
def to_log(path: str | None = None) -> Iterator[None]:
    """Send what is written to descriptor 2 to ``path`` (default: the file :data:`ENV` names; neither: do
    nothing) while the block runs, keeping ``sys.stderr`` on the original standard error."""
    path = path if path is not None else os.environ.get(ENV) or None
    if path is None:
        yield
        return
    try:
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:  # a run directory that went away: the terminal is better than nothing
        yield
        return
    python_stderr = sys.stderr
    keep_python = _python_stderr_on(2)
    python_stderr.flush()
    saved = os.dup(2)
    os.dup2(log, 2)
    os.close(log)
    if keep_python:
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding=python_stderr.encoding,
                                      errors=python_stderr.errors, line_buffering=True)
    try:
        yield
    finally:
        if keep_python:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)
