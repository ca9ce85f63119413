"""The built-in report tables (pandas), computed from the stored records alone.

A run on several backends (``--backend tensorflow,jax``) has a row per combination and backend (the
``backend`` column): the leaderboard names the backend after the model, the grid's columns read
``model (backend)``."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness import stats
from harness.report import records as rec

#: Columns of the per-seed table ``per_seed``.
SEED_COLUMNS = [
    "id", "dataset", "augmentation", "model", "backend", "seed", "status", "params", "budget", "epochs", "steps",
    "images",
    "train_seconds", "stop_reason", "train_accuracy", "val_accuracy", "test_accuracy", "baseline_accuracy",
    "lift_points", "ci_low", "ci_high", "ci_method", "p_value", "n_correct", "n_test", "images_per_second",
    "time_to_target_seconds", "time_to_target_epochs", "error",
]

#: Columns of the per-combination table ``combinations`` (seeds aggregated).
COMBINATION_COLUMNS = [
    "id", "dataset", "augmentation", "model", "backend", "status", "seeds", "seeds_passed", "params", "budget",
    "epochs",
    "train_seconds", "train_accuracy", "val_accuracy", "test_accuracy", "test_std", "test_min", "test_max",
    "baseline_accuracy", "lift_points", "ci_low", "ci_high", "ci_method", "p_value", "p_holm", "n_test",
    "min_detectable_lift_points", "images_per_second", "time_to_target_seconds", "error",
]

#: Name prefix of the leaderboard tables, which the pages show first.
LEADERBOARD = "leaderboard-"

#: Columns of each dataset's ``leaderboard-DATASET``: what a reader looks at first.
LEADERBOARD_COLUMNS = ["combination", "test_accuracy", "95% interval", "lift_points", "p_holm", "train_seconds",
                       "status"]

LABEL_COLUMNS = ["dataset", "split", "class", "count", "share_percent", "majority"]
SPLITS = ("train", "validation", "test")


def _lift(test: float, baseline: float) -> float:
    return 100.0 * (test - baseline)


def seed_row(record: dict[str, Any]) -> dict[str, Any]:
    """One row of ``per_seed``: one task (a combination trained with one seed)."""
    n_test, n_correct = rec.test_counts(record)
    test = stats.ratio(n_correct, n_test) if n_test else rec.number(record.get("test_accuracy"))
    baseline = rec.number(record.get("baseline_accuracy"))
    low, high = stats.wilson_interval(test, n_test) if n_test else (math.nan, math.nan)
    target = record.get("time_to_target") or {}
    return {
        "id": record.get("id"), "dataset": record.get("dataset"), "augmentation": record.get("augmentation"),
        "model": record.get("model"), "backend": record.get("backend"), "seed": record.get("seed"),
        "status": record.get("status"),
        "params": rec.describe_params(record), "budget": rec.describe_budget(record),
        "epochs": record.get("epochs"), "steps": record.get("steps"), "images": record.get("images"),
        "train_seconds": rec.number(record.get("train_seconds")), "stop_reason": record.get("stop_reason"),
        "train_accuracy": rec.number(record.get("train_accuracy")),
        "val_accuracy": rec.number(record.get("val_accuracy")), "test_accuracy": test,
        "baseline_accuracy": baseline, "lift_points": _lift(test, baseline), "ci_low": low, "ci_high": high,
        "ci_method": f"Wilson, {n_test} test images" if n_test else "",
        "p_value": rec.number(record.get("p_value")), "n_correct": n_correct if n_test else None,
        "n_test": n_test or None,
        "images_per_second": rec.number(record.get("images_per_second")),
        "time_to_target_seconds": rec.number(target.get("seconds")),
        "time_to_target_epochs": target.get("epoch"), "error": record.get("error"),
        "reused_from": Path(str(record["reused_from"])).name if record.get("reused_from") else None,
    }


def per_seed_table(records: list[dict[str, Any]]) -> Any:
    """``per_seed``: one row per combination and seed, in the order dataset, augmentation, model, seed; with
    ``reused_from`` last when some were reused from earlier runs (``--reuse``)."""
    import pandas as pd

    rows = [seed_row(r) for r in rec.latest_per_task(records)]
    reused = ["reused_from"] if any(row["reused_from"] for row in rows) else []  # --reuse: the run of each
    frame = pd.DataFrame(rows, columns=SEED_COLUMNS + reused)
    frame = frame.sort_values(["dataset", "augmentation", "model", "seed"], kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def _mean(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return sum(clean) / len(clean) if clean else math.nan


def _pooled(trained: list[dict[str, Any]], baseline: float) -> dict[str, Any]:
    """The combination's test: the seeds' correct answers pooled over their test sets. The seeds share the
    same test images, so the mean accuracy is tested as one classifier's on those ``n`` images (exact
    binomial test, Wilson interval): for the test images this is conservative (averaging seeds can only
    narrow the spread of each image's score), and the interval and the p-value come from the same counts.
    The seed-to-seed spread is reported beside it (``test_std``, ``test_min``, ``test_max``)."""
    n = min(int(r["n_test"]) for r in trained)
    accuracy = sum(r["n_correct"] for r in trained) / sum(int(r["n_test"]) for r in trained)
    low, high = stats.wilson_interval(accuracy, n)
    seeds = f", pooled over {len(trained)} seeds" if len(trained) > 1 else ""
    return {"test_accuracy": accuracy, "ci_low": low, "ci_high": high, "n_test": n,
            "ci_method": f"Wilson, {n} test images{seeds}",
            "p_value": stats.binomial_sf(int(math.floor(accuracy * n + 1e-9)), n, baseline)
            if not math.isnan(baseline) else math.nan,
            "min_detectable_lift_points": stats.min_detectable_lift(n, baseline)}


def _time_to_target(rows: list[dict[str, Any]]) -> float:
    """The time-to-accuracy protocol's result over the combination's runs, NaN without one (see
    :mod:`harness.report.time_to_target`): the mean of the reached times would leave out the runs that
    missed the target."""
    runs = [r["time_to_target_seconds"] for r in rows if r["status"] != "skipped"]
    return stats.time_to_target([None if math.isnan(t) else t for t in runs]).mean


def _combination_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]
    trained = [r for r in rows if not math.isnan(r["test_accuracy"])]
    counted = [r for r in trained if r["n_test"]]
    baseline = _mean([r["baseline_accuracy"] for r in rows])
    tests = [r["test_accuracy"] for r in trained]
    if counted and len(counted) == len(trained):
        pooled = _pooled(counted, baseline)
    else:  # records without a test-set size: the mean, untested
        pooled = {"test_accuracy": _mean(tests), "ci_low": math.nan, "ci_high": math.nan, "n_test": None,
                  "ci_method": "", "p_value": math.nan, "min_detectable_lift_points": math.nan}
    _, std, _, _ = stats.mean_interval(tests)
    errors = sorted({str(r["error"]) for r in rows if r.get("error")})
    return {
        "id": first["id"], "dataset": first["dataset"], "augmentation": first["augmentation"],
        "model": first["model"], "backend": first["backend"],
        "status": rec.combination_status(r["status"] for r in rows),
        "seeds": len(rows), "seeds_passed": sum(r["status"] == "passed" for r in rows),
        "params": first["params"], "budget": first["budget"],
        "epochs": _mean([rec.number(r["epochs"]) for r in trained]),
        "train_seconds": _mean([r["train_seconds"] for r in trained]),
        "train_accuracy": _mean([r["train_accuracy"] for r in trained]),
        "val_accuracy": _mean([r["val_accuracy"] for r in trained]),
        **pooled, "test_std": std, "test_min": min(tests) if len(tests) > 1 else math.nan,
        "test_max": max(tests) if len(tests) > 1 else math.nan, "baseline_accuracy": baseline,
        "lift_points": _lift(pooled["test_accuracy"], baseline), "p_holm": math.nan,
        "images_per_second": _mean([r["images_per_second"] for r in trained]),
        "time_to_target_seconds": _time_to_target(rows),
        "error": "; ".join(errors) or None,
    }


def _run_status(row: Any) -> str:
    """The combination's status from the run's family of tests: ``passed`` when its Holm-adjusted p is
    below alpha and its accuracy above the baseline; an error or a skip stays what it is."""
    if row["status"] not in ("passed", "failed") or math.isnan(row["p_holm"]):
        return str(row["status"])
    passed = row["p_holm"] < stats.ALPHA and row["test_accuracy"] > row["baseline_accuracy"]
    return "passed" if passed else "failed"


def combinations_table(records: list[dict[str, Any]]) -> Any:
    """``combinations``: one row per combination (and backend), seeds pooled; per dataset, best test accuracy
    first.
    ``p_holm`` is Holm's adjustment of ``p_value`` across every combination of the run, and the status
    comes from it."""
    import pandas as pd

    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in rec.latest_per_task(records):
        row = seed_row(record)
        grouped[(str(row["id"]), str(row["backend"]))].append(row)
    frame = pd.DataFrame([_combination_row(rows) for rows in grouped.values()], columns=COMBINATION_COLUMNS)
    frame["p_holm"] = stats.holm([float(p) for p in frame["p_value"]])
    if len(frame):
        frame["status"] = frame.apply(_run_status, axis=1)
    frame = frame.sort_values(["dataset", "test_accuracy", "id"], ascending=[True, False, True],
                              kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def _interval(row: Any) -> str:
    if math.isnan(row["ci_low"]):
        return ""
    return f"{row['ci_low']:.3f}-{row['ci_high']:.3f}"


def leaderboard(combinations: Any, dataset: str) -> Any:
    """``leaderboard-DATASET``: the combinations of ``dataset``, best first, in the few columns that answer
    the question (accuracy with its interval, lift, Holm-adjusted p, training time, status)."""
    import pandas as pd

    rows = combinations[combinations["dataset"] == dataset]
    backend = rec.rows_of_several_backends(rows)
    frame = pd.DataFrame({
        "combination": [rec.combination_label(a, m, b if backend else None)
                        for a, m, b in zip(rows["augmentation"], rows["model"], rows["backend"])],
        "test_accuracy": rows["test_accuracy"].tolist(),
        "95% interval": [_interval(r) for _, r in rows.iterrows()],
        "lift_points": rows["lift_points"].tolist(), "p_holm": rows["p_holm"].tolist(),
        "train_seconds": rows["train_seconds"].tolist(), "status": rows["status"].tolist(),
    }, columns=LEADERBOARD_COLUMNS)
    if (rows["seeds"] > 1).any():
        frame.insert(2, "seed spread", [f"{lo:.3f}-{hi:.3f}" if not math.isnan(lo) else ""
                                        for lo, hi in zip(rows["test_min"], rows["test_max"])])
    return frame


def pivot_table(combinations: Any, dataset: str) -> Any:
    """Mean test accuracy of ``dataset``'s combinations: augmentations down, models across (``model
    (backend)`` in a run on several backends)."""
    rows = combinations[combinations["dataset"] == dataset]
    rows = rows.assign(model=rec.model_labels(rows))
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
    statuses = rows.assign(model=rec.model_labels(rows)).set_index(["augmentation", "model"])["status"]
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


#: The built-in tables' captions, in the pages' column names (the CSV files keep the machine names:
#: ``test_accuracy``, ``ci_low``, ``p_holm``...).
CAPTIONS = {
    "combinations": "One row per combination, best test accuracy first within each dataset. test accuracy: the "
                    "seeds' correct answers over their test images (correct / test images, pooled over seeds); "
                    "95% CI low-high: its Wilson interval on the distinct test images; p: one-sided exact "
                    "binomial test of beating the label-frequency baseline on those counts; p (Holm): p after "
                    "Holm's correction across every combination of the run, which decides the status (passed: "
                    "p (Holm) < 0.05). test accuracy std, lowest and highest: the spread across seeds. "
                    "lift (points): test minus baseline accuracy, in percentage points. detectable lift "
                    "(points): the lift this test set detects 80% of the time at p < 0.05. time to target (s): "
                    "the time-to-accuracy result over the seeds (see Time to target).",
    "per_seed": "One row per combination and seed, as recorded when it was trained: 95% CI: Wilson on the test "
                "set; status and p: that seed's own test, before any correction for the run's other "
                "combinations.",
    "labels": "Images per class in each split; the majority class of the training split is the baseline's guess.",
}


def _leaderboard_caption(dataset: str, baseline: float, seeds: bool) -> str:
    spread = " seed spread: lowest-highest test accuracy across seeds." if seeds else ""
    return (f"Best first. lift (points): test accuracy minus the label-frequency baseline {baseline:.3f} of "
            f"{dataset}, in percentage points; 95% interval: Wilson, on the test images; p (Holm): one-sided "
            f"exact binomial test of beating the baseline, Holm-corrected across the run's combinations "
            f"(passed: below 0.05).{spread}")


def _pivot_caption(dataset: str, baseline: float) -> str:
    return (f"Mean test accuracy on {dataset} by augmentation (rows) and model (columns); "
            f"the label-frequency baseline is {baseline:.3f}.")


def builtin_tables(records: list[dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    """Every built-in table by name: ``leaderboard-across_datasets`` (two datasets or more; ``reference``:
    the combination that scores 1, see :mod:`harness.report.across_datasets`), ``time_to_target`` (with
    ``--target-accuracy``, see :mod:`harness.report.time_to_target`), ``leaderboard-DATASET``,
    ``combinations``, ``per_seed``, ``pivot-DATASET`` and ``labels``."""
    from harness.report import across_datasets, time_to_target

    combinations = combinations_table(records)
    tables: dict[str, Any] = {across_datasets.NAME: across_datasets.table(records, reference),
                              time_to_target.NAME: time_to_target.table(records)}
    tables = {name: frame for name, frame in tables.items() if frame is not None}
    for dataset in rec.datasets(records):
        if combinations.loc[combinations["dataset"] == dataset, "test_accuracy"].notna().any():
            board = leaderboard(combinations, dataset)
            board.attrs["caption"] = _leaderboard_caption(dataset, rec.baseline(records, dataset),
                                                          "seed spread" in board.columns)
            tables[f"{LEADERBOARD}{dataset}"] = board
    tables.update(combinations=combinations, per_seed=per_seed_table(records))
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


def verdict_counts(combinations: Any) -> str:
    """The run's verdict on its combinations after Holm's correction, e.g. ``3 of 4 combinations beat the
    baseline (Holm-corrected across the run's 4 tests, p < 0.05)``; empty when nothing was tested."""
    tested = combinations[combinations["p_holm"].notna()]
    if tested.empty:
        return ""
    passed = int((tested["status"] == "passed").sum())
    m = len(tested)
    return (f"{passed} of {m} combination{'s' if m != 1 else ''} beat the baseline (one-sided exact binomial "
            f"test, Holm-corrected across the run's {m} test{'s' if m != 1 else ''}, p < {stats.ALPHA:g})")


def _needed_test_size(baseline: float, alpha: float) -> int | None:
    """The smallest test set, among doublings of 50, whose minimum detectable lift is useful."""
    n = 50
    while n <= 100_000:
        if stats.min_detectable_lift(n, baseline, alpha) <= stats.USEFUL_LIFT_POINTS:
            return n
        n *= 2
    return None


def _power(combinations: Any) -> list[tuple[str, int, float, float, int]]:
    """Per dataset whose test set cannot detect a useful lift (:data:`harness.stats.USEFUL_LIFT_POINTS`):
    (dataset, test images, baseline, minimum detectable lift in points, tests in the family). The run's Holm
    correction is taken into account: the first combination of a family of ``m`` tests must reach
    p < alpha / m."""
    tested = combinations[combinations["p_value"].notna() & combinations["n_test"].notna()]
    m = len(tested)
    found = []
    for dataset in sorted(tested["dataset"].unique()):
        rows = tested[tested["dataset"] == dataset]
        n, baseline = int(rows["n_test"].min()), float(rows["baseline_accuracy"].iloc[0])
        lift = stats.min_detectable_lift(n, baseline, stats.ALPHA / m)
        if lift > stats.USEFUL_LIFT_POINTS:
            found.append((dataset, n, baseline, lift, m))
    return found


def _advice(baseline: float, m: int) -> str:
    needed = _needed_test_size(baseline, stats.ALPHA / m)
    return f"; about {needed} test images would detect {stats.USEFUL_LIFT_POINTS:g} points" if needed else ""


def test_size_warnings(combinations: Any) -> list[str]:
    """One warning per dataset whose test set is so small that no accuracy, not even 100%, can beat the
    baseline significantly: every combination fails whatever it learned."""
    warnings = []
    for dataset, n, baseline, lift, m in _power(combinations):
        if math.isinf(lift):
            family = f", Holm-corrected for {m} combinations" if m > 1 else ""
            warnings.append(f"{dataset}: the test set has only {n} images: no accuracy, not even 100%, can beat "
                            f"the baseline {baseline:.3f} significantly (p < {stats.ALPHA:g}{family})"
                            f"{_advice(baseline, m)}")
    return warnings


def power_notes(combinations: Any) -> list[str]:
    """One note per dataset whose test set detects only large lifts: a statement about the tests' power,
    read beside the verdicts. A combination that passed did beat the baseline; one that failed may still beat
    it by less than the detectable lift."""
    notes = []
    for dataset, n, baseline, lift, m in _power(combinations):
        if math.isinf(lift):
            continue
        family = f", Holm-corrected for {m} combinations" if m > 1 else ""
        notes.append(f"{dataset}: with {n} test images, a lift of {lift:.1f} points or more over the baseline "
                     f"{baseline:.3f} is detected 80% of the time (p < {stats.ALPHA:g}{family}); smaller lifts "
                     f"pass only sometimes. A pass is evidence of a real lift, whatever its size; a fail is not "
                     f"evidence that there is none{_advice(baseline, m)}.")
    return notes


#: A training or validation split with fewer images than this is warned about.
SMALL_SPLIT = 20


def split_warnings(records: list[dict[str, Any]]) -> list[str]:
    """One warning per training or validation split too small to mean much (fewer than
    :data:`SMALL_SPLIT` images): a plugin's dataset that yields a handful of images, or fractions that
    carve a tiny split. The test split has its own warning (:func:`test_size_warnings`)."""
    why = {"train": "the models can learn next to nothing from it",
           "validation": "the validation accuracy, and the epoch whose weights are tested, are mostly noise"}
    warnings = []
    for dataset in rec.datasets(records):
        info = rec.dataset_info(records, dataset) or {}
        sizes = info.get("sizes") or {}
        for split, reason in why.items():
            size = sizes.get(split)
            if isinstance(size, int) and size < SMALL_SPLIT:
                warnings.append(f"{dataset}: the {split} split has only {size} image{'s' if size != 1 else ''}: "
                                f"{reason}")
    return warnings


def uncompiled_warnings(records: list[dict[str, Any]]) -> list[str]:
    """One warning per backend whose training step some combinations ran uncompiled because of their layers
    (on JAX, a layer that declares ``supports_jit=False`` turns XLA off for the whole model: such a record
    says ``compiled: false`` and has ``jit_blockers``): never silent, since such steps are about ten times
    slower and their times not comparable. PyTorch, which Keras runs eagerly, is not warned about (its
    records say ``compiled: false``, with no ``jit_blockers``)."""
    found: dict[str, list[str]] = defaultdict(list)
    blockers: dict[str, set[str]] = defaultdict(set)
    for record in rec.latest_per_task(records):
        if record.get("compiled") is False and "jit_blockers" in record:
            backend = str(record.get("backend"))
            found[backend].append(str(record.get("id")))
            blockers[backend].update(record.get("jit_blockers") or [])
    warnings = []
    for backend, ids in found.items():
        names = sorted(set(ids))
        layers = f" (layers XLA cannot compile: {', '.join(sorted(blockers[backend]))})" if blockers[backend] else ""
        warnings.append(f"{backend}: {len(names)} combination{'s' if len(names) != 1 else ''} trained uncompiled"
                        f"{layers}, about ten times slower a step: {', '.join(names)}")
    return warnings
