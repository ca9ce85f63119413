"""Numbers to the text a reader sees in the Markdown and HTML tables (the CSV files keep full precision)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _blank(value: Any) -> bool:
    """``None``, NaN and pandas' missing values."""
    import pandas as pd

    if isinstance(value, (list, tuple, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def accuracy(value: Any) -> str:
    return f"{float(value):.3f}"


def points(value: Any) -> str:
    return f"{float(value):+.1f}"


def p_value(value: Any) -> str:
    return f"{float(value):.2g}"


def seconds(value: Any) -> str:
    return f"{float(value):.1f}"


def rate(value: Any) -> str:
    return f"{float(value):,.0f}"


def count(value: Any) -> str:
    number = float(value)
    return f"{int(number)}" if number.is_integer() else f"{number:.1f}"


def generic(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


#: Longer text (an error with its message) is cut to this many characters in the Markdown and HTML tables.
MAX_TEXT = 160


def text(value: Any) -> str:
    value = " ".join(str(value).split())
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "\u2026"


def formatter_for(column: str) -> Callable[[Any], str]:
    """How to show a column, chosen by its name."""
    name = str(column)
    if name.endswith("accuracy") or name in ("ci_low", "ci_high", "test_std") or name.startswith("accuracy_"):
        return accuracy
    if name == "score" or name.startswith(("score_", "score:")):
        return lambda v: f"{float(v):.2f}"
    if name.endswith("points"):
        return points
    if name.startswith("p_value") or name == "p_holm":
        return p_value
    if name.endswith("seconds"):
        return seconds
    if name.endswith("per_second"):
        return rate
    if name.endswith("percent"):
        return lambda v: f"{float(v):.1f}"
    if name in ("epochs", "steps", "images", "seed", "seeds", "n_test", "count", "time_to_target_epochs",
                "runs", "reached", "not_reached", "datasets", "epochs_to_target"):
        return count
    if name == "error":
        return text
    return generic


def cell(value: Any, format_value: Callable[[Any], str]) -> str:
    if _blank(value):
        return ""
    try:
        return format_value(value)
    except (TypeError, ValueError):
        return str(value)


def display_frame(frame: Any, value_format: Callable[[Any], str] | None = None) -> Any:
    """A copy of ``frame`` as text; a named index becomes leading columns. ``value_format`` overrides the
    choice by column name (a pivot's columns are model names, its values accuracies)."""
    import pandas as pd

    index_columns: set[Any] = set()
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        levels = frame.index.nlevels
        frame = frame.reset_index()
        index_columns = set(frame.columns[:levels])
    text = {}
    for column in frame.columns:
        chosen = formatter_for(column) if value_format is None or column in index_columns else value_format
        text[str(column)] = [cell(v, chosen) for v in frame[column].tolist()]
    return pd.DataFrame(text, columns=[str(c) for c in frame.columns])
