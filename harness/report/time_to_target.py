"""The time-to-accuracy protocol's table, summary line and figure (``--target-accuracy A --repeats N``).

Each run (a combination trained with one seed) records when its validation accuracy first reached the
target, on MLPerf's clock (see :mod:`harness.engine.budget`). A combination's result follows MLPerf
Training's rules (:func:`harness.stats.time_to_target`): of its N runs the fastest and the slowest are
dropped and the others averaged; a run that never reached the target within the budget counts as the
slowest, so one is tolerated and two or more leave no result; with fewer than three runs nothing is dropped.
Every run counts: a task that errored (NaN loss, out of memory) without reaching the target is a run that
did not reach it. Skipped combinations ran nothing and are left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from harness import stats
from harness.report import records as rec

#: The table's name (``tables/time_to_target.csv``) and the figure's stem.
NAME = "time_to_target"

KEPT_COLOUR, MISSED_COLOUR = "#4c72b0", "#b3261e"

COLUMNS = ["dataset", "augmentation", "model", "backend", "target_accuracy", "time_to_target_seconds", "std_seconds",
           "runs", "reached", "not_reached", "compile_seconds", "epochs_to_target", "run_seconds", "kept_seconds",
           "dropped_seconds", "result"]


def target_of(record: dict[str, Any]) -> float | None:
    value = (record.get("config") or {}).get("target_accuracy")
    return None if value is None else float(value)


def runs_by_combination(records: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    """The runs of every combination that had a target: (dataset, augmentation, model, backend) to its
    records, one per seed, skipped ones left out."""
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in rec.latest_per_task(records):
        if record.get("status") == "skipped" or target_of(record) is None:
            continue
        key = (str(record.get("dataset")), str(record.get("augmentation")), str(record.get("model")),
               str(record.get("backend") or ""))
        grouped[key].append(record)
    return dict(sorted(grouped.items()))


def _seconds(record: dict[str, Any]) -> float | None:
    reached = record.get("time_to_target") or {}
    value = rec.number(reached.get("seconds"))
    return None if math.isnan(value) else value


def _times(values: Any) -> str:
    return ", ".join("not reached" if v is None or math.isinf(v) else f"{v:.1f}" for v in values)


def describe(result: stats.TimeToTarget) -> str:
    """How the combination's result was obtained, in words."""
    if not result.valid:
        return f"no result: {result.why}"
    if result.runs < stats.MIN_RUNS_TO_DROP:
        return (f"mean of {result.runs} run{'s' if result.runs > 1 else ''} (fewer than {stats.MIN_RUNS_TO_DROP}: "
                "none dropped)")
    slowest = "a run that did not reach the target" if result.not_reached else "the slowest"
    return f"mean of the middle {len(result.kept)} of {result.runs} runs (the fastest and {slowest} dropped)"


def _kept_records(runs: list[dict[str, Any]], result: stats.TimeToTarget) -> list[dict[str, Any]]:
    """The runs whose times were averaged."""
    remaining = list(result.kept)
    kept = []
    for record in sorted(runs, key=lambda r: (_seconds(r) is None, _seconds(r) or 0.0, r.get("seed") or 0)):
        seconds = _seconds(record)
        if seconds is not None and seconds in remaining:
            remaining.remove(seconds)
            kept.append(record)
    return kept


def _mean_of(records: list[dict[str, Any]], key: str) -> float:
    values = [rec.number((r.get("time_to_target") or {}).get(key)) for r in records]
    clean = [v for v in values if not math.isnan(v)]
    return sum(clean) / len(clean) if clean else math.nan


def results(records: list[dict[str, Any]]) -> list[tuple[tuple[str, str, str, str], list[dict[str, Any]],
                                                          stats.TimeToTarget]]:
    """Each combination's key, runs and result; per dataset the fastest valid result first, those without a
    result last (the order of the table and the figure)."""
    found = [(key, runs, stats.time_to_target([_seconds(r) for r in runs]))
             for key, runs in runs_by_combination(records).items()]
    return sorted(found, key=lambda item: (item[0][0], not item[2].valid, item[2].mean if item[2].valid else 0.0))


