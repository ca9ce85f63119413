"""Reading what the report needs out of stored result records (plain dicts from ``records.jsonl``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

#: Order of the status words, best first.
STATUSES = ("passed", "failed", "error", "skipped")


def latest_per_task(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per combination, seed and backend, the last one written (a resumed run may repeat a skip)."""
    by_key: dict[tuple[str, Any, Any], dict[str, Any]] = {}
    for record in records:
        by_key[(record.get("id", "?"), record.get("seed"), record.get("backend"))] = record
    return list(by_key.values())


def several_backends(records: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the records come from more than one backend (``--backend tensorflow,jax``): then they are
    named."""
    return len({r.get("backend") for r in records if r.get("backend")}) > 1


def rows_of_several_backends(rows: Any) -> bool:
    """Whether ``rows`` (of the combinations table, a data frame) come from more than one backend."""
    return bool(rows["backend"].dropna().nunique() > 1)


def model_labels(rows: Any) -> list[str]:
    """Each row's model, with its backend when ``rows`` come from several: ``small_cnn (jax)``."""
    if not rows_of_several_backends(rows):
        return [str(m) for m in rows["model"]]
    return [f"{m} ({b})" for m, b in zip(rows["model"], rows["backend"])]


def combination_label(augmentation: Any, model: Any, backend: Any = None) -> str:
    """The one name of a combination on a dataset, in every table, figure and summary line:
    ``flip_rotate / small_cnn``, with ``/ BACKEND`` in a run on several backends."""
    return f"{augmentation} / {model}" + (f" / {backend}" if backend else "")


def number(value: Any) -> float:
    """A record field as a float; missing and ``null`` become NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def test_counts(record: Mapping[str, Any]) -> tuple[int, int]:
    """``(n_test, n_correct)`` of a record: its counts, or for a record written before ``n_correct`` was
    recorded, the count behind its accuracy; ``(0, 0)`` without a test set."""
    from harness import stats

    n_test = number(record.get("n_test"))
    accuracy = number(record.get("test_accuracy"))
    if math.isnan(n_test) or n_test <= 0 or math.isnan(accuracy):
        return 0, 0
    correct = record.get("n_correct")
    return int(n_test), int(correct) if correct is not None else stats.correct_count(accuracy, int(n_test))


def datasets(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({str(r.get("dataset")) for r in records if r.get("dataset") is not None})


def of_dataset(records: Iterable[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("dataset") == dataset]


def dataset_info(records: Iterable[Mapping[str, Any]], dataset: str) -> dict[str, Any] | None:
    """The ``dataset_info`` recorded by the first trained task of ``dataset`` (identical for all of them)."""
    for record in records:
        if record.get("dataset") == dataset and record.get("dataset_info"):
            return dict(record["dataset_info"])
    return None


def baseline(records: Iterable[Mapping[str, Any]], dataset: str) -> float:
    """The label-frequency baseline (test accuracy of always guessing the majority class) of ``dataset``."""
    for record in records:
        if record.get("dataset") == dataset and record.get("baseline_accuracy") is not None:
            return number(record["baseline_accuracy"])
    return math.nan


def _format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))


def describe_params(record: Mapping[str, Any]) -> str:
    """The augmentation's and model's parameters, e.g. ``augmentation: factor=0.2; model: learning_rate=0.001``."""
    config = record.get("config") or {}
    parts = []
    for kind in ("augmentation", "model"):
        params = (config.get(kind) or {}).get("params") or {}
        if params:
            parts.append(f"{kind}: {_format_params(params)}")
    return "; ".join(parts)


def describe_budget(record: Mapping[str, Any]) -> str:
    """The budget's limits, e.g. ``20 epochs, 5m``."""
    budget = (record.get("config") or {}).get("budget") or {}
    parts = []
    for key, word in (("epochs", "epoch"), ("seconds", ""), ("steps", "step"), ("images", "image")):
        value = budget.get(key)
        if value is not None:
            parts.append(f"{value:g}s" if key == "seconds" else f"{value} {word}{'s' * (value != 1)}")
    return ", ".join(parts)


def combination_status(statuses: Iterable[str]) -> str:
    """One status for a combination from its seeds': an error wins, then every seed must pass."""
    values = [s for s in statuses if s]
    if not values:
        return "?"
    if "error" in values:
        return "error"
    if all(s == "skipped" for s in values):
        return "skipped"
    if all(s == "passed" for s in values if s != "skipped"):
        return "passed"
    return "failed"


def history(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(record.get("history") or [])
