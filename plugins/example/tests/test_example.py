"""Tests of the example plugin: its parts alone, then harness running them through the testing kit.

``harness_tester`` comes with harness's testing kit (loaded in ``conftest.py``): it runs the ``harness``
command in a temporary directory, with this package's entry point loaded like any installed plugin. The
kit's contract checks run over this package's own specs.

Runs that test how harness uses the plugin (its grid, its rows, its errors) train with the kit's fast trainer,
``-p harness.testing.fast``: the plugin's dataset is prepared for real, the training is made up in
milliseconds. One test trains the model for real; it is marked ``slow`` (left out of a plain ``pytest``, run
with ``pytest -m slow``).
"""

from __future__ import annotations

import harness_example
import numpy as np
import pytest

import harness
from harness.testing import (
    check_augmentation_spec,
    check_dataset_spec,
    check_model_spec,
    check_spec_metadata,
    registered_specs,
)

SPECS = registered_specs(package="harness-example")
RUN = ("run", "--dataset", "stripes_dots", "--model", "tiny_cnn", "--epochs", "2")
FAST = ("-p", "harness.testing.fast", "--executor", "serial", "-p", "no:reports")


def test_dataset_is_uint8_images_of_both_classes_and_repeatable():
    request = harness.DatasetRequest(params={"per_class": 12, "seed": 3}, data_dir=None, cache_dir="unused",
                                     seed=1, image_size=(32, 32), channels=3)

    first, second = harness_example.stripes_dots(request), harness_example.stripes_dots(request)

    images, labels = first.train
    assert images.shape == (24, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [12, 12]
    np.testing.assert_array_equal(images, second.train[0])


def test_dataset_refuses_too_few_images():
    request = harness.DatasetRequest(params={"per_class": 2, "seed": 0}, data_dir=None, cache_dir="unused", seed=1)

    with pytest.raises(harness.UsageError, match="per_class=2"):
        harness_example.stripes_dots(request)


def test_the_package_registers_one_of_each():
    assert {kind: [spec.name for spec in specs] for kind, specs in SPECS.items()} == {
        "datasets": ["stripes_dots"], "augmentations": ["brightness"], "models": ["tiny_cnn"]}


@pytest.mark.parametrize("spec", [s for specs in SPECS.values() for s in specs], ids=lambda s: s.name)
def test_specs_keep_harness_contract(spec, tmp_path):
    check_spec_metadata(spec)
    if spec.kind == "dataset":
        check_dataset_spec(spec, tmp_path)
    elif spec.kind == "augmentation":
        check_augmentation_spec(spec)
    else:
        check_model_spec(spec)


def test_harness_lists_the_plugins_parts(harness_tester):
    result = harness_tester.run("list")

    assert result.ret == 0
    for name in ("stripes_dots", "brightness", "tiny_cnn"):
        assert name in result.stdout


def test_harness_runs_the_example_grid(harness_tester):
    result = harness_tester.run(*RUN, *FAST, "--augmentation", "none", "--augmentation", "brightness")

    assert result.ret == harness.ExitCode.OK, result.stdout
    result.assert_outcomes(passed=2)  # no error, no skip
    rows = result.results
    assert sorted(rows["augmentation"]) == ["brightness", "none"]
    assert (rows["epochs"] == 2).all()
    # the dataset was prepared for real: its classes are in the records
    assert {tuple(r["dataset_info"]["class_names"]) for r in result.records} == {harness_example.CLASS_NAMES}


@pytest.mark.slow
def test_harness_trains_the_example_model(harness_tester):
    result = harness_tester.run(*RUN, "--augmentation", "brightness", "-p", "no:reports")

    assert result.ret in (harness.ExitCode.OK, harness.ExitCode.FAILED), result.stdout
    outcomes = result.parseoutcomes()
    result.assert_outcomes(passed=outcomes["passed"], failed=1 - outcomes["passed"])  # no error, no skip
    assert result.results.loc[0, "epochs"] == 2


def test_a_local_plugin_can_use_the_example_dataset(harness_tester):
    harness_tester.make_plugin(
        """
        import harness

        def linear(request):
            import keras

            inputs = keras.Input(shape=request.input_shape)
            x = keras.layers.Flatten()(inputs)
            return keras.Model(inputs, keras.layers.Dense(request.num_classes)(x))

        @harness.hookimpl
        def harness_models_register(config):
            return [harness.ModelSpec(name="linear", factory=linear, input_range="0-1")]
        """
    )

    result = harness_tester.run("run", *FAST, "--dataset", "stripes_dots", "--augmentation", "none", "--model",
                                "linear", "--epochs", "1")

    assert result.results.loc[0, "model"] == "linear"
    assert result.results.loc[0, "status"] == "passed"


def test_bad_parameter_is_reported_on_the_result_row(harness_tester):
    result = harness_tester.run(*RUN, *FAST, "--augmentation", "none", "--set", "stripes_dots.per_class=2")

    assert result.results.loc[0, "status"] == "error"
    assert "per_class=2" in result.results.loc[0, "error"]
