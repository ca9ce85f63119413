"""Paired comparisons of a run's combinations, from their per-image predictions (:mod:`harness.predictions`).

Every combination of a dataset is tested on the same images, so two of them can be compared image by image:
McNemar's exact test on the images exactly one of the two got right, which is far more sensitive than
comparing two accuracies' intervals. Per dataset:

- ``mcnemar-DATASET``: the best combination (highest test accuracy, as in the leaderboard) against every
  other, and the ``--reference`` combination against every other when the run names one: the accuracy
  difference with its 95% Tango interval, the images right by one alone (``only_a``, ``only_b``), McNemar's
  exact p and that p after Holm's correction across every comparison of the run (``mcnemar_p_holm``). With
  several seeds, seed ``s`` of one is paired with seed ``s`` of the other and every (image, seed) counts as a
  pair (see :func:`harness.stats.paired_difference`).
- ``effects-DATASET`` (and a forest plot of it): does each augmentation help? Each augmentation against
  ``none``, pooled over the models and per model; each model against the reference's model, pooled over the
  augmentations and per augmentation (see :func:`harness.stats.pooled_paired_difference`).

A combination without predictions (a run written before they were kept, an error) is left out; a dataset
without two such combinations has no table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness import stats
from harness.report import records as rec

MCNEMAR = "mcnemar"
EFFECTS = "effects"
#: The augmentation the augmentations' effects are measured against.
NO_AUGMENTATION = "none"

MCNEMAR_COLUMNS = ["dataset", "against", "a", "b", "accuracy_a", "accuracy_b", "difference", "difference_low",
                   "difference_high", "only_a", "only_b", "pairs", "seeds", "mcnemar_p", "mcnemar_p_holm",
                   "separable"]
EFFECT_COLUMNS = ["dataset", "factor", "level", "against", "over", "pairs", "images", "difference",
                  "difference_low", "difference_high", "p_value", "p_holm", "method"]


@dataclass
class Combination:
    """One combination of a dataset: its name in the tables, its parts, and its trained records by seed."""

    label: str
    augmentation: str
    model: str
    backend: str | None
    key: str  #: what ``--reference`` names (``AUGMENTATION-MODEL``, ``-BACKEND`` with several backends)
    seeds: dict[Any, dict[str, Any]] = field(default_factory=dict)


def combinations_of(records: list[dict[str, Any]], dataset: str) -> dict[str, Combination]:
    """The trained combinations of ``dataset`` (records with predictions), by label."""
    from harness.report.across_datasets import key_of

    of_dataset = rec.of_dataset(records, dataset)
    named = rec.several_backends(of_dataset)  # the dataset's leaderboard names the backend, as here
    keyed = rec.several_backends(records)  # ``--reference`` names it when the run has several
    found: dict[str, Combination] = {}
    for record in rec.latest_per_task(of_dataset):
        if not record.get("predictions") or record.get("status") not in ("passed", "failed"):
            continue
        backend = str(record.get("backend")) if named else None
        label = rec.combination_label(record.get("augmentation"), record.get("model"), backend)
        if label not in found:
            found[label] = Combination(label, str(record.get("augmentation")), str(record.get("model")), backend,
                                       key_of(record, keyed))
        found[label].seeds[record.get("seed")] = record
    return found


def aligned(report: Any, a: Combination, b: Combination) -> list[tuple[Any, Any]]:
    """Per seed both trained, A's and B's right-or-wrong per image (boolean Series on the same image ids),
    for the seeds whose predictions pair (the same test images)."""
    from harness import predictions

    found = []
    for seed in sorted(set(a.seeds) & set(b.seeds), key=str):
        table_a, table_b = report.predictions(a.seeds[seed]), report.predictions(b.seeds[seed])
        pair = predictions.paired(table_a, table_b) if table_a is not None and table_b is not None else None
        if pair is not None:
            found.append(pair)
    return found


def differences(report: Any, a: Combination, b: Combination) -> list[Any]:
    """Per paired seed, each image's correctness of A minus B (1, 0 or -1), indexed by the image ids."""
    return [right_a.astype(int) - right_b.astype(int) for right_a, right_b in aligned(report, a, b)]


