"""The `harness` command end to end: selection, exit codes, configuration, and real training runs."""

from __future__ import annotations

import pytest

INLINE = '''
import harness
from harness.builtin.synthetic import load

def build(request):
    import keras
    return keras.Sequential([
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(request.num_classes),
    ])

def brighten(params):
    import keras
    return keras.layers.Lambda(lambda x: x * params["gain"])

@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="blobs", factory=load, description="inline dataset", image_size=(16, 16),
                                tags={"fast"},
                                params={"num_classes": 3, "seed": 3, "tint_by_class": True, "train_per_class": 32,
                                        "validation_per_class": 16, "test_per_class": 32})]

@harness.hookimpl
def harness_augmentations_register(config):
    return [harness.AugmentationSpec(name="brighten", factory=brighten, description="inline augmentation",
                                     params={"gain": 1.0})]

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=build, description="inline model", input_range="0-1",
                              params={"learning_rate": 0.02}),
            harness.ModelSpec(name="huge_input", factory=build, description="needs big images",
                              min_image_size=64, tags={"slow"})]
'''


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the built-ins and the inline plugin
    harness_tester.make_plugin(INLINE)
    return harness_tester


def collected(result) -> list[str]:
    return [line.split()[0] for line in result.stdout.splitlines()[:-1]]


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_inline_plugin_dataset_augmentation_and_model_train_for_real(tester) -> None:
    result = tester.run("run", "--dataset", "blobs", "--augmentation", "brighten", "--model", "tiny",
                        "--epochs", "8", "--seed", "4")
    assert result.ret == 0, result.stdout + result.stderr
    frame = result.results
    required = ["dataset", "augmentation", "model", "seed", "status", "epochs", "train_seconds", "val_accuracy",
                "test_accuracy", "baseline_accuracy"]
    assert set(required) <= set(frame.columns)
    row = frame.iloc[0]
    identity = (row.dataset, row.augmentation, row.model, row.seed, row.status)
    assert identity == ("blobs", "brighten", "tiny", 4, "passed")
    assert row.epochs == 8 and row.train_seconds > 0
    assert row.baseline_accuracy == pytest.approx(1 / 3)
    assert row.test_accuracy > row.baseline_accuracy
    assert result.run_dir.name in result.stdout  # the run directory is printed


def test_collect_only_lists_ids_and_skips_incompatible(tester) -> None:
    result = tester.run("run", "--collect-only", "--dataset", "blobs")
    assert result.ret == 0
    lines = result.stdout.splitlines()
    assert "blobs-none-tiny" in lines
    assert any(line.startswith("blobs-brighten-huge_input  SKIPPED (huge_input needs images of at least 64px")
               for line in lines)
    assert lines[-1] == "4 combinations collected, 2 to skip"
    assert result.run_dir is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--dataset", "bl*", "--model", "tiny"], {"blobs-none-tiny", "blobs-brighten-tiny"}),
        (["-k", "blobs and not brighten"], {"blobs-none-tiny", "blobs-none-huge_input"}),
        (["-k", "TINY and synthetic"], {"synthetic-none-tiny", "synthetic-brighten-tiny"}),
        (["-m", "slow and fast"], {"blobs-none-huge_input", "blobs-brighten-huge_input"}),
        (["-m", "not slow", "--augmentation", "none"], {"blobs-none-tiny", "synthetic-none-tiny"}),
    ],
)
def test_selection(tester, args: list[str], expected: set[str]) -> None:
    result = tester.run("run", "--collect-only", *args)
    assert set(collected(result)) == expected


def test_unknown_name_suggests_closest(tester) -> None:
    result = tester.run("run", "--model", "tinny")
    assert result.ret == 4
    assert result.stderr.strip() == (
        "harness: error: --model: unknown model 'tinny'; did you mean tiny? (known: huge_input, tiny)"
    )


def test_nothing_selected_exits_5(tester) -> None:
    result = tester.run("run", "-k", "nothing_matches_this")
    assert result.ret == 5


