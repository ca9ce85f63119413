"""Small helpers for messages, shared by the session, the terminal and the commands (imports nothing)."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
