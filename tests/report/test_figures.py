"""The figure builders: what is drawn, read back from the matplotlib objects they return."""

from __future__ import annotations

import numpy as np
import pytest

from harness.report import figures, samples, tables

from .fakes import make_record

BASELINE = 0.6


def _lines(ax, prefix: str) -> list:
    return [line for line in ax.get_lines() if line.get_label().startswith(prefix)]


@pytest.fixture
def records() -> list[dict]:
    return [
        make_record("none", "cnn", seed=1, test=0.80, curve=[(0.6, 0.55), (0.7, 0.72), (0.8, 0.70)]),
        make_record("none", "cnn", seed=2, test=0.84),
        make_record("flip", "cnn", test=0.70),
        make_record("none", "resnet", test=0.92, seconds=100.0),
        make_record("flip", "resnet", error="ValueError: boom"),
    ]


def test_curves_draw_the_baseline_as_a_dashed_line_at_its_value(records: list[dict]) -> None:
    figure = figures.accuracy_curves(records, "pets")
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["flip / cnn (seed 1)", "none / cnn (2 seeds)",
                                                 "none / resnet (seed 1)"]
    for ax in panels:
        baselines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(baselines) == 1
        assert np.allclose(baselines[0].get_ydata(), 100 * BASELINE)
        assert ax.get_ylabel() == "accuracy (%)" and ax.get_xlabel() == "epoch"
    assert _lines(panels[0], "baseline 60.0%")  # labelled once, for the figure legend


def test_curves_follow_the_history(records: list[dict]) -> None:
    figure = figures.accuracy_curves(records, "pets")
    ax = figure.axes[1]  # none / cnn, seed 1 drawn first
    train, val = ax.get_lines()[0], ax.get_lines()[1]
    assert list(train.get_xdata()) == [1, 2, 3]
    assert np.allclose(train.get_ydata(), [60, 70, 80]) and np.allclose(val.get_ydata(), [55, 72, 70])
    star = [line for line in ax.get_lines() if line.get_marker() == "*"][0]
    assert list(star.get_xdata()) == [2] and np.allclose(star.get_ydata(), [72])  # the tested weights
    assert figure.legends and "Training and validation accuracy" in figure.get_suptitle()


def test_a_run_on_several_backends_draws_each_backend_apart() -> None:
    records = [{**make_record("none", "cnn", test=t), "backend": b} for b, t in (("tensorflow", 0.8), ("jax", 0.7))]
    curves = figures.accuracy_curves(records, "pets")
    assert [ax.get_title() for ax in curves.axes if ax.get_visible()] == ["none / cnn on jax (seed 1)",
                                                                         "none / cnn on tensorflow (seed 1)"]
    chart = figures.test_accuracy_chart(tables.combinations_table(records), "pets").axes[0]
    assert [t.get_text().split(":")[0] for t in chart.get_yticklabels()] == ["none / cnn (jax)",
                                                                            "none / cnn (tensorflow)"]


def test_test_accuracy_chart_has_intervals_and_the_baseline(records: list[dict]) -> None:
    combinations = tables.combinations_table(records)
    figure = figures.test_accuracy_chart(combinations, "pets")
    ax = figure.axes[0]
    baseline = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(baseline) == 1 and np.allclose(baseline[0].get_xdata(), 100 * BASELINE)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "none / resnet: +32.0 pts, passed"  # best at the top
    assert labels[0] == "flip / resnet: error"
    points = sorted(round(float(bar.lines[0].get_xdata()[0]), 6) for bar in ax.containers)
    assert points == [70.0, 82.0, 92.0]
    low, high = ax.containers[1].lines[2][0].get_segments()[0][:, 0]  # the interval of none / cnn (2 seeds)
    row = combinations.set_index("id").loc["pets-none-cnn"]
    assert np.allclose([low, high], [100 * row["ci_low"], 100 * row["ci_high"]])
    assert "test accuracy (%)" in ax.get_xlabel()


