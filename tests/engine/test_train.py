"""The trainer: determinism and isolation, failures as data, which weights are tested, precision, phases."""

from __future__ import annotations

import math

import pytest

from .conftest import BACKEND, SMALL, models, tensorflow_only

#: What must be identical between two trainings with the same seed (timings aside).
SAME = ("val_accuracy", "test_accuracy", "test_accuracy_best", "test_accuracy_last", "train_accuracy", "best_epoch",
        "steps", "images", "epochs", "config_hash")


def outcome(record: dict) -> dict:
    history = [{k: v for k, v in entry.items() if k not in ("seconds", "train_seconds_total")}
               for entry in record["history"]]
    return {**{k: record[k] for k in SAME}, "history": history}


def by_model(result) -> dict[str, dict]:
    return {r["model"]: r for r in result.records}


# -------------------------------------------------------------------------------------------------
# Determinism and isolation
# -------------------------------------------------------------------------------------------------


def test_same_seed_same_result_whatever_ran_before(engine_tester) -> None:
    budget = ["--epochs", "2", "--seed", "3"]
    first = by_model(engine_tester.run("run", *SMALL, *models("tiny", "tiny_b"), *budget))
    alone = by_model(engine_tester.run("run", *SMALL, *models("tiny_b"), *budget))
    # The same seed twice, once after another model and once on its own: identical accuracies and histories,
    # loss for loss.
    assert outcome(first["tiny_b"]) == outcome(alone["tiny_b"])
    # ...and the comparison has teeth: the losses are not trivially equal between models.
    assert first["tiny"]["history"][0]["loss"] != first["tiny_b"]["history"][0]["loss"]


def test_repeats_use_consecutive_seeds_on_one_split(engine_tester) -> None:
    from harness.stats import mean_interval

    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "2", "--seed", "5", "--repeats", "2")
    records = result.records
    assert [(r["seed"], r["repeat"], r["split_seed"]) for r in records] == [(5, 0, 5), (6, 1, 5)]
    assert len({r["dataset_info"]["split_digest"] for r in records}) == 1
    assert len({r["config_hash"] for r in records}) == 2 and len({r["combination_hash"] for r in records}) == 1
    assert len({r["history"][0]["loss"] for r in records}) == 2  # different seeds, different training
    frame = result.results
    assert list(frame["seed"]) == [5, 6] and list(frame["repeat"]) == [0, 1]
    assert frame["combination_hash"].nunique() == 1
    mean, std, low, high = mean_interval([r["val_accuracy"] for r in records])
    assert low <= mean <= high and not math.isnan(mean)


def _tiny(request):  # module level: the task is built here, in the test's process
    import keras

    return keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dropout(0.2), keras.layers.Dense(request.num_classes)])


def test_the_callbacks_only_watch_the_numbers_are_keras_own(tmp_path) -> None:
    """The engine's training is Keras' ``fit`` on the same model, feed and seed: its callbacks (budget, NaN
    checks, history, best weights, time to target, progress) watch and never change a number. The record's
    history and last-weights test accuracy equal a plain ``fit`` and ``evaluate``, bit for bit."""
    import dataclasses

    import keras

    from harness import backends, stats
    from harness.builtin.core import _no_augmentation
    from harness.builtin.synthetic import synthetic_spec
    from harness.engine.task import Task
    from harness.engine.train import _prepare, build_model, compile_model, make_datasets, train
    from harness.specs import AugmentationSpec, Budget, ModelSpec

    spec = synthetic_spec(size=16)
    dataset = dataclasses.replace(spec, params={**spec.params, "train_per_class": 16, "validation_per_class": 8,
                                                "test_per_class": 8})
    task = Task(dataset=dataset, augmentation=AugmentationSpec(name="none", factory=_no_augmentation),
                model=ModelSpec(name="tiny", factory=_tiny, input_range="0-1", params={"learning_rate": 0.01}),
                budget=Budget(epochs=3), seed=3, batch_size=8, backend=BACKEND, restore_best=False,
                target_accuracy=0.01, cache_dir=str(tmp_path))
    record = train(task)
    assert record["status"] in ("passed", "failed"), record.get("traceback")

    backend = backends.activate(task.backend)
    keras.backend.clear_session(free_memory=False)
    backend.seed(task.seed)
    backend.set_precision(task.precision)
    data = _prepare(task)
    model = build_model(task, data)
    compile_model(model, 0.01)
    feeds = make_datasets(backend, data, task.batch_size, task.seed)
    fit = model.fit(feeds["train"], validation_data=feeds["validation"], epochs=3, verbose=0, shuffle=False)
    accuracy = model.evaluate(feeds["test"], verbose=0, return_dict=True)["accuracy"]
    backend.release()

    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [entry[key] for entry in record["history"]] == fit.history[key], key
    n_test = record["n_test"]
    assert record["test_accuracy"] == record["test_accuracy_last"] == stats.ratio(
        stats.correct_count(accuracy, n_test), n_test)
    assert record["time_to_target"]["epoch"] == 1 and record["best_epoch"] >= 1


# -------------------------------------------------------------------------------------------------
# Failures are data
# -------------------------------------------------------------------------------------------------


