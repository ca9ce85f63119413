"""The built-in tables, computed from records alone."""

from __future__ import annotations

import math

import pytest

from harness import stats
from harness.report import tables
from harness.report.records import combination_status, latest_per_task

from .fakes import isclose, make_record, skip_record


@pytest.fixture
def records() -> list[dict]:
    return [
        make_record("none", "cnn", seed=1, test=0.80),
        make_record("none", "cnn", seed=2, test=0.84),
        make_record("none", "cnn", seed=3, test=0.76),
        make_record("flip", "cnn", seed=1, test=0.62),
        make_record("flip", "cnn", seed=2, test=0.90),
        make_record("none", "resnet", seed=1, error="DataError: broken image a.jpg"),
        skip_record(),
    ]


def test_per_seed_has_a_row_per_seed_with_the_wilson_interval(records: list[dict]) -> None:
    frame = tables.per_seed_table(records)
    assert list(frame.columns) == tables.SEED_COLUMNS
    assert len(frame) == 7
    row = frame[(frame["id"] == "pets-none-cnn") & (frame["seed"] == 2)].iloc[0]
    low, high = stats.wilson_interval(0.84, 50)
    assert isclose(row["ci_low"], low) and isclose(row["ci_high"], high)
    assert isclose(row["lift_points"], 24.0)
    assert isclose(row["p_value"], stats.p_beats_baseline(0.84, 50, 0.6))
    assert row["params"] == "model: learning_rate=0.001"
    assert row["budget"] == "3 epochs"
    assert row["status"] == "passed"
    flip = frame[(frame["id"] == "pets-flip-cnn")].iloc[0]
    assert flip["params"] == "augmentation: factor=0.2; model: learning_rate=0.001"


def test_combinations_aggregate_the_seeds(records: list[dict]) -> None:
    frame = tables.combinations_table(records).set_index("id")
    none = frame.loc["pets-none-cnn"]
    mean, std, low, high = stats.mean_interval([0.80, 0.84, 0.76])
    assert isclose(none["test_accuracy"], mean) and isclose(none["test_std"], std)
    assert isclose(none["ci_low"], low) and isclose(none["ci_high"], high)
    assert none["ci_method"] == "t, 3 seeds"
    assert none["seeds"] == 3 and none["seeds_passed"] == 3 and none["status"] == "passed"
    assert isclose(none["p_value"], max(stats.p_beats_baseline(a, 50, 0.6) for a in (0.80, 0.84, 0.76)))
    assert isclose(none["lift_points"], 100 * (mean - 0.6))
    flip = frame.loc["pets-flip-cnn"]
    assert flip["status"] == "failed" and flip["seeds_passed"] == 1  # 0.62 does not beat 0.6 on 50 images
    assert 0.0 <= flip["ci_low"] <= flip["ci_high"] <= 1.0  # the t interval is clipped to accuracies
    assert frame.loc["pets-none-resnet", "status"] == "error"
    assert "broken image" in frame.loc["pets-none-resnet", "error"]
    assert math.isnan(frame.loc["pets-none-resnet", "test_accuracy"])
    assert frame.loc["pets-none-gray", "status"] == "skipped"


def test_combinations_are_ranked_best_first_per_dataset(records: list[dict]) -> None:
    records = records + [make_record("none", "cnn", dataset="birds", test=0.99)]
    frame = tables.combinations_table(records)
    assert list(frame["dataset"]) == ["birds"] + ["pets"] * 4
    assert list(frame["id"][1:3]) == ["pets-none-cnn", "pets-flip-cnn"]


def test_a_single_seed_uses_the_wilson_interval() -> None:
    frame = tables.combinations_table([make_record(test=0.9)])
    low, high = stats.wilson_interval(0.9, 50)
    assert isclose(frame.loc[0, "ci_low"], low) and isclose(frame.loc[0, "ci_high"], high)
    assert frame.loc[0, "ci_method"] == "Wilson, 50 test images"


def test_pivot_per_dataset(records: list[dict]) -> None:
    combinations = tables.combinations_table(records)
    pivot = tables.pivot_table(combinations, "pets")
    assert list(pivot.index) == ["flip", "none"]
    assert list(pivot.columns) == ["cnn", "gray", "resnet"]
    assert isclose(pivot.loc["none", "cnn"], 0.80)
    assert isclose(pivot.loc["flip", "cnn"], 0.76)
    assert math.isnan(pivot.loc["none", "resnet"])


def test_labels_table(records: list[dict]) -> None:
    frame = tables.labels_table(records)
    train = frame[frame["split"] == "train"].set_index("class")
    assert train.loc["cat", "count"] == 60 and isclose(train.loc["cat", "share_percent"], 60.0)
    assert bool(train.loc["cat", "majority"]) and not bool(train.loc["dog", "majority"])
    assert len(frame) == 6


def test_builtin_tables_have_names_and_captions(records: list[dict]) -> None:
    built = tables.builtin_tables(records)
    assert list(built) == ["combinations", "per_seed", "pivot-pets", "labels"]
    assert built["pivot-pets"].attrs["values"] == "test_accuracy"
    assert "baseline is 0.600" in built["pivot-pets"].attrs["caption"]
    assert all(frame.attrs.get("caption") for frame in built.values())


def test_a_resumed_run_repeating_a_skip_counts_it_once() -> None:
    assert len(latest_per_task([skip_record(), skip_record(), make_record()])) == 2


@pytest.mark.parametrize(("statuses", "expected"), [
    (["passed", "passed"], "passed"), (["passed", "failed"], "failed"), (["passed", "error"], "error"),
    (["skipped"], "skipped"), ([], "?"),
])
def test_combination_status(statuses: list[str], expected: str) -> None:
    assert combination_status(statuses) == expected
