"""Testing kit for plugin authors: write a plugin inline in a test and run harness on it.

Enabled automatically by the ``pytest11`` entry point::

    def test_my_model(harness_tester):
        harness_tester.make_plugin('''
            import harness
            @harness.hookimpl
            def harness_models_register(config):
                return [harness.ModelSpec(name="tiny", factory=build)]
            ...
        ''')
        result = harness_tester.run("run", "--dataset", "synthetic", "--model", "tiny", "--steps", "2")
        assert result.ret == 0
        assert result.results.loc[0, "status"] == "passed"
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.pluginmanager import LOCAL_PLUGIN_FILE
from harness.store import METADATA, RESULTS


@dataclass
class RunResult:
    ret: int
    stdout: str
    stderr: str
    run_dir: Path | None

    @property
    def results(self) -> Any:
        """``results.csv`` of the run as a pandas DataFrame."""
        import pandas as pd

        if self.run_dir is None:
            raise AssertionError(f"no run directory was written (exit code {self.ret}):\n{self.stderr}")
        return pd.read_csv(self.run_dir / RESULTS, keep_default_na=False, na_values=[""])

    @property
    def records(self) -> list[dict[str, Any]]:
        from harness.store import RunStore

        if self.run_dir is None:
            raise AssertionError(f"no run directory was written (exit code {self.ret})")
        return RunStore(self.run_dir).records()


class HarnessTester:
    """Runs ``harness`` in-process in a temporary working directory."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        monkeypatch.chdir(path)
        monkeypatch.setenv("HARNESS_CACHE_DIR", str(path / ".cache"))
        monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)

    def make_plugin(self, source: str, name: str = LOCAL_PLUGIN_FILE) -> Path:
        """Write a plugin module; the default name is loaded automatically, like pytest's conftest.py."""
        target = self.path / (name if name.endswith(".py") else f"{name}.py")
        target.write_text(textwrap.dedent(source))
        return target

    def make_config(self, text: str, name: str = "harness.toml") -> Path:
        target = self.path / name
        target.write_text(textwrap.dedent(text))
        return target

    def run(self, *args: str) -> RunResult:
        from harness.cli import main
        from harness.data.prepare import clear_memo

        clear_memo()
        before = set(self._run_dirs())
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ret = main([str(a) for a in args], cwd=self.path)
        new = sorted(set(self._run_dirs()) - before)
        run_dir = new[-1] if new else self._resumed(args)
        return RunResult(ret, out.getvalue(), err.getvalue(), run_dir)

    def _run_dirs(self) -> list[Path]:
        return [p.parent for p in self.path.glob(f"**/{METADATA}")]

    def _resumed(self, args: tuple[str, ...]) -> Path | None:
        if "--resume" not in args:
            return None
        index = args.index("--resume")
        if index + 1 < len(args) and not args[index + 1].startswith("-"):
            return Path(self.path / args[index + 1])
        runs = sorted(self._run_dirs())
        return runs[-1] if runs else None


@pytest.fixture
def harness_tester(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HarnessTester:
    return HarnessTester(tmp_path, monkeypatch)
