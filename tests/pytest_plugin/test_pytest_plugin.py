"""``pytest --harness`` (harness.pytest_plugin), run by pytester on a project with a tiny synthetic grid: one
model that learns (the dataset's ``tint_by_class`` cue), one that cannot (constant outputs: its accuracy is
the baseline's), one whose construction raises, one that cannot take the images."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import harness.main  # noqa: F401 - imported here, not in pytester's in-process runs (they unload what they import)
from harness import predictions
from harness.cli import main as harness_main

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.pytest.ini_options]
# hypothesis's pytest plugin costs seconds at each collection and is of no use here
addopts = "--strict-markers -p harness.pytest_plugin -p no:hypothesispytest"

[tool.harness]
dataset = ["tinted"]
model = ["tiny", "constant", "broken", "big"]
epochs = 1
batch_size = 16

[tool.harness.datasets.tinted]
plugin = "synthetic"
image_size = [16, 16]
tint_by_class = true
train_per_class = 96
validation_per_class = 8
test_per_class = 24
"""

PLUGINS = '''
import harness

def tiny(request):
    import keras
    return keras.Sequential([keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(request.num_classes)])

def constant(request):  # zero logits whatever the image: always the first class
    import keras
    return keras.Sequential([keras.layers.Flatten(),
                             keras.layers.Dense(request.num_classes, kernel_initializer="zeros", trainable=False)])

def broken(request):
    raise RuntimeError("this model cannot be built")

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=tiny, input_range="0-1", params={"learning_rate": 0.01},
                              tags={"fast"}),
            harness.ModelSpec(name="constant", factory=constant, input_range="0-1"),
            harness.ModelSpec(name="broken", factory=broken),
            harness.ModelSpec(name="big", factory=tiny, min_image_size=64, tags={"slow"})]
'''

#: Reports, at the end of a run, the modules of harness and the heavy modules that the run imported.
MODULES_CONFTEST = '''
import sys

def pytest_terminal_summary(terminalreporter):
    heavy = ("numpy", "pandas", "tensorflow", "keras", "jax", "torch", "matplotlib")
    found = [m for m in sys.modules if m in heavy or m.split(".")[0] == "harness"]
    terminalreporter.write_line("MODULES=" + ",".join(sorted(found)))
'''

IDS = [f"harness::tinted-none-{model}[seed=1]" for model in ("tiny", "constant", "broken", "big")]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")  # harness's own plugins and harness_plugins.py
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(harness_plugins=PLUGINS, test_plain="def test_plain():\n    assert True\n")
    return pytester


def run_dirs(project: pytest.Pytester) -> list[Path]:
    return sorted((project.path / "reports").glob("*/"))


def records(run_dir: Path) -> dict[str, dict]:
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return {f"{r['id']}[seed={r['seed']}]": r for r in map(json.loads, lines)}


def test_without_harness_nothing_is_collected_and_nothing_heavy_imported(project: pytest.Pytester) -> None:
    project.makeconftest(MODULES_CONFTEST)
    result = project.runpytest_subprocess("--collect-only", "-q")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == ["test_plain.py::test_plain"]
    config = ",".join(f"harness.config{part}" for part in ("", ".files", ".options", ".parsers", ".resolve", ".stash"))
    result.stdout.fnmatch_lines([f"MODULES=harness,{config},harness.errors,harness.pytest_plugin,harness.specs"])
    assert not (project.path / "reports").exists()


