"""A harness record as an MLflow run's parts: parameters, per-epoch and final metrics, tags. Plain Python (no
MLflow import), so it is cheap to test and to reuse."""

from __future__ import annotations

import json
import math
from typing import Any

#: MLflow's limits on a parameter's and a tag's value (characters); longer values are cut.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000

#: Per-epoch metrics: the record's ``history`` key and the MLflow metric name (logged with step = epoch).
EPOCH_METRICS = {"loss": "loss", "accuracy": "accuracy", "val_loss": "val_loss", "val_accuracy": "val_accuracy",
                 "seconds": "epoch_seconds", "train_seconds_total": "train_seconds_total"}
#: Final metrics: the record's field and the MLflow metric name (logged once, at step 0).
FINAL_METRICS = {"test_accuracy": "test_accuracy", "baseline_accuracy": "baseline_accuracy",
                 "p_value": "p_value", "images_per_second": "images_per_second",
                 "val_accuracy": "best_val_accuracy", "train_accuracy": "final_train_accuracy",
                 "test_accuracy_best": "test_accuracy_best", "test_accuracy_last": "test_accuracy_last",
                 "train_seconds": "train_seconds", "wall_seconds": "wall_seconds",
                 "compile_seconds": "compile_seconds", "epochs_fraction": "epochs", "steps": "steps",
                 "images": "images", "best_epoch": "best_epoch", "n_test": "n_test", "n_correct": "n_correct",
                 "params_count": "params_count", "peak_memory_bytes": "peak_memory_bytes"}


def record_key(record: dict[str, Any]) -> str:
    """What identifies one record of a run directory (records are appended, never rewritten): its task's
    configuration hash (the combination's id and seed for a skipped one) and when it finished."""
    who = record.get("config_hash") or f"{record.get('id')}[seed={record.get('seed')}]"
    return f"{who}@{record.get('finished_at')}"


def run_name(record: dict[str, Any]) -> str:
    """The MLflow run's name: the task's id, ``DATASET-AUGMENTATION-MODEL[seed=N,BACKEND]``."""
    backend = record.get("backend")
    seed = f"seed={record.get('seed')}"
    return f"{record.get('id')}[{seed}]" if not backend else f"{record.get('id')}[{seed},{backend}]"


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:limit]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def params(record: dict[str, Any]) -> dict[str, str]:
    """The task's parameters: dataset, augmentation and model with their params (``model.learning_rate``),
    the budget (``budget.epochs``...), seeds, batch size, backend and precision."""
    config = record.get("config") or {}
    out: dict[str, Any] = {"dataset": record.get("dataset"), "augmentation": record.get("augmentation"),
                           "model": record.get("model"), "seed": record.get("seed"),
                           "split_seed": record.get("split_seed", config.get("split_seed")),
                           "backend": record.get("backend", config.get("backend")),
                           "precision": record.get("precision", config.get("precision")),
                           "batch_size": config.get("batch_size"), "target_accuracy": config.get("target_accuracy"),
                           "restore_best": config.get("restore_best")}
    for kind in ("dataset", "augmentation", "model"):
        for name, value in sorted(((config.get(kind) or {}).get("params") or {}).items()):
            out[f"{kind}.{name}"] = value
    image_size = (config.get("dataset") or {}).get("image_size")
    if image_size:
        out["dataset.image_size"] = "x".join(str(side) for side in image_size)
    for name, value in sorted((config.get("budget") or {}).items()):
        out[f"budget.{name}"] = value
    return {key: _text(value, MAX_PARAM_VALUE) for key, value in out.items() if value is not None}


def epoch_metrics(record: dict[str, Any]) -> list[tuple[str, float, int, float]]:
    """``(name, value, step, seconds since the task started)`` for each epoch of the history; step = epoch."""
    out = []
    for entry in record.get("history") or []:
        epoch = entry.get("epoch")
        if not isinstance(epoch, int):
            continue
        elapsed = _number(entry.get("train_seconds_total")) or 0.0
        for field, name in EPOCH_METRICS.items():
            value = _number(entry.get(field))
            if value is not None:
                out.append((name, value, epoch, elapsed))
    return out


def final_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The task's outcome: test accuracy, baseline, lift over it in points, p value, images/s and the
    budget used (only the finite ones)."""
    out = {name: _number(record.get(field)) for field, name in FINAL_METRICS.items()}
    test, baseline = _number(record.get("test_accuracy")), _number(record.get("baseline_accuracy"))
    out["lift_points"] = 100.0 * (test - baseline) if test is not None and baseline is not None else None
    target = record.get("time_to_target") or {}
    out["time_to_target_seconds"] = _number(target.get("seconds"))
    out["time_to_target_epoch"] = _number(target.get("epoch"))
    return {name: value for name, value in out.items() if value is not None}


def tags(record: dict[str, Any], metadata: dict[str, Any]) -> dict[str, str]:
    """The task's status (``passed``, ``failed``, ``error``, ``skipped``), its combination and task ids, the
    harness version and git commit of the run (also as MLflow's own ``mlflow.source.git.commit``), why it
    stopped, and an error's message."""
    out: dict[str, Any] = {
        "status": record.get("status"), "combination_id": record.get("id"), "task_id": run_name(record),
        "config_hash": record.get("config_hash"), "harness_version": metadata.get("harness_version"),
        "git_commit": metadata.get("git_commit"), "mlflow.source.git.commit": metadata.get("git_commit"),
        "stop_reason": record.get("stop_reason"), "error_kind": record.get("error_kind"),
        "error": record.get("error"), "host": metadata.get("host"), "harness.record_key": record_key(record),
    }
    return {key: _text(value, MAX_TAG_VALUE) for key, value in out.items() if value is not None}


def run_status(record: dict[str, Any]) -> str:
    """MLflow's status of the run: ``FAILED`` for a task that errored, else ``FINISHED`` (a task that did not
    beat its baseline finished; the ``status`` tag says ``failed``)."""
    return "FAILED" if record.get("status") == "error" else "FINISHED"


def parent_params(metadata: dict[str, Any]) -> dict[str, str]:
    """The harness run's settings, on its parent run: executor, precision, backends, the shared budget."""
    out: dict[str, Any] = {"executor": metadata.get("executor"), "precision": metadata.get("precision"),
                           "backends": ",".join(metadata.get("backends") or []) or None,
                           "workers": metadata.get("workers"), "combinations": len(metadata.get("selection") or [])}
    for name, value in sorted((metadata.get("budget") or {}).items()):
        out[f"budget.{name}"] = value
    return {key: _text(value, MAX_PARAM_VALUE) for key, value in out.items() if value is not None}


def parent_tags(metadata: dict[str, Any], run_dir: str) -> dict[str, str]:
    out = {"harness_version": metadata.get("harness_version"), "git_commit": metadata.get("git_commit"),
           "mlflow.source.git.commit": metadata.get("git_commit"), "host": metadata.get("host"),
           "harness.run_dir": run_dir, "command": " ".join(["harness", *(metadata.get("argv") or [])])}
    return {key: _text(value, MAX_TAG_VALUE) for key, value in out.items() if value}
