"""Deterministic, leak-free splits, made once at file level from a seed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def held_count(members: int, fraction: float) -> int:
    """How many of a class's ``members`` :func:`stratified_holdout` holds out: ``fraction`` of them rounded
    to the nearest whole number (half to even, as Python rounds), leaving at least one kept."""
    if fraction <= 0.0:
        return 0
    n_held = int(round(members * fraction))
    return members - 1 if n_held >= members and members > 1 else n_held


def carved_test(members: int, validation: float, test: float) -> tuple[int, int]:
    """Validation and test images of a class of ``members`` when both are carved from its files (as
    :func:`harness.data.prepare` does: ``validation + test`` held out, then ``test``'s share of those)."""
    held = held_count(members, validation + test)
    n_test = held_count(held, test / (validation + test)) if held and validation + test > 0 else 0
    return held - n_test, n_test


def stratified_holdout(
    items: Sequence[T], labels: Sequence[int], fraction: float, seed: int
) -> tuple[list[T], list[T]]:
    """Split ``items`` into ``(kept, held_out)`` with ``fraction`` of each class held out.

    The order of ``items`` does not matter: they are sorted by their text form first, so the same files
    give the same split on every machine.
    """
    if fraction <= 0.0:
        return list(items), []
    rng = np.random.default_rng(seed)
    kept: list[tuple[str, T]] = []
    held: list[tuple[str, T]] = []
    by_class: dict[int, list[T]] = {}
    for item, label in zip(items, labels):
        by_class.setdefault(int(label), []).append(item)
    for label in sorted(by_class):
        members = sorted(by_class[label], key=str)
        order = rng.permutation(len(members))
        n_held = held_count(len(members), fraction)
        chosen = set(order[:n_held].tolist())
        for index, member in enumerate(members):
            (held if index in chosen else kept).append((str(member), member))
    kept.sort(key=lambda pair: pair[0])
    held.sort(key=lambda pair: pair[0])
    return [m for _, m in kept], [m for _, m in held]
