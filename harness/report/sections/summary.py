"""The summary: what a reader takes away (counts, the verdict, each dataset's best combination against its
baseline, the protocols' results), what the tests can detect (power), the warnings and the notes."""

from __future__ import annotations

import math
from typing import Any

from harness.report import records as rec
from harness.report import tables
from harness.report.section import Content, Section, Text

ID, TITLE = "summary", "Summary"


def _counts(records: list[dict[str, Any]]) -> str:
    counts = {s: sum(r.get("status") == s for r in records) for s in rec.STATUSES}
    words = [f"{n} {'errors' if s == 'error' and n > 1 else s}" for s, n in counts.items() if n]
    plural = "s" if len(records) != 1 else ""
    return ", ".join(words) + f" ({len(records)} task{plural}, each tested on its own)"


def _best_line(records: list[dict[str, Any]], combinations: Any, dataset: str) -> str:
    rows = combinations[(combinations["dataset"] == dataset) & combinations["test_accuracy"].notna()]
    baseline = rec.baseline(records, dataset)
    if rows.empty or math.isnan(baseline):
        statuses = [str(r.get("status")) for r in rec.of_dataset(records, dataset)]
        counted = ", ".join(f"{statuses.count(s)} {s}" for s in rec.STATUSES if s in statuses)
        return f"{dataset}: no combination finished training ({counted})"
    best = rows.iloc[0]
    info = rec.dataset_info(records, dataset) or {}
    backend = best["backend"] if rec.rows_of_several_backends(rows) else None
    interval = f", 95% CI {best['ci_low']:.3f}-{best['ci_high']:.3f}" if not math.isnan(best["ci_low"]) else ""
    return (f"{dataset}: best {rec.combination_label(best['augmentation'], best['model'], backend)} with test "
            f"accuracy {best['test_accuracy']:.3f} ({best['lift_points']:+.1f} points over the baseline "
            f"{baseline:.3f} of always guessing '{info.get('majority_class', '?')}'{interval}, "
            f"p (Holm) {formatting_p(best['p_holm'])}: {best['status']})")


def formatting_p(value: Any) -> str:
    from harness.report.formatting import cell, p_value

    return cell(value, p_value) or "-"


def lines(report: Any, combinations: Any) -> list[str]:
    """The summary's lines: counts, the verdict, what is missing, per dataset the best combination."""
    records = rec.latest_per_task(report.records)
    out = [_counts(records)]
    verdict = tables.verdict_counts(combinations)
    if verdict:
        out.append(verdict)
    selected = report.metadata.get("selection") or []
    missing = sorted(set(selected) - {str(r.get("id")) for r in records})
    if missing:
        out.append(f"incomplete: {len(missing)} of {len(selected)} selected combinations have no result "
                   f"(interrupted?): {', '.join(missing)}")
    return out + [_best_line(records, combinations, dataset) for dataset in rec.datasets(records)]


def protocol_lines(report: Any) -> list[str]:
    """Per dataset the combinations McNemar's test cannot tell from the best, the time to the target
    accuracy and the leaderboard across datasets, one line each (when the run has them), for the summary and
    the terminal."""
    from harness.report import across_datasets, time_to_target

    reference = across_datasets.reference_of(report.metadata)
    found = [*paired_lines(report), time_to_target.summary(time_to_target.table(report.records)),
             across_datasets.summary(across_datasets.table(report.records, reference), reference)]
    return [line for line in found if line]


def paired_lines(report: Any) -> list[str]:
    """Per dataset with per-image predictions, which combinations McNemar's test cannot tell from the best:
    ``DATASET: best: X; not separable from Y, Z (McNemar p = ...)`` (see :func:`harness.report.paired.summary`)."""
    from harness.report import paired

    try:
        frame = paired.comparisons(report)
    except Exception:  # the paired section's table says what went wrong
        return []
    found = [(dataset, paired.summary(frame[frame["dataset"] == dataset])) for dataset in rec.datasets(report.records)]
    return [f"{dataset}: {line}" for dataset, line in found if line]


def warnings(report: Any, combinations: Any) -> list[str]:
    """What a reader must know before trusting the numbers (also said in the terminal)."""
    return (tables.test_size_warnings(combinations) + tables.split_warnings(report.records)
            + tables.uncompiled_warnings(report.records))


def build(report: Any, content: Content) -> Section:
    combinations = tables.combinations_table(report.records)
    blocks: list[Any] = [Text(lines(report, combinations) + protocol_lines(report))]
    power = tables.power_notes(combinations)
    if power:
        blocks.append(Text(power, "power"))
    found = warnings(report, combinations)
    if found:
        blocks.append(Text(found, "warning"))
    return Section(ID, TITLE, blocks)


def add_notes(section: Section, notes: list[str]) -> None:
    """The report's notes (what it could not show, what it skipped), known once every section is built."""
    if notes:
        section.blocks.append(Text(list(notes), "note"))
