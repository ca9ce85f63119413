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


def test_combinations_pool_the_seeds_and_test_the_pooled_counts(records: list[dict]) -> None:
    frame = tables.combinations_table(records).set_index("id")
    none = frame.loc["pets-none-cnn"]
    # 40 + 42 + 38 correct of 3 x 50: the mean 0.80, tested as one classifier's accuracy on the 50 images
    assert isclose(none["test_accuracy"], 0.80)
    low, high = stats.wilson_interval(0.80, 50)
    assert isclose(none["ci_low"], low) and isclose(none["ci_high"], high)
    assert none["ci_method"] == "Wilson, 50 test images, pooled over 3 seeds"
    assert isclose(none["p_value"], stats.binomial_sf(40, 50, 0.6))
    _, std, _, _ = stats.mean_interval([0.80, 0.84, 0.76])
    assert isclose(none["test_std"], std) and isclose(none["test_min"], 0.76) and isclose(none["test_max"], 0.84)
    assert none["seeds"] == 3 and none["seeds_passed"] == 3 and none["status"] == "passed"
    assert isclose(none["lift_points"], 20.0)
    flip = frame.loc["pets-flip-cnn"]
    assert isclose(flip["test_accuracy"], 0.76)  # (31 + 45) / 100
    assert isclose(flip["p_value"], stats.binomial_sf(38, 50, 0.6))
    assert frame.loc["pets-none-resnet", "status"] == "error"
    assert "broken image" in frame.loc["pets-none-resnet", "error"]
    assert math.isnan(frame.loc["pets-none-resnet", "test_accuracy"])
    assert frame.loc["pets-none-gray", "status"] == "skipped"


def test_the_status_and_the_interval_come_from_one_analysis() -> None:
    """Two seeds that beat the baseline barely, one far: before, every seed passing meant
    `passed` while the t interval across seeds spanned the baseline. Now the status follows the p-value of
    the pooled counts, and the interval of the same counts lies above the baseline exactly when it passes."""
    records = [make_record("none", "cnn", seed=s, test=t, n_test=200, baseline=0.5)
               for s, t in ((1, 0.58), (2, 0.59), (3, 0.99))]
    records += [make_record("flip", "cnn", seed=s, test=t, n_test=200, baseline=0.5)
                for s, t in ((1, 0.51), (2, 0.53))]
    frame = tables.combinations_table(records).set_index("id")
    for _, row in frame.iterrows():
        assert (row["status"] == "passed") == (row["ci_low"] > 0.5), row
    assert frame.loc["pets-none-cnn", "status"] == "passed"
    assert frame.loc["pets-flip-cnn", "status"] == "failed"
    assert frame.loc["pets-flip-cnn", "ci_low"] < 0.5 < frame.loc["pets-flip-cnn", "ci_high"]


def test_holm_decides_the_status_across_the_run() -> None:
    """Five combinations at raw p about 0.02 each: each passes alone, none after Holm's correction."""
    n, baseline, correct = 100, 0.5, 59  # P(X >= 59 | n=100, p=0.5) = 0.044
    raw = stats.binomial_sf(correct, n, baseline)
    assert raw < 0.05
    records = [make_record("none", f"m{i}", test=correct / n, n_test=n, baseline=baseline) for i in range(5)]
    assert all(r["status"] == "passed" for r in records)  # each task, tested alone, passed
    frame = tables.combinations_table(records)
    assert list(frame["p_value"].round(12)) == [round(raw, 12)] * 5
    assert all(isclose(p, min(1.0, 5 * raw)) for p in frame["p_holm"])
    assert set(frame["status"]) == {"failed"}
    assert tables.verdict_counts(frame).startswith("0 of 5 combinations beat the baseline")
    alone = tables.combinations_table(records[:1])
    assert alone.loc[0, "status"] == "passed" and isclose(alone.loc[0, "p_holm"], raw)


def test_holm_by_hand() -> None:
    adjusted = stats.holm([0.01, 0.04, 0.03, math.nan, 0.005])
    assert [round(p, 10) for p in adjusted[:3]] == [0.03, 0.06, 0.06] and math.isnan(adjusted[3])
    assert isclose(adjusted[4], 0.02)


