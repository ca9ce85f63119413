"""The executor seam: executors come from the harness_executors_register hook, --executor picks one."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_MODEL_PLUGIN

TINY_RUN = ("run", "--dataset", "synthetic", "--augmentation", "none", "--model", "tiny", "--steps", "2",
            "--set", "synthetic.image_size=[16,16]", "-p", "no:reports")

#: An executor from a plugin: the serial one, noting each task it trains in a file.
LOGGING_EXECUTOR = TINY_MODEL_PLUGIN + '''
from pathlib import Path

from harness.executor import ExecutorSpec
from harness.executors.serial import SerialExecutor


class Logging(SerialExecutor):
    def run(self, session, tasks):
        Path("executor.log").write_text("".join(f"{task.id}\\n" for task in tasks))
        super().run(session, tasks)


@harness.hookimpl
def harness_executors_register(config):
    return [ExecutorSpec(name="logging", factory=Logging, description="serial, with a log")]
'''


@pytest.fixture(autouse=True)
def _own_plugins_only(monkeypatch) -> None:
    """harness's own plugins and the test's: no installed plugin adds executors (or models) here."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


def test_list_executors_shows_the_builtins(harness_tester) -> None:
    result = harness_tester.run("list", "executors")
    assert result.ret == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["serial", "process"]
    assert all(line.endswith(f"(harness {__import__('harness').__version__})") for line in lines)


def test_a_plugin_contributes_an_executor_that_run_uses(harness_tester) -> None:
    harness_tester.make_plugin(LOGGING_EXECUTOR)
    listing = harness_tester.run("list", "executors")
    assert "logging  serial, with a log  (" in listing.stdout
    result = harness_tester.run(*TINY_RUN, "--executor", "logging")
    assert result.ret in (0, 1), result.stderr
    assert (harness_tester.path / "executor.log").read_text() == "synthetic-none-tiny[seed=1]\n"
    assert [r["status"] for r in result.records] in (["passed"], ["failed"])
    from harness.store import RunStore

    assert RunStore(result.run_dir).metadata()["executor"] == "logging"


def test_an_executor_name_given_twice_names_both_plugins(harness_tester) -> None:
    harness_tester.make_plugin('''
        import harness
        from harness.executor import ExecutorSpec
        from harness.executors.serial import SerialExecutor

        @harness.hookimpl
        def harness_executors_register(config):
            return [ExecutorSpec(name="process", factory=SerialExecutor)]
    ''')
    result = harness_tester.run("list", "executors")
    assert result.ret == 4
    assert "executor 'process' is registered twice: by plugin 'core'" in result.stderr
    assert "by plugin 'harness_plugins'" in result.stderr


def test_an_unknown_executor_is_a_usage_error(harness_tester) -> None:
    result = harness_tester.run(*TINY_RUN, "--executor", "proces")
    assert result.ret == 4
    assert result.stderr == ("harness: error: --executor: unknown executor 'proces'; did you mean process? "
                             "(known: process, serial)\n")


def test_workers_do_not_go_with_the_serial_executor(harness_tester) -> None:
    result = harness_tester.run(*TINY_RUN, "--executor", "serial", "--workers", "2")
    assert result.ret == 4
    assert "--workers 2: the serial executor trains in this process" in result.stderr


def test_several_backends_do_not_go_with_the_serial_executor(harness_tester) -> None:
    result = harness_tester.run(*TINY_RUN, "--executor", "serial", "--backend", "tensorflow,jax")
    assert result.ret == 4
    assert "--backend tensorflow,jax: the serial executor trains in this process" in result.stderr
