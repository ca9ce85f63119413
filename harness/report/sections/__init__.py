"""The report's sections, one module each, in the order of the page: the answer first (summary,
the protocols' results, leaderboards), then how it was reached (results, learning curves), the data, the full tables,
and the run's facts. Each module has ``ID``, ``TITLE`` and ``build(report, content) -> Section | None``
(see :mod:`harness.report.section`); the writers render what they return."""

from __future__ import annotations

from typing import Any

from harness.report.section import Content, Section
from harness.report.sections import (
    across,
    curves,
    datasets,
    effects,
    leaderboards,
    mistakes,
    more,
    paired,
    results,
    run,
    seeds,
    summary,
    target,
)

#: The sections in the order of the page.
ORDER = (summary, across, target, leaderboards, paired, effects, seeds, results, curves, mistakes, datasets, more,
         run)


def build(report: Any, content: Content) -> list[Section]:
    """Every section of the report that has something to show, in page order. Each takes its tables and
    figures from ``content``; what no other section took is shown by :mod:`~harness.report.sections.more`."""
    found = [module.build(report, content) for module in ORDER]
    return [section for section in found if section is not None and section.blocks]
