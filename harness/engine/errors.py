"""What kind of failure an exception is, for the record (light: imports no backend)."""

from __future__ import annotations

import re

from harness.errors import DataError, UsageError


def error_kind(exc: BaseException) -> str:
    """``oom``, ``data``, ``usage`` or ``exception``: what kind of failure an exception is (a NaN loss is
    ``nan_loss``, found by the budget callback)."""
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or type(exc).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") \
            or "out of memory" in text or text.startswith("oom ") or "resource_exhausted" in text:
        return "oom"
    if isinstance(exc, DataError):
        return "data"
    if isinstance(exc, UsageError):
        return "usage"
    return "exception"


def oom_message(exc: BaseException) -> str:
    """One line for an out-of-memory error (TensorFlow's holds the whole graph's stack), with what to try."""
    found = re.search(r"OOM when allocating tensor with shape\[[^\]]*\]", str(exc))
    what = found.group(0) if found else (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"out of memory ({what}): try a smaller --batch-size, smaller images or a smaller model"
