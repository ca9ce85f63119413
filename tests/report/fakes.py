"""Records built by hand, shaped like the engine's (no training), and run directories written with the store API."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import stats
from harness.store import RunStore

CLASSES = ["cat", "dog"]
COUNTS = {"train": {"cat": 60, "dog": 40}, "validation": {"cat": 15, "dog": 10}, "test": {"cat": 30, "dog": 20}}


def dataset_info(dataset: str = "pets", baseline: float = 0.6) -> dict[str, Any]:
    return {
        "dataset": dataset, "class_names": list(CLASSES), "image_shape": [32, 32, 3], "root": "memory",
        "split_seed": 1, "split_digest": "d1g3st", "class_counts": COUNTS,
        "sizes": {split: sum(c.values()) for split, c in COUNTS.items()}, "majority_class": "cat",
        "baseline_accuracy": baseline, "baseline_val_accuracy": 0.6, "skipped_files": [], "source_info": {},
    }


def make_record(augmentation: str = "none", model: str = "cnn", *, dataset: str = "pets", seed: int = 1,
                test: float = 0.8, n_test: int = 50, baseline: float = 0.6, epochs: int = 3,
                status: str | None = None, error: str | None = None, seconds: float = 10.0,
                curve: Iterable[tuple[float, float]] | None = None) -> dict[str, Any]:
    """A record shaped like the engine's (see harness.engine.train.train)."""
    combination = f"{dataset}-{augmentation}-{model}"
    base = {"id": combination, "dataset": dataset, "augmentation": augmentation, "model": model, "seed": seed,
            "repeat": seed - 1, "config_hash": f"{combination}-{seed}", "finished_at": 0.0,
            "config": {"dataset": {"name": dataset, "params": {"n": 1}, "image_size": [32, 32], "channels": 3},
                       "augmentation": {"name": augmentation, "params": {"factor": 0.2} if augmentation != "none"
                                        else {}},
                       "model": {"name": model, "params": {"learning_rate": 0.001}, "input_range": "0-255"},
                       "budget": {"epochs": epochs, "seconds": None, "steps": None, "images": None},
                       "seed": seed, "split_seed": 1, "batch_size": 32, "precision": "float32",
                       "restore_best": True, "target_accuracy": None}}
    if error is not None:
        return {**base, "status": "error", "error": error}
    points = list(curve or [(0.55 + 0.1 * e, 0.5 + 0.1 * e) for e in range(epochs)])
    history = [{"epoch": e + 1, "loss": 1.0 / (e + 1), "accuracy": a, "val_loss": 1.0, "val_accuracy": v,
                "seconds": seconds / len(points), "train_seconds_total": seconds * (e + 1) / len(points), "steps": 4}
               for e, (a, v) in enumerate(points)]
    best = max(range(len(points)), key=lambda e: points[e][1]) + 1
    p = stats.p_beats_baseline(test, n_test, baseline)
    if status is None:
        status = "passed" if stats.beats_baseline(test, n_test, baseline) else "failed"
    return {**base, "status": status, "error": None, "dataset_info": dataset_info(dataset, baseline),
            "baseline_accuracy": baseline, "n_test": n_test, "n_train": 100, "train_accuracy": points[-1][0],
            "val_accuracy": points[best - 1][1], "test_accuracy": test, "test_accuracy_best": test,
            "test_accuracy_last": test, "best_epoch": best, "weights_tested": "best", "p_value": p,
            "epochs": len(points), "steps": 4 * len(points), "images": 100 * len(points), "train_seconds": seconds,
            "wall_seconds": seconds + 1, "stop_reason": "epochs", "history": history, "time_to_target": None,
            "params_count": 1234, "precision": "float32", "images_per_second": 100 * len(points) / seconds}


def reached(record: dict[str, Any], seconds: float | None, target: float = 0.7, epoch: int = 2,
            backend: str | None = None) -> dict[str, Any]:
    """``record`` trained with ``--target-accuracy target``: it reached it after ``seconds`` (``None``: never)."""
    record["config"]["target_accuracy"] = target
    record["time_to_target"] = None if seconds is None else {
        "epoch": epoch, "seconds": seconds, "train_seconds": seconds / 2, "compile_seconds": 0.5}
    if backend is not None:
        record["backend"] = backend
    return record


def skip_record(augmentation: str = "none", model: str = "gray", dataset: str = "pets",
                reason: str = "gray needs 1-channel images, pets has 3") -> dict[str, Any]:
    return {"id": f"{dataset}-{augmentation}-{model}", "dataset": dataset, "augmentation": augmentation,
            "model": model, "seed": 1, "status": "skipped", "error": reason, "finished_at": 0.0}


def write_run(directory: Path, records: list[dict[str, Any]], **metadata: Any) -> Path:
    """A run directory written through the store, as ``harness run`` would leave it."""
    directory.mkdir(parents=True)
    store = RunStore(directory)
    store.write_metadata({"harness_version": "0", "argv": ["run"], "cwd": str(directory), "started_at": 0.0,
                          "selection": sorted({r["id"] for r in records}), **metadata})
    for record in records:
        store.append(record)
    return directory


def isclose(a: float, b: float, tol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