def comparison_row(report: Any, dataset: str, against: str, a: Combination, b: Combination) -> dict[str, Any] | None:
    """One row of ``mcnemar-DATASET``: A against B, their (image, seed) pairs pooled; ``None`` when none pair."""
    found = aligned(report, a, b)
    if not found:
        return None
    only_a = sum(int((right_a & ~right_b).sum()) for right_a, right_b in found)
    only_b = sum(int((~right_a & right_b).sum()) for right_a, right_b in found)
    pairs = sum(len(right_a) for right_a, _ in found)
    result = stats.paired_difference(only_a, only_b, pairs)
    return {"dataset": dataset, "against": against, "a": a.label, "b": b.label,
            "accuracy_a": sum(int(right_a.sum()) for right_a, _ in found) / pairs,
            "accuracy_b": sum(int(right_b.sum()) for _, right_b in found) / pairs,
            "difference": result.difference, "difference_low": result.low,
            "difference_high": result.high, "only_a": only_a, "only_b": only_b, "pairs": pairs,
            "seeds": len(found), "mcnemar_p": result.p_value, "mcnemar_p_holm": math.nan, "separable": None}


def best_label(records: list[dict[str, Any]], dataset: str, combinations: Any = None) -> str | None:
    """The label of ``dataset``'s best combination, as the leaderboard and the summary name it."""
    from harness.report.tables import combinations_table

    frame = combinations_table(records) if combinations is None else combinations
    rows = frame[(frame["dataset"] == dataset) & frame["test_accuracy"].notna()]
    if rows.empty:
        return None
    best = rows.iloc[0]
    backend = best["backend"] if rec.rows_of_several_backends(rows) else None
    return rec.combination_label(best["augmentation"], best["model"], backend)


def reference_of(report: Any, found: dict[str, Combination]) -> Combination | None:
    from harness.report.across_datasets import reference_of as named

    reference = named(report.metadata)
    return next((c for c in found.values() if c.key == reference), None) if reference else None


def comparison_rows(report: Any, dataset: str, combinations: Any = None) -> list[dict[str, Any]]:
    """The comparisons of ``dataset``: the best against every other, then the reference against every
    other (a pair already compared is not compared again)."""
    found = combinations_of(report.records, dataset)
    best = found.get(best_label(report.records, dataset, combinations) or "")
    anchors = [("best", best), ("reference", reference_of(report, found))]
    rows: list[dict[str, Any]] = []
    done: set[frozenset[str]] = set()
    for against, anchor in anchors:
        if anchor is None:
            continue
        for other in found.values():
            pair = frozenset((anchor.label, other.label))
            if other is anchor or pair in done:
                continue
            done.add(pair)
            row = comparison_row(report, dataset, against, anchor, other)
            if row is not None:
                rows.append(row)
    return rows


def comparisons(report: Any, combinations: Any = None) -> Any:
    """Every comparison of the run (all datasets), with McNemar's p Holm-corrected across them all;
    ``separable``: the Holm-corrected p is below :data:`harness.stats.ALPHA`."""
    import pandas as pd

    rows = [row for dataset in rec.datasets(report.records) for row in comparison_rows(report, dataset, combinations)]
    frame = pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)
    frame["mcnemar_p_holm"] = stats.holm([float(p) for p in frame["mcnemar_p"]])
    frame["separable"] = [bool(p < stats.ALPHA) for p in frame["mcnemar_p_holm"]]
    return frame


# -- factor effects ---------------------------------------------------------------------------------


def effect(report: Any, dataset: str, strata: Iterable[tuple[Combination, Combination]], factor: str,
           over: str) -> dict[str, Any] | None:
    """One row of ``effects-DATASET``: the first of each pair against the second, over ``strata``. A single
    pair with a single seed is a McNemar comparison (Tango interval); several are averaged per image first
    (:func:`harness.stats.pooled_paired_difference`)."""
    import pandas as pd

    pairs = [(a, b) for a, b in strata]
    found = [d for a, b in pairs for d in differences(report, a, b)]
    if not found:
        return None
    first, second = pairs[0]
    level, against = (first.augmentation, second.augmentation) if factor == "augmentation" else (first.model,
                                                                                               second.model)
    if len(found) == 1:
        d = found[0]
        result = stats.paired_difference(int((d == 1).sum()), int((d == -1).sum()), len(d))
    else:
        per_image = pd.concat(found, axis=1).mean(axis=1)
        result = stats.pooled_paired_difference(per_image.tolist())
    return {"dataset": dataset, "factor": factor, "level": level, "against": against, "over": over,
            "pairs": len(found), "images": int(max(len(d) for d in found)), "difference": result.difference,
            "difference_low": result.low, "difference_high": result.high, "p_value": result.p_value,
            "p_holm": math.nan, "method": result.method}


def _by(found: dict[str, Combination], part: str) -> dict[str, dict[tuple[str, str | None], Combination]]:
    """The combinations by ``part`` (``augmentation`` or ``model``), then by the other part and backend."""
    other = "model" if part == "augmentation" else "augmentation"
    grouped: dict[str, dict[tuple[str, str | None], Combination]] = defaultdict(dict)
    for combination in found.values():
        grouped[getattr(combination, part)][(getattr(combination, other), combination.backend)] = combination
    return grouped