def row(key: tuple[str, str, str, str], runs: list[dict[str, Any]], result: stats.TimeToTarget) -> dict[str, Any]:
    dataset, augmentation, model, backend = key
    kept = _kept_records(runs, result)
    targets = sorted({t for t in (target_of(r) for r in runs) if t is not None})
    return {
        "dataset": dataset, "augmentation": augmentation, "model": model, "backend": backend or None,
        "target_accuracy": targets[0] if len(targets) == 1 else math.nan, "runs": result.runs,
        "reached": result.reached, "not_reached": result.not_reached, "time_to_target_seconds": result.mean,
        "std_seconds": result.std, "run_seconds": _times(sorted(_seconds(r) or math.inf for r in runs)),
        "kept_seconds": _times(result.kept), "dropped_seconds": _times(result.dropped) if result.valid else "",
        "epochs_to_target": _mean_of(kept, "epoch"), "compile_seconds": _mean_of(kept, "compile_seconds"),
        "result": describe(result),
    }


def table(records: list[dict[str, Any]]) -> Any:
    """``time_to_target``: one row per combination run with ``--target-accuracy``; per dataset, the fastest
    valid result first, those without a result last. ``None`` when no run had a target. The ``backend``
    column is there only when the run used several backends."""
    import pandas as pd

    found = results(records)
    if not found:
        return None
    frame = pd.DataFrame([row(*item) for item in found], columns=COLUMNS)
    if not rec.several_backends(records):
        frame = frame.drop(columns="backend")
    frame.attrs["caption"] = caption(frame)
    frame.attrs["headline"] = True
    return frame


def caption(frame: Any) -> str:
    targets = sorted({float(t) for t in frame["target_accuracy"] if not math.isnan(t)})
    target = ", ".join(f"{t:g}" for t in targets) or "?"
    return (f"Time to a validation accuracy of {target} (MLPerf Training's rules): each run's clock starts at "
            "the first touch of the training data and stops at the end of the first complete epoch whose "
            "validation reaches the target (validation after every epoch; wall time, compilation and validation "
            "included; compile_seconds, beside it, is the part spent compiling the training step). Of a "
            f"combination's runs (seeds) the fastest and the slowest are dropped and the others averaged "
            f"(time_to_target_seconds, std_seconds); a run that did not reach the target within the budget counts "
            f"as the slowest: one is dropped, two or more leave no result. With fewer than "
            f"{stats.MIN_RUNS_TO_DROP} runs none is dropped. run_seconds lists every run's time, fastest first, "
            f"kept_seconds those averaged and dropped_seconds those dropped.")


def summary(frame: Any) -> str:
    """The terminal's and the summary's line, e.g. ``time to accuracy 0.8: fastest none / small_cnn on
    synthetic 3.2 s (mean of the middle 3 of 5 runs ...); 3 of 4 combinations have a result; 2 of 20 runs
    did not reach the target``."""
    if frame is None or frame.empty:
        return ""
    valid = frame[frame["time_to_target_seconds"].notna()]
    targets = sorted({float(t) for t in frame["target_accuracy"] if not math.isnan(t)})
    head = f"time to accuracy {', '.join(f'{t:g}' for t in targets)}: "
    runs, missed = int(frame["runs"].sum()), int(frame["not_reached"].sum())
    tail = (f"{len(valid)} of {len(frame)} combination{'s' if len(frame) != 1 else ''} have a result; "
            f"{missed} of {runs} run{'s' if runs != 1 else ''} did not reach the target")
    if valid.empty:
        return head + "no result; " + tail
    best = valid.sort_values("time_to_target_seconds", kind="stable").iloc[0]
    backend = best["backend"] if "backend" in valid.columns and isinstance(best["backend"], str) else None
    name = f"{rec.combination_label(best['augmentation'], best['model'], backend)} on {best['dataset']}"
    compile_part = (f", {best['compile_seconds']:.1f} s of it compiling"
                    if not math.isnan(best["compile_seconds"]) else "")
    return (head + f"fastest {name} {best['time_to_target_seconds']:.1f} s, {best['result']}{compile_part}; "
            + tail)


