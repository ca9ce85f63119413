"""Loading plugins: entry points, -p, -p no:, harness_plugins.py, and the errors for broken plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import harness

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


def test_misspelt_hook_is_one_line_naming_plugin_hook_and_the_likely_one(harness_tester) -> None:
    harness_tester.make_plugin('''
        import harness
        @harness.hookimpl
        def harness_model_register(config):
            return []
    ''')
    result = harness_tester.run("list")
    assert result.ret == 4
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "harness_plugins.py" in message
    assert "unknown hook 'harness_model_register' (did you mean 'harness_models_register'?)" in message


@pytest.mark.parametrize("name", ["core", "engine", "commands"])
def test_blocking_an_essential_builtin_is_a_one_line_usage_error(harness_tester, name: str) -> None:
    result = harness_tester.run("-p", f"no:{name}", "run", "--collect-only")
    assert result.ret == 4
    assert result.stderr.strip() == (f"harness: error: -p no:{name}: {name!r} is essential to harness and cannot "
                                     "be blocked (essential: core, engine, commands)")


def test_non_essential_builtins_can_be_blocked(harness_tester) -> None:
    result = harness_tester.run("-p", "no:terminal", "-p", "no:reports", "-p", "no:synthetic", "list", "plugins")
    assert result.ret == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()}
    assert {"core", "engine"} <= listed and not {"terminal", "reports", "synthetic"} & listed


def test_builtins_load_by_module_name_without_any_entry_point(harness_tester, monkeypatch) -> None:
    """A stale install (metadata without harness's entry points) still has every built-in."""
    from importlib import metadata

    from harness.pluginmanager import BUILTIN_PLUGINS

    monkeypatch.setattr(metadata, "entry_points", lambda **_: metadata.EntryPoints(()))
    result = harness_tester.run("list", "plugins")
    assert result.ret == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    for name, module in BUILTIN_PLUGINS:
        assert "built-in" in lines[name] and module in lines[name] and "harness" in lines[name]


def test_plugins_register_builtins_first_and_are_called_last_registered_first(harness_tester, site: Path) -> None:
    """Order: built-ins, entry points (by name), -p modules, harness_plugins.py; pluggy calls them in reverse."""
    answer = '''
import harness
@harness.hookimpl
def harness_budget_make(config, combination):
    return harness.Budget(steps={steps})
@harness.hookimpl
def harness_models_register(config):
    from harness.builtin.synthetic import load
    return [harness.ModelSpec(name="m_{name}", factory=load)]
'''
    make_distribution(site, "harness-zz", "1.0", {"zz": "harnessplug_zz"},
                      {"harnessplug_zz": answer.format(steps=1, name="zz")})
    make_distribution(site, "harness-aa", "1.0", {"aa": "harnessplug_aa"},
                      {"harnessplug_aa": answer.format(steps=2, name="aa")})
    (site / "harnessplug_p.py").write_text(answer.format(steps=3, name="p"))
    harness_tester.make_plugin(answer.format(steps=4, name="local"))
    from harness.cli import make_config

    config = make_config(["-p", "harnessplug_p", "run"], harness_tester.path)
    pm = config.pluginmanager
    ours = ["core", "engine", "synthetic", "terminal", "reports", "aa", "zz", "harnessplug_p", "harness_plugins"]
    assert [name for name in pm.origins if name in ours] == ours
    assert list(pm.origins)[:5] == ours[:5] and list(pm.origins)[-1] == "harness_plugins"
    called = [impl.plugin_name for impl in reversed(config.hook.harness_budget_make.get_hookimpls())]
    assert called == ["harness_plugins", "harnessplug_p", "zz", "aa", "core"]  # core's is trylast anyway
    assert config.hook.harness_budget_make(config=config, combination=None).steps == 4  # firstresult: local
    models = harness_tester.run("-p", "harnessplug_p", "list", "models").stdout  # registry: registration order
    positions = [models.index(f"m_{name}") for name in ("aa", "zz", "p", "local")]
    assert positions == sorted(positions)


def test_the_manager_keeps_what_it_was_built_from(harness_tester, site: Path, monkeypatch) -> None:
    """A worker process rebuilds the run's plugins from these (the file's -p values first)."""
    from harness.cli import make_config

    (site / "harnessplug_mod.py").write_text(DATASET_PLUGIN.format(name="fromp", module="mod"))
    harness_tester.make_config('plugins = ["harnessplug_mod"]\n')
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_config(["-p", "no:terminal", "run"], harness_tester.path).pluginmanager
    assert pm.plugin_args == ("harnessplug_mod", "no:terminal") and pm.autoload is False


class _Shelf:
    """One plugin class registered twice: the same method, two plugins."""

    def __init__(self, name: str) -> None:
        self.name = name

    @harness.hookimpl
    def harness_datasets_register(self, config):
        from harness.builtin.synthetic import load

        return [harness.DatasetSpec(name=self.name, factory=load)]


def test_each_spec_is_credited_to_the_plugin_that_returned_it(harness_tester) -> None:
    from harness.cli import make_config
    from harness.registry import collect_specs

    config = make_config(["list"], harness_tester.path, extra_plugins=[(_Shelf("one"), "shelf-1"),
                                                                       (_Shelf("two"), "shelf-2")])
    specs = collect_specs(config, "datasets")
    assert (specs["one"].plugin, specs["two"].plugin, specs["synthetic"].plugin) == ("shelf-1", "shelf-2",
                                                                                       "synthetic")
    assert specs["synthetic"].package == f"harness {harness.__version__}"


def test_plugins_of_the_configuration_file_must_be_a_list_of_names(harness_tester) -> None:
    harness_tester.make_config('plugins = "harnessplug_mod"\n')
    result = harness_tester.run("list")
    assert result.ret == 4
    assert result.stderr.strip().endswith("harness.toml: plugins: expected a list of module names, e.g. "
                                          'plugins = ["my_plugin"]')


def test_attribution_leaves_profilers_alone(harness_tester) -> None:
    """Crediting specs to plugins sets no profile function of its own: one already set (a profiler's) stays
    set and sees the plugins' calls, and ``python -m cProfile -m harness list`` works (it crashed with
    "'Profile' object is not callable" when the hook call put the profiler back with sys.setprofile)."""
    import subprocess

    from harness.cli import make_config
    from harness.registry import collect_specs

    seen: list[str] = []

    def profile(frame, event, arg) -> None:
        if event == "call":
            seen.append(frame.f_code.co_name)

    config = make_config(["list"], harness_tester.path, extra_plugins=[(_Shelf("one"), "shelf-1")])
    sys.setprofile(profile)
    try:
        specs = collect_specs(config, "datasets")
        still = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert still is profile and "harness_datasets_register" in seen
    assert (specs["one"].plugin, specs["synthetic"].plugin) == ("shelf-1", "synthetic")
    out = subprocess.run([sys.executable, "-m", "cProfile", "-s", "cumulative", "-m", "harness", "list", "models"],
                         cwd=harness_tester.path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "small_cnn" in out.stdout and "function calls" in out.stdout


def test_a_duplicate_is_credited_to_both_plugins_and_no_pluggy_object_is_changed(harness_tester) -> None:
    """call_attributed calls each implementation as pluggy's _multicall does: the HookImpl objects keep the
    very function they were registered with (no object.__setattr__ on them), before, during and after."""
    from harness.cli import make_config
    from harness.errors import PluginError
    from harness.registry import collect_specs

    seen: list[bool] = []

    class Watcher(_Shelf):
        @harness.hookimpl
        def harness_datasets_register(self, config):
            caller = config.hook.harness_datasets_register
            seen.append(all(impl.function is functions[id(impl)] for impl in caller.get_hookimpls()))
            return super().harness_datasets_register(config)

    config = make_config(["list"], harness_tester.path, extra_plugins=[(_Shelf("dup"), "shelf-1"),
                                                                       (Watcher("dup"), "shelf-2")])
    caller = config.hook.harness_datasets_register
    functions = {id(impl): impl.function for impl in caller.get_hookimpls()}
    with pytest.raises(PluginError) as raised:
        collect_specs(config, "datasets")
    assert str(raised.value) == ("dataset 'dup' is registered twice: by plugin 'shelf-1' (package shelf-1) and by "
                                 "plugin 'shelf-2' (package shelf-2)")
    assert seen == [True]
    assert all(impl.function is functions[id(impl)] for impl in caller.get_hookimpls())


def test_the_failing_plugin_is_named_by_the_loop_that_called_it(harness_tester) -> None:
    from harness.cli import make_config

    class Failing:
        @harness.hookimpl
        def harness_datasets_register(self, config):
            raise RuntimeError("no data today")

    config = make_config(["list"], harness_tester.path, extra_plugins=[(Failing(), "failing"),
                                                                       (_Shelf("one"), "shelf-1")])
    pm, caller = config.pluginmanager, config.hook.harness_datasets_register
    with pytest.raises(RuntimeError, match="no data today") as raised:
        pm.call_attributed(caller, config=config)
    culprit = pm.culprit(caller, raised.value)
    assert culprit is not None and culprit.name == "failing"
    if sys.version_info >= (3, 11):
        assert raised.value.__notes__ == ["raised by plugin 'failing' (object failing) in harness_datasets_register"]
    assert pm.culprit(caller, RuntimeError("elsewhere")) is None


def test_wrappers_run_around_the_loop_and_old_style_ones_are_refused(harness_tester, monkeypatch) -> None:
    from harness.cli import make_config

    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    from harness.errors import PluginError

    class Wrapper:
        @harness.hookimpl(wrapper=True)
        def harness_datasets_register(self, config):
            results = yield
            return [specs for specs in results if specs[0].name != "one"] + ["mine"]

    class OldStyle:
        @harness.hookimpl(hookwrapper=True)
        def harness_datasets_register(self, config):
            yield

    config = make_config(["list"], harness_tester.path, extra_plugins=[(_Shelf("one"), "shelf-1"),
                                                                       (_Shelf("two"), "shelf-2"),
                                                                       (Wrapper(), "wrapper")])
    pm, caller = config.pluginmanager, config.hook.harness_datasets_register
    credited = [(origin.name, result) for origin, result in pm.call_attributed(caller, config=config)]
    assert [name for name, _ in credited] == ["shelf-2", "synthetic", "wrapper"]
    assert credited[-1][1] == "mine"
    pm.register(OldStyle(), "old-style")
    with pytest.raises(PluginError, match="plugin 'old-style'.*harness_datasets_register: an old-style hookwrapper"):
        pm.call_attributed(caller, config=config)
