"""The report's sections and writers apart: what each section takes and says, the pages' column names and
p-values, the CSVs' rounding, figures that stay readable at 800 px."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.report import figures, files, formatting, tables
from harness.report.section import Content, Figure
from harness.report.sections import datasets, leaderboards

from .fakes import dataset_info, make_record


def test_the_data_section_counts_skipped_and_ignored_files_with_their_reasons() -> None:
    info = dataset_info()
    info["skipped_files"] = [{"file": "/w/data/cat/empty.jpg", "reason": "empty file"},
                             {"file": "/w/data/dog/notes.jpg", "reason": "cannot identify image file"},
                             {"file": "/w/data/dog/zero.jpg", "reason": "empty file"}]
    info["source_info"] = {"ignored_files": 2}
    lines = datasets.facts(info, {"cwd": "/w"})
    assert lines[0] == "100 train, 25 validation, 50 test images of 32x32x3, 2 classes: cat, dog"
    assert "3 files skipped: 2 empty file; 1 cannot identify image file" in lines
    assert "skipped: data/cat/empty.jpg, data/dog/notes.jpg, data/dog/zero.jpg" in lines  # paths as shown
    assert "ignored files (not read as images): 2" in lines


def test_a_dataset_without_skipped_files_says_nothing_of_them() -> None:
    assert datasets.skipped_lines(dataset_info(), {}) == []
    many = {"skipped_files": [{"file": f"f{i}.jpg", "reason": "empty file"} for i in range(12)],
            "ignored_files": {"not an image by its extension": 4}}
    lines = datasets.skipped_lines(many, {})
    assert lines[1].endswith("f9.jpg and 2 more")
    assert lines[2] == "ignored files (not read as images): 4 not an image by its extension"
    listed = datasets.skipped_lines({"ignored_files": [{"file": "a.webp", "reason": "WebP is not read"}]}, {})
    assert listed == ["1 file ignored (not read as images): 1 WebP is not read",
                      "ignored (not read as images): a.webp"]


def test_each_table_and_figure_is_taken_once() -> None:
    headline = pd.DataFrame({"a": [1]})
    headline.attrs["headline"] = True
    content = Content({"leaderboard-pets": pd.DataFrame({"a": [1]}), "speed": headline,
                       "combinations": pd.DataFrame({"a": [1]})},
                      {"curves-pets": Figure("curves-pets", None)})
    section = leaderboards.build(None, content)
    assert section is not None and [t.name for t in section.tables()] == ["leaderboard-pets", "speed"]
    assert [t.title for t in section.tables()] == ["Leaderboard: pets", "speed"]
    assert list(content.tables) == ["combinations"] and content.take_figure("curves-pets") is not None
    assert content.take_figure("curves-pets") is None


def test_the_pages_column_names_and_p_values() -> None:
    assert [formatting.header(c) for c in ("test_accuracy", "lift_points", "p_holm", "score:pets", "small_cnn")] \
        == ["test accuracy", "lift (points)", "p (Holm)", "score: pets", "small_cnn"]  # data names unchanged
    assert [formatting.p_value(p) for p in (1.1e-05, 0.0035, 0.02, 0.5)] == ["< 0.001", "0.004", "0.020", "0.500"]


def test_the_csv_numbers_are_rounded_like_results_csv(tmp_path) -> None:
    frame = pd.DataFrame({"lift_points": [0.5000000000000004, math.nan], "train_seconds": [0.7583934329998101, 1.0],
                          "mixed": ["text", 0.1 + 0.2]})
    files.write_csv(tmp_path / "t.csv", frame)
    text = (tmp_path / "t.csv").read_text()
    assert text == "lift_points,train_seconds,mixed\n0.5,0.758393433,text\n,1.0,0.3\n"


def test_a_small_test_set_is_a_note_about_power_not_a_warning() -> None:
    records = [make_record("none", "cnn", test=0.8, n_test=50), make_record("flip", "cnn", test=0.9, n_test=50)]
    frame = tables.combinations_table(records)
    assert tables.test_size_warnings(frame) == []
    [note] = tables.power_notes(frame)
    assert note.startswith("pets: with 50 test images, a lift of 19.7 points or more over the baseline 0.600 is "
                           "detected 80% of the time")
    assert "a fail is not evidence that there is none" in note


@pytest.mark.parametrize("combinations", [1, 4, 6])
def test_figures_fit_800_pixels_and_stack_their_panels(combinations: int) -> None:
    records = [make_record(f"aug{i}", "cnn", test=0.8) for i in range(combinations)]
    curves = figures.accuracy_curves(records, "pets")
    width, _ = curves.get_size_inches() * curves.dpi
    assert width <= 900
    columns = {round(ax.get_position().x0, 2) for ax in curves.axes if ax.get_visible() and ax.get_title()}
    assert len(columns) == min(combinations, figures.PANELS_PER_ROW)
    chart = figures.test_accuracy_chart(tables.combinations_table(records), "pets")
    assert chart.get_size_inches()[0] * chart.dpi <= 900
