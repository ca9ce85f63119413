"""The leaderboard across datasets: when a run covers two datasets or more, each combination (augmentation x
model, x backend when the run has several) gets a normalised score on every dataset, 0 for the dataset's
label-frequency baseline and 1 for a reference (the combination named by ``--reference`` or ``reference =``
in ``[tool.harness]``, else the best test accuracy of the run on that dataset), averaged over the datasets
with its spread, as the AutoML benchmark ranks frameworks (:func:`harness.stats.cross_dataset_scores`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from harness import stats
from harness.report import records as rec

#: The table's name (shown first, with the per-dataset leaderboards) and the figure's stem.
NAME = "leaderboard-across_datasets"
FIGURE = "across_datasets"

COLUMNS = ["combination", "score", "score_std", "score_low", "score_high", "datasets", "imputed"]


def key_of(record: dict[str, Any], backends: bool) -> str:
    """The combination across datasets: ``AUGMENTATION-MODEL``, with ``-BACKEND`` when the run has several
    (what ``--reference`` names)."""
    key = f"{record.get('augmentation')}-{record.get('model')}"
    return f"{key}-{record.get('backend')}" if backends else key


def label_of(key: str, records: list[dict[str, Any]], backends: bool) -> str:
    for record in records:
        if key_of(record, backends) == key:
            backend = f" / {record.get('backend')}" if backends else ""  # as the per-dataset leaderboards
            return f"{record.get('augmentation')} / {record.get('model')}{backend}"
    return key


def accuracies(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``accuracy[dataset][combination]``: the test accuracy of each combination, its seeds pooled (their
    correct answers over their test images, as the per-dataset leaderboards); NaN without one (an error,
    a skip)."""
    backends = rec.several_backends(records)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in rec.latest_per_task(records):
        grouped[(str(record.get("dataset")), key_of(record, backends))].append(record)
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for (dataset, key), group in sorted(grouped.items()):
        counts = [rec.test_counts(r) for r in group]
        counted = [(n, c) for n, c in counts if n]
        if counted:
            found[dataset][key] = sum(c for _, c in counted) / sum(n for n, _ in counted)
        else:
            values = [rec.number(r.get("test_accuracy")) for r in group]
            clean = [v for v in values if not math.isnan(v)]
            found[dataset][key] = sum(clean) / len(clean) if clean else math.nan
    return dict(found)


def reference_of(metadata: dict[str, Any]) -> str | None:
    """The reference combination the run named (stored in its metadata by the report plugin)."""
    value = metadata.get("reference")
    return str(value) if value else None


def board(records: list[dict[str, Any]], reference: str | None = None) -> stats.CrossDatasetBoard | None:
    """The scores, or ``None`` when the run has fewer than two datasets with a trained combination."""
    found = accuracies(records)
    if sum(any(not math.isnan(v) for v in by.values()) for by in found.values()) < 2:
        return None
    baselines = {dataset: rec.baseline(records, dataset) for dataset in found}
    return stats.cross_dataset_scores(found, baselines, reference)


def table(records: list[dict[str, Any]], reference: str | None = None) -> Any:
    """``leaderboard-across_datasets``: one row per combination, best mean score first: the mean
    normalised score across datasets (``score``), its standard deviation and range, how many datasets
    scored it, those where it had no result (scored 0), and its score on each dataset (``score:DATASET``).
    ``None`` with fewer than two datasets."""
    import pandas as pd

    scored = board(records, reference)
    if scored is None:
        return None
    backends = rec.several_backends(records)
    datasets = sorted({d for s in scored.scores.values() for d in s.scores})
    rows = []
    for key, score in scored.scores.items():
        rows.append({
            "combination": label_of(key, records, backends), "score": score.mean, "score_std": score.std,
            "score_low": score.low, "score_high": score.high,
            "datasets": sum(not math.isnan(v) for v in score.scores.values()),
            "imputed": ", ".join(score.imputed) or None,
            **{f"score:{d}": score.scores.get(d, math.nan) for d in datasets},
        })
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *(f"score:{d}" for d in datasets)])
    frame = frame.sort_values(["score", "combination"], ascending=[False, True], kind="stable", na_position="last")
    frame = frame.reset_index(drop=True)
    frame.attrs["caption"] = caption(scored, reference, records)
    frame.attrs["headline"] = True
    return frame


