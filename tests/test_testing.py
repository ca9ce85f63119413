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
SMALL = ["-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none",
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
