"""Writing a report: CSV, Markdown, PNG and one self-contained HTML page, from every plugin's contributions."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness.cli import main
from harness.pluginmanager import load_plugins
from harness.report import seeds, tables
from harness.report.context import Report, data_dir_of_run
from harness.report.files import rounded
from harness.report.write import write_report
from harness.store import RunStore

from .conftest import pets_records
from .fakes import make_record, skip_record

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def records() -> list[dict]:
    return [make_record("none", "cnn", test=0.8), make_record("flip", "cnn", test=0.9),
            make_record("none", "resnet", error="ValueError: boom"), skip_record()]


def _report(run_dir: Path) -> Report:
    store = RunStore(run_dir)
    return Report(run_dir=run_dir, records=store.records(), metadata=store.metadata())


class ExtraPlugin:
    """A third party's report plugin: one table, one figure, one name already taken."""

    @harness.hookimpl
    def harness_report_tables(self, report):
        return {"speed": pd.DataFrame({"id": [r["id"] for r in report.records], "x": 1.0}),
                "combinations": pd.DataFrame({"a": [1]})}

    @harness.hookimpl
    def harness_report_figures(self, report):
        from harness.report.figures import new_figure

        figure = new_figure(3, 2)
        figure.subplots().set_title("extra figure")
        return {"extra": figure}


class BrokenPlugin:
    @harness.hookimpl
    def harness_report_figures(self, report):
        raise RuntimeError("no figure today")


def test_files_of_the_report(pets_report) -> None:
    written = pets_report
    run_dir = written.html.parent
    assert sorted(written.tables) == ["combinations", "iqm-pets", "labels", "leaderboard-pets", "per_seed",
                                      "pivot-pets"]
    assert sorted(written.figures) == ["accuracy_vs_time-pets", "curves-pets", "grid-pets", "labels-pets",
                                       "test_accuracy-pets"]
    for path in written.figures.values():
        assert path.read_bytes().startswith(PNG)
    expected = {**tables.builtin_tables(pets_records()), **seeds.tables(pets_records())}
    for name, path in written.tables.items():
        indexed = name.startswith(("pivot-", "iqm-"))
        assert path.with_suffix(".md").is_file()
        assert path.read_text() == rounded(expected[name]).to_csv(index=indexed)
        assert list(pd.read_csv(path).columns) == [str(c) for c in expected[name].reset_index().columns] \
            if indexed else list(expected[name].columns)  # machine names in the CSV
        assert not re.search(r"\d\.\d*0000000|\d\.\d*999999", path.read_text())  # no float noise
    assert (run_dir / "report.md").read_text().count("![") == 5


def test_the_html_page_is_self_contained(pets_report) -> None:
    written = pets_report
    page = written.html.read_text()
    assert page.count('src="data:image/png;base64,') == len(written.figures) == 5
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing loaded from elsewhere
    for name in written.tables:
        assert f'id="table-{name}"' in page
    assert '<td class="passed">passed</td>' in page and '<td class="error">error</td>' in page
    best = "pets: best none / small_cnn with test accuracy 0.800 (+20.0 points over the baseline 0.600"
    assert best in page and best in written.markdown.read_text()  # the leaderboard's name for it
    assert "<td>none / small_cnn</td>" in page


def test_the_page_leads_with_the_answer(pets_report) -> None:
    """Summary, the power note and the leaderboard first, then the results' figures, the learning curves,
    the data, every table (collapsed and sortable), the run's facts last; the Markdown page in the same
    order, with a reader's column names."""
    written = pets_report
    page = written.html.read_text()
    order = [page.index(marker) for marker in ('id="summary"', 'class="power"', 'id="table-leaderboard-pets"',
                                               'id="results"', 'id="learning-curves"', 'id="data"', 'id="tables"',
                                               'id="table-combinations"', 'id="run"')]
    assert order == sorted(order)
    board = page[page.index('id="table-leaderboard-pets"'):]
    board = board[:board.index("</table>")]
    header = re.findall(r"<th>(.*?)</th>", board)
    assert header == ["combination", "test accuracy", "seed spread", "95% interval", "lift (points)", "p (Holm)",
                      "training time (s)", "status"]
    assert ">Leaderboard: pets</h3>" in board
    assert board.index("none / small_cnn") < board.index("flip_rotate / small_cnn_scaled")
    assert re.findall(r'<td class="num">(< 0\.001|\d\.\d{3})</td><td class="num">[\d.]+</td><td[^>]*>(passed|failed)',
                      board)  # p (Holm) in one format
    assert '<details id="table-combinations"><summary>All combinations</summary>' in page
    assert page.count('<table class="sortable') == len(written.tables) and "<script>" in page
    power = page[page.index('class="power"'):]
    assert "with 50 test images, a lift of" in power and "a fail is not evidence" in power
    assert 'class="warnings"' not in page  # a statement about power is not a warning
    md = written.markdown.read_text()
    order = [md.index(marker) for marker in ("## Summary", "**power**", "### Leaderboard: pets", "## Results",
                                             "## Tables", "### All combinations", "## Run")]
    assert order == sorted(order)
    assert "| test accuracy |" in md.replace("  ", " ") or "test accuracy" in md
    board_md = md[md.index("### Leaderboard: pets"):md.index("## Results")]
    widest = md[md.index("### All combinations"):]
    assert max(len(line) for line in board_md.splitlines() if line.startswith("|")) \
        < max(len(line) for line in widest.splitlines() if line.startswith("|")) / 2  # narrow