def test_errors_nan_and_oom_become_rows_and_the_others_run(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("broken", "nan_loss", "oom", "tiny"), "--steps", "2")
    assert result.ret == 1
    records = by_model(result)
    assert [r["model"] for r in result.records] == ["tiny", "broken", "nan_loss", "oom"]  # registration order
    broken, nan, oom = records["broken"], records["nan_loss"], records["oom"]
    assert (broken["status"], broken["error_kind"]) == ("error", "exception")
    assert broken["error"] == "RuntimeError: factory exploded" and "in broken" in broken["traceback"]
    assert (nan["status"], nan["error_kind"], nan["stop_reason"]) == ("error", "nan_loss", "nan_loss")
    assert nan["error"] == "loss became NaN or infinite at epoch 1, step 1" and nan["steps"] == 1
    assert (oom["status"], oom["error_kind"]) == ("error", "oom")
    assert oom["error"].startswith("out of memory (") and "allocat" in oom["error"] and "--batch-size" in oom["error"]
    good = records["tiny"]
    assert good["status"] in ("passed", "failed") and good["error"] is None and good["steps"] == 2
    frame = result.results.set_index("model")
    assert frame.loc["nan_loss", "status"] == "error" and frame.loc["nan_loss", "error_kind"] == "nan_loss"
    assert frame.loc["tiny", "status"] in ("passed", "failed")


def test_exitfirst_stops_at_the_first_error(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("broken", "nan_loss"), "--steps", "1", "-x")
    assert result.ret == 1
    assert [(r["model"], r["status"]) for r in result.records] == [("broken", "error")]  # nan_loss never ran
    assert "(stopped after 1 failed or errored (-x); 1 not run)" in result.stdout


def test_exitfirst_stops_at_the_first_failure_and_maxfail_counts(engine_tester) -> None:
    """pytest's -x: the first failed task stops the run too, not only an error; --maxfail N after N."""
    one_step = ("--steps", "1", "--repeats", "3")  # one step on 16 test images: no seed beats the baseline
    result = engine_tester.run("run", *SMALL, *models("tiny"), *one_step, "-x")
    assert [r["status"] for r in result.records] == ["failed"]
    assert "(stopped after 1 failed or errored (-x); 2 not run)" in result.stdout
    result = engine_tester.run("run", *SMALL, *models("tiny"), *one_step, "--maxfail", "2")
    assert [r["status"] for r in result.records] == ["failed", "failed"]
    assert "(stopped after 2 failed or errored (--maxfail 2); 1 not run)" in result.stdout


def test_ctrl_c_keeps_what_finished_and_exits_2(engine_tester) -> None:
    # interrupt's factory raises KeyboardInterrupt, as Ctrl-C does; frozen_only comes after it
    result = engine_tester.run("run", *SMALL, *models("tiny", "interrupt", "frozen_only"), "--steps", "1")
    assert result.ret == 2
    assert [r["model"] for r in result.records] == ["tiny"]
    assert list(result.results["model"]) == ["tiny"]  # results.csv rebuilt on the way out
    assert "(interrupted; 2 not run)" in result.stdout


def test_a_step_that_runs_uncompiled_is_never_silent(engine_tester) -> None:
    """A model with a layer XLA cannot compile (RandomRotation, supports_jit=False) trains on every backend;
    on JAX its step runs uncompiled: the record says so and names the layer, and the report warns."""
    from harness.report.tables import uncompiled_warnings

    result = engine_tester.run("run", *SMALL, *models("unjittable"), "--steps", "1")
    (unjittable,) = result.records
    assert unjittable["status"] != "error", unjittable.get("traceback")
    if BACKEND == "jax":
        assert (unjittable["compiled"], unjittable["jit_compile"]) == (False, False)
        assert unjittable["jit_blockers"] == ["RandomRotation"]
        assert uncompiled_warnings(result.records) == [
            "jax: 1 combination trained uncompiled (layers XLA cannot compile: RandomRotation), about ten times "
            "slower a step: synthetic-none-unjittable"]
    else:  # TensorFlow compiles it as a graph; PyTorch runs eagerly, as every model, recorded not warned
        assert unjittable["compiled"] is (BACKEND == "tensorflow") and "jit_blockers" not in unjittable
        assert uncompiled_warnings(result.records) == []


# -------------------------------------------------------------------------------------------------
# What is trained and tested
# -------------------------------------------------------------------------------------------------


def test_best_and_last_weights_are_both_recorded(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--epochs", "3", "--keep-last-weights",
                               "--target-accuracy", "0.01")
    (record,) = result.records
    assert record["weights_tested"] == "last" and record["test_accuracy"] == record["test_accuracy_last"]
    assert record["val_accuracy"] == record["history"][-1]["val_accuracy"]
    assert 1 <= record["best_epoch"] <= 3 and record["last_epoch"] == 3
    best = max(e["val_accuracy"] for e in record["history"])
    assert record["history"][record["best_epoch"] - 1]["val_accuracy"] == best
    target = record["time_to_target"]
    assert target["epoch"] == 1 and target["train_seconds"] == record["history"][0]["train_seconds_total"]
    assert target["compile_seconds"] == record["compile_seconds"]  # one phase: compiled in epoch 1
    # the wall clock from the first batch: training, compilation and the first validation, within the run's
    assert target["seconds"] > target["train_seconds"] + target["compile_seconds"]
    assert target["seconds"] < record["wall_seconds"]
    assert not record["config"]["restore_best"]


