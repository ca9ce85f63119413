"""Writing a run's report: tables and figures collected through the report hooks, written as CSV, Markdown,
PNG and one self-contained HTML page into the run directory."""

from __future__ import annotations

import io
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report import formatting, html, markdown
from harness.report import records as rec
from harness.report.context import Report
from harness.store import shown_command, write_atomic

if TYPE_CHECKING:
    from harness.pluginmanager import HarnessPluginManager

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
TABLES_DIR = "tables"
FIGURES_DIR = "figures"
_SAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")


@dataclass
class WrittenReport:
    html: Path
    markdown: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: What a reader must know before trusting the numbers (a test set too small), also in the terminal.
    warnings: list[str] = field(default_factory=list)
    #: The run's verdict after Holm's correction (see :func:`harness.report.tables.verdict_counts`).
    verdict: str = ""
    #: The protocols' results: the time to the target accuracy and the leaderboard across datasets.
    protocols: list[str] = field(default_factory=list)

    def terminal_lines(self) -> list[str]:
        """What the terminal shows of the report after a run or ``harness report``: its notes, warnings, the
        run's verdict and the protocols' results."""
        lines = [f"note: {note}" for note in self.notes] + [f"warning: {warning}" for warning in self.warnings]
        return lines + ([f"statistics: {self.verdict}"] if self.verdict else []) + self.protocols


def write_file(path: Path, write: Any, mode: str = "w") -> None:
    """Atomically, and readable by everyone like any other output (temporary files start private)."""
    write_atomic(path, write, mode)
    os.chmod(path, 0o644)


def safe_name(name: str) -> str:
    """A table or figure name usable as a file stem."""
    return _SAFE.sub("_", str(name)).strip("._") or "unnamed"


def collect(pm: HarnessPluginManager, hook_name: str, report: Report) -> dict[str, Any]:
    """Call a report hook through pluggy and merge its results by name, in pluggy's call order (the built-in
    report plugin, ``tryfirst``, first). A plugin that fails costs its own contribution and leaves a note, not
    the report: the hook is called again without it (pluggy stops a call at the first failure). A result
    that is not a dict, or a name already taken, costs that result and leaves a note."""
    failed: list[Any] = []
    notes = list(report.notes)
    while True:
        report.notes[:] = notes  # what an aborted call noted is noted again by the next
        caller = pm.subset_hook_caller(hook_name, remove_plugins=failed) if failed else getattr(pm.hook, hook_name)
        try:
            results = pm.call_attributed(caller, report=report)
            break
        except Exception as exc:
            culprit = pm.culprit(caller, exc)
            if culprit is None:
                raise
            report.note(f"{culprit.describe()} failed in {hook_name}: {type(exc).__name__}: {exc}")
            notes = list(report.notes)
            failed.append(pm.get_plugin(culprit.name))
    found: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for origin, result in results:
        if not isinstance(result, Mapping):
            report.note(f"{origin.describe()}: {hook_name} returned {type(result).__name__}, expected a dict by name")
            continue
        for name, value in result.items():
            stem = safe_name(name)
            if value is None:
                continue
            if stem in found:
                report.note(f"{hook_name}: {stem!r} from {origin.describe()} ignored: {owners[stem]} added it first")
                continue
            found[stem], owners[stem] = value, origin.describe()
    return found


# -------------------------------------------------------------------------------------------------
# Tables
# -------------------------------------------------------------------------------------------------


def _has_index(frame: Any) -> bool:
    import pandas as pd

    return not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None


def table_text(frame: Any) -> Any:
    """The frame as text for a reader; ``frame.attrs["values"]`` names the quantity in a pivot's cells."""
    quantity = frame.attrs.get("values")
    return formatting.display_frame(frame, formatting.formatter_for(quantity) if quantity else None)


def _numeric_columns(text: Any) -> set[str]:
    return {str(c) for c in text.columns if markdown._numeric([str(v) for v in text[c].tolist()])}