def test_without_a_selection_run_shows_the_grid_and_asks_for_one(tester) -> None:
    """An empty folder (no configuration, no selection) does not train every installed combination."""
    result = tester.run("run")
    assert result.ret == 4 and result.run_dir is None and not (tester.path / "reports").exists()
    lines = result.stdout.splitlines()
    start = lines.index("without a selection, harness would train every installed dataset x augmentation x model:")
    assert lines[start + 1:] == ["  2 datasets: synthetic, blobs [fast]", "  2 augmentations: none, brighten",
                                 "  2 models: tiny, huge_input [slow]",
                                 "  8 combinations (4 to skip): 4 trainings of 5 epochs each"]
    assert result.stderr.startswith("harness: error: no selection: choose what to train with --preset NAME")
    assert "--dataset/--augmentation/--model NAME" in result.stderr and "[tool.harness]" in result.stderr
    assert tester.run("run", "--collect-only").ret == 0
    tester.make_config('steps = 1\nmodel = ["tiny"]\ndataset = ["blobs"]\naugmentation = ["none"]\n')
    assert tester.run("run").ret in (0, 1)


def test_bad_option_value_is_quoted(tester) -> None:
    result = tester.run("run", "--time", "soon")
    assert result.ret == 4
    assert "invalid duration 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_defaults_and_command_line_wins(tester) -> None:
    tester.make_config('''
        dataset = ["blobs"]
        model = ["tiny"]
        augmentation = ["none"]
        epochs = 1
    ''')
    result = tester.run("run", "--collect-only")
    assert collected(result) == ["blobs-none-tiny"]
    result = tester.run("run", "--collect-only", "--dataset", "synthetic")
    assert collected(result) == ["synthetic-none-tiny"]


def test_pyproject_tool_harness_is_read(tester) -> None:
    tester.make_config('[tool.harness]\nmodel = ["huge_input"]\n', name="pyproject.toml")
    result = tester.run("run", "--collect-only", "--augmentation", "none", "--dataset", "blobs")
    assert collected(result) == ["blobs-none-huge_input"]


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_dataset_defined_in_configuration(tester) -> None:
    tester.make_config('''
        [datasets.tiny_shapes]
        plugin = "synthetic"
        description = "synthetic shapes at 16px"
        image_size = [16, 16]
        train_per_class = 16
        validation_per_class = 8
        test_per_class = 16
    ''')
    listing = tester.run("list", "datasets")
    assert "tiny_shapes" in listing.stdout and "synthetic shapes at 16px" in listing.stdout
    result = tester.run("run", "--dataset", "tiny_shapes", "--augmentation", "none", "--model", "tiny", "--steps", "3")
    assert result.ret in (0, 1), result.stderr
    record = result.records[0]
    assert record["dataset_info"]["image_shape"] == [16, 16, 3]
    assert record["dataset_info"]["sizes"] == {"train": 32, "validation": 16, "test": 32}
    assert record["steps"] == 3 and record["stop_reason"] == "steps"


def test_configured_dataset_with_unknown_base(tester) -> None:
    tester.make_config('[datasets.x]\nplugin = "synthetik"\n')
    result = tester.run("list")
    assert result.ret == 4
    assert "datasets.x: unknown dataset 'synthetik'; did you mean synthetic?" in result.stderr


def test_set_unknown_target(tester) -> None:
    result = tester.run("run", "--collect-only", "--set", "tinyy.learning_rate=0.1")
    assert result.ret == 4
    assert "unknown dataset, augmentation or model 'tinyy'" in result.stderr


def test_a_misspelt_parameter_is_refused_when_collecting(tester) -> None:
    """`--set tiny.learning_rat=0.1` passed `--collect-only`, then failed every combination after it
    trained; an unknown key of a configured dataset became a skip with a hint for another dataset."""
    result = tester.run("run", "--collect-only", "--set", "tiny.learning_rat=0.1")
    assert result.ret == 4
    assert ("--set/params tiny: model 'tiny' has no parameter 'learning_rat'; did you mean learning_rate,"
            in result.stderr)
    tester.make_config('[datasets.mine]\nplugin = "synthetic"\nnum_clases = 3\n')
    result = tester.run("run", "--collect-only", "--dataset", "mine")
    assert result.ret == 4
    assert "datasets.mine: dataset 'synthetic' has no parameter 'num_clases'; did you mean num_classes" in \
        result.stderr
    tester.make_config('[datasets.mine]\nplugin = "synthetic"\nnum_classes = 3\nimage_size = [16, 16]\n')
    assert tester.run("run", "--collect-only", "--dataset", "mine").ret == 0  # declared ones, and spec fields


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_preset_from_configuration(tester) -> None:
    tester.make_config('''
        [presets.quick]
        dataset = ["synthetic"]
        model = ["tiny"]
        augmentation = ["none"]
        steps = 2
        params = { synthetic = { image_size = [16, 16] } }
    ''')
    result = tester.run("run", "--preset", "quick")
    assert result.ret in (0, 1), result.stderr
    assert [r["id"] for r in result.records] == ["synthetic-none-tiny"]
    assert result.records[0]["dataset_info"]["image_shape"] == [16, 16, 3]


