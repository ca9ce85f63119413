"""The time-to-accuracy table, summary line and figure, from records built by hand (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.report import tables, time_to_target

from .fakes import make_record, reached

TARGET = 0.7


def runs(augmentation: str, times: list[float | None], **kwargs) -> list[dict]:
    return [reached(make_record(augmentation, "cnn", seed=seed), seconds, **kwargs)
            for seed, seconds in enumerate(times, start=1)]


@pytest.fixture
def records() -> list[dict]:
    return [*runs("none", [3.0, 1.0, 9.0, 4.0, 2.0]),  # every run reached it: 1 and 9 dropped
            *runs("flip", [5.0, None, 6.0, 2.0, 3.0]),  # one did not: dropped as the slowest, with 2.0
            *runs("crop", [None, 1.0, None, 4.0, 2.0]),  # two did not: no result, both counted
            make_record("none", "resnet", error="ValueError: boom")]  # no target recorded: not in the table


def test_the_table_drops_the_extremes_and_counts_runs_that_did_not_reach_the_target(records) -> None:
    frame = time_to_target.table(records)
    assert list(frame.columns) == [c for c in time_to_target.COLUMNS if c != "backend"]  # one backend
    assert list(frame["augmentation"]) == ["none", "flip", "crop"]  # fastest first, no result last
    none, flip, crop = (frame.iloc[i] for i in range(3))
    assert none["time_to_target_seconds"] == pytest.approx(3.0) and none["std_seconds"] == pytest.approx(1.0)
    assert none["kept_seconds"] == "2.0, 3.0, 4.0" and none["dropped_seconds"] == "1.0, 9.0"
    assert (none["runs"], none["reached"], none["not_reached"]) == (5, 5, 0)
    assert none["result"] == "mean of the middle 3 of 5 runs (the fastest and the slowest dropped)"
    assert flip["time_to_target_seconds"] == pytest.approx(14 / 3) and flip["dropped_seconds"] == "2.0, not reached"
    assert flip["result"] == ("mean of the middle 3 of 5 runs (the fastest and a run that did not reach the target "
                              "dropped)")
    assert math.isnan(crop["time_to_target_seconds"]) and (crop["reached"], crop["not_reached"]) == (3, 2)
    assert crop["result"].startswith("no result: 2 of 5 runs did not reach the target")
    assert crop["run_seconds"] == "1.0, 2.0, 4.0, not reached, not reached"  # every run shown
    assert crop["kept_seconds"] == crop["dropped_seconds"] == ""  # nothing averaged
    assert none["run_seconds"] == "1.0, 2.0, 3.0, 4.0, 9.0"
    assert none["target_accuracy"] == TARGET and none["epochs_to_target"] == 2 and none["compile_seconds"] == 0.5
    assert frame.attrs["headline"] and "MLPerf" in frame.attrs["caption"]


def test_the_combinations_table_has_the_protocols_result(records) -> None:
    combinations = tables.combinations_table(records).set_index("id")
    assert combinations.loc["pets-none-cnn", "time_to_target_seconds"] == pytest.approx(3.0)
    assert combinations.loc["pets-flip-cnn", "time_to_target_seconds"] == pytest.approx(14 / 3)  # not 4.0
    assert math.isnan(combinations.loc["pets-crop-cnn", "time_to_target_seconds"])


def test_fewer_than_three_runs_drop_nothing(records) -> None:
    frame = time_to_target.table(runs("none", [3.0, 1.0]))
    assert frame.iloc[0]["time_to_target_seconds"] == pytest.approx(2.0) and frame.iloc[0]["dropped_seconds"] == ""
    assert frame.iloc[0]["result"] == "mean of 2 runs (fewer than 3: none dropped)"


def test_no_table_without_a_target_and_a_backend_column_with_several() -> None:
    assert time_to_target.table([make_record()]) is None
    assert "time_to_target" not in tables.builtin_tables([make_record()])
    both = [*runs("none", [1.0, 2.0, 3.0], backend="jax"), *runs("none", [4.0, 5.0, 6.0], backend="tensorflow")]
    frame = time_to_target.table(both)
    assert list(frame["backend"]) == ["jax", "tensorflow"] and list(frame["time_to_target_seconds"]) == [2.0, 5.0]


def test_the_summary_line_names_the_fastest_and_counts_what_missed(records) -> None:
    line = time_to_target.summary(time_to_target.table(records))
    assert line == ("time to accuracy 0.7: fastest none / cnn on pets 3.0 s, mean of the middle 3 of 5 runs (the "
                    "fastest and the slowest dropped), 0.5 s of it compiling; 2 of 3 combinations have a result; 3 "
                    "of 15 runs did not reach the target")


def test_the_figure_draws_every_run(records) -> None:
    figure = time_to_target.figure(records)
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["pets: crop / cnn\n3 of 5 reached", "pets: flip / cnn\n4 of 5 reached",
                      "pets: none / cnn\n5 of 5 reached"]  # fastest at the top
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert [int(line.get_ydata()[0]) for line in crosses] == [0, 1]  # crop and flip have runs that missed
    hollow = [line for line in ax.get_lines() if line.get_marker() == "o" and line.get_markerfacecolor() == "none"]
    assert np.allclose(sorted(x for line in hollow for x in line.get_xdata()), [1.0, 1.0, 2.0, 2.0, 4.0, 9.0])
    assert [b.get_width() for b in ax.patches] == pytest.approx([14 / 3, 3.0])  # the results, as bars


# -------------------------------------------------------------------------------------------------
# A real run: both protocols on two synthetic datasets
# -------------------------------------------------------------------------------------------------

PROTOCOL_PLUGIN = '''
import harness

def tiny(request):
    import keras
    return keras.Sequential([keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(request.num_classes)])

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=tiny, description="a tiny CNN", input_range="0-1",
                              params={"learning_rate": 0.02}),
            harness.ModelSpec(name="big", factory=tiny, description="needs 64 px images", min_image_size=64)]
'''

#: Two variants of the synthetic dataset at 16 px: ``tinted`` (each class its colour: the tiny CNN reaches 0.85
#: within a few epochs) and ``plain`` (shapes only: it stays near chance in 5 epochs, so no run reaches 0.85).
TWO_DATASETS = '''
[datasets.tinted]
plugin = "synthetic"
image_size = [16, 16]
tint_by_class = true
train_per_class = 32
validation_per_class = 16
test_per_class = 32

[datasets.plain]
plugin = "synthetic"
image_size = [16, 16]
train_per_class = 32
validation_per_class = 16
test_per_class = 32
'''


@pytest.mark.slow
def test_a_real_run_with_repeats_a_target_and_two_datasets(harness_tester, monkeypatch) -> None:
    """``--repeats 3 --target-accuracy 0.85`` on two datasets: the time-to-accuracy table drops the fastest and
    the slowest run of ``tinted`` and counts the runs of ``plain`` that never reached the target; the
    leaderboard across datasets, with ``--reference``, is in both pages; ``big`` is skipped (too small images)
    and scores as the baseline."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_plugin(PROTOCOL_PLUGIN)
    harness_tester.make_config(TWO_DATASETS)
    result = harness_tester.run("run", "--dataset", "tinted", "--dataset", "plain", "--augmentation", "none",
                                "--epochs", "5", "--batch-size", "8", "--repeats", "3", "--target-accuracy", "0.85",
                                "--reference", "none-tiny")
    assert result.ret == 1, result.stderr  # plain fails against its baseline
    assert result.parseoutcomes()["skipped"] == 2
    run_dir = result.run_dir
    assert run_dir is not None
    import pandas as pd

    frame = pd.read_csv(run_dir / "tables" / "time_to_target.csv", keep_default_na=False, na_values=[""])
    rows = frame.set_index("dataset")
    assert sorted(rows.index) == ["plain", "tinted"] and set(frame["model"]) == {"tiny"}  # skipped ones are not runs
    plain, tinted = rows.loc["plain"], rows.loc["tinted"]
    assert (plain["runs"], plain["reached"], plain["not_reached"]) == (3, 0, 3)
    assert plain["result"].startswith("no result: 3 of 3 runs did not reach the target")
    assert plain["run_seconds"] == "not reached, not reached, not reached"
    times = sorted(t["time_to_target"]["seconds"] for t in result.records
                   if t["dataset"] == "tinted" and t.get("time_to_target"))
    assert tinted["runs"] == 3 and tinted["reached"] == len(times) >= 2  # the colour cue: reached by epoch 5
    assert tinted["dropped_seconds"] == (f"{times[0]:.1f}, {times[-1]:.1f}" if len(times) == 3
                                         else f"{times[0]:.1f}, not reached")
    assert tinted["time_to_target_seconds"] == pytest.approx(times[1])
    assert float(tinted["kept_seconds"]) == pytest.approx(times[1], abs=0.05)
    for record in result.records:  # MLPerf's clock: from the first touch of the data, compilation included
        if record.get("time_to_target"):
            reached_at = record["time_to_target"]
            assert reached_at["seconds"] > reached_at["compile_seconds"] + reached_at["train_seconds"]
            assert record["history"][reached_at["epoch"] - 1]["val_accuracy"] >= 0.85
    assert "time to accuracy 0.85: fastest none / tiny on tinted" in result.stdout
    assert f"1 of 2 combinations have a result; {6 - len(times)} of 6 runs did not reach the target" in result.stdout

    board = pd.read_csv(run_dir / "tables" / "leaderboard-across_datasets.csv", keep_default_na=False,
                        na_values=[""]).set_index("combination")
    assert list(board.index) == ["none / tiny", "none / big"]
    assert board.loc["none / tiny", "score:tinted"] == 1.0 and board.loc["none / big", "score:tinted"] == 0.0
    assert board.loc["none / big", "imputed"].startswith(("plain", "tinted"))
    assert "1 = the reference none-tiny" in result.stdout
    md, page = (run_dir / "report.md").read_text(), (run_dir / "report.html").read_text()
    for text in (md, page):
        assert "Leaderboard across datasets" in text and "Time to the target accuracy" in text
        assert text.index("Leaderboard across datasets") < text.index("Leaderboard: plain")
    assert "figures/across_datasets.png" in md and "figures/time_to_target.png" in md
    assert '"reference": "none-tiny"' in (run_dir / "metadata.json").read_text()
