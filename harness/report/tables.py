"""The built-in report tables (pandas), computed from the stored records alone."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from harness import stats
from harness.report import records as rec

#: Columns of the per-seed table ``per_seed``.
SEED_COLUMNS = [
    "id", "dataset", "augmentation", "model", "seed", "status", "params", "budget", "epochs", "steps", "images",
    "train_seconds", "stop_reason", "train_accuracy", "val_accuracy", "test_accuracy", "baseline_accuracy",
    "lift_points", "ci_low", "ci_high", "ci_method", "p_value", "n_test", "images_per_second",
    "time_to_target_seconds", "time_to_target_epochs", "error",
]

#: Columns of the per-combination table ``combinations`` (seeds aggregated).
COMBINATION_COLUMNS = [
    "id", "dataset", "augmentation", "model", "status", "seeds", "seeds_passed", "params", "budget", "epochs",
    "train_seconds", "train_accuracy", "val_accuracy", "test_accuracy", "test_std", "baseline_accuracy",
    "lift_points", "ci_low", "ci_high", "ci_method", "p_value", "images_per_second", "time_to_target_seconds",
    "error",
]

LABEL_COLUMNS = ["dataset", "split", "class", "count", "share_percent", "majority"]
SPLITS = ("train", "validation", "test")


def _lift(test: float, baseline: float) -> float:
    return 100.0 * (test - baseline)


def seed_row(record: dict[str, Any]) -> dict[str, Any]:
    """One row of ``per_seed``: one task (a combination trained with one seed)."""
    test = rec.number(record.get("test_accuracy"))
    baseline = rec.number(record.get("baseline_accuracy"))
    n_test = int(rec.number(record.get("n_test"))) if record.get("n_test") is not None else 0
    low, high = stats.wilson_interval(test, n_test) if n_test else (math.nan, math.nan)
    target = record.get("time_to_target") or {}
    return {
        "id": record.get("id"), "dataset": record.get("dataset"), "augmentation": record.get("augmentation"),
        "model": record.get("model"), "seed": record.get("seed"), "status": record.get("status"),
        "params": rec.describe_params(record), "budget": rec.describe_budget(record),
        "epochs": record.get("epochs"), "steps": record.get("steps"), "images": record.get("images"),
        "train_seconds": rec.number(record.get("train_seconds")), "stop_reason": record.get("stop_reason"),
        "train_accuracy": rec.number(record.get("train_accuracy")),
        "val_accuracy": rec.number(record.get("val_accuracy")), "test_accuracy": test,
        "baseline_accuracy": baseline, "lift_points": _lift(test, baseline), "ci_low": low, "ci_high": high,
        "ci_method": f"Wilson, {n_test} test images" if n_test else "",
        "p_value": rec.number(record.get("p_value")), "n_test": n_test or None,
        "images_per_second": rec.number(record.get("images_per_second")),
        "time_to_target_seconds": rec.number(target.get("seconds")),
        "time_to_target_epochs": target.get("epoch"), "error": record.get("error"),
    }


def per_seed_table(records: list[dict[str, Any]]) -> Any:
    """``per_seed``: one row per combination and seed, in the order dataset, augmentation, model, seed."""
    import pandas as pd

    frame = pd.DataFrame([seed_row(r) for r in rec.latest_per_task(records)], columns=SEED_COLUMNS)
    frame = frame.sort_values(["dataset", "augmentation", "model", "seed"], kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def _mean(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return sum(clean) / len(clean) if clean else math.nan


def _combination_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]
    trained = [r for r in rows if not math.isnan(r["test_accuracy"])]
    tests = [r["test_accuracy"] for r in trained]
    baseline = _mean([r["baseline_accuracy"] for r in rows])
    if len(trained) >= 2:
        mean, std, low, high = stats.mean_interval(tests)
        low, high = max(0.0, low), min(1.0, high)  # an accuracy stays within 0..1
        method = f"t, {len(trained)} seeds"
    elif trained:
        mean, std, low, high = trained[0]["test_accuracy"], math.nan, trained[0]["ci_low"], trained[0]["ci_high"]
        method = trained[0]["ci_method"]
    else:
        mean = std = low = high = math.nan
        method = ""
    # Every seed must beat the baseline (an intersection-union test): the combination's p is the largest.
    p_values = [r["p_value"] for r in trained]
    errors = sorted({str(r["error"]) for r in rows if r.get("error")})
    return {
        "id": first["id"], "dataset": first["dataset"], "augmentation": first["augmentation"],
        "model": first["model"], "status": rec.combination_status(r["status"] for r in rows),
        "seeds": len(rows), "seeds_passed": sum(r["status"] == "passed" for r in rows),
        "params": first["params"], "budget": first["budget"],
        "epochs": _mean([rec.number(r["epochs"]) for r in trained]),
        "train_seconds": _mean([r["train_seconds"] for r in trained]),
        "train_accuracy": _mean([r["train_accuracy"] for r in trained]),
        "val_accuracy": _mean([r["val_accuracy"] for r in trained]),
        "test_accuracy": mean, "test_std": std, "baseline_accuracy": baseline,
        "lift_points": _lift(mean, baseline), "ci_low": low, "ci_high": high, "ci_method": method,
        "p_value": max(p_values) if p_values and not any(math.isnan(p) for p in p_values) else math.nan,
        "images_per_second": _mean([r["images_per_second"] for r in trained]),
        "time_to_target_seconds": _mean([r["time_to_target_seconds"] for r in trained]),
        "error": "; ".join(errors) or None,
    }


def combinations_table(records: list[dict[str, Any]]) -> Any:
    """``combinations``: one row per combination, seeds aggregated; per dataset, best test accuracy first."""
    import pandas as pd

    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in rec.latest_per_task(records):
        row = seed_row(record)
        grouped[str(row["id"])].append(row)
    frame = pd.DataFrame([_combination_row(rows) for rows in grouped.values()], columns=COMBINATION_COLUMNS)
    frame = frame.sort_values(["dataset", "test_accuracy", "id"], ascending=[True, False, True],
                              kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def pivot_table(combinations: Any, dataset: str) -> Any:
    """Mean test accuracy of ``dataset``'s combinations: augmentations down, models across."""
    rows = combinations[combinations["dataset"] == dataset]
    pivot = rows.pivot_table(index="augmentation", columns="model", values="test_accuracy", aggfunc="mean",
                             dropna=False)
    pivot = pivot.reindex(index=sorted(rows["augmentation"].unique()), columns=sorted(rows["model"].unique()))
    pivot.columns.name = "model"
    pivot.index.name = "augmentation"
    return pivot


