"""The testing kit itself: outcome counts, the subprocess mode, and the opt-in pytest plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
import harness

def fails(request):
    raise RuntimeError("the factory fails")

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="huge", factory=fails, description="needs large images", min_image_size=512)]

@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="unloadable", factory=fails, description="raises")]
'''

#: The fast trainer (harness.testing.fast) on a small synthetic dataset: the kit is tested, not training.
SMALL = ["-p", "harness.testing.fast", "--executor", "serial", "--dataset", "synthetic", "--augmentation", "none",
         "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=8",
         "--set", "synthetic.validation_per_class=4", "--set", "synthetic.test_per_class=4", "-p", "no:reports"]


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_plugin(PLUGIN)
    return harness_tester


def test_assert_outcomes_counts_each_status(tester) -> None:
    result = tester.run("run", *SMALL, "--dataset", "unloadable", "--model", "huge", "--model", "fast_pass",
                        "-k", "synthetic-none-huge or unloadable-none-fast_pass")
    assert result.parseoutcomes() == {"passed": 0, "failed": 0, "error": 1, "skipped": 1}
    result.assert_outcomes(error=1, skipped=1)
    with pytest.raises(AssertionError, match=r"outcomes .* != expected"):
        result.assert_outcomes(error=1)  # a status not named must be absent
    with pytest.raises(AssertionError):
        result.assert_outcomes(passed=1, error=1, skipped=1)


def test_assert_outcomes_without_a_run_is_all_zero(tester) -> None:
    result = tester.run("run", *SMALL, "--model", "no_such_model")
    assert result.ret == 4 and result.run_dir is None
    result.assert_outcomes()


def test_run_subprocess_runs_harness_in_the_testers_directory(tester) -> None:
    listed = tester.run_subprocess("list", "models")
    assert listed.ret == 0 and "huge" in listed.stdout  # the tester's harness_plugins.py was found
    assert listed.run_dir is None


@pytest.mark.slow  # a run in a fresh process imports TensorFlow (to list the devices)
def test_run_subprocess_returns_the_runs_result(tester) -> None:
    result = tester.run_subprocess("run", *SMALL, "--model", "fast_pass", "--model", "huge")
    assert result.ret in (0, 1), result.stderr
    assert result.run_dir is not None and result.run_dir.parent == tester.path / "reports"
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes["failed"] == 1 and outcomes["skipped"] == 1
    # the tester's environment went along: HARNESS_CACHE_DIR points into its directory
    assert json.loads((result.run_dir / "metadata.json").read_text())["cache_dir"] == str(tester.path / ".cache")


def test_the_fixture_is_opt_in(tmp_path) -> None:
    """A pytest run that does not load harness.testing has no harness_tester (and does not import it: harness's
    own pytest11 entry point, harness.pytest_plugin, loads only the light harness package); with
    ``-p harness.testing`` it has."""
    (tmp_path / "test_it.py").write_text(textwrap.dedent('''
        import sys

        import pytest

        def test_fixture(request):
            print("IMPORTED", "harness.testing" in sys.modules, "keras" in sys.modules)
            try:
                request.getfixturevalue("harness_tester")
            except pytest.FixtureLookupError:
                print("FIXTURE False")
            else:
                print("FIXTURE True")
    '''))
    unrelated = ["-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:xdist", "-p", "no:hypothesispytest"]
    command = [sys.executable, "-m", "pytest", "-q", "-s", *unrelated, "test_it.py"]
    plain = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert "IMPORTED False False\nFIXTURE False" in plain.stdout, plain.stdout + plain.stderr
    loaded = subprocess.run([*command, "-p", "harness.testing"], cwd=tmp_path, capture_output=True, text=True)
    assert "IMPORTED True False\nFIXTURE True" in loaded.stdout, loaded.stdout + loaded.stderr


# -------------------------------------------------------------------------------------------------
# The fast trainer (harness.testing.fast) and the shared fast run
# -------------------------------------------------------------------------------------------------

FAST_GRID = ("--dataset", "synthetic", "--augmentation", "none", "--model", "fast_pass", "--model", "fast_fail",
             "--set", "synthetic.train_per_class=8", "--set", "synthetic.validation_per_class=4",
             "--set", "synthetic.test_per_class=4")


def test_a_fast_run_is_made_once_and_shared(harness_fast_run) -> None:
    first = harness_fast_run(*FAST_GRID, "-p", "no:reports")
    assert harness_fast_run(*FAST_GRID, "-p", "no:reports") is first
    first.assert_outcomes(passed=1, failed=1)
    other = harness_fast_run(*FAST_GRID, "-p", "no:reports", "--repeats", "2")
    assert other.run_dir != first.run_dir
    other.assert_outcomes(passed=2, failed=2)


def test_a_fast_runs_records_carry_the_real_dataset(harness_fast_run) -> None:
    """The fast trainer prepares the dataset as the engine does: its record's dataset_info is a real run's, so a
    report that loads the dataset again finds the run's data (no note that it differs: the split digest was
    missing, and the report noted "split digest ... vs None")."""
    from harness.builtin.synthetic import synthetic_spec
    from harness.data.prepare import split_digest
    from harness.specs import DatasetRequest

    result = harness_fast_run(*FAST_GRID)
    params = {**synthetic_spec().params, "train_per_class": 8, "validation_per_class": 4, "test_per_class": 4}
    request = DatasetRequest(params=params, data_dir=None, cache_dir="", seed=1, image_size=(32, 32), channels=3)
    digest = split_digest(synthetic_spec(), request, split_seed=1)
    for record in result.records:
        info = record["dataset_info"]
        assert info["split_digest"] == digest and info["class_names"] == ["disc", "cross"]
        assert info["sizes"] == {"train": 16, "validation": 8, "test": 8} == {
            split: sum(counts.values()) for split, counts in info["class_counts"].items()}
    report = (result.run_dir / "report.md").read_text()
    assert "differs from the run's" not in report and "split digest" not in report


def test_a_dataset_that_cannot_be_loaded_is_an_error_row_of_the_fast_trainer(tester) -> None:
    result = tester.run("run", *SMALL, "--dataset", "unloadable", "--model", "fast_pass", "-k", "unloadable")
    result.assert_outcomes(error=1)
    (record,) = result.records
    assert record["error"] == "RuntimeError: the factory fails"
    assert 'harness_plugins.py", line 5, in fails' in record["traceback"]
