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


def _files(kind: str, found: list[Mapping[str, Any]], metadata: Mapping[str, Any]) -> list[str]:
    """``N files KIND: n REASON; ...`` and the first :data:`NAMED_FILES` of them by name."""
    reasons = Counter(str(f.get("reason", "?")) for f in found)
    by_reason = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
    named = ", ".join(shown.path(f.get("file", "?"), metadata) for f in found[:NAMED_FILES])
    more = f" and {len(found) - NAMED_FILES} more" if len(found) > NAMED_FILES else ""
    return [f"{len(found)} file{'s' * (len(found) != 1)} {kind}: {by_reason}", f"{kind}: {named}{more}"]


def _ignored(value: Any, metadata: Mapping[str, Any]) -> list[str]:
    """``ignored_files`` as a count, counts by reason, or files with their reasons."""
    if isinstance(value, list):
        found = [f for f in value if isinstance(f, Mapping)]
        return _files("ignored (not read as images)", found, metadata) if found else []
    if isinstance(value, Mapping):
        value = "; ".join(f"{n} {reason}" for reason, n in value.items())
    return [f"ignored files (not read as images): {value}"] if value else []


def skipped_lines(info: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
    """The files read but left out (``skipped_files``: a file and its reason each) and the files not read
    (``ignored_files``, of the record or its ``source_info``: a count, counts by reason, or files with
    their reasons), in words."""
    skipped = [s for s in info.get("skipped_files") or [] if isinstance(s, Mapping)]
    out = _files("skipped", skipped, metadata) if skipped else []
    return out + _ignored(info.get("ignored_files", (info.get("source_info") or {}).get("ignored_files")), metadata)


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
        figure = content.take_figure(f"{kind}-{dataset}", CAPTIONS[kind])
        if figure is not None:
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
