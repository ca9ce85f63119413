"""Loading plugins: entry points, -p, -p no:, harness_plugins.py, and the errors for broken plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

DATASET_PLUGIN = '''
import harness
from harness.builtin.synthetic import load

@harness.hookimpl
def harness_datasets_register(config):
    return [harness.DatasetSpec(name="{name}", factory=load, description="from {module}",
                                params={{"num_classes": 2, "seed": 0, "train_per_class": 8,
                                        "validation_per_class": 4, "test_per_class": 4}})]
'''


def make_distribution(
    site: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A real installed distribution on a sys.path folder: a module and its dist-info with entry points."""
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"  # the wheel naming rule
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[harness]\n{lines}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in list(sys.modules):
        if name.startswith("harnessplug_"):
            del sys.modules[name]


def test_entry_point_plugin_is_listed_with_its_package(harness_tester, site: Path) -> None:
    make_distribution(site, "harness-flowers", "2.3.0", {"flowers": "harnessplug_flowers"},
                      {"harnessplug_flowers": DATASET_PLUGIN.format(name="flowers", module="flowers")})
    result = harness_tester.run("list", "datasets")
    assert result.ret == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "flowers" in line)
    assert "harness-flowers 2.3.0" in line
    assert "synthetic" in result.stdout


def test_autoload_can_be_disabled_but_builtins_stay(harness_tester, site: Path, monkeypatch) -> None:
    make_distribution(site, "harness-flowers", "2.3.0", {"flowers": "harnessplug_flowers"},
                      {"harnessplug_flowers": DATASET_PLUGIN.format(name="flowers", module="flowers")})
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = harness_tester.run("list", "datasets")
    assert "flowers" not in result.stdout
    assert "synthetic" in result.stdout
    result = harness_tester.run("-p", "harnessplug_flowers", "list", "datasets")
    assert "flowers" in result.stdout


def test_block_a_plugin_with_p_no(harness_tester) -> None:
    result = harness_tester.run("-p", "no:synthetic", "list", "datasets")
    assert result.ret == 0
    assert "synthetic" not in result.stdout


def test_p_loads_a_module(harness_tester, site: Path) -> None:
    (site / "harnessplug_mod.py").write_text(DATASET_PLUGIN.format(name="fromp", module="mod"))
    result = harness_tester.run("list", "datasets", "-p", "harnessplug_mod")
    assert result.ret == 0, result.stderr
    assert "fromp" in result.stdout


def test_p_unknown_module_is_a_usage_error(harness_tester) -> None:
    result = harness_tester.run("-p", "no_such_module_xyz", "list")
    assert result.ret == 4
    assert "no_such_module_xyz" in result.stderr
    assert "Traceback" not in result.stderr


def test_local_plugin_file_is_loaded(harness_tester) -> None:
    harness_tester.make_plugin(DATASET_PLUGIN.format(name="localset", module="local"))
    result = harness_tester.run("list", "datasets")
    assert "localset" in result.stdout


def test_duplicate_names_name_both_plugins_and_packages(harness_tester, site: Path) -> None:
    make_distribution(site, "harness-one", "1.0", {"one": "harnessplug_one"},
                      {"harnessplug_one": DATASET_PLUGIN.format(name="dup", module="one")})
    make_distribution(site, "harness-two", "2.0", {"two": "harnessplug_two"},
                      {"harnessplug_two": DATASET_PLUGIN.format(name="dup", module="two")})
    result = harness_tester.run("list")
    assert result.ret == 4
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    for part in ("'dup'", "'one'", "harness-one 1.0", "'two'", "harness-two 2.0"):
        assert part in message


def test_plugin_failing_to_import_names_entry_point_and_package(harness_tester, site: Path) -> None:
    make_distribution(site, "harness-broken", "0.1", {"broken": "harnessplug_broken"},
                      {"harnessplug_broken": "raise RuntimeError('boom')\n"})
    result = harness_tester.run("list")
    assert result.ret == 4
    assert "entry point harnessplug_broken in package harness-broken 0.1" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_hook_breaks_the_contract(harness_tester) -> None:
    harness_tester.make_plugin('''
        import harness
        @harness.hookimpl
        def harness_modles_register(config):
            return []
    ''')
    result = harness_tester.run("list")
    assert result.ret == 4
    assert "unknown hook 'harness_modles_register'" in result.stderr


def test_wrong_hook_arguments_break_the_contract(harness_tester) -> None:
    harness_tester.make_plugin('''
        import harness
        @harness.hookimpl
        def harness_models_register(config, nonsense):
            return []
    ''')
    result = harness_tester.run("list")
    assert result.ret == 4
    assert "harness_plugins.py" in result.stderr and "breaks the hook contract" in result.stderr


def test_hook_returning_wrong_type(harness_tester) -> None:
    harness_tester.make_plugin('''
        import harness
        @harness.hookimpl
        def harness_models_register(config):
            return ["not a spec"]
    ''')
    result = harness_tester.run("list")
    assert result.ret == 4
    assert "expected ModelSpec objects" in result.stderr
