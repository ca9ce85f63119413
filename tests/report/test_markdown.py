"""The Markdown table writer and the number formats shared with the HTML page."""

from __future__ import annotations

import math

import pandas as pd

from harness.report import formatting, markdown


def test_numbers_are_shown_by_column() -> None:
    frame = pd.DataFrame({"test_accuracy": [0.91234, math.nan], "lift_points": [12.345, -3.0],
                          "p_value": [1.234e-9, 0.5], "train_seconds": [12.345, 1.0],
                          "images_per_second": [12345.6, 10.0], "epochs": [20.0, 2.5], "error": [None, "x " * 200]})
    text = formatting.display_frame(frame)
    assert text.loc[0].tolist()[:6] == ["0.912", "+12.3", "< 0.001", "12.3", "12,346", "20"]
    assert text.loc[1, "p_value"] == "0.500"  # one format for every p-value
    assert text.loc[1, "test_accuracy"] == "" and text.loc[1, "epochs"] == "2.5"
    assert text.loc[0, "error"] == ""
    assert len(text.loc[1, "error"]) == formatting.MAX_TEXT


def test_a_named_index_becomes_leading_columns_and_values_follow_the_quantity() -> None:
    pivot = pd.DataFrame({"cnn": [0.81234], "resnet": [math.nan]}, index=pd.Index(["none"], name="augmentation"))
    text = formatting.display_frame(pivot, formatting.formatter_for("test_accuracy"))
    assert list(text.columns) == ["augmentation", "cnn", "resnet"]
    assert text.loc[0].tolist() == ["none", "0.812", ""]


def test_markdown_table_escapes_and_aligns() -> None:
    frame = pd.DataFrame({"name": ["a|b", "line\nbreak"], "value": ["1.5", "-20"]})
    lines = markdown.table(frame).splitlines()
    assert lines[0] == "| name          | value |"
    assert lines[1] == "| ------------- | ----: |"
    assert lines[2] == "| a\\|b          |   1.5 |"
    assert lines[3] == "| line<br>break |   -20 |"
    assert all(line.count("|") - line.count("\\|") == 3 for line in lines)


def test_markdown_table_of_an_empty_frame() -> None:
    assert markdown.table(pd.DataFrame({"a": []})) == "| a   |\n| --- |\n"