def status_pivot(combinations: Any, dataset: str) -> Any:
    """The status of each cell of :func:`pivot_table` (``None`` where the grid has no combination)."""
    pivot = pivot_table(combinations, dataset)
    rows = combinations[combinations["dataset"] == dataset]
    statuses = rows.set_index(["augmentation", "model"])["status"]
    return pivot.apply(lambda column: [statuses.get((a, column.name)) for a in pivot.index]).astype(object)


def label_rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    majority = info.get("majority_class")
    by_split = info.get("class_counts") or {}
    order = [s for s in SPLITS if s in by_split] + sorted(s for s in by_split if s not in SPLITS)
    classes = list(info.get("class_names") or [])
    for split in order:
        counts = by_split[split]
        total = sum(counts.values()) or 1
        for name in classes + sorted(c for c in counts if c not in classes):
            count = counts.get(name, 0)
            rows.append({"dataset": info.get("dataset"), "split": split, "class": name, "count": int(count),
                         "share_percent": 100.0 * count / total, "majority": name == majority})
    return rows


def labels_table(records: list[dict[str, Any]]) -> Any:
    """``labels``: images per class in each split of each dataset, and which class is the majority."""
    import pandas as pd

    rows = []
    for dataset in rec.datasets(records):
        info = rec.dataset_info(records, dataset)
        if info is not None:
            rows.extend(label_rows(info))
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


CAPTIONS = {
    "combinations": "One row per combination, best test accuracy first within each dataset. With several seeds "
                    "the accuracies are means, the 95% interval is Student's t across seeds and p is the largest "
                    "of the seeds' p-values (every seed must beat the baseline); with one seed the interval is "
                    "the Wilson interval on the test set. p: one-sided exact binomial test of beating the "
                    "label-frequency baseline. lift_points: test minus baseline accuracy, in percentage points.",
    "per_seed": "One row per combination and seed; interval: Wilson 95% on the test set.",
    "labels": "Images per class in each split; the majority class of the training split is the baseline's guess.",
}


def _pivot_caption(dataset: str, baseline: float) -> str:
    return (f"Mean test accuracy on {dataset} by augmentation (rows) and model (columns); "
            f"the label-frequency baseline is {baseline:.3f}.")


def builtin_tables(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Every built-in table by name: ``combinations``, ``per_seed``, ``pivot-DATASET`` and ``labels``."""
    combinations = combinations_table(records)
    tables: dict[str, Any] = {"combinations": combinations, "per_seed": per_seed_table(records)}
    for dataset in rec.datasets(records):
        if combinations.loc[combinations["dataset"] == dataset, "test_accuracy"].notna().any():
            pivot = pivot_table(combinations, dataset)
            pivot.attrs.update(values="test_accuracy", caption=_pivot_caption(dataset, rec.baseline(records, dataset)))
            tables[f"pivot-{dataset}"] = pivot
    labels = labels_table(records)
    if len(labels):
        tables["labels"] = labels
    for name, frame in tables.items():
        if name in CAPTIONS:
            frame.attrs["caption"] = CAPTIONS[name]
    return tables
