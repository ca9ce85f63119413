"""What runs in a worker: the run's plugin manager rebuilt from its plugin options, training through the hook."""

from __future__ import annotations

import pickle

from harness.cli import make_config
from harness.worker import WorkerPlugins, train_task
from tests.conftest import TINY_MODEL_PLUGIN

#: A trainer that replaces the engine's: it answers without training.
REPLACED_TRAINER = '''
import harness

@harness.hookimpl
def harness_combination_train(task):
    return {"id": task.combination_id, "seed": task.seed, "status": "passed", "trained_by": "harness_plugins"}
'''


def test_worker_plugins_carry_the_runs_plugin_options(harness_tester, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_config('plugins = ["no:terminal"]\n')
    harness_tester.make_plugin(REPLACED_TRAINER)
    config = make_config(["-p", "no:synthetic", "list"], harness_tester.path)
    plugins = WorkerPlugins.of(config)
    assert plugins == WorkerPlugins(("no:terminal", "no:synthetic"), False, str(harness_tester.path))
    assert pickle.loads(pickle.dumps(plugins)) == plugins
    pm = plugins.manager()
    assert pm is not config.pluginmanager and pm is plugins.manager()  # built once per process
    assert sorted(pm.origins) == sorted(config.pluginmanager.origins)
    assert not pm.has_plugin("synthetic") and not pm.has_plugin("terminal") and pm.has_plugin("harness_plugins")


def test_train_task_calls_the_training_hook_of_the_rebuilt_plugins(harness_tester, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    harness_tester.make_plugin(TINY_MODEL_PLUGIN + REPLACED_TRAINER)
    config = make_config(["run", "--dataset", "synthetic", "--model", "tiny", "--collect-only"],
                         harness_tester.path)
    from harness.session import Session

    session = Session(config)
    session.collect()
    session.choose_runtime()
    task = session.make_tasks()[0]
    seen: list[dict] = []
    record = train_task(WorkerPlugins.of(config), task, seen.append)
    assert record["trained_by"] == "harness_plugins" and record["id"] == task.combination_id
    assert seen == []  # the replaced trainer sends no progress


def test_train_task_turns_a_trainers_exception_into_an_error_record(harness_tester, monkeypatch) -> None:
    """One error policy (harness.runner.run_task): the worker path records what the serial one records."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    config = make_config(["run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--model", "fast_error",
                          "--collect-only"], harness_tester.path)
    from harness.session import Session

    session = Session(config)
    session.collect()
    session.choose_runtime()
    task = session.make_tasks()[0]
    record = train_task(WorkerPlugins.of(config), task)
    assert record["status"] == "error" and record["error_kind"] == "exception"
    assert "RuntimeError: fast_error" in record["error"] and "Traceback" in record["traceback"]