def write_table(directory: Path, name: str, frame: Any) -> tuple[Path, str, str]:
    """Write ``NAME.csv`` (full precision) and ``NAME.md``; returns the CSV path, Markdown and HTML text."""
    csv_path = directory / f"{name}.csv"
    write_file(csv_path, lambda handle: frame.to_csv(handle, index=_has_index(frame)))
    text = table_text(frame)
    md = markdown.table(text)
    write_file(directory / f"{name}.md", lambda handle: handle.write(md))
    return csv_path, md, html.table(text, _numeric_columns(text))


# -------------------------------------------------------------------------------------------------
# Figures
# -------------------------------------------------------------------------------------------------


def caption_of(figure: Any) -> str:
    title = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    if not title and figure.axes:
        title = figure.axes[0].get_title()
    return " ".join(str(title).split())


def render_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    if "matplotlib.pyplot" in sys.modules:  # a plugin's pyplot figure: free it
        sys.modules["matplotlib.pyplot"].close(figure)
    return buffer.getvalue()


# -------------------------------------------------------------------------------------------------
# Summary
# -------------------------------------------------------------------------------------------------


def summary_lines(report: Report, combinations: Any) -> list[str]:
    """What a reader takes away: counts, then per dataset the baseline and the best combination."""
    from harness.report.tables import verdict_counts

    records = rec.latest_per_task(report.records)
    counts = {s: sum(r.get("status") == s for r in records) for s in rec.STATUSES}
    words = {s: f"{n} {'errors' if s == 'error' and n > 1 else s}" for s, n in counts.items() if n}
    lines = [", ".join(words.values()) + f" ({len(records)} task{'s' if len(records) != 1 else ''}, each tested "
             f"on its own)"]
    verdict = verdict_counts(combinations)
    if verdict:
        lines.append(verdict)
    selected = report.metadata.get("selection") or []
    missing = sorted(set(selected) - {str(r.get("id")) for r in records})
    if missing:
        lines.append(f"incomplete: {len(missing)} of {len(selected)} selected combinations have no result "
                     f"(interrupted?): {', '.join(missing)}")
    for dataset in rec.datasets(records):
        rows = combinations[(combinations["dataset"] == dataset) & combinations["test_accuracy"].notna()]
        info = rec.dataset_info(records, dataset) or {}
        baseline = rec.baseline(records, dataset)
        if rows.empty or math.isnan(baseline):
            statuses = [str(r.get("status")) for r in rec.of_dataset(records, dataset)]
            counted = ", ".join(f"{statuses.count(s)} {s}" for s in rec.STATUSES if s in statuses)
            lines.append(f"{dataset}: no combination finished training ({counted})")
            continue
        best = rows.iloc[0]
        interval = (f", 95% CI {best['ci_low']:.3f}-{best['ci_high']:.3f}" if not math.isnan(best["ci_low"]) else "")
        lines.append(
            f"{dataset}: best {best['id']} with test accuracy {best['test_accuracy']:.3f} "
            f"({best['lift_points']:+.1f} points over the baseline {baseline:.3f} of always guessing "
            f"'{info.get('majority_class', '?')}'{interval}, p={best['p_value']:.2g}, "
            f"Holm-adjusted {best['p_holm']:.2g}: {best['status']})"
        )
    return lines


# -------------------------------------------------------------------------------------------------
# The report
# -------------------------------------------------------------------------------------------------


def _markdown_page(report: Report, summary: list[str], warnings: list[str], leaderboards: list[tuple[str, str, str]],
                   tables: list[tuple[str, str, str]], figures: list[tuple[str, str]]) -> str:
    """The answer first (summary, warnings, one narrow leaderboard per dataset), then the figures, the full
    tables and the run's facts."""
    meta = report.metadata
    parts = [f"# harness report: {report.run_id}\n", "## Summary\n", *(f"- {line}" for line in summary), ""]
    if warnings:
        parts += [*(f"- **warning**: {w}" for w in warnings), ""]
    if report.notes:
        parts += ["### Notes\n", *(f"- {n}" for n in report.notes), ""]
    for name, caption, text in leaderboards:
        parts += [f"### {name}\n", text, *([caption, ""] if caption else [])]
    parts.append("## Figures\n")
    for stem, caption in figures:
        parts += [f"### {stem}\n", f"![{caption or stem}]({FIGURES_DIR}/{stem}.png)\n"]
    parts.append("## Tables\n")
    for name, caption, text in tables:
        parts += [f"### {name}\n", *([caption, ""] if caption else []), text]
    parts += ["## Run\n", f"- command: `{shown_command(meta)}`",
              f"- harness {meta.get('harness_version', '?')}, TensorFlow {meta.get('tensorflow', '?')}, "
              f"Keras {meta.get('keras', '?')}, devices: {', '.join(meta.get('devices') or ['?'])}, "
              f"precision {meta.get('precision', '?')}", ""]
    return "\n".join(parts)


