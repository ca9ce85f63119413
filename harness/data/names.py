"""File names as text that any UTF-8 file, JSON record or terminal takes."""

from __future__ import annotations

import os


def shown(path: str) -> str:
    """``path`` as text that any UTF-8 file, JSON or terminal takes: bytes that are not UTF-8 (a file name
    from another encoding, kept by Python as surrogates) appear as ``\\xff`` escapes."""
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeError:  # surrogates that no file name decodes to
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