def test_minimum_detectable_lift() -> None:
    # 6 images, baseline 0.5: 6/6 is needed (p = 1/64); a true accuracy of 0.963 gets 6/6 80% of the time
    assert stats.critical_count(6, 0.5) == 6
    assert isclose(stats.min_detectable_lift(6, 0.5), 100 * (0.8 ** (1 / 6) - 0.5), 1e-6)
    assert math.isinf(stats.min_detectable_lift(6, 0.5, alpha=0.01))  # even 6/6 is not significant
    assert stats.min_detectable_lift(400, 0.5) < stats.USEFUL_LIFT_POINTS < stats.min_detectable_lift(50, 0.5)
    assert math.isnan(stats.min_detectable_lift(0, 0.5))


def test_a_small_test_set_is_warned_about() -> None:
    records = [make_record("none", m, test=5 / 6, n_test=6, baseline=0.5) for m in ("a", "b", "c", "d")]
    frame = tables.combinations_table(records)
    [warning] = tables.test_size_warnings(frame)
    assert warning.startswith("pets: the test set has only 6 images: no accuracy, not even 100%, can beat")
    assert "Holm-corrected for 4 combinations" in warning and "about 400 test images" in warning
    big = [make_record("none", m, test=0.7, n_test=1000, baseline=0.5) for m in ("a", "b")]
    assert tables.test_size_warnings(tables.combinations_table(big)) == []


def test_a_very_small_split_is_warned_about() -> None:
    record = make_record()
    assert tables.split_warnings([record]) == []
    record["dataset_info"]["sizes"] = {"train": 12, "validation": 1, "test": 50}
    assert tables.split_warnings([record]) == [
        "pets: the train split has only 12 images: the models can learn next to nothing from it",
        "pets: the validation split has only 1 image: the validation accuracy, and the epoch whose weights are "
        "tested, are mostly noise"]


def test_accuracies_come_from_the_counts() -> None:
    record = make_record(test=0.56, n_test=50)
    record["test_accuracy"] = 0.5600000023841858  # Keras's float32 accuracy, as older records hold it
    row = tables.seed_row(record)
    assert row["test_accuracy"] == 0.56 and row["n_correct"] == 28 and row["n_test"] == 50
    record["n_correct"] = 28
    assert tables.seed_row(record)["test_accuracy"] == 0.56


def test_the_leaderboard_is_narrow_and_best_first(records: list[dict]) -> None:
    combinations = tables.combinations_table(records)
    board = tables.leaderboard(combinations, "pets")
    assert list(board.columns) == ["combination", "test_accuracy", "seed spread", "95% interval", "lift_points",
                                   "p_holm", "train_seconds", "status"]
    assert list(board["combination"][:2]) == ["none / cnn", "flip / cnn"]
    assert board.loc[1, "seed spread"] == "0.620-0.900"
    single = tables.leaderboard(tables.combinations_table([make_record()]), "pets")
    assert "seed spread" not in single.columns


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
    assert isclose(frame.loc[0, "p_value"], stats.p_beats_baseline(0.9, 50, 0.6))


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
    assert list(built) == ["leaderboard-pets", "combinations", "per_seed", "pivot-pets", "labels"]
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


def test_a_run_on_several_backends_has_a_row_per_backend() -> None:
    """`--backend tensorflow,jax`: each combination is a row per backend, in every table (never merged into
    one combination with twice the seeds), and the leaderboard and the grid name the backend."""
    records = [{**make_record("none", "cnn", seed=s, test=t), "backend": b}
               for b, tests in (("tensorflow", (0.80, 0.82)), ("jax", (0.60, 0.62))) for s, t in zip((1, 2), tests)]
    combinations = tables.combinations_table(records)
    assert list(zip(combinations["backend"], combinations["seeds"], combinations["test_accuracy"])) == [
        ("tensorflow", 2, pytest.approx(0.81)), ("jax", 2, pytest.approx(0.61))]
    assert sorted(tables.per_seed_table(records)["backend"]) == ["jax", "jax", "tensorflow", "tensorflow"]
    board = tables.leaderboard(combinations, "pets")
    assert list(board["combination"]) == ["none / cnn / tensorflow", "none / cnn / jax"]
    pivot = tables.pivot_table(combinations, "pets")
    assert list(pivot.columns) == ["cnn (jax)", "cnn (tensorflow)"]
    assert pivot.loc["none", "cnn (jax)"] == pytest.approx(0.61)
    statuses = tables.status_pivot(combinations, "pets")
    assert (statuses.loc["none", "cnn (tensorflow)"], statuses.loc["none", "cnn (jax)"]) == ("passed", "failed")
    single = tables.combinations_table([{**r, "backend": "jax"} for r in records[2:]])
    assert list(tables.leaderboard(single, "pets")["combination"]) == ["none / cnn"]
    assert list(tables.pivot_table(single, "pets").columns) == ["cnn"]