def test_heatmap_annotates_each_cell(records: list[dict]) -> None:
    combinations = tables.combinations_table(records)
    figure = figures.grid_heatmap(tables.pivot_table(combinations, "pets"), "pets", BASELINE)
    texts = sorted(t.get_text() for t in figure.axes[0].texts)
    assert texts == ["70.0%\n+10.0 pts", "82.0%\n+22.0 pts", "92.0%\n+32.0 pts", "n/a"]
    assert figure.axes[1].get_ylabel() == "test accuracy (%)"  # the colour bar


def test_accuracy_against_time(records: list[dict]) -> None:
    figure = figures.accuracy_vs_time(tables.per_seed_table(records), "pets")
    ax = figure.axes[0]
    points = sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.get_lines()
                    if line.get_linestyle() == "None")
    assert points == [(10.0, 70.0), (10.0, 80.0), (10.0, 84.0), (100.0, 92.0)]
    assert ax.get_xscale() == "linear"  # 10x range: no log scale yet
    assert ax.get_xlabel().startswith("training time (s")


def test_points_on_top_of_one_another_stay_visible() -> None:
    """Two seeds with the same accuracy and nearly the same time: hollow markers, and an `x2` label."""
    records = [make_record("none", "cnn", seed=1, test=0.8, seconds=10.0),
               make_record("none", "cnn", seed=2, test=0.8, seconds=10.2),
               make_record("flip", "cnn", seed=1, test=0.8, seconds=30.0)]
    ax = figures.accuracy_vs_time(tables.per_seed_table(records), "pets").axes[0]
    markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert len(markers) == 3 and all(line.get_markerfacecolor() == "none" for line in markers)
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("x2", (10.0, 80.0))]


def test_a_model_keeps_its_colour_across_runs_and_figures() -> None:
    """The colour comes from the model's name, not from its rank among the run's models."""
    alone = figures.Palette(["small_cnn"], ["none"]).colors["small_cnn"]
    among = figures.Palette(["aaa_first", "small_cnn", "zzz_last", "mobilenet_v2"], ["none", "flip"])
    assert among.colors["small_cnn"] == alone
    assert len(set(among.colors.values())) == 4  # two names hashing alike still get different colours
    records = [make_record("none", "zeta", test=0.7), make_record("none", "alpha", test=0.9)]
    combinations = tables.combinations_table(records)
    chart = figures.test_accuracy_chart(combinations, "pets").axes[0]
    scatter = figures.accuracy_vs_time(tables.per_seed_table(records), "pets").axes[0]
    expected = figures.Palette(["zeta"], []).colors["zeta"]
    assert any(line.get_color() == expected for line in chart.get_lines())
    assert any(line.get_color() == expected for line in scatter.get_lines())


def test_label_frequencies_show_shares_and_counts() -> None:
    figure = figures.label_frequencies(make_record()["dataset_info"])
    ax = figure.axes[0]
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [60.0, 40.0, 60.0, 40.0, 60.0, 40.0]
    assert [t.get_text() for t in ax.texts] == ["60", "40", "15", "10", "30", "20"]
    assert "always guessing 'cat' scores 60.0%" in ax.get_title()


def test_sample_grid_names_the_classes() -> None:
    images = np.zeros((8, 16, 16, 3), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    figure = samples.sample_grid(images, labels, ("cat", "dog"), "pets")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["cat (16x16)"] * 3 + ["dog (16x16)"] * 3


@pytest.mark.slow
def test_augmentation_examples_apply_the_layer_in_training_mode() -> None:
    calls = []

    class Layer:
        def __call__(self, batch, training=False):
            calls.append(training)
            return batch[:, :, ::-1, :]

    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    versions = samples.augmented_versions(Layer(), image, 3, seed=0)
    assert calls == [True, True, True]
    assert np.array_equal(versions[0], image[:, ::-1, :])
    figure = samples.augmentation_examples(image, versions, "flip", "pets", "cat")
    assert [ax.get_title() for ax in figure.axes] == ["original (cat)", "augmented #1", "augmented #2",
                                                      "augmented #3"]
