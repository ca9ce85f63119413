"""Results per dataset: test accuracy with its interval, the grid of augmentations and models, and accuracy
against training time."""

from __future__ import annotations

from typing import Any

from harness.report import records as rec
from harness.report.section import Content, Section, Table, Text

ID, TITLE = "results", "Results"

#: What each figure adds to its title: how to read it.
CAPTIONS = {
    "test_accuracy": "Each bar is the 95% Wilson interval of the test accuracy (seeds pooled); the dashed line "
                     "is the label-frequency baseline. The status beside each name comes from the "
                     "Holm-corrected test of the leaderboard, not from the bar alone.",
    "grid": "Blue cells beat the baseline, red ones do not reach it, white is the baseline itself; a grey cell "
            "has no accuracy and shows why (error, skipped).",
    "accuracy_vs_time": "Up and to the left is better: more accuracy for less training time. Colours are "
                        "models, marker shapes augmentations, as in every figure of the report.",
}


def reused_note(records: list[dict[str, Any]]) -> list[str]:
    """What ``--reuse`` took from earlier runs: how many tasks, from which runs (one line, or none)."""
    from harness.reuse import FIELD, run_name

    latest = [r for r in rec.latest_per_task(records) if r.get("status") != "skipped"]
    reused = [r for r in latest if r.get(FIELD)]
    if not reused:
        return []
    runs = ", ".join(sorted({run_name(r[FIELD]) for r in reused}))
    return [f"{len(reused)} of the {len(latest)} tasks were not trained by this run: their records and "
            f"predictions were reused from earlier runs with the same configuration and runtime ({runs}; "
            "the per_seed table's reused_from column names the run of each)."]


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = [Text(note, "note") for note in [reused_note(report.records)] if note]
    several = len(rec.datasets(report.records)) > 1
    for dataset in rec.datasets(report.records):
        if several and any(f"{kind}-{dataset}" in content.figures for kind in CAPTIONS):
            blocks.append(Text([dataset], "heading"))
        for kind, caption in CAPTIONS.items():
            figure = content.take_figure(f"{kind}-{dataset}", caption)
            if figure is not None:
                blocks.append(figure)
        pivot = content.take_table(f"pivot-{dataset}")
        if pivot is not None:
            blocks.append(Table(f"pivot-{dataset}", pivot, title=f"Grid: {dataset}", open=False))
    return Section(ID, TITLE, blocks) if blocks else None
