"""Numbers and column names to the text a reader sees in the Markdown and HTML tables (the CSV files keep
the machine names and every significant digit)."""

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


#: p-values below this are shown as ``< 0.001``; the others with three decimals, as a paper's table does.
SMALLEST_P = 0.001


def p_value(value: Any) -> str:
    """One format for every p-value: ``0.035``, ``0.200``, ``< 0.001``."""
    number = float(value)
    return f"< {SMALLEST_P:g}" if number < SMALLEST_P else f"{number:.3f}"


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
    """Longer text (an error message) on one line, cut to :data:`MAX_TEXT`, through
    :func:`harness.report.shown.shown` (an error may quote a URI or a command line)."""
    from harness.report.shown import shown

    value = " ".join(shown(value).split())
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
    if name.startswith("p_value") or name in ("p_holm", "mcnemar_p", "mcnemar_p_holm"):
        return p_value
    if name.startswith("difference"):
        return lambda v: f"{float(v):+.3f}"
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


#: Column names as a reader sees them in the pages; any other column (a model's name in a pivot, a plugin's
#: column) is shown as it is.
HEADERS = {
    "test_accuracy": "test accuracy", "train_accuracy": "training accuracy", "val_accuracy": "validation accuracy",
    "baseline_accuracy": "baseline accuracy", "lift_points": "lift (points)", "p_value": "p",
    "p_holm": "p (Holm)", "train_seconds": "training time (s)", "ci_low": "95% CI low", "ci_high": "95% CI high",
    "ci_method": "interval", "n_test": "test images", "n_correct": "correct", "test_std": "test accuracy std",
    "test_min": "lowest test accuracy", "test_max": "highest test accuracy",
    "min_detectable_lift_points": "detectable lift (points)", "images_per_second": "images/s",
    "time_to_target_seconds": "time to target (s)", "time_to_target_epochs": "epochs to target",
    "share_percent": "share (%)", "seeds_passed": "seeds passed", "stop_reason": "stopped by",
    "score_std": "score std", "score_low": "lowest score", "score_high": "highest score",
    "std_seconds": "std (s)", "kept_seconds": "kept runs (s)", "dropped_seconds": "dropped runs (s)",
    "run_seconds": "each run (s)", "not_reached": "not reached",
    "mcnemar_p": "McNemar p", "mcnemar_p_holm": "McNemar p (Holm)", "difference_low": "95% CI low",
    "difference_high": "95% CI high", "only_a": "right by A alone", "only_b": "right by B alone",
    "accuracy_a": "accuracy of A", "accuracy_b": "accuracy of B", "vs_best": "vs best (McNemar)",
    "iqm": "IQM", "probability_of_improvement": "P(best > it)", "seeds_wrong": "wrong on seeds",
}


def header(column: Any) -> str:
    """A column's name as the pages show it: ``test accuracy``, ``lift (points)``, ``p (Holm)``,
    ``score: DATASET``."""
    name = str(column)
    if name in HEADERS:
        return HEADERS[name]
    if name.startswith("score:"):
        return f"score: {name.split(':', 1)[1]}"
    return name


def human_frame(frame: Any) -> Any:
    """A text frame (:func:`display_frame`) with the reader's column names."""
    return frame.rename(columns={c: header(c) for c in frame.columns})
