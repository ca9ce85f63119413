"""Feature caching: a frozen base runs once per image and the head trains on its outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.engine.features import EVALUATION_ONLY

from .conftest import SMALL, models

EPOCHS = ["--epochs", "3", "--seed", "5"]


def _records(result) -> dict[str, dict]:
    assert result.ret in (0, 1), result.stdout + result.stderr
    return {r["model"] + "/" + r["augmentation"]: r for r in result.records}


def test_head_on_cached_features_follows_the_full_models_trajectory(engine_tester) -> None:
    """With nothing random in the model, training the head on cached features is the same computation as
    training the whole model: same losses and accuracies epoch by epoch, same test accuracy."""
    cached = _records(engine_tester.run("run", *SMALL, *models("frozen"), *EPOCHS, "--output", "cached"))
    full = _records(engine_tester.run("run", *SMALL, *models("frozen"), *EPOCHS, "--output", "full",
                                      "--no-feature-cache"))
    a, b = cached["frozen/none"], full["frozen/none"]
    assert a["feature_cache"] == "used" and a["feature_seconds"] > 0
    assert b["feature_cache"] == "off: --no-feature-cache" and b["feature_seconds"] is None
    assert a["params_count"] == b["params_count"]  # the whole model, base included
    assert [h["epoch"] for h in a["history"]] == [1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([h[key] for h in a["history"]], [h[key] for h in b["history"]],
                                   rtol=1e-3, atol=1e-4, err_msg=key)
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["steps"] == b["steps"] and a["images"] == b["images"]


@pytest.mark.slow
def test_feature_caching_applies_only_where_the_inputs_and_base_are_fixed(engine_tester) -> None:
    records = _records(engine_tester.run("run", *SMALL, *models("frozen", "leaky", "tiny"), "--set",
                                         "frozen.dropout=0.2", "--epochs", "1"))
    records.update(_records(engine_tester.run(
        "run", *[a for a in SMALL if a not in ("--augmentation", "none")], "--augmentation", "flip",
        *models("frozen"), "--set", "frozen.dropout=0.2", "--epochs", "1")))
    assert records["frozen/none"]["feature_cache"] == "used"
    assert records["frozen/flip"]["feature_cache"] == EVALUATION_ONLY
    assert records["tiny/none"]["feature_cache"] == "off: the model declares no frozen part"
    assert records["leaky/none"]["feature_cache"].startswith("off: the model's frozen part has trainable weights")
    for record in records.values():
        assert record["status"] in ("passed", "failed"), record.get("error")
        assert not math.isnan(record["test_accuracy"])


def test_a_trainable_base_is_not_cached(engine_tester) -> None:
    records = _records(engine_tester.run("run", *SMALL, *models("frozen"), "--set", "frozen.train_base=true",
                                         "--epochs", "1"))
    assert records["frozen/none"]["feature_cache"] == "off: the model's base is trainable"


def test_extracting_training_features_counts_against_a_time_budget(engine_tester) -> None:
    record = _records(engine_tester.run("run", *SMALL, *models("frozen"), "--epochs", "1"))["frozen/none"]
    history = record["history"]
    # The epoch's own seconds are its batches; the total also holds the extraction of the training features.
    assert record["train_seconds"] > history[0]["seconds"]
    assert record["train_seconds"] == history[-1]["train_seconds_total"]


@pytest.mark.slow
def test_behind_an_augmentation_validation_and_test_on_cached_features_match_the_full_model(engine_tester) -> None:
    """The model trains on augmented images as usual; validating and testing its head on cached features gives
    what the whole model gives on the images. The evaluation features are reused by the next seed."""
    args = [*[a for a in SMALL if a not in ("--augmentation", "none")], "--augmentation", "flip",
            *models("frozen"), *EPOCHS, "--repeats", "2"]
    cached = engine_tester.run("run", *args, "--output", "cached")
    full = engine_tester.run("run", *args, "--output", "full", "--no-feature-cache")
    assert cached.ret in (0, 1) and full.ret in (0, 1), cached.stderr + full.stderr
    for a, b in zip(cached.records, full.records):
        assert a["feature_cache"] == EVALUATION_ONLY and b["feature_cache"] == "off: --no-feature-cache"
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose([h[key] for h in a["history"]], [h[key] for h in b["history"]],
                                       rtol=1e-3, atol=1e-4, err_msg=key)
        assert a["test_accuracy"] == b["test_accuracy"]
        assert a["test_accuracy_best"] == b["test_accuracy_best"]
    assert [r["features_reused"] for r in cached.records] == [[], ["validation", "test"]]


def test_evaluation_features_are_not_reused_across_different_frozen_weights(engine_tester) -> None:
    args = [*[a for a in SMALL if a not in ("--augmentation", "none")], "--augmentation", "flip",
            *models("frozen"), "--epochs", "1", "--repeats", "2", "--set", "frozen.base_seed=-1"]
    result = engine_tester.run("run", *args)
    assert [r["features_reused"] for r in result.records] == [[], []]