def test_plugins_add_tables_and_figures_through_the_hooks(run_dir_factory, records) -> None:
    pm = load_plugins(autoload=False, extra=[(ExtraPlugin(), "extra"), (BrokenPlugin(), "broken")])
    report = _report(run_dir_factory(records))
    written = write_report(report, pm)
    assert "speed" in written.tables and "extra" in written.figures
    assert list(pd.read_csv(written.tables["combinations"]).columns) == tables.COMBINATION_COLUMNS  # built-in kept
    notes = "\n".join(written.notes)
    assert "plugin 'broken' (object broken) failed in harness_report_figures: RuntimeError: no figure today" in notes
    assert "'combinations' from plugin 'extra' (object extra) ignored" in notes
    page = written.html.read_text()
    assert "no figure today" in page and "extra figure" in page


def test_images_are_left_out_with_a_note_when_the_dataset_is_not_here(pets_report) -> None:
    written = pets_report  # written without a registry: no plugin registers 'pets' there
    assert not any(stem.startswith("samples-") for stem in written.figures)
    assert any("images of dataset 'pets' not shown: no plugin registers it here" in n for n in written.notes)


def test_harness_report_rebuilds_results_and_report(run_dir_factory, records, tmp_path, capsys) -> None:
    run_dir = run_dir_factory(records)
    assert main(["report", str(run_dir)], cwd=tmp_path) == 0
    out = capsys.readouterr().out
    assert f"report: {run_dir / 'report.html'}" in out and "5 tables, 5 figures" in out
    assert "power: pets: with 50 test images, a lift of" in out
    assert "statistics: 2 of 2 combinations beat the baseline" in out
    assert len(pd.read_csv(run_dir / "results.csv")) == 4
    assert (run_dir / "tables" / "combinations.csv").is_file()


def test_harness_report_on_bad_directories(run_dir_factory, tmp_path, capsys) -> None:
    assert main(["report", str(tmp_path)], cwd=tmp_path) == 4
    assert "not a harness run directory" in capsys.readouterr().err
    assert main(["report", str(run_dir_factory([]))], cwd=tmp_path) == 5
    assert "nothing to report" in capsys.readouterr().out


def test_the_data_directory_of_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    assert data_dir_of_run({"argv": ["run", "--data-dir", "../data"], "cwd": "/w"}) == "/w/../data"
    assert data_dir_of_run({"argv": ["run", "--data-dir=/d"], "cwd": "/w"}) == "/d"
    assert data_dir_of_run({"data_dir": "/recorded", "argv": ["--data-dir", "x"]}) == "/recorded"
    assert data_dir_of_run({"argv": ["run"]}) is None
    monkeypatch.setenv("HARNESS_DATA_DIR", "/env")
    assert data_dir_of_run({"argv": ["run"]}) == "/env"


class RenamingWrapper:
    """A third party's wrapper of a report hook: it sees every plugin's tables and renames one."""

    @harness.hookimpl(wrapper=True)
    def harness_report_tables(self, report):
        contributions = yield
        for found in contributions:
            if "combinations" in found:
                found["grid"] = found.pop("combinations")
        return contributions


def test_a_wrapper_of_a_report_hook_wraps_every_plugin(run_dir_factory, records) -> None:
    pm = load_plugins(autoload=False, extra=[(RenamingWrapper(), "renamer"), (ExtraPlugin(), "extra")])
    written = write_report(_report(run_dir_factory(records)), pm)
    assert "grid" in written.tables and "speed" in written.tables
    assert list(pd.read_csv(written.tables["grid"]).columns) == tables.COMBINATION_COLUMNS  # the built-in's, renamed
    assert "combinations" not in written.tables  # the extra plugin's table of that name too was renamed, so:
    assert any("'grid' from plugin 'extra' (object extra) ignored" in note for note in written.notes)


def test_the_pages_show_no_machine_specific_folders(run_dir_factory, records, tmp_path) -> None:
    argv = ["run", "--output", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "data")]
    run_dir = run_dir_factory(records, argv=argv, cwd=str(tmp_path))
    write_report(_report(run_dir), load_plugins(autoload=False))
    for page in ("report.md", "report.html"):
        text = (run_dir / page).read_text()
        assert "harness run --output reports --data-dir data" in text and str(tmp_path) not in text, page
