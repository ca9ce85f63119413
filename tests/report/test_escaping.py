"""User-controlled strings (dataset, class, augmentation and model names, parameters, paths, errors, the
command line) never become markup: ``report.md`` rendered by a CommonMark renderer with raw HTML allowed,
and ``report.html`` parsed as HTML, hold no element the run's names could have created."""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest

from harness.pluginmanager import load_plugins
from harness.report import markdown
from harness.report.context import Report
from harness.report.write import write_report
from harness.store import RunStore

from .fakes import make_record, skip_record

IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg onload=alert(2)>"
HOSTILE = [IMG, SVG, "*bold* _under_ [link](javascript:alert(3)) `code` | pipe", "- list", "# heading"]


def _hostile_run(run_dir_factory) -> Path:
    record = make_record(IMG, SVG, dataset="pets", test=0.9)
    info = record["dataset_info"]
    info["class_names"] = [IMG, SVG]
    info["class_counts"] = {split: {IMG: 30, SVG: 20} for split in ("train", "validation", "test")}
    info["majority_class"] = IMG
    info["root"] = f"/data/{SVG}"
    info["skipped_files"] = [{"file": f"/data/{IMG}.jpg", "reason": f"cannot identify image file {SVG}"}]
    record["config"]["model"]["params"] = {"note": SVG}
    records = [record, make_record("none", "cnn", test=0.7),
               make_record("flip", "cnn", error=f"ValueError: {IMG} | {HOSTILE[2]}"),
               skip_record(model=IMG, reason=f"needs {SVG}")]
    return run_dir_factory(records, argv=["run", "--dataset", IMG, "--set", f"x.y={SVG}"], harness_version="0.1.0")


def _write(run_dir: Path) -> tuple[str, str]:
    store = RunStore(run_dir)
    report = Report(run_dir=run_dir, records=store.records(), metadata=store.metadata())
    report.note(f"a note quoting {IMG}")
    written = write_report(report, load_plugins(autoload=False))
    return written.markdown.read_text(), written.html.read_text()


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _tags(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Tags()
    parser.feed(text)
    return parser.found


def _hostile_tags(text: str, scripts: int = 0) -> list[object]:
    """Elements the run's names could have made: any ``svg``, an event handler, a link out, an image that
    is not a figure, and more scripts than the page's own ``scripts``."""
    found = _tags(text)
    assert sum(tag == "script" for tag, _ in found) == scripts
    return [(tag, attrs) for tag, attrs in found
            if tag == "svg" or any(name.startswith("on") for name, _ in attrs)
            or (tag == "a" and not (dict(attrs).get("href") or "").startswith("#"))
            or (tag == "img" and not dict(attrs).get("src", "").startswith(("data:image/png", "figures/")))]


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_itself(value: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(f"- {markdown.text(value)}\n")
    assert _tags(rendered) == [("ul", []), ("li", [])]
    assert html.unescape(rendered.removeprefix("<ul>\n<li>").removesuffix("</li>\n</ul>\n")) == value


def test_no_live_tag_in_either_page(run_dir_factory) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    md, page = _write(_hostile_run(run_dir_factory))
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert _hostile_tags(rendered) == []
    assert _hostile_tags(page, scripts=1) == []  # the page's own sorting script
    for text in (rendered, page):  # the names are there, as text
        assert html.escape(IMG, quote=False) in text and html.escape(SVG, quote=False) in text
    assert "cannot identify image file" in md  # the skipped file's reason, in the data section
    assert "- harness: 0.1.0\n" in md  # a value after its label needs no escape of what starts a list
