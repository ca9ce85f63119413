"""Value parsers: each takes a string (from the command line) or a TOML value (from a configuration file) and
returns the typed value, or raises :class:`ValueError` with a message that quotes the value and names the
expected form (``invalid value 'x': expected a positive whole number``)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_DURATION = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ms|h|m|s)?")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(value: Any) -> float:
    """``90``, ``90s``, ``1.5m``, ``1h30m`` or ``250ms`` to seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        pos, seconds = 0, 0.0
        while pos < len(text):
            match = _DURATION.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"invalid duration {value!r}: expected e.g. 90, 90s, 5m, 1h30m")
            seconds += float(match["num"]) * _UNITS[match["unit"]]
            pos = match.end()
        if not text:
            raise ValueError(f"invalid duration {value!r}: expected e.g. 90, 90s, 5m, 1h30m")
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be positive")
    return seconds


def _whole(value: Any, minimum: int, expected: str) -> int:
    try:
        number = int(str(value), 10) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"invalid value {value!r}: expected {expected}") from None
    if isinstance(number, bool) or number < minimum:
        raise ValueError(f"invalid value {value!r}: expected {expected}")
    return number


def positive_int(value: Any) -> int:
    """A whole number of at least 1 (``--epochs 5``); a text or a TOML value."""
    return _whole(value, 1, "a positive whole number")


def nonnegative_int(value: Any) -> int:
    """A whole number of at least 0."""
    return _whole(value, 0, "a whole number >= 0")


def fraction(value: Any) -> float:
    """A number from 0 to 1 (``--target-accuracy 0.85``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value {value!r}: expected a number between 0 and 1") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"invalid value {value!r}: expected a number between 0 and 1")
    return number


def choice(*choices: str) -> Callable[[Any], str]:
    """A parser that takes one of ``choices`` (``choice("short", "long", "no")``)."""
    def parse(value: Any) -> str:
        text = str(value)
        if text not in choices:
            raise ValueError(f"invalid value {value!r}: expected one of {', '.join(choices)}")
        return text

    parse.__name__ = "choice"
    return parse


def seed_number(value: Any) -> int:
    """A random seed: what NumPy and TensorFlow take, 0 to 2**32 - 1."""
    number = _whole(value, 0, f"a whole number from 0 to {2**32 - 1}")
    if number > 2**32 - 1:
        raise ValueError(f"invalid value {value!r}: expected a whole number from 0 to {2**32 - 1}")
    return number


def selection_name(value: Any) -> str:
    """A name or a pattern (``--dataset``, ``--model``...): text, never a number or a table from a file."""
    if not isinstance(value, str):
        raise ValueError(f"invalid value {value!r}: expected a name in quotes")
    return value


def backend_names(value: Any) -> list[str]:
    """``--backend``: ``jax``, ``tensorflow,jax`` (each once), or a TOML list of names."""
    from harness.backends import NAMES

    items = value if isinstance(value, list) else str(value).split(",")
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if name not in NAMES:
            raise ValueError(f"invalid backend {name!r}: expected one of {', '.join(NAMES)} (comma-separated)")
        if name not in names:
            names.append(name)
    return names


def device_ids(value: Any) -> list[int]:
    """``--devices 0,2``: GPU indices, as ``nvidia-smi`` numbers them."""
    items = value if isinstance(value, list) else str(value).split(",")
    return [_whole(str(item).strip(), 0, "GPU indices such as 0,2") for item in items]


def string(value: Any) -> str:
    """Text (a number from a file is taken as its text; a table or a boolean is refused)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"invalid value {value!r}: expected a string")
    return str(value)


def parse_scalar(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (``3``, ``0.5``, ``true``, ``[1, 2]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(value: Any) -> tuple[str, str, Any]:
    """``NAME.KEY=VALUE`` to ``(NAME, KEY, VALUE)``."""
    text = str(value)
    target, sep, raw = text.partition("=")
    name, dot, key = target.strip().partition(".")
    if not sep or not dot or not name or not key:
        raise ValueError(f"invalid setting {value!r}: expected NAME.KEY=VALUE, e.g. mobilenet_v2.weights=none")
    return name, key.strip(), parse_scalar(raw.strip())


def number(value: Any) -> float:
    """Any finite number (``--fail-on-drop 2.5``)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value {value!r}: expected a number such as 2 or 0.5") from None
    if isinstance(value, bool) or result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"invalid value {value!r}: expected a number such as 2 or 0.5")
    return result


def checked(parse: Callable[[Any], Any], value: Any) -> Any:
    """``parse(value)``, its :class:`ValueError` (or :class:`TypeError`) made to quote ``value`` when the
    parser's own message does not (``int('wide')`` says "invalid literal for int()"): a plugin may declare an
    option with ``parse=int`` and its users still read which value was wrong."""
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        message = str(exc) or type(exc).__name__
        if f"{value!r}:" in message:  # the parser quoted it, as harness's parsers do
            raise ValueError(message) from None
        raise ValueError(f"invalid value {value!r}: {message}") from None
