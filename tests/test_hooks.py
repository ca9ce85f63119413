"""Plugins extend every phase: options, collection, budget, training and results."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import TINY_MODEL_PLUGIN

SMALL = ["--dataset", "synthetic", "--set", "synthetic.image_size=[16,16]", "--set", "synthetic.train_per_class=16",
         "--set", "synthetic.validation_per_class=8", "--set", "synthetic.test_per_class=16"]


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    return harness_tester


def test_plugin_option_from_command_line_and_file(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--tiny-width", parse=int, default=8, metavar="N", help="filters of the tiny model")

@harness.hookimpl
def harness_configure(config):
    if config.command == "run":
        print(f"tiny-width={config.options.tiny_width!r}")
''')
    assert "tiny-width=8" in tester.run("run", "--collect-only").stdout
    assert "tiny-width=5" in tester.run("run", "--collect-only", "--tiny-width", "5").stdout
    tester.make_config("tiny_width = 3\n")
    assert "tiny-width=3" in tester.run("run", "--collect-only").stdout
    assert "tiny-width=4" in tester.run("run", "--collect-only", "--tiny-width", "4").stdout  # the command line wins
    help_text = tester.run("run", "--help").stdout
    assert "harness_plugins:\n  --tiny-width N" in help_text  # a group named after the plugin


def test_a_plugin_option_in_tool_harness(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--tiny-width", parse=int, default=8)

@harness.hookimpl
def harness_configure(config):
    if config.command == "run":
        print(f"tiny-width={config.options.tiny_width!r} from {config.options.origin('tiny_width')}")
''')
    tester.make_config("[tool.harness]\ntiny-width = 6\n", name="pyproject.toml")
    assert "tiny-width=6 from file" in tester.run("run", "--collect-only").stdout


def test_a_plugins_bad_value_is_one_line_quoting_it(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
from harness.config import positive_int

@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--tiny-width", parse=int, default=8)
    parser.addoption("--tiny-depth", parse=positive_int, default=1)
''')
    for args, expected in [(("--tiny-width", "wide"), "argument --tiny-width: invalid value 'wide': invalid "
                                                      "literal for int() with base 10: 'wide'"),
                           (("--tiny-depth", "0"), "argument --tiny-depth: invalid value '0': expected a positive "
                                                   "whole number")]:
        bad = tester.run("run", "--collect-only", *args)
        assert bad.ret == 4 and len(bad.stderr.strip().splitlines()) == 1
        assert expected in bad.stderr
    tester.make_config('tiny_width = "wide"\n')
    bad = tester.run("run", "--collect-only")
    assert bad.ret == 4 and len(bad.stderr.strip().splitlines()) == 1
    assert f"{tester.path / 'harness.toml'}: tiny_width: invalid value 'wide'" in bad.stderr


def test_an_option_declared_twice_names_both_plugins(tester, tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "harnessplug_width.py").write_text('''
import harness

@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--tiny-width", parse=int)
''')
    monkeypatch.syspath_prepend(str(site))
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--tiny-width", dest="width")
''')
    result = tester.run("-p", "harnessplug_width", "list")
    assert result.ret == 4 and len(result.stderr.strip().splitlines()) == 1
    assert ("plugin 'harness_plugins' (local file" in result.stderr and "option --tiny-width (dest 'width') is "
            "already declared by plugin 'harnessplug_width' (-p harnessplug_width)" in result.stderr)
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_options_add(parser):
    parser.addoption("--epochs", dest="my_epochs")
''')
    result = tester.run("list")
    assert result.ret == 4 and "option --epochs (dest 'my_epochs') is already declared by harness" in result.stderr


def test_collection_modify_can_deselect_reorder_and_skip(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
@harness.hookimpl
def harness_augmentations_register(config):
    return [harness.AugmentationSpec(name=n, factory=lambda p: None, description=n) for n in ("a1", "a2")]

@harness.hookimpl
def harness_collection_modify(session, combinations):
    combinations[:] = [c for c in combinations if c.augmentation.name != "none"]
    combinations.reverse()
    combinations[0].skip("not today")
''')
    result = tester.run("run", "--collect-only")
    assert result.stdout.splitlines()[:2] == ["synthetic-a2-tiny  SKIPPED (not today)", "synthetic-a1-tiny"]


def test_a_plugin_can_replace_the_trainer_and_the_budget(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
@harness.hookimpl
def harness_budget_make(config, combination):
    return harness.Budget(steps=7)

@harness.hookimpl(tryfirst=True)
def harness_combination_train(task):
    return {"id": task.combination_id, "dataset": task.dataset.name, "augmentation": task.augmentation.name,
            "model": task.model.name, "seed": task.seed, "config_hash": task.config_hash, "status": "passed",
            "test_accuracy": 0.9, "baseline_accuracy": 0.5, "steps": task.budget.steps}
''')
    result = tester.run("run", "--model", "tiny")
    assert result.ret == 0
    assert result.records[0]["steps"] == 7
    assert result.results.loc[0, "test_accuracy"] == 0.9


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_result_and_progress_hooks_see_every_task(tester) -> None:
    tester.make_plugin(TINY_MODEL_PLUGIN + '''
EVENTS = []

@harness.hookimpl
def harness_combination_progress(session, task, event):
    EVENTS.append(event["kind"])

@harness.hookimpl
def harness_combination_result(session, task, result):
    print(f"RESULT {task.id} {result['status']} epochs={EVENTS.count('epoch')}")
''')
    result = tester.run("run", "--epochs", "2", "--repeats", "2", *SMALL)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert len(lines) == 2
    assert lines[0].startswith("RESULT synthetic-none-tiny[seed=1]") and lines[0].endswith("epochs=2")
    assert lines[1].startswith("RESULT synthetic-none-tiny[seed=2]") and lines[1].endswith("epochs=4")


def test_a_wrapper_of_a_registration_hook_wraps_every_plugin(tester, tmp_path, monkeypatch) -> None:
    """pluggy's wrappers work: one sees every plugin's specs, drops one and adds its own, credited to it."""
    tester.make_plugin(TINY_MODEL_PLUGIN.replace('name="tiny"', 'name="drop_me"') + '''
@harness.hookimpl
def harness_augmentations_register(config):
    return [harness.AugmentationSpec(name="kept", factory=lambda p: None)]
''')
    site = tmp_path / "site"
    site.mkdir()
    (site / "harnessplug_wrap.py").write_text('''
import harness
from harness.builtin.synthetic import load

@harness.hookimpl(wrapper=True)
def harness_models_register(config):
    contributions = yield
    kept = [[spec for spec in specs if spec.name != "drop_me"] for specs in contributions]
    return kept + [[harness.ModelSpec(name="added", factory=load, description="by the wrapper")]]
''')
    monkeypatch.syspath_prepend(str(site))
    result = tester.run("-p", "harnessplug_wrap", "list")
    assert result.ret == 0, result.stderr
    assert "drop_me" not in result.stdout and "kept" in result.stdout
    assert "  added  by the wrapper  (harnessplug_wrap)" in result.stdout


def test_a_registration_hook_that_raises_is_an_internal_error_naming_the_plugin(tester) -> None:
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_models_register(config):
    raise RuntimeError("no models today")
''')
    result = tester.run("list", "models")
    assert result.ret == 3
    assert "Traceback" in result.stderr and "RuntimeError: no models today" in result.stderr
    if sys.version_info >= (3, 11):  # exception notes
        assert "raised by plugin 'harness_plugins' (local file" in result.stderr


def test_a_registration_hook_returning_a_string_is_named_as_such(tester) -> None:
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_models_register(config):
    return "tiny"
''')
    result = tester.run("list", "models")
    assert result.ret == 4
    assert "harness_models_register returned 'tiny', expected a list of ModelSpec objects" in result.stderr


HELLO = '''
import harness

def hello(config):
    print(f"hello {config.options.who}" + "!" * config.options.loud)
    return harness.ExitCode.FAILED if config.options.who == "nobody" else harness.ExitCode.OK

@harness.hookimpl
def harness_subcommands_register(commands):
    command = commands.add("hello", help="say hello", handler=hello)
    command.addargument("who")
    command.addoption("--loud", count=True)
'''


def test_a_plugin_adds_a_command(tester) -> None:
    tester.make_plugin(HELLO)
    assert "hello" in tester.run("--help").stdout
    result = tester.run("hello", "world")
    assert result.ret == 0 and result.stdout == "hello world\n"
    assert tester.run("hello", "world", "--loud", "--loud").stdout == "hello world!!\n"
    assert tester.run("hello", "nobody").ret == 1
    assert tester.run("hello").ret == 4  # its arguments are checked as harness's own


def test_a_plugin_command_and_a_builtin_one_are_made_the_same_way(tester) -> None:
    """Both come from harness_subcommands_register as Command objects credited to their plugin; the built-in
    ones are the plugin ``commands``."""
    from harness.cli import collect_commands
    from harness.commands import Command
    from harness.pluginmanager import load_plugins

    tester.make_plugin(HELLO)
    commands = collect_commands(load_plugins([], cwd=tester.path))
    assert list(commands) == ["run", "list", "report", "compare", "cache", "hello"]
    assert all(type(command) is Command and callable(command.handler) for command in commands.values())
    assert (commands["report"].plugin, commands["hello"].plugin) == ("commands", "harness_plugins")
    assert list(commands["report"].options) == ["run_dir", "report_data_dir", "report_reference"]
    assert list(commands["hello"].options) == ["who", "loud"]


def test_a_plugin_command_may_not_take_a_taken_name(tester) -> None:
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_subcommands_register(commands):
    commands.add("report", help="mine", handler=print)
''')
    result = tester.run("list")
    assert result.ret == 4 and len(result.stderr.strip().splitlines()) == 1
    assert ("plugin 'harness_plugins' (local file" in result.stderr and "command 'report' is already added by "
            "plugin 'commands' (built-in harness.commands.builtin)" in result.stderr)


def test_an_argparse_style_option_is_one_line_naming_the_plugin(tester) -> None:
    tester.make_plugin('''
import harness

@harness.hookimpl
def harness_options_add(parser):
    group = parser.add_argument_group("tiny")
    group.add_argument("--tiny-width", type=int, default=8)
''')
    result = tester.run("list")
    assert result.ret == 4 and len(result.stderr.strip().splitlines()) == 1
    assert "plugin 'harness_plugins' (local file" in result.stderr
    assert "declare options with parser.addoption('--my-option'" in result.stderr