def _write_tables(report: Report, found: dict[str, Any],
                  written: WrittenReport) -> list[tuple[str, str, str, str, bool]]:
    """Each table as CSV and Markdown; returns (name, caption, Markdown, HTML, headline) for the pages. A
    headline table (a leaderboard, or one whose ``attrs["headline"]`` is true) is shown first, after the
    summary."""
    from harness.report.tables import LEADERBOARD

    parts = []
    for name, frame in found.items():
        path, md, body = write_table(report.run_dir / TABLES_DIR, name, frame)
        written.tables[name] = path
        headline = name.startswith(LEADERBOARD) or bool(frame.attrs.get("headline"))
        parts.append((name, str(frame.attrs.get("caption", "")), md, body, headline))
    return parts


def protocol_lines(report: Report) -> list[str]:
    """The time to the target accuracy and the leaderboard across datasets, one line each (when the run
    has them), for the summary and the terminal."""
    from harness.report import across_datasets, time_to_target

    reference = across_datasets.reference_of(report.metadata)
    lines = [time_to_target.summary(time_to_target.table(report.records)),
             across_datasets.summary(across_datasets.table(report.records, reference), reference)]
    return [line for line in lines if line]


def _write_figures(report: Report, found: dict[str, Any], written: WrittenReport) -> list[tuple[str, str, bytes]]:
    """Each figure as PNG; returns (stem, caption, PNG bytes) for the pages."""
    parts = []
    for stem, figure in found.items():
        try:
            png = render_png(figure)
        except Exception as exc:
            report.note(f"figure {stem!r} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        path = report.run_dir / FIGURES_DIR / f"{stem}.png"
        write_file(path, lambda handle, png=png: handle.write(png), mode="wb")
        written.figures[stem] = path
        parts.append((stem, caption_of(figure), png))
    return parts


def write_report(report: Report, pm: HarnessPluginManager) -> WrittenReport:
    """Collect the tables and figures from every plugin and write them with the Markdown and HTML pages."""
    from harness.report.tables import (
        combinations_table,
        split_warnings,
        test_size_warnings,
        uncompiled_warnings,
        verdict_counts,
    )

    written = WrittenReport(html=report.run_dir / HTML_NAME, markdown=report.run_dir / MARKDOWN_NAME)
    tables = _write_tables(report, collect(pm, "harness_report_tables", report), written)
    figures = _write_figures(report, collect(pm, "harness_report_figures", report), written)
    combinations = combinations_table(report.records)
    written.protocols = protocol_lines(report)
    summary = summary_lines(report, combinations) + written.protocols
    written.warnings = (test_size_warnings(combinations) + split_warnings(report.records)
                        + uncompiled_warnings(report.records))
    written.verdict = verdict_counts(combinations)
    boards = [t[:4] for t in tables if t[4]]
    rest = [t[:4] for t in tables if not t[4]]
    page = html.page(title=f"harness report: {report.run_id}", run_id=report.run_id, metadata=report.metadata,
                     summary=summary, warnings=written.warnings,
                     leaderboards=[(name, caption, body.replace('class="sortable"', 'class="sortable leaderboard"'))
                                   for name, caption, _, body in boards],
                     tables=[(name, caption, body) for name, caption, _, body in rest],
                     figures=figures, notes=report.notes)
    write_file(written.html, lambda handle: handle.write(page))
    text = _markdown_page(report, summary, written.warnings, [(name, caption, md) for name, caption, md, _ in boards],
                          [(name, caption, md) for name, caption, md, _ in rest],
                          [(stem, caption) for stem, caption, _ in figures])
    write_file(written.markdown, lambda handle: handle.write(text))
    written.notes = list(report.notes)
    return written
