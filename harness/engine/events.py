"""Progress events from a training task to whoever listens (the executor forwards them to the hooks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


def emit(event: dict[str, Any]) -> None:
    for listener in list(_listeners):
        listener(event)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def subscribe(listener: Listener) -> None:
    """Listen for the rest of the process (a worker process forwarding events to its driver)."""
    _listeners.append(listener)
