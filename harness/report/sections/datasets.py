"""The data: per dataset its splits, classes and baseline, the files skipped or ignored while reading it
(counts and reasons), its label frequencies, sample images and each augmentation's effect."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from harness.report import records as rec
from harness.report import shown
from harness.report.section import Content, Section, Table, Text
from harness.report.tables import SPLITS

ID, TITLE = "data", "Data"

#: At most this many skipped files are named one by one; the others are counted.
NAMED_FILES = 10

CAPTIONS = {
    "labels": "The baseline always answers the training split's majority class; its test accuracy is that "
              "class's share of the test split, the bar to beat.",
    "samples": "The first training images of each class, at the size the models see them.",
    "augment": "The original training image (left) and versions drawn by the augmentation in training mode; "
               "at test time no augmentation is applied.",
}


def skipped_lines(info: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
    """The files read but left out (``skipped_files``: a file and its reason each) and the files not read
    (``ignored_files``: a count, or counts by reason), in words."""
    out = []
    skipped = [s for s in info.get("skipped_files") or [] if isinstance(s, Mapping)]
    if skipped:
        reasons = Counter(str(s.get("reason", "?")) for s in skipped)
        by_reason = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        out.append(f"{len(skipped)} file{'s' * (len(skipped) != 1)} skipped: {by_reason}")
        named = ", ".join(shown.path(s.get("file", "?"), metadata) for s in skipped[:NAMED_FILES])
        more = f" and {len(skipped) - NAMED_FILES} more" if len(skipped) > NAMED_FILES else ""
        out.append(f"skipped: {named}{more}")
    ignored = info.get("ignored_files", (info.get("source_info") or {}).get("ignored_files"))
    if isinstance(ignored, Mapping):
        ignored = "; ".join(f"{n} {reason}" for reason, n in ignored.items()) if ignored else None
    if ignored:
        out.append(f"ignored files (not read as images): {ignored}")
    return out


def facts(info: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
    sizes = info.get("sizes") or {}
    order = [s for s in SPLITS if s in sizes] + sorted(s for s in sizes if s not in SPLITS)
    classes = list(info.get("class_names") or [])
    shape = "x".join(str(s) for s in info.get("image_shape") or []) or "?"
    lines = [f"{', '.join(f'{sizes[split]} {split}' for split in order)} images of {shape}, {len(classes)} classes: "
             f"{', '.join(classes)}",
             f"baseline: always '{info.get('majority_class', '?')}', test accuracy "
             f"{rec.number(info.get('baseline_accuracy')):.3f}"]
    if info.get("root"):
        lines.append(f"read from {shown.path(info['root'], metadata)}")
    return lines + skipped_lines(info, metadata)


def _figures(content: Content, dataset: str) -> list[Any]:
    found = []
    for kind in ("labels", "samples"):
        figure = content.take_figure(f"{kind}-{dataset}")
        if figure is not None:
            figure.caption = figure.caption or CAPTIONS[kind]
            found.append(figure)
    for figure in content.take_figures(lambda stem: stem.startswith(f"augment-{dataset}-")):
        figure.caption = figure.caption or CAPTIONS["augment"]
        found.append(figure)
    return found


def build(report: Any, content: Content) -> Section | None:
    blocks: list[Any] = []
    for dataset in rec.datasets(report.records):
        info = rec.dataset_info(report.records, dataset)
        known = info if info and info.get("sizes") else None  # a record may say nothing of its data
        found = _figures(content, dataset)
        if known is None and not found:
            continue
        blocks.append(Text([dataset], "heading"))
        blocks += [Text(facts(known, report.metadata))] if known is not None else []
        blocks += found
    labels = content.take_table("labels")
    if labels is not None:
        blocks.append(Table("labels", labels, title="Labels per split", open=False))
    return Section(ID, TITLE, blocks) if blocks else None
