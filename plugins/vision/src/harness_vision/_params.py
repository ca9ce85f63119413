"""Reading typed parameters (from ``--set``, ``[tool.harness.params]`` or configuration) with one-line errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness import UsageError


def check_known(params: Mapping[str, Any], known: Iterable[str], owner: str) -> None:
    """Refuse parameters that ``owner`` does not take, so a typo is not silently ignored."""
    known = sorted(known)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UsageError(f"{owner}: unknown parameter {', '.join(unknown)} (known: {', '.join(known)})")


def number(params: Mapping[str, Any], key: str, owner: str, *, low: float, high: float) -> float:
    """``params[key]`` as a float in ``[low, high]``."""
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise UsageError(f"{owner}: parameter {key}={value!r} is invalid: expected a number from {low:g} to {high:g}")
    return float(value)


def whole(params: Mapping[str, Any], key: str, owner: str, *, low: int = 0) -> int:
    """``params[key]`` as an int of at least ``low``."""
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{owner}: parameter {key}={value!r} is invalid: expected a whole number >= {low}")
    return value


def optional_seed(params: Mapping[str, Any], owner: str) -> int | None:
    """The optional ``seed`` parameter: ``None`` (follow the run's seed) or a whole number."""
    return whole(params, "seed", owner) if "seed" in params else None


def text(params: Mapping[str, Any], key: str, owner: str) -> str:
    """``params[key]`` as a non-empty string."""
    value = params[key]
    if not isinstance(value, str) or not value:
        raise UsageError(f"{owner}: parameter {key}={value!r} is invalid: expected a non-empty string")
    return value


def choice(params: Mapping[str, Any], key: str, owner: str, choices: Iterable[str]) -> str:
    """``params[key]``, which must be one of ``choices``."""
    choices = tuple(choices)
    value = params[key]
    if value not in choices:
        raise UsageError(f"{owner}: parameter {key}={value!r} is invalid: expected one of {', '.join(choices)}")
    return str(value)
