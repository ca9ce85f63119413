"""Paired comparisons and factor effects of a report (:mod:`harness.report.paired`): a hand-made run whose
numbers are computed here by hand, a real run of the fast trainer, and runs without predictions."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness import stats
from harness.pluginmanager import load_plugins
from harness.report import paired
from harness.report.context import Report
from harness.report.write import write_report
from harness.store import RunStore
from harness.testing import HarnessTester

from .fakes import make_record, skip_record

N = 50


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


def predicted(right: set[int]) -> dict[str, list[Any]]:
    """Predictions of :data:`N` images (labels alternate 0, 1), right exactly on the images ``right``."""
    labels = [i % 2 for i in range(N)]
    return {"id": [str(i) for i in range(N)], "label": labels,
            "predicted": [label if i in right else 1 - label for i, label in enumerate(labels)],
            "confidence": [0.9] * N}


#: Which images each combination gets right: A (none / cnn) 45, B (flip / cnn) 34, C (none / resnet) 44.
RIGHT = {("none", "cnn"): set(range(45)),  # 0..44
         ("flip", "cnn"): set(range(33)) | {45},  # A alone: 33..44 (12), B alone: 45 (1)
         ("none", "resnet"): set(range(42)) | {45, 46}}  # A alone: 42..44 (3), C alone: 45, 46 (2)


def hand_records() -> list[dict[str, Any]]:
    records = []
    for (augmentation, model), right in RIGHT.items():
        record = make_record(augmentation, model, test=len(right) / N, n_test=N, baseline=0.5)
        record["n_correct"] = len(right)
        record["predictions"] = predicted(right)
        records.append(record)
    return records + [make_record("flip", "resnet", error="ValueError: boom"), skip_record()]


def report_of(run_dir: Path) -> Report:
    store = RunStore(run_dir)
    return Report(run_dir=run_dir, records=store.records(), metadata=store.metadata())


def written(run_dir: Path) -> Any:
    return write_report(report_of(run_dir), load_plugins(autoload=False))


def test_mcnemar_of_a_hand_made_run(run_dir_factory: Callable[..., Path]) -> None:
    run_dir = run_dir_factory(hand_records())
    text = written(run_dir)
    frame = pd.read_csv(run_dir / "tables" / "mcnemar-pets.csv").set_index("b")
    assert list(frame.index) == ["flip / cnn", "none / resnet"] and set(frame["a"]) == {"none / cnn"}
    b, c = frame.loc["flip / cnn"], frame.loc["none / resnet"]
    assert (b["only_a"], b["only_b"], b["pairs"], b["seeds"]) == (12, 1, 50, 1)
    assert (c["only_a"], c["only_b"]) == (3, 2)
    p_b = 2 * (math.comb(13, 12) + math.comb(13, 13)) / 2**13  # exact binomial: 12 or more of 13, both tails
    assert b["mcnemar_p"] == pytest.approx(p_b) and c["mcnemar_p"] == pytest.approx(1.0)
    assert b["mcnemar_p_holm"] == pytest.approx(2 * p_b) and c["mcnemar_p_holm"] == pytest.approx(1.0)  # Holm, m=2
    assert b["separable"] and not c["separable"]
    assert (b["accuracy_a"], b["accuracy_b"], b["difference"]) == pytest.approx((0.9, 0.68, 0.22))
    low, high = stats.tango_interval(12, 1, 50)
    assert (b["difference_low"], b["difference_high"]) == pytest.approx((low, high))
    assert 0 < low < 0.22 < high
    # the summary says which combinations the best cannot be told from; the leaderboard marks them
    assert "pets: best: none / cnn; not separable from none / resnet (McNemar p = 1.000, Holm-corrected)" in (
        text.protocols)
    page = (run_dir / "report.md").read_text()
    assert "not separable from none / resnet" in page and "## Paired comparisons" in page
    board = pd.read_csv(run_dir / "tables" / "leaderboard-pets.csv")
    assert board["vs_best"].fillna("").tolist() == ["best", "not separable (p 1.000)", "worse (p 0.007)", "", ""]


def test_factor_effects_of_a_hand_made_run(run_dir_factory: Callable[..., Path]) -> None:
    run_dir = run_dir_factory(hand_records(), reference="none-resnet")
    written(run_dir)
    frame = pd.read_csv(run_dir / "tables" / "effects-pets.csv")
    rows = {(r["factor"], r["level"], r["against"], r["over"]): r for _, r in frame.iterrows()}
    # flip was trained with cnn alone (resnet erred): one pair, McNemar's comparison of flip / cnn and none / cnn
    flip = rows[("augmentation", "flip", "none", "cnn")]
    assert flip["difference"] == pytest.approx(-11 / 50) and flip["p_value"] == pytest.approx(28 / 2**13)
    assert (flip["difference_low"], flip["difference_high"]) == pytest.approx(stats.tango_interval(1, 12, 50))
    # the reference's model is resnet: cnn against it, on the one augmentation both have
    model = rows[("model", "cnn", "resnet", "none")]
    assert model["difference"] == pytest.approx(1 / 50) and model["pairs"] == 1
    assert len(rows) == 2
    assert (run_dir / "figures" / "effects-pets.png").is_file()
    assert "## Factor effects" in (run_dir / "report.md").read_text()
    # with a reference, it is compared with every other combination not yet compared
    mcnemar = pd.read_csv(run_dir / "tables" / "mcnemar-pets.csv")
    assert mcnemar[["against", "a", "b"]].values.tolist() == [
        ["best", "none / cnn", "flip / cnn"], ["best", "none / cnn", "none / resnet"],
        ["reference", "none / resnet", "flip / cnn"]]


def test_the_pooled_effect_averages_each_image_over_the_pairs(run_dir_factory: Callable[..., Path]) -> None:
    records = []
    rights = {("none", "cnn"): set(range(40)), ("flip", "cnn"): set(range(44)),
              ("none", "mlp"): set(range(10, 50)), ("flip", "mlp"): set(range(10, 48))}
    for (augmentation, model), right in rights.items():
        record = make_record(augmentation, model, test=len(right) / N, n_test=N, baseline=0.5)
        record["predictions"] = predicted(right)
        records.append(record)
    run_dir = run_dir_factory(records)
    frame = paired.effects(report_of(run_dir)).set_index("over")
    pooled = frame.loc["all models (2)"]
    per_image = [((i in rights["flip", "cnn"]) - (i in rights["none", "cnn"])
                  + (i in rights["flip", "mlp"]) - (i in rights["none", "mlp"])) / 2 for i in range(N)]
    expected = stats.pooled_paired_difference(per_image)
    assert pooled["difference"] == pytest.approx((4 - 2) / 2 / N)
    assert (pooled["difference_low"], pooled["difference_high"], pooled["p_value"]) == pytest.approx(
        (expected.low, expected.high, expected.p_value))
    assert pooled["pairs"] == 2 and pooled["images"] == N and "t interval" in pooled["method"]
    assert set(frame.index) == {"all models (2)", "cnn", "mlp"}


def test_a_fast_run_of_2_models_x_2_augmentations_x_3_seeds(harness_tester: HarnessTester) -> None:
    harness_tester.make_plugin('''
        import harness

        def no_layer(params):
            return None

        @harness.hookimpl
        def harness_augmentations_register(config):
            return [harness.AugmentationSpec(name="flip", factory=no_layer, description="a name only")]
    ''')
    result = harness_tester.run("run", "-p", "harness.testing.fast", "--executor", "serial", "--dataset", "synthetic",
                                "--model", "fast_pass",
                                "--model", "fast_fail", "--augmentation", "none", "--augmentation", "flip",
                                "--repeats", "3", "--reference", "none-fast_fail")
    result.assert_outcomes(passed=6, failed=6)  # fast_fail does not beat the baseline
    assert result.run_dir is not None
    tables = result.run_dir / "tables"
    mcnemar = pd.read_csv(tables / "mcnemar-synthetic.csv")
    best = mcnemar.loc[mcnemar["against"] == "best"]
    assert len(best) == 3 and best["a"].nunique() == 1 and best["a"].iloc[0].endswith("fast_pass")
    assert (best["pairs"] == 600).all() and (best["seeds"] == 3).all()
    assert (mcnemar["only_a"] + mcnemar["only_b"] <= mcnemar["pairs"]).all()
    assert mcnemar["mcnemar_p_holm"].ge(mcnemar["mcnemar_p"]).all()
    assert (mcnemar["difference_low"] <= mcnemar["difference"]).all()
    assert (mcnemar["difference"] <= mcnemar["difference_high"]).all()
    # fast_fail (0.5) against fast_pass (0.8 or more): told apart by McNemar
    failing = best[best["b"].str.endswith("fast_fail")]
    assert len(failing) == 2 and failing["separable"].all() and (failing["difference_low"] > 0).all()
    reference = mcnemar.loc[mcnemar["against"] == "reference"]
    assert set(reference["a"]) == {"none / fast_fail"} and len(reference) >= 1
    effects = pd.read_csv(tables / "effects-synthetic.csv")
    overs = effects.groupby("factor")["over"].apply(set).to_dict()
    assert overs == {"augmentation": {"all models (2)", "fast_pass", "fast_fail"},
                     "model": {"all augmentations (2)", "none", "flip"}}
    assert (effects.loc[effects["over"] == "all models (2)", "pairs"] == 6).all()
    model = effects[(effects["factor"] == "model") & (effects["over"] == "all augmentations (2)")].iloc[0]
    assert model["level"] == "fast_pass" and model["against"] == "fast_fail" and model["difference_low"] > 0
    assert (result.run_dir / "figures" / "effects-synthetic.png").is_file()
    assert "vs_best" in pd.read_csv(tables / "leaderboard-synthetic.csv").columns
    page = (result.run_dir / "report.md").read_text()
    assert page.index("## Leaderboards") < page.index("## Paired comparisons") < page.index("## Factor effects")
    assert "synthetic: best: " in result.stdout


def test_a_run_without_predictions_has_no_paired_section(run_dir_factory: Callable[..., Path]) -> None:
    records = [make_record("none", "cnn", test=0.8), make_record("flip", "cnn", test=0.9),
               make_record("none", "resnet", error="ValueError: boom"), skip_record()]
    run_dir = run_dir_factory(records)
    text = written(run_dir)
    assert not list((run_dir / "tables").glob("mcnemar*")) and not list((run_dir / "tables").glob("effects*"))
    assert not any("separable" in line for line in text.protocols)
    page = (run_dir / "report.md").read_text()
    assert "## Paired comparisons" not in page and "## Factor effects" not in page and "## Leaderboards" in page
    assert "vs_best" not in pd.read_csv(run_dir / "tables" / "leaderboard-pets.csv").columns
    assert "2 trained tasks have no per-image predictions" in " ".join(text.notes)


def test_a_lost_prediction_file_leaves_that_combination_out(run_dir_factory: Callable[..., Path]) -> None:
    run_dir = run_dir_factory(hand_records())
    lost = next(r for r in RunStore(run_dir).records() if r.get("augmentation") == "flip" and r.get("predictions"))
    (run_dir / lost["predictions"]).unlink()
    notes = written(run_dir).notes
    frame = pd.read_csv(run_dir / "tables" / "mcnemar-pets.csv")
    assert frame["b"].tolist() == ["none / resnet"]
    assert "1 trained task has no per-image predictions" in " ".join(notes)
    assert not (run_dir / "tables" / "effects-pets.csv").exists()  # flip has no predictions left


def test_the_summary_names_the_closest_few_not_separable() -> None:
    rows = [{"against": "best", "a": "A", "b": f"B{i}", "accuracy_b": 0.5 + i / 100, "separable": i == 0,
             "mcnemar_p_holm": 0.01 if i == 0 else 0.5} for i in range(8)]
    rows.append({"against": "reference", "a": "B1", "b": "B2", "accuracy_b": 0.5, "separable": False,
                 "mcnemar_p_holm": 1.0})
    line = paired.summary(pd.DataFrame(rows))
    assert line == ("best: A; not separable from B7, B6, B5, B4, B3 (McNemar p = 0.500, 0.500, 0.500, 0.500, 0.500, "
                    "Holm-corrected) and 2 more (see Paired comparisons)")
    assert paired.summary(pd.DataFrame(rows[:1])) == ""  # separable from every other: nothing to say
    assert paired.summary(pd.DataFrame(rows[-1:])) == ""


def test_a_run_on_two_backends_names_them_as_the_leaderboard(run_dir_factory: Callable[..., Path]) -> None:
    records = []
    for (augmentation, model, backend), right in {("none", "cnn", "tensorflow"): set(range(45)),
                                                  ("none", "cnn", "jax"): set(range(40)),
                                                  ("flip", "cnn", "tensorflow"): set(range(30))}.items():
        record = make_record(augmentation, model, test=len(right) / N, n_test=N, baseline=0.5)
        record.update(backend=backend, config_hash=f"{augmentation}-{model}-{backend}", predictions=predicted(right))
        records.append(record)
    run_dir = run_dir_factory(records, reference="none-cnn-jax")
    report = report_of(run_dir)
    frame = paired.comparisons(report)
    assert frame[["against", "a", "b"]].values.tolist() == [
        ["best", "none / cnn / tensorflow", "none / cnn / jax"],
        ["best", "none / cnn / tensorflow", "flip / cnn / tensorflow"],
        ["reference", "none / cnn / jax", "flip / cnn / tensorflow"]]
    assert frame["only_a"].tolist() == [5, 15, 10]
    effects = paired.effects(report)
    assert effects[["level", "against", "over"]].values.tolist() == [["flip", "none", "cnn / tensorflow"]]
