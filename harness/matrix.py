"""The combination matrix: every dataset x augmentation x model, and the selection among them."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from harness.config import _unknown
from harness.errors import UsageError
from harness.expression import Expression
from harness.specs import Combination

if TYPE_CHECKING:
    from harness.config import Config
    from harness.registry import Registry


def collect(registry: Registry) -> list[Combination]:
    """All combinations, in registration order; incompatible ones are marked skipped with the reason."""
    combinations = []
    for dataset in registry.datasets.values():
        for augmentation in registry.augmentations.values():
            for model in registry.models.values():
                combination = Combination(dataset, augmentation, model)
                reason = combination.incompatibility()
                if reason:
                    combination.skip(reason)
                combinations.append(combination)
    return combinations


def match_names(patterns: Iterable[str], names: Iterable[str], kind: str, option: str) -> set[str]:
    """The names that the patterns select; a pattern that selects nothing is a usage error."""
    names = list(names)
    chosen: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise UsageError(f"{option}: " + _unknown(kind, pattern, dict.fromkeys(names)))
        chosen.update(hits)
    return chosen


def select(config: Config, registry: Registry, combinations: list[Combination]) -> list[Combination]:
    """Apply ``--dataset``, ``--augmentation``, ``--model``, ``-k`` and ``-m``."""
    option = config.option
    wanted = {
        "dataset": match_names(option.dataset, registry.datasets, "dataset", "--dataset") if option.dataset else None,
        "augmentation": match_names(option.augmentation, registry.augmentations, "augmentation", "--augmentation")
        if option.augmentation
        else None,
        "model": match_names(option.model, registry.models, "model", "--model") if option.model else None,
    }
    keyword = Expression(option.keyword, "-k") if option.keyword else None
    markexpr = Expression(option.markexpr, "-m") if option.markexpr else None
    if markexpr is not None:
        declared = {tag for combination in combinations for tag in combination.tags}
        for name in sorted(markexpr.names() - declared):
            sys.stderr.write(f"harness: warning: -m {option.markexpr!r}: no dataset, augmentation or model declares "
                             f"the tag {name!r}" + _close(name, declared) + "\n")
    selected = []
    for combination in combinations:
        if wanted["dataset"] is None and "user-data" in combination.dataset.tags:
            continue  # a template such as image_folder runs only when named (or defined in configuration)
        if any(
            names is not None and getattr(combination, kind).name not in names for kind, names in wanted.items()
        ):
            continue
        if keyword is not None and not keyword.matches(_keyword_predicate(combination)):
            continue
        if markexpr is not None and not markexpr.matches(combination.tags.__contains__):
            continue
        selected.append(combination)
    return selected


def _close(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else f" (tags: {', '.join(sorted(known)) or 'none'})"


def _keyword_predicate(combination: Combination):  # type: ignore[no-untyped-def]
    haystack = [combination.id.lower(), *(tag.lower() for tag in combination.tags)]

    def predicate(word: str) -> bool:
        word = word.lower()
        return any(word in text for text in haystack)

    return predicate