def _stratum(other: str, backend: str | None) -> str:
    return f"{other} / {backend}" if backend else other


def factor_rows(report: Any, dataset: str, factor: str, baseline: str) -> list[dict[str, Any]]:
    """Each level of ``factor`` against ``baseline`` (a level of it): pooled over the other factor, then per
    level of the other factor."""
    grouped = _by(combinations_of(report.records, dataset), factor)
    if baseline not in grouped:
        return []
    everything = "all models" if factor == "augmentation" else "all augmentations"
    rows: list[dict[str, Any]] = []
    for level in sorted(set(grouped) - {baseline}):
        shared = sorted(set(grouped[level]) & set(grouped[baseline]), key=str)
        strata = [(grouped[level][k], grouped[baseline][k]) for k in shared]
        if not strata:
            continue
        pooled = effect(report, dataset, strata, factor, f"{everything} ({len(strata)})") if len(strata) > 1 else None
        rows.extend([pooled] if pooled else [])
        for (other, backend), pair in zip(shared, strata):
            row = effect(report, dataset, [pair], factor, _stratum(other, backend))
            rows.extend([row] if row else [])
    return rows


def effect_rows(report: Any, dataset: str) -> list[dict[str, Any]]:
    """``dataset``'s factor effects: each augmentation against ``none``; each model against the
    reference's model when the run names a reference."""
    rows = factor_rows(report, dataset, "augmentation", NO_AUGMENTATION)
    reference = reference_of(report, combinations_of(report.records, dataset))
    if reference is not None:
        rows += factor_rows(report, dataset, "model", reference.model)
    return rows


def effects(report: Any) -> Any:
    """Every factor effect of the run, p Holm-corrected across them all."""
    import pandas as pd

    rows = [row for dataset in rec.datasets(report.records) for row in effect_rows(report, dataset)]
    frame = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    frame["p_holm"] = stats.holm([float(p) for p in frame["p_value"]])
    return frame


# -- the tables and the figure of a report ------------------------------------------------------------

MCNEMAR_CAPTION = (
    "A against B on the same test images: difference: accuracy of A minus accuracy of B with its 95% Tango "
    "score interval (low, high); only A, only B: images right by A alone and by B alone (with several seeds, "
    "seed s of A is paired with seed s of B and each image and seed counts once); McNemar p: two-sided exact "
    "test that A and B are right equally often on the images where they disagree, Holm-corrected across "
    "every comparison of the run (separable: p (Holm) < 0.05). Not separable does not mean equal: the test "
    "set cannot tell them apart.")
EFFECTS_CAPTION = (
    "Does a factor help? difference: accuracy with the level minus accuracy with what it is against, on the "
    "same images, pooled over the other factor (each image's differences averaged over the models or "
    "augmentations and seeds, then a t interval over the images) or for one of them (one seed: Tango "
    "interval and McNemar's exact p). p (Holm): corrected across every effect of the run.")


def _dataset_frames(frame: Any, prefix: str, caption: str) -> dict[str, Any]:
    out = {}
    for dataset in sorted(frame["dataset"].unique()):
        part = frame[frame["dataset"] == dataset].drop(columns=["dataset"]).reset_index(drop=True)
        part.attrs["caption"] = caption
        out[f"{prefix}-{dataset}"] = part
    return out


def tables(report: Any, combinations: Any = None) -> dict[str, Any]:
    """``mcnemar-DATASET`` and ``effects-DATASET`` of every dataset that has them."""
    return {**_dataset_frames(comparisons(report, combinations), MCNEMAR, MCNEMAR_CAPTION),
            **_dataset_frames(effects(report), EFFECTS, EFFECTS_CAPTION)}


def vs_best(board: Any, frame: Any) -> list[str]:
    """The leaderboard's ``vs_best`` column: ``best``, ``not separable (p 0.31)`` or ``worse (p 0.002)``
    (McNemar, Holm-corrected); empty where the combination was not compared."""
    from harness.report.formatting import p_value

    rows = frame[frame["against"] == "best"]
    if rows.empty:
        return [""] * len(board)
    best = str(rows["a"].iloc[0])
    by_label = {str(r["b"]): r for _, r in rows.iterrows()}
    out = []
    for label in board["combination"]:
        row = by_label.get(str(label))
        if label == best:
            out.append("best")
        elif row is None:
            out.append("")
        else:
            word = "worse" if row["separable"] else "not separable"
            out.append(f"{word} (p {p_value(row['mcnemar_p_holm'])})")
    return out