def test_epochs_frozen_without_fine_tuning_does_not_cut_training(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("frozen_only", "two_phase"), "--epochs", "3")
    records = by_model(result)
    assert records["frozen_only"]["epochs"] == 3 and records["frozen_only"]["steps"] == 12
    two = records["two_phase"]
    assert two["epochs"] == 3 and [e["epoch"] for e in two["history"]] == [1, 2, 3] and two["stop_reason"] == "epochs"


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_is_recorded(engine_tester, policy: str) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "1", "--precision", policy)
    (record,) = result.records
    assert record["status"] != "error", record.get("traceback")
    assert record["precision"] == record["config"]["precision"] == policy
    assert record["steps"] == 1 and math.isfinite(record["history"][0]["loss"])
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"  # released after the task


def live_graphs() -> int:
    import gc

    from tensorflow.python.framework.func_graph import FuncGraph

    gc.collect()
    return sum(isinstance(o, FuncGraph) for o in gc.get_objects())


@tensorflow_only
def test_tensorflow_graphs_and_gradient_functions_are_released(engine_tester) -> None:
    from harness.backends.tensorflow import _custom_gradients

    gradients, graphs = _custom_gradients(), live_graphs()
    engine_tester.run("run", *SMALL, *models("tiny", "tiny_b"), "--steps", "2")
    # Nothing of the trained models stays behind: no traced graph, no gradient function registered for one.
    assert _custom_gradients() == gradients and live_graphs() <= graphs


def test_records_carry_what_a_report_needs(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "2")
    record = result.records[0]
    for key in ("config", "config_hash", "combination_hash", "plugins", "dataset_info", "baseline_accuracy",
                "history", "epochs", "steps", "images", "train_seconds", "stop_reason", "test_accuracy",
                "val_accuracy", "p_value", "n_test", "seed", "repeat", "split_seed", "record_version",
                "started_at", "finished_at", "backend", "backend_version", "device", "peak_memory_bytes",
                "compiled", "jit_compile", "compile_seconds"):
        assert key in record, key
    assert record["backend"] == BACKEND == record["config"]["backend"]
    assert record["device"]["kind"] == "cpu" and record["compiled"] is (BACKEND != "torch")
    # The first step compiles, off the clock: the clock has the second one only.
    assert record["compile_seconds"] == record["first_batch_seconds"] > 0
    assert record["train_seconds"] == pytest.approx(record["last_batch_seconds"])
    assert record["plugins"]["model"]["plugin"] == "harness_plugins"
    assert record["plugins"]["augmentation"]["package"].startswith("harness ")
    info = record["dataset_info"]
    assert info["sizes"] == {"train": 32, "validation": 16, "test": 16} and info["baseline_accuracy"] == 0.5
    entry = record["history"][0]
    assert set(entry) >= {"epoch", "loss", "accuracy", "val_accuracy", "val_loss", "seconds", "steps"}


# -------------------------------------------------------------------------------------------------
# The model the engine builds
# -------------------------------------------------------------------------------------------------


def test_the_model_takes_uint8_and_an_augmentation_still_sees_float32() -> None:
    """The feed delivers uint8 batches; the model casts them once (in its compute dtype), and an
    augmentation is given float32 pixels, as when the feed cast them."""
    import dataclasses

    import keras
    import numpy as np

    from harness.data.prepare import PreparedData
    from harness.engine.train import build_model
    from harness.specs import AugmentationSpec, ModelSpec
    from tests.engine.test_task import make_task

    seen: dict[str, str] = {}

    class Probe(keras.layers.Layer):
        def call(self, x):
            seen[self.name] = keras.backend.standardize_dtype(x.dtype)
            return x

    def body(request):
        return keras.Sequential([Probe(name="body_probe"), keras.layers.Flatten(),
                                 keras.layers.Dense(request.num_classes)])

    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1])
    data = PreparedData("tiny", ("a", "b"), {split: (images, labels) for split in ("train", "validation", "test")})
    model_spec = ModelSpec(name="probe", factory=body, input_range="-1-1", plugin="t", package="t 1")
    for augmentation in (None, Probe):
        spec = AugmentationSpec(name="probe", factory=lambda params, layer=augmentation: layer and layer(
            name="augmentation_probe"), plugin="t", package="t 1")
        task = dataclasses.replace(make_task(), model=model_spec, augmentation=spec, precision="float32")
        keras.backend.clear_session()
        model = build_model(task, data, spec.factory({}))
        assert keras.backend.standardize_dtype(model.inputs[0].dtype) == "uint8"
        assert seen.pop("body_probe") == "float32"
        assert seen.pop("augmentation_probe", None) == (None if augmentation is None else "float32")
        expected = model.harness_body(images.astype(np.float32) / 127.5 - 1.0)
        np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5)