def _references(scored: stats.CrossDatasetBoard, reference: str | None, records: list[dict[str, Any]]) -> str:
    backends = rec.several_backends(records)
    if reference is not None:
        return f"the reference {label_of(reference, records, backends)}"
    each = "; ".join(f"{d}: {label_of(name, records, backends)} {accuracy:.3f}"
                     for d, (name, accuracy) in sorted(scored.references.items()))
    return f"the best test accuracy of the run on each dataset ({each})"


def caption(scored: stats.CrossDatasetBoard, reference: str | None, records: list[dict[str, Any]]) -> str:
    left_out = "".join(f" {d} is left out of the scores: {why}." for d, why in sorted(scored.unscaled.items()))
    return (f"Across datasets, best first (the AutoML benchmark's normalised score): on each dataset 0 is its "
            f"label-frequency baseline and 1 {_references(scored, reference, records)}; test accuracies pooled "
            f"over seeds. score: the mean over the datasets scored (datasets), with its standard deviation "
            f"(score std) and range (lowest-highest score); above 1 beats the reference, below 0 is worse than "
            f"the baseline. A combination with no result on a dataset (an error, a skip) scores 0 there, as "
            f"the baseline (imputed lists those datasets).{left_out}")


def summary(frame: Any, reference: str | None) -> str:
    """The terminal's and the summary's line, e.g. ``across 2 datasets: best none / cnn, normalised score
    0.93 (std 0.05; 0 = baseline, 1 = the best of the run on each dataset)``."""
    if frame is None or frame.empty or frame["score"].isna().all():
        return ""
    best = frame.iloc[0]
    one = f"the reference {reference}" if reference else "the best of the run on each dataset"
    spread = f", std {best['score_std']:.2f}" if not math.isnan(best["score_std"]) else ""
    n = int(best["datasets"])
    return (f"across {n} dataset{'s' if n != 1 else ''}: best {best['combination']}, normalised score "
            f"{best['score']:.2f} (range {best['score_low']:.2f}-{best['score_high']:.2f}{spread}; "
            f"0 = the label-frequency baseline, 1 = {one})")


def figure(frame: Any) -> Any:
    """Each combination's score on every dataset (a marker per dataset) and their mean with its standard
    deviation, best at the top, with the baseline (0) and the reference (1) as vertical lines."""
    from matplotlib.lines import Line2D

    from harness.report.figures import BASELINE_STYLE, MARKERS, new_figure

    rows = frame.iloc[::-1]
    datasets = [c.split(":", 1)[1] for c in frame.columns if c.startswith("score:") and frame[c].notna().any()]
    fig = new_figure(9.0, 2.4 + 0.42 * max(len(rows), 2))
    ax = fig.subplots()
    for y, (_, line) in enumerate(rows.iterrows()):
        if not math.isnan(line["score"]):
            std = 0.0 if math.isnan(line["score_std"]) else line["score_std"]
            ax.errorbar([line["score"]], [y], xerr=[[std], [std]], color="black", marker="D", markersize=7,
                        capsize=4, zorder=3)
        for k, dataset in enumerate(datasets):
            value = line[f"score:{dataset}"]
            if not math.isnan(value):
                ax.plot([value], [y], linestyle="", marker=MARKERS[k % len(MARKERS)], color=f"C{k}",
                        markerfacecolor="none", markersize=8, zorder=2)
    ax.axvline(0.0, **BASELINE_STYLE)
    ax.axvline(1.0, color="#176f2c", linestyle=":", linewidth=1.4)
    ax.set_yticks(range(len(rows)), [str(c) for c in rows["combination"]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("normalised score (0 = label-frequency baseline, 1 = reference)")
    ax.grid(True, axis="x", alpha=0.3)
    plural = "s" if len(datasets) != 1 else ""
    ax.set_title(f"Normalised score across {len(datasets)} dataset{plural}\n"
                 "(diamond: mean with its standard deviation; hollow markers: each dataset)")
    handles = [Line2D([], [], color="black", marker="D", linestyle="", label="mean over the datasets"),
               *(Line2D([], [], color=f"C{k}", marker=MARKERS[k % len(MARKERS)], markerfacecolor="none",
                        linestyle="", label=f"dataset: {d}") for k, d in enumerate(datasets)),
               Line2D([], [], label="0: baseline", **BASELINE_STYLE),
               Line2D([], [], color="#176f2c", linestyle=":", label="1: reference")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9)
    return fig
