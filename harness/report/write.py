"""Writing a run's report: the tables and figures collected through the report hooks are written as files
(CSV, Markdown, PNG: :mod:`~harness.report.files`), arranged in the report's sections
(:mod:`harness.report.sections`) and rendered as ``report.md`` and one self-contained ``report.html``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report import files, formatting, html, markdown
from harness.report.context import Report
from harness.report.files import safe_name, write_file
from harness.report.section import Content, Figure

if TYPE_CHECKING:
    from harness.pluginmanager import HarnessPluginManager

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
TABLES_DIR, FIGURES_DIR = files.TABLES_DIR, files.FIGURES_DIR
__all__ = ["WrittenReport", "collect", "safe_name", "write_file", "write_report"]


@dataclass
class WrittenReport:
    html: Path
    markdown: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: What a reader must know before trusting the numbers (a test set too small), also in the terminal.
    warnings: list[str] = field(default_factory=list)
    #: What the tests can detect, to read beside the verdicts (see :func:`harness.report.tables.power_notes`).
    power: list[str] = field(default_factory=list)
    #: The run's verdict after Holm's correction (see :func:`harness.report.tables.verdict_counts`).
    verdict: str = ""
    #: The protocols' results: the time to the target accuracy and the leaderboard across datasets.
    protocols: list[str] = field(default_factory=list)

    def terminal_lines(self) -> list[str]:
        """What the terminal shows of the report after a run or ``harness report``: its notes, warnings, the
        run's verdict, what its tests can detect and the protocols' results."""
        lines = [f"note: {note}" for note in self.notes] + [f"warning: {warning}" for warning in self.warnings]
        lines += [f"statistics: {self.verdict}"] if self.verdict else []
        return lines + [f"power: {note}" for note in self.power] + self.protocols


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


def table_text(frame: Any) -> Any:
    """The frame as text for a reader; ``frame.attrs["values"]`` names the quantity in a pivot's cells."""
    quantity = frame.attrs.get("values")
    return formatting.display_frame(frame, formatting.formatter_for(quantity) if quantity else None)


def title_of(figure: Any) -> str:
    """A figure's own title (its suptitle, else its first axes' title), on one line: its alternative text."""
    title = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    if not title and figure.axes:
        title = figure.axes[0].get_title()
    return " ".join(str(title).split())


def _write_tables(report: Report, found: dict[str, Any], written: WrittenReport) -> dict[str, Any]:
    """Each table as CSV (machine column names, rounded numbers) and Markdown; returns each as text for the
    pages, by name."""
    directory = report.run_dir / files.TABLES_DIR
    texts = {}
    for name, frame in found.items():
        path = directory / f"{name}.csv"
        files.write_csv(path, frame)
        written.tables[name] = path
        text = table_text(frame)
        md = markdown.table(formatting.human_frame(text))
        files.write_file(directory / f"{name}.md", lambda handle, md=md: handle.write(md))
        texts[name] = text
    return texts


def _draw_figures(report: Report, found: dict[str, Any], written: WrittenReport) -> dict[str, Figure]:
    """Each figure as PNG; returns the figures drawn, by stem, the figure's own title as their title."""
    drawn = {}
    for stem, figure in found.items():
        try:
            png = files.render_png(figure)
        except Exception as exc:
            report.note(f"figure {stem!r} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        path = report.run_dir / files.FIGURES_DIR / f"{stem}.png"
        files.write_png(path, png)
        written.figures[stem] = path
        drawn[stem] = Figure(stem, figure, title=title_of(figure) or stem, png=png)
    return drawn


def _numeric_columns(text: Any) -> set[str]:
    return {str(c) for c in text.columns if markdown._numeric([str(v) for v in text[c].tolist()])}


def write_report(report: Report, pm: HarnessPluginManager) -> WrittenReport:
    """Collect the tables and figures from every plugin, write them (CSV, Markdown, PNG), arrange them in
    the report's sections and write the Markdown and HTML pages."""
    from harness.report import sections
    from harness.report.sections import run, summary
    from harness.report.tables import combinations_table, power_notes, verdict_counts

    written = WrittenReport(html=report.run_dir / HTML_NAME, markdown=report.run_dir / MARKDOWN_NAME)
    found = collect(pm, "harness_report_tables", report)
    texts = _write_tables(report, found, written)
    drawn = _draw_figures(report, collect(pm, "harness_report_figures", report), written)
    parts = sections.build(report, Content(found, drawn))
    combinations = combinations_table(report.records)
    written.protocols = summary.protocol_lines(report)
    written.warnings = summary.warnings(report, combinations)
    written.verdict = verdict_counts(combinations)
    written.power = power_notes(combinations)
    summary.add_notes(parts[0], report.notes)
    title = f"harness report: {report.run_id}"
    numeric = {name: _numeric_columns(text) for name, text in texts.items()}
    page = html.page(title=title, subtitle=run.subtitle(report.metadata), sections=parts, text_frames=texts,
                     numeric=numeric)
    files.write_file(written.html, lambda handle: handle.write(page))
    text = markdown.page(title, parts, texts)
    files.write_file(written.markdown, lambda handle: handle.write(text))
    written.notes = list(report.notes)
    return written
