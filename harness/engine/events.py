"""Progress events from a training task to whoever listens (the executor forwards them to the hooks)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Iterator

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
