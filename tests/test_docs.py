"""The documentation stays true to the code: every hook and option is documented, the reference pages generate,
the shell examples marked runnable run, and the README's quick start gives the same grid in any folder.

A runnable example is a fenced ``bash`` block right after a ``<!-- runnable -->`` line, in README.md or a page
of docs/. It runs with ``bash -e`` in a fresh temporary folder, with ``harness`` standing for
``python -m harness -p harness.testing.fast`` (the fast trainer: what would train takes milliseconds).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- runnable -->"
_BLOCK = re.compile(r"^" + re.escape(MARKER) + r"\s*\n```(?:bash|sh)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _gen_ref() -> types.ModuleType:
    """docs/gen_ref.py, the generator of the reference pages, as a module."""
    spec = importlib.util.spec_from_file_location("harness_docs_gen_ref", ROOT / "docs" / "gen_ref.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


# -------------------------------------------------------------------------------------------------
# Hooks and options are documented
# -------------------------------------------------------------------------------------------------


def undocumented_hooks(module: types.ModuleType) -> list[str]:
    """The hook specs of ``module`` (functions marked with harness's ``hookspec``) without a docstring."""
    return [name for name, function in inspect.getmembers(module, inspect.isfunction)
            if hasattr(function, "harness_spec") and not (inspect.getdoc(function) or "").strip()]


def test_every_hook_has_a_docstring() -> None:
    import harness.hookspec

    hooks = [name for name, f in inspect.getmembers(harness.hookspec, inspect.isfunction) if hasattr(f, "harness_spec")]
    assert len(hooks) >= 20
    assert undocumented_hooks(harness.hookspec) == []


def test_a_hook_without_a_docstring_is_found() -> None:
    from harness.hookspec import hookspec

    module = types.ModuleType("fake_hookspec")

    @hookspec
    def harness_documented() -> None:
        """Says what it does."""

    @hookspec
    def harness_silent() -> None:
        pass

    module.harness_documented = harness_documented  # type: ignore[attr-defined]
    module.harness_silent = harness_silent  # type: ignore[attr-defined]
    assert undocumented_hooks(module) == ["harness_silent"]


def test_every_option_has_help() -> None:
    options = _gen_ref().declared_options()
    flags = {flag for opt in options for flag in opt.flags}
    assert {"--dataset", "--epochs", "--executor", "--workers", "--tensorboard", "--ray-address", "--mlflow"} <= flags
    assert [opt.flags for opt in options if not opt.help.strip()] == []


def test_the_reference_pages_name_every_option_and_builtin_plugin() -> None:
    gen_ref = _gen_ref()
    options = gen_ref.options_page()
    assert all(f"`{opt.flags[0]}" in options for opt in gen_ref.declared_options())
    plugins = gen_ref.plugins_page()
    for name in ("synthetic", "cats_and_dogs", "image_folder", "flip_rotate", "small_cnn", "mobilenet_v2", "ray"):
        assert f"`{name}`" in plugins
    assert "`dropout`" in plugins and "`learning_rate`" in plugins  # parameters, the trainer's too


# -------------------------------------------------------------------------------------------------
# Runnable examples
# -------------------------------------------------------------------------------------------------


def runnable_blocks() -> list[tuple[str, int, str]]:
    """``(file, number, script)`` of every runnable block of README.md and docs/*.md."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for number, match in enumerate(_BLOCK.finditer(path.read_text(encoding="utf-8")), 1):
            found.append((str(path.relative_to(ROOT)), number, match.group(1)))
    return found


def test_runnable_blocks_are_found() -> None:
    blocks = runnable_blocks()
    files = {file for file, _, _ in blocks}
    assert {"README.md", "docs/getting-started.md", "docs/plugins.md"} <= files
    assert all("harness " in script for _, _, script in blocks)


@pytest.mark.slow
@pytest.mark.parametrize(("file", "number", "script"), runnable_blocks(),
                         ids=[f"{file}#{number}" for file, number, _ in runnable_blocks()])
def test_runnable_example(file: str, number: int, script: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "harness"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m harness -p harness.testing.fast "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                         check=False, timeout=600)
    assert out.returncode == 0, f"{file} block {number} failed:\n{script}\n{out.stdout}\n{out.stderr}"


# -------------------------------------------------------------------------------------------------
# The README's quick start
# -------------------------------------------------------------------------------------------------


def quick_start_runs() -> list[list[str]]:
    """The ``harness run`` commands of the README's first runnable block, as argument lists."""
    import shlex

    script = next(script for file, _, script in runnable_blocks() if file == "README.md")
    commands = [shlex.split(line.split("#")[0]) for line in script.splitlines() if line.startswith("harness run")]
    assert commands, "the README's first runnable block has no harness run command"
    return [command[1:] for command in commands]


def _collected(args: list[str], cwd: Path) -> list[str]:
    """The combinations ``harness ARGS --collect-only`` lists when run in ``cwd``."""
    from harness.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([*args, "--collect-only"], cwd=cwd)
    assert code == 0, out.getvalue()
    lines = [line.strip() for line in out.getvalue().splitlines()]
    return sorted(line for line in lines if line and not re.match(r"\d+ combinations? collected", line))


def test_the_quick_start_trains_the_same_grid_in_the_repository_and_in_an_empty_folder(tmp_path: Path) -> None:
    for args in quick_start_runs():
        here, elsewhere = _collected(args, ROOT), _collected(args, tmp_path)
        assert here, f"harness {' '.join(args)} --collect-only listed nothing"
        assert here == elsewhere, f"harness {' '.join(args)}: {here} in the repository, {elsewhere} elsewhere"