def test_collect_only_markers_lf_ff_and_options_with_harness_messages(project: pytest.Pytester) -> None:
    result = project.runpytest("--harness", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert [line for line in result.outlines if "::" in line] == ["test_plain.py::test_plain", *IDS]
    assert not (project.path / "reports").exists()  # --collect-only writes no run directory
    result = project.runpytest("--harness", "--collect-only", "-q", "-m", "slow or fast")  # --strict-markers
    assert [line for line in result.outlines if "::" in line] == [IDS[0], IDS[3]]
    result = project.runpytest("--harness", "--collect-only", "-q", "--harness-model", "t*", "--harness-repeats", "2")
    assert [line for line in result.outlines if "harness::" in line] == [IDS[0], IDS[0].replace("seed=1", "seed=2")]
    project.path.joinpath(".pytest_cache", "v", "cache").mkdir(parents=True)
    project.path.joinpath(".pytest_cache", "v", "cache", "lastfailed").write_text(json.dumps({IDS[1]: True}))
    result = project.runpytest("--harness", "--collect-only", "-q", "--lf")
    assert [line for line in result.outlines if "::" in line] == [IDS[1]]
    result = project.runpytest("--harness", "--collect-only", "-q", "--ff")
    assert [line for line in result.outlines if "::" in line][:2] == [IDS[1], "test_plain.py::test_plain"]
    result = project.runpytest("--harness", "--harness-epochs", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-epochs*invalid value '0': expected a positive whole number*"])
    result = project.runpytest("--harness", "--harness-model", "tinny")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-model: unknown model 'tinny'; did you mean tiny*"])
    result = project.runpytest("--harness", "--harness-arg=--reference=none-tinny")  # a harness plugin's option
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--reference: unknown combination 'none-tinny'; did you mean none-tiny*"])


@pytest.mark.slow
def test_xdist_run_passes_fails_errors_and_skips_as_harness_decides(project: pytest.Pytester) -> None:
    project.makeconftest(MODULES_CONFTEST)
    result = project.runpytest_subprocess("--harness", "-n", "2", "-v", "-rfEs", "--junitxml=junit.xml",
                                          "--harness-plugin", "no:reports")  # the report: in the next test
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=1)
    workers = {line.split()[0] for line in result.outlines if line.startswith("[gw") and "harness::" in line}
    assert workers == {"[gw0]", "[gw1]"}  # one combination per worker at a time, on both
    result.stdout.fnmatch_lines([
        "*PASSED harness::tinted-none-tiny?seed=1?*",
        "test accuracy 0.500 (24/48) does not beat the baseline 0.500 significantly (p = 0.557, lift +0.0 points)",
        "FAILED harness::tinted-none-constant?seed=1? - test accuracy 0.500*",
        "ERROR harness::tinted-none-broken?seed=1? - RuntimeError: this model*",
        "SKIPPED ?1? pyproject.toml*: big needs images of at least 64px, tinted has 16x16",
    ])
    result.stdout.fnmatch_lines(["RuntimeError: this model cannot be built", "", "the training's traceback:",
                                 "Traceback (most recent call last):"])
    controller = next(line for line in result.outlines if line.startswith("MODULES="))
    assert "tensorflow" not in controller.split(",")  # the workers train; the controller only stores
    # one run directory, written by the controller as `harness run` writes it
    (run_dir,) = run_dirs(project)
    found = records(run_dir)
    assert {name: r["status"] for name, r in found.items()} == {
        "tinted-none-tiny[seed=1]": "passed", "tinted-none-constant[seed=1]": "failed",
        "tinted-none-broken[seed=1]": "error", "tinted-none-big[seed=1]": "skipped"}
    assert "this model cannot be built" in found["tinted-none-broken[seed=1]"]["traceback"]
    tiny = found["tinted-none-tiny[seed=1]"]  # its per-image predictions came from a worker, in the record
    table = predictions.read(run_dir, tiny)
    assert len(table) == tiny["n_test"] == 48 and predictions.accuracy(table) == tiny["test_accuracy"]
    metadata = json.loads((run_dir / "metadata.json").read_text())
    assert metadata["selection"] == [name[len("harness::"):].partition("[")[0] for name in IDS]
    assert metadata["backends"] == [found["tinted-none-tiny[seed=1]"]["backend"]] and metadata["keras"]
    assert (run_dir / "results.csv").read_text().count("\n") == 1 + 4
    assert harness_main(["compare", str(run_dir), str(run_dir), "--fail-on-drop", "0"]) == 0
    junit = ET.parse(project.path / "junit.xml")
    cases = {case.get("name"): [child.tag for child in case] for case in junit.iter("testcase")}
    assert cases == {"test_plain": [], "tinted-none-tiny[seed=1]": [], "tinted-none-constant[seed=1]": ["failure"],
                     "tinted-none-broken[seed=1]": ["error"], "tinted-none-big[seed=1]": ["skipped"]}


@pytest.mark.slow
def test_k_x_benchmark_json_and_the_report(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--harness", "-k", "harness and not big", "-x", "--benchmark-json=bench.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1, failed=1, deselected=2)  # -x: broken does not run
    (run_dir,) = run_dirs(project)
    found = records(run_dir)
    assert sorted(found) == ["tinted-none-constant[seed=1]", "tinted-none-tiny[seed=1]"]
    benchmarks = json.loads((project.path / "bench.json").read_text())["benchmarks"]
    assert sorted(b["name"] for b in benchmarks) == sorted(found)
    for bench in benchmarks:
        record = found[bench["name"]]
        assert bench["fullname"] == f"harness::{bench['name']}" and bench["stats"]["rounds"] == 1
        assert bench["group"] == "harness tinted"
        assert bench["extra_info"]["accuracy"] == record["test_accuracy"]
        assert bench["extra_info"]["status"] == record["status"]
        assert bench["extra_info"]["lift_points"] == pytest.approx(100 * (record["test_accuracy"] - 0.5))
    # the report, as `harness run` writes it (`harness report` rebuilds it with the same code)
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    result.stdout.fnmatch_lines(["statistics: 1 of 2 combinations beat the baseline*",
                                 f"run directory: {run_dir} (report: {run_dir / 'report.html'})"])
