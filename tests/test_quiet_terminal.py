"""A quiet terminal: the backends' own log lines go to the run's backend.log unless -v (harness.backendlog), and
under `pytest --harness -n` pytest-benchmark's note is said once, in harness's words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import backendlog

#: A plugin whose training writes a TensorFlow-style C++ log line to descriptor 2, as TensorFlow does, and a
#: line of its own to Python's stderr (harness's and the plugins' messages must stay on the terminal).
NOISY_PLUGIN = '''
import os
import subprocess
import sys
from pathlib import Path

import harness

@harness.hookimpl(wrapper=True)
def harness_combination_train(task):
    os.write(2, b"I0000 00:00:17966 20499 port.cc:153] Memory patch applied: M_TRIM_THRESHOLD=128 kb was set.\\n")
    print("plugin says hello", file=sys.stderr, flush=True)
    return (yield)
'''

RUN = ("run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--model", "fast_pass",
       "--augmentation", "none")


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_backend_lines_go_to_the_run_log_not_the_terminal(harness_tester: object) -> None:
    harness_tester.make_plugin(NOISY_PLUGIN)  # type: ignore[attr-defined]
    result = harness_tester.run_subprocess(*RUN)  # type: ignore[attr-defined]
    assert result.ret == 0, result.stdout + result.stderr
    assert "Memory patch applied" not in result.stderr + result.stdout
    assert "plugin says hello" in result.stderr
    log = (result.run_dir / backendlog.FILE_NAME).read_text()
    assert "Memory patch applied" in log


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_verbose_keeps_backend_lines_on_the_terminal(harness_tester: object) -> None:
    harness_tester.make_plugin(NOISY_PLUGIN)  # type: ignore[attr-defined]
    result = harness_tester.run_subprocess(*RUN, "-v")  # type: ignore[attr-defined]
    assert result.ret == 0, result.stdout + result.stderr
    assert "Memory patch applied" in result.stderr
    assert not (result.run_dir / backendlog.FILE_NAME).exists()


def test_an_in_process_run_leaves_the_environment_as_it_was(harness_tester: object) -> None:
    before = os.environ.get(backendlog.ENV)
    result = harness_tester.run(*RUN)  # type: ignore[attr-defined]
    assert result.ret == 0, result.stdout + result.stderr
    assert os.environ.get(backendlog.ENV) == before
    assert not (result.run_dir / backendlog.FILE_NAME).exists()  # the backends said nothing: no empty file


def test_to_log_moves_descriptor_2_and_keeps_python_stderr(tmp_path: object, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "backend.log"  # type: ignore[operator]
    with backendlog.to_log(str(log)):
        os.write(2, b"from C++\n")
        print("from Python", file=sys.stderr, flush=True)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "from C++" not in err and "after" in err
    assert log.read_text() == "from C++\n"


def test_to_log_without_a_file_does_nothing(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backendlog.ENV, raising=False)
    with backendlog.to_log():
        os.write(2, b"stays\n")
    assert "stays" in capfd.readouterr().err


PROJECT = """
[tool.pytest.ini_options]
addopts = "-p harness.pytest_plugin -p no:hypothesispytest -p no:cacheprovider"

[tool.harness]
plugins = ["harness.testing.fast"]
dataset = ["synthetic"]
augmentation = ["none"]
model = ["fast_pass", "fast_fail"]
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "pyproject.toml").write_text(PROJECT)
    return subprocess.run([sys.executable, "-m", "pytest", "--harness", *args], cwd=folder, capture_output=True,
                          text=True, check=False, timeout=300)


@pytest.mark.slow
def test_under_xdist_the_benchmark_note_is_said_once_in_harness_words(tmp_path: Path) -> None:
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("xdist")
    out = _pytest(tmp_path, "-n", "2")
    assert out.returncode == 1, out.stdout + out.stderr  # fast_fail fails
    both = out.stdout + out.stderr
    assert "Benchmarks are automatically disabled" not in both
    assert both.count("training times are not benchmarked under -n") == 1


@pytest.mark.slow
def test_without_xdist_no_benchmark_note(tmp_path: Path) -> None:
    pytest.importorskip("pytest_benchmark")
    out = _pytest(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "not benchmarked" not in out.stdout + out.stderr
