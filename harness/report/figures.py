"""The built-in result figures (matplotlib, Agg canvas, no display): each builder returns a ``Figure``.

Accuracies are drawn in percent. Colours tell models apart and markers tell augmentations apart, the same
in every figure; the label-frequency baseline is a dashed grey line wherever accuracy is drawn.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from harness.report import records as rec

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
BASELINE_STYLE: dict[str, Any] = {"color": "0.35", "linestyle": "--", "linewidth": 1.4}
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"
SPLIT_COLORS = {"train": "#4c72b0", "validation": "#dd8452", "test": "#55a868"}


#: The widest figure, in inches at 100 dpi (900 px): shown at 87% in an 800 px window, so that its 9-10 pt
#: labels stay readable; small multiples are stacked in rows of :data:`PANELS_PER_ROW` rather than shrunk.
MAX_WIDTH = 9.0
PANELS_PER_ROW = 2


def new_figure(width: float, height: float) -> Any:
    """A figure on an Agg canvas with constrained layout, so legends placed outside keep their room; never
    wider than :data:`MAX_WIDTH`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(min(width, MAX_WIDTH), height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def percent(value: Any) -> float:
    return 100.0 * rec.number(value)


def baseline_label(baseline: float) -> str:
    return f"baseline {100 * baseline:.1f}% (always the majority class)"


#: Model colours: tab10's ten, then Dark2's eight when a report has more than ten models.
FIRST_COLOURS, MORE_COLOURS = 10, 8


def _colours() -> list[Any]:
    from matplotlib import colormaps

    return [colormaps["tab10"](i) for i in range(FIRST_COLOURS)] + [colormaps["Dark2"](i) for i in range(MORE_COLOURS)]


def colour_index(model: str, size: int = FIRST_COLOURS) -> int:
    """Where a model's colour starts among the first ``size``: a stable hash of its name, the same in every
    run and every figure."""
    return int(hashlib.sha1(model.encode("utf-8")).hexdigest(), 16) % size


class Palette:
    """A colour per model and a marker per augmentation, stable across figures and runs: a model's colour
    comes from its name (:func:`colour_index`); when two models of one report hash to the same colour, the
    later one by name takes the next free colour."""

    def __init__(self, models: Iterable[str], augmentations: Iterable[str]) -> None:
        models, augmentations = sorted(set(models)), sorted(set(augmentations))
        colours = _colours()
        taken: set[int] = set()
        self.colors: dict[str, Any] = {}
        for model in models:
            index = colour_index(model)
            while index in taken and len(taken) < len(colours):
                index = (index + 1) % len(colours)
            taken.add(index)
            self.colors[model] = colours[index]
        self.markers = {a: MARKERS[i % len(MARKERS)] for i, a in enumerate(augmentations)}

    def legend_handles(self, baseline: float | None, drawn: Any = None) -> list[Any]:
        """Legend entries for the models and augmentations of the ``drawn`` rows (default: all)."""
        from matplotlib.lines import Line2D

        models = set(drawn["model"].astype(str)) if drawn is not None else set(self.colors)
        augmentations = set(drawn["augmentation"].astype(str)) if drawn is not None else set(self.markers)
        handles = [Line2D([], [], color=c, marker="o", linestyle="", markersize=8, label=f"model: {m}")
                   for m, c in self.colors.items() if m in models]
        handles += [Line2D([], [], color="0.3", marker=k, linestyle="", markerfacecolor="none",
                           label=f"augmentation: {a}") for a, k in self.markers.items() if a in augmentations]
        if baseline is not None and not math.isnan(baseline):
            handles.append(Line2D([], [], label=baseline_label(baseline), **BASELINE_STYLE))
        return handles


def palette_for(rows: Any) -> Palette:
    """The palette of a dataset's rows, trained or not, so a model keeps its colour in every figure."""
    return Palette(rows["model"].astype(str), rows["augmentation"].astype(str))


def _draw_baseline(ax: Any, baseline: float, horizontal: bool = True, legend: bool = True) -> None:
    """The label-frequency baseline as a dashed line (its ``Line2D`` data is ``100 * baseline``)."""
    if math.isnan(baseline):
        return
    line = ax.axhline if horizontal else ax.axvline
    line(100 * baseline, label=baseline_label(baseline) if legend else "_nolegend_", zorder=1, **BASELINE_STYLE)


# -------------------------------------------------------------------------------------------------
# Training curves
# -------------------------------------------------------------------------------------------------


def _curve_axes(figure: Any, n: int) -> list[Any]:
    ncols = min(PANELS_PER_ROW, n)
    nrows = math.ceil(n / ncols)
    grid = figure.subplots(nrows, ncols, sharex=False, sharey=True, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def _plot_history(ax: Any, record: Mapping[str, Any], first: bool, alpha: float) -> None:
    history = rec.history(record)
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [percent(h.get("accuracy")) for h in history], color=TRAIN_COLOR, marker=".", alpha=alpha,
            label="training accuracy" if first else "_nolegend_")
    ax.plot(epochs, [percent(h.get("val_accuracy")) for h in history], color=VAL_COLOR, marker=".", alpha=alpha,
            label="validation accuracy" if first else "_nolegend_")
    best = record.get("best_epoch")
    if record.get("weights_tested") == "best" and best and 0 < best <= len(history):
        ax.plot([best], [percent(history[best - 1].get("val_accuracy"))], linestyle="", marker="*",
                markersize=11, color=VAL_COLOR, markeredgecolor="black", alpha=alpha,
                label="weights tested (best validation epoch)" if first else "_nolegend_")


def accuracy_curves(records: list[dict[str, Any]], dataset: str) -> Any:
    """Training and validation accuracy per epoch, one panel per combination (every seed drawn), with the
    dataset's label-frequency baseline as a dashed line in each panel."""
    from matplotlib.ticker import MaxNLocator

    trained = [r for r in rec.latest_per_task(rec.of_dataset(records, dataset)) if rec.history(r)]
    several = len({r.get("backend") for r in trained}) > 1  # a panel per combination and backend
    ids = sorted({(str(r["id"]), str(r.get("backend"))) for r in trained})
    baseline = rec.baseline(records, dataset)
    ncols = min(PANELS_PER_ROW, max(1, len(ids)))
    figure = new_figure(4.4 * ncols + 0.4, 3.2 * math.ceil(max(1, len(ids)) / ncols) + 1.1)
    if not ids:
        return figure
    values = [percent(h.get(k)) for r in trained for h in rec.history(r) for k in ("accuracy", "val_accuracy")]
    low = min([v for v in values if not math.isnan(v)] + [100 * baseline if not math.isnan(baseline) else 100])
    for n, (ax, combination) in enumerate(zip(_curve_axes(figure, len(ids)), ids)):
        seeds = sorted((r for r in trained if (r["id"], str(r.get("backend"))) == combination),
                       key=lambda r: r.get("seed") or 0)
        for i, record in enumerate(seeds):
            _plot_history(ax, record, first=(n == 0 and i == 0), alpha=1.0 if len(seeds) == 1 else 0.75)
        _draw_baseline(ax, baseline, legend=(n == 0))
        first = seeds[0]
        seed_text = f"{len(seeds)} seeds" if len(seeds) > 1 else f"seed {first.get('seed')}"
        on = f" on {first.get('backend')}" if several else ""
        ax.set_title(f"{first.get('augmentation')} / {first.get('model')}{on} ({seed_text})", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(max(0.0, low - 5.0), 101.0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    figure.suptitle(f"Training and validation accuracy per epoch: {dataset}")
    figure.legend(loc="outside lower center", ncols=2, fontsize=9)
    return figure


# -------------------------------------------------------------------------------------------------
# Test accuracy with intervals
# -------------------------------------------------------------------------------------------------


def test_accuracy_chart(combinations: Any, dataset: str) -> Any:
    """Test accuracy of each combination with its 95% interval, best at the top, against the baseline."""
    rows = combinations[combinations["dataset"] == dataset].sort_values("test_accuracy", na_position="first")
    palette = palette_for(rows)
    drawn = rows[rows["test_accuracy"].notna()]
    baseline = rec.number(rows["baseline_accuracy"].dropna().iloc[0]) if rows["baseline_accuracy"].notna().any() \
        else math.nan
    figure = new_figure(MAX_WIDTH, 2.6 + 0.42 * max(len(rows), 2))
    ax = figure.subplots()
    labels = []
    names = rec.model_labels(rows)  # with the backend in a run on several
    for y, row in enumerate(rows.itertuples(index=False)):
        if math.isnan(row.test_accuracy):
            labels.append(f"{row.augmentation} / {names[y]}: {row.status}")
            continue
        labels.append(f"{row.augmentation} / {names[y]}: {row.lift_points:+.1f} pts, {row.status}")
        mean = 100 * row.test_accuracy
        low = 100 * row.ci_low if not math.isnan(row.ci_low) else mean
        high = 100 * row.ci_high if not math.isnan(row.ci_high) else mean
        color = palette.colors[str(row.model)]
        ax.errorbar([mean], [y], xerr=[[max(0.0, mean - low)], [max(0.0, high - mean)]], color=color, capsize=4,
                    linewidth=1.6, marker=palette.markers[str(row.augmentation)], markersize=8, zorder=3)
    _draw_baseline(ax, baseline, horizontal=False)
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    lows = [100 * v for v in rows["ci_low"].tolist() + rows["test_accuracy"].tolist() if not math.isnan(v)]
    left = min(lows + ([100 * baseline] if not math.isnan(baseline) else [])) if lows else 0.0
    ax.set_xlim(max(0.0, left - 5.0), 101.0)
    ax.set_xlabel("test accuracy (%), with 95% confidence interval")
    ax.set_ylabel("augmentation / model")
    ax.grid(True, axis="x", alpha=0.3)
    method = "Wilson, seeds pooled" if rows["seeds"].max() > 1 else "Wilson interval"
    ax.set_title(f"Test accuracy per combination: {dataset}\n({method}; labels: lift over the baseline, status)")
    figure.legend(handles=palette.legend_handles(baseline, drawn), loc="outside lower center", ncols=3, fontsize=9)
    return figure


# -------------------------------------------------------------------------------------------------
# The grid as a heat map
# -------------------------------------------------------------------------------------------------


def grid_heatmap(pivot: Any, dataset: str, baseline: float, statuses: Any = None) -> Any:
    """Mean test accuracy for each augmentation (rows) and model (columns); blue beats the baseline,
    red does not reach it, white is the baseline itself. A cell without accuracy shows its status from
    ``statuses`` (a frame shaped like ``pivot``), else ``n/a``."""
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    values = 100 * pivot.to_numpy(dtype=float)
    figure = new_figure(2.2 + 1.9 * max(2, pivot.shape[1]), 1.9 + 0.75 * max(2, pivot.shape[0]))
    ax = figure.subplots()
    centre = 100 * baseline if not math.isnan(baseline) else float(np.nanmean(values))
    finite = values[np.isfinite(values)]
    vmin = min(float(finite.min()) if finite.size else centre, centre - 1.0)
    vmax = max(float(finite.max()) if finite.size else centre, centre + 1.0)
    from matplotlib import colormaps

    cmap = colormaps["RdBu"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto",
                      norm=TwoSlopeNorm(vcenter=centre, vmin=vmin, vmax=vmax))
    for (i, j), value in np.ndenumerate(values):
        if math.isnan(value):
            status = statuses.iloc[i, j] if statuses is not None else None
            ax.text(j, i, status if isinstance(status, str) else "n/a", ha="center", va="center", fontsize=9,
                    color="0.3")
            continue
        r, g, b, _ = cmap(image.norm(value))
        ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"
        lift = f"\n{value - centre:+.1f} pts" if not math.isnan(baseline) else ""
        ax.text(j, i, f"{value:.1f}%{lift}", ha="center", va="center", fontsize=9, color=ink)
    ax.set_xticks(range(pivot.shape[1]), [str(c) for c in pivot.columns], rotation=20, ha="right")
    ax.set_yticks(range(pivot.shape[0]), [str(i) for i in pivot.index])
    ax.set_xlabel("model")
    ax.set_ylabel("augmentation")
    bar = figure.colorbar(image, ax=ax)
    bar.set_label("test accuracy (%)")
    if not math.isnan(baseline):
        bar.ax.axhline(centre, **BASELINE_STYLE)
    title = f"Test accuracy of the grid: {dataset}"
    ax.set_title(title + (f"\n(baseline {centre:.1f}%, pts = points over it)" if not math.isnan(baseline) else ""))
    return figure


# -------------------------------------------------------------------------------------------------
# Accuracy against training time
# -------------------------------------------------------------------------------------------------


def _overlaps(rows: Any) -> list[tuple[float, float, int]]:
    """Groups of points drawn on top of one another: the same test accuracy and training times within 3%
    of each other; (seconds, accuracy in %, how many) for each group of two or more."""
    groups: list[list[tuple[float, float]]] = []
    for seconds, accuracy in sorted(zip(rows["train_seconds"].tolist(), rows["test_accuracy"].tolist())):
        point = (float(seconds), 100.0 * float(accuracy))
        for group in groups:
            x, y = group[0]
            if abs(point[1] - y) < 1e-9 and abs(point[0] - x) <= 0.03 * max(abs(x), 1e-9):
                group.append(point)
                break
        else:
            groups.append([point])
    return [(g[0][0], g[0][1], len(g)) for g in groups if len(g) > 1]


def accuracy_vs_time(results: Any, dataset: str) -> Any:
    """Test accuracy against training time, one point per combination and seed. Markers are hollow, so
    points on top of one another stay visible, and each such group is labelled with its size (``x3``)."""
    palette = palette_for(results[results["dataset"] == dataset])
    rows = results[(results["dataset"] == dataset) & results["test_accuracy"].notna()]
    baseline = rec.number(rows["baseline_accuracy"].iloc[0]) if len(rows) else math.nan
    figure = new_figure(MAX_WIDTH, 5.6)
    ax = figure.subplots()
    for row in rows.itertuples(index=False):
        ax.plot([row.train_seconds], [100 * row.test_accuracy], linestyle="", markersize=10, markeredgewidth=2,
                marker=palette.markers[str(row.augmentation)], color=palette.colors[str(row.model)],
                markerfacecolor="none", zorder=3)
    for x, y, count in _overlaps(rows):
        ax.annotate(f"x{count}", (x, y), xytext=(8, 6), textcoords="offset points", fontsize=9,
                    color="0.2")
    _draw_baseline(ax, baseline)
    seconds = [s for s in rows["train_seconds"].tolist() if s and not math.isnan(s)]
    if seconds and max(seconds) / max(min(seconds), 1e-9) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("training time (s, validation excluded)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Test accuracy against training time: {dataset}\n(one hollow marker per seed; xN: N points "
                 f"on top of one another)")
    figure.legend(handles=palette.legend_handles(baseline, rows), loc="outside lower center", ncols=3, fontsize=9)
    return figure


# -------------------------------------------------------------------------------------------------
# Label frequencies
# -------------------------------------------------------------------------------------------------


def label_frequencies(info: Mapping[str, Any]) -> Any:
    """Share of each class in each split, with the image counts on the bars."""
    counts: Mapping[str, Mapping[str, int]] = info.get("class_counts") or {}
    classes = list(info.get("class_names") or sorted({c for split in counts.values() for c in split}))
    splits = [s for s in ("train", "validation", "test") if s in counts] + \
        [s for s in counts if s not in ("train", "validation", "test")]
    figure = new_figure(max(7.5, 2.5 + 1.1 * len(classes) * max(1, len(splits)) / 2), 4.6)
    ax = figure.subplots()
    width = 0.8 / max(1, len(splits))
    for k, split in enumerate(splits):
        total = sum(counts[split].values()) or 1
        shares = [100.0 * counts[split].get(c, 0) / total for c in classes]
        xs = [i + (k - (len(splits) - 1) / 2) * width for i in range(len(classes))]
        bars = ax.bar(xs, shares, width=width * 0.95, color=SPLIT_COLORS.get(split, f"C{k}"),
                      label=f"{split} ({total} images)")
        if len(classes) <= 12:
            ax.bar_label(bars, labels=[str(counts[split].get(c, 0)) for c in classes], fontsize=8, padding=2)
    ax.set_xticks(range(len(classes)), classes, rotation=30 if len(classes) > 6 else 0,
                  ha="right" if len(classes) > 6 else "center")
    ax.set_xlabel("class (numbers on the bars: image counts)")
    ax.set_ylabel("share of the split's images (%)")
    ax.set_ylim(0, max(ax.get_ylim()[1], 10) * 1.12)
    baseline = rec.number(info.get("baseline_accuracy"))
    ax.set_title(f"Label frequencies: {info.get('dataset')}\n"
                 f"always guessing '{info.get('majority_class')}' scores {100 * baseline:.1f}% on the test split")
    figure.legend(loc="outside lower center", ncols=len(splits), fontsize=9)
    return figure
