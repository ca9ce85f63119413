"""Typed per-run storage for plugins (pytest's ``Stash``): state lives under typed keys, not in attributes."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Stash:
    """Typed per-run storage for plugins: ``key = StashKey[int](); config.stash[key] = 3``."""

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], Any] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return self._data[key]  # type: ignore[no-any-return]

    def get(self, key: StashKey[T], default: T) -> T:
        return self._data.get(key, default)  # type: ignore[no-any-return]

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return self._data.setdefault(key, default)  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return key in self._data


class StashKey(Generic[T]):
    """A key of :class:`Stash`; each instance is a distinct key."""

    __slots__ = ()