def test_list_shows_packages_and_presets(tester) -> None:
    result = tester.run("list")
    assert result.ret == 0
    assert "synthetic" in result.stdout and "(harness 0.1.0)" in result.stdout
    assert "tiny" in result.stdout and "harness_plugins.py" in result.stdout


def test_a_tag_no_spec_declares_is_warned_about(tester) -> None:
    result = tester.run("run", "--collect-only", "-m", "not slwo")
    assert result.ret == 0
    assert "harness: warning: -m 'not slwo': no dataset, augmentation or model declares the tag 'slwo' " \
           "(did you mean slow?)" in result.stderr
    assert "warning" not in tester.run("run", "--collect-only", "-m", "not slow").stderr


def test_list_budgets_and_parameters(tester) -> None:
    tester.make_config('[budgets.tiny_run]\nsteps = 3\n[presets.mine]\nmodel = ["tiny"]\n')
    result = tester.run("list", "budgets")
    assert result.ret == 0
    assert "smoke            epochs=1, steps=5" in result.stdout and "tiny_run         steps=3" in result.stdout
    result = tester.run("list", "datasets", "-v")
    assert result.ret == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    blobs = next(i for i, line in enumerate(lines) if line.startswith("blobs "))
    assert lines[blobs + 1:blobs + 3] == ["num_classes = 3", "seed = 3"]  # no descriptions declared
    synthetic = next(i for i, line in enumerate(lines) if line.startswith("synthetic "))
    assert lines[synthetic + 3] == "num_classes = 2            shapes to tell apart (2 to 8)"
    models = [line.strip() for line in tester.run("list", "models", "-v").stdout.splitlines()]
    tiny = models.index(next(line for line in models if line.startswith("tiny ")))
    assert models[tiny + 1:tiny + 4] == ["learning_rate = 0.02                Adam's learning rate",
                                         "epochs_frozen (optional)            epochs of a first phase before the "
                                         "model's fine_tune unfreezes layers (none: one phase)",
                                         "fine_tune_learning_rate (optional)  Adam's learning rate after fine_tune "
                                         "(1e-05 when not set)"]
    presets = tester.run("list", "presets").stdout.splitlines()
    assert presets[1] == f"  mine                   model=['tiny']  ({tester.path / 'harness.toml'})"
    one = tester.run("run", "--collect-only", "--dataset", "blobs", "--augmentation", "none", "--model", "tiny")
    assert one.stdout.splitlines()[-1] == "1 combination collected"
    many = tester.run("run", "--collect-only", "--dataset", "blobs", "--augmentation", "none", "--model", "tiny",
                      "--repeats", "2", "--backend", "tensorflow,jax")
    assert many.stdout.splitlines()[-1] == "1 combination collected; 4 tasks (2 seeds x 2 backends: tensorflow, jax)"


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_errors_are_rows_and_the_run_goes_on(tester) -> None:
    tester.make_plugin(INLINE + '''
def broken(request):
    raise RuntimeError("cannot build")

class Broken:
    @harness.hookimpl
    def harness_models_register(self, config):
        return [harness.ModelSpec(name="broken", factory=broken)]

def harness_configure(config):
    config.pluginmanager.register(Broken(), "broken-models")

harness_configure = harness.hookimpl(harness_configure)
''')
    result = tester.run("run", "--dataset", "blobs", "--augmentation", "none", "--model", "broken",
                        "--model", "tiny", "--epochs", "6")
    assert result.ret == 1
    statuses = dict(zip(result.results.model, result.results.status))
    assert statuses == {"broken": "error", "tiny": "passed"}
    assert "RuntimeError: cannot build" in result.results.set_index("model").loc["broken", "error"]