def missing_predictions(report: Any) -> int:
    """The trained tasks (passed or failed) whose predictions cannot be read."""
    from harness import predictions

    trained = [r for r in rec.latest_per_task(report.records) if r.get("status") in ("passed", "failed")]
    return sum(predictions.path_of(report.run_dir, r) is None for r in trained)


def add_tables(report: Any, found: dict[str, Any]) -> None:
    """Add the paired tables to the report's built-in tables ``found``, and to each leaderboard the column
    ``vs_best`` (McNemar against the best, Holm-corrected). A run without predictions adds nothing."""
    from harness.report.tables import LEADERBOARD

    missing = missing_predictions(report)
    if missing:
        report.note(f"{missing} trained task{'s have' if missing != 1 else ' has'} no per-image predictions (a run "
                    "written before harness kept them, or a file lost): left out of the paired comparisons")
    try:
        paired = tables(report, found.get("combinations"))
    except Exception as exc:  # the paired tables are lost, not the report
        report.note(f"paired comparisons not shown: {type(exc).__name__}: {exc}")
        return
    for name, frame in paired.items():
        if name.startswith(f"{MCNEMAR}-"):
            board = found.get(f"{LEADERBOARD}{name[len(MCNEMAR) + 1:]}")
            if board is not None:
                board["vs_best"] = vs_best(board, frame)
                board.attrs["caption"] = (f"{board.attrs.get('caption', '')} vs best (McNemar): McNemar's exact "
                                          f"test against the best on the same images, Holm-corrected across "
                                          f"the run's comparisons (see Paired comparisons).").strip()
    found.update(paired)


#: The summary names at most this many combinations not separable from the best (the closest first).
SUMMARY_NAMES = 5


def summary(frame: Any) -> str:
    """``best: X; not separable from Y, Z (McNemar p = 0.31, 0.08, Holm-corrected)`` of one dataset's
    ``mcnemar-DATASET`` frame (the closest :data:`SUMMARY_NAMES` named); empty when McNemar's test separates
    the best from every other, or without comparisons (the summary and the terminal stay short)."""
    from harness.report.formatting import p_value

    rows = frame[frame["against"] == "best"]
    if rows.empty:
        return ""
    best = str(rows["a"].iloc[0])
    tied = rows[~rows["separable"].astype(bool)]
    if tied.empty:
        return ""
    tied = tied.sort_values("accuracy_b", ascending=False, kind="stable")
    shown = tied.head(SUMMARY_NAMES)
    names = ", ".join(str(b) for b in shown["b"])
    ps = ", ".join(p_value(p) for p in shown["mcnemar_p_holm"])
    more = f" and {len(tied) - len(shown)} more (see Paired comparisons)" if len(tied) > len(shown) else ""
    return f"best: {best}; not separable from {names} (McNemar p = {ps}, Holm-corrected){more}"


# -- the forest plot ----------------------------------------------------------------------------------


def forest(frame: Any, dataset: str) -> Any:
    """The factor effects of one dataset as a forest plot: each effect's difference (points) with its 95%
    interval, pooled effects as black diamonds, effects on one model or augmentation as hollow circles."""
    from harness.report.figures import BASELINE_STYLE, new_figure

    rows = frame.iloc[::-1].reset_index(drop=True)
    fig = new_figure(9.0, 1.6 + 0.38 * max(len(rows), 2))
    ax = fig.subplots()
    labels = []
    for y, (_, row) in enumerate(rows.iterrows()):
        pooled = str(row["over"]).startswith("all ")
        centre = 100.0 * row["difference"]
        low, high = 100.0 * row["difference_low"], 100.0 * row["difference_high"]
        error = [[max(0.0, centre - low)], [max(0.0, high - centre)]] if not math.isnan(low) else None
        ax.errorbar([centre], [y], xerr=error, color="black" if pooled else "0.4", marker="D" if pooled else "o",
                    markerfacecolor="black" if pooled else "none", markersize=7 if pooled else 6, capsize=3)
        labels.append(f"{row['level']} vs {row['against']}: {row['over']}")
    ax.axvline(0.0, **BASELINE_STYLE)
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("accuracy difference (points), 95% interval; right of 0: the level helps")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"Factor effects on {dataset}\n(diamonds: pooled; circles: one model or augmentation)")
    return fig


def figures(report: Any, found_tables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The forest plot ``effects-DATASET`` of every dataset with factor effects."""
    try:
        frames = found_tables if found_tables is not None else _dataset_frames(effects(report), EFFECTS, "")
        return {name: forest(frame, name[len(EFFECTS) + 1:]) for name, frame in frames.items()
                if name.startswith(f"{EFFECTS}-") and len(frame)}
    except Exception as exc:  # the figure is lost, not the report
        report.note(f"factor effects' figure not drawn: {type(exc).__name__}: {exc}")
        return {}