# -------------------------------------------------------------------------------------------------
# The figure
# -------------------------------------------------------------------------------------------------


def figure(records: list[dict[str, Any]]) -> Any:
    """Each combination's runs (filled: averaged; hollow: dropped; a cross at the right edge: did not reach
    the target), the protocol's mean as a bar with the range of the averaged runs, fastest at the top."""
    from matplotlib.lines import Line2D

    from harness.report.figures import new_figure

    found = results(records)[::-1]  # fastest at the top
    backends = rec.several_backends(records)
    fig = new_figure(9.0, 2.4 + 0.45 * max(len(found), 2))
    ax = fig.subplots()
    times = [t for _, _, result in found for t in (*result.kept, *result.dropped) if t is not None]
    edge = 1.08 * max(times) if times else 1.0
    labels = []
    for y, ((dataset, augmentation, model, backend), runs, result) in enumerate(found):
        labels.append(f"{dataset}: {augmentation} / {model}{f' / {backend}' if backends else ''}\n"
                      f"{result.reached} of {result.runs} reached")
        if result.valid:
            ax.barh([y], [result.mean], height=0.5, color=KEPT_COLOUR, alpha=0.35, zorder=1)
            ax.plot([min(result.kept), max(result.kept)], [y, y], color=KEPT_COLOUR, linewidth=2.5, zorder=2)
        else:
            ax.annotate("no result", (0, y), xytext=(4, 5), textcoords="offset points", fontsize=8, color="0.3")
        ax.plot(list(result.kept), [y] * len(result.kept), linestyle="", marker="o", color=KEPT_COLOUR, zorder=3)
        dropped = [t for t in result.dropped if t is not None]
        if not result.valid:  # nothing averaged: every run that reached the target is drawn hollow
            dropped = [t for t in (_seconds(r) for r in runs) if t is not None]
        ax.plot(dropped, [y] * len(dropped), linestyle="", marker="o", markerfacecolor="none", color="0.3",
                zorder=3, label="_dropped")
        if result.not_reached:
            ax.plot([edge], [y], linestyle="", marker="x", color=MISSED_COLOUR, markersize=9, zorder=3,
                    label="_not_reached")
            ax.annotate(f"{result.not_reached} not reached", (edge, y), xytext=(6, 5), textcoords="offset points",
                        fontsize=8, color=MISSED_COLOUR)
    handles = [Line2D([], [], color=KEPT_COLOUR, marker="o", linestyle="", label="run averaged"),
               Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="",
                      label="run not averaged (the fastest or the slowest dropped, or no result)"),
               Line2D([], [], color=MISSED_COLOUR, marker="x", linestyle="", label="run that did not reach the target"),
               Line2D([], [], color=KEPT_COLOUR, alpha=0.35, linewidth=8, label="result: mean of the runs averaged")]
    ax.set_yticks(range(len(found)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(found) - 0.3)
    ax.set_xlim(0, edge * 1.2)
    ax.set_xlabel("seconds from the first touch of the data to the target (compilation and validation included)")
    ax.grid(True, axis="x", alpha=0.3)
    targets = sorted({t for t in (target_of(r) for _, runs, _ in found for r in runs) if t is not None})
    ax.set_title(f"Time to a validation accuracy of {', '.join(f'{t:g}' for t in targets)} per combination\n"
                 "(MLPerf's rules: the fastest and the slowest run dropped, the rest averaged)")
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9)
    return fig
