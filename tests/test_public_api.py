"""The public API (issue 27): what plugins need is importable from ``harness``, the plugin packages of this
repository use nothing else, importing it stays light, and a public name goes with a warning first."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
#: Modules of harness a plugin package may import besides ``harness`` itself.
PUBLIC_MODULES = ("harness", "harness.testing", "harness.testing.fast")


def private_imports(source: Path, root: Path = ROOT) -> list[str]:
    """``file:line module`` for every import of a harness module that is not public."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            if module.split(".")[0] == "harness" and module not in PUBLIC_MODULES:
                found.append(f"{source.relative_to(root)}:{node.lineno} {module}")
    return found


def test_the_plugin_packages_import_only_the_public_api() -> None:
    sources = sorted(ROOT.glob("plugins/*/src/**/*.py"))
    assert len(sources) > 10  # the four plugin packages
    found = [line for source in sources for line in private_imports(source)]
    assert not found, "plugin packages import internal modules of harness:\n" + "\n".join(found)


def test_a_private_import_is_found(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import harness\nfrom harness import ModelSpec\nif True:\n    from harness.store import X\n")
    assert private_imports(plugin, tmp_path) == ["plugin.py:4 harness.store"]


@pytest.mark.parametrize("name", harness.__all__)
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(harness, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value), f"harness.{name} has no docstring"


def test_all_lists_every_public_name_once() -> None:
    assert len(set(harness.__all__)) == len(harness.__all__)
    assert set(harness._LAZY) <= set(harness.__all__)
    assert set(harness.__all__) <= set(dir(harness))


def test_importing_the_public_api_imports_no_backend_and_no_matplotlib() -> None:
    code = ("import sys, harness\n"
            "[getattr(harness, name) for name in harness.__all__]\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        harness.NoSuchThing  # noqa: B018


def test_a_deprecated_name_warns_with_its_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(harness._LAZY, "OldModelSpec", ("harness.specs", "ModelSpec"))
    monkeypatch.setitem(harness._DEPRECATED, "OldModelSpec", ("harness.ModelSpec", "0.3"))
    with pytest.warns(DeprecationWarning, match=r"harness.OldModelSpec is deprecated .* 0.3: use harness.ModelSpec"):
        assert harness.OldModelSpec is harness.ModelSpec
    with warnings.catch_warnings():  # it warns at every use, not only the first
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning):
            harness.OldModelSpec  # noqa: B018
