"""Executors: the serial loop (the default) and worker processes (``--workers N``)."""

from __future__ import annotations

import os

import pytest

from harness.system import usable_cores

from .conftest import ENGINE_PLUGIN, SMALL, models
from .test_train import outcome


def test_two_workers_train_like_the_serial_loop(engine_tester) -> None:
    serial = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "3")
    pooled = engine_tester.run("run", *SMALL, *models("tiny", "broken"), "--steps", "3", "--workers", "2")
    assert pooled.ret == 1, pooled.stderr
    records = {r["model"]: r for r in pooled.records}
    assert sorted(records) == ["broken", "tiny"]  # the driver recorded both, in the order they finished
    assert records["broken"]["status"] == "error" and records["broken"]["error"] == "RuntimeError: factory exploded"
    assert outcome(records["tiny"]) == outcome(serial.records[0])  # same seed, another process: same result
    assert sorted(pooled.results["model"]) == ["broken", "tiny"]
    assert "epoch 1" in pooled.stdout or "[steps]" in pooled.stdout  # progress came back from the workers


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")
def test_the_last_task_of_a_run_gets_a_thread_per_core(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny", "tiny_b", "tiny_c"), "--steps", "2", "--workers", "2")
    assert [r["status"] for r in result.records if r["status"] == "error"] == [], result.stderr
    threads = {r["model"]: r["threads"] for r in result.records}
    cores = usable_cores()
    assert threads == {"tiny": cores // 2, "tiny_b": cores // 2, "tiny_c": cores}
    single = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "2", "--workers", "2")
    assert single.records[0]["threads"] == cores  # one task: one worker, the whole machine


def test_workers_need_picklable_factories(engine_tester) -> None:
    engine_tester.make_plugin('''
        import harness

        @harness.hookimpl
        def harness_models_register(config):
            return [harness.ModelSpec(name="closure", factory=lambda request: None)]
    ''', name="harness_plugins.py")
    result = engine_tester.run("run", *SMALL, *models("closure"), "--steps", "1", "--workers", "2")
    assert result.ret == 4
    assert "--workers: task synthetic-none-closure[seed=1] cannot be sent to a worker process" in result.stderr


@pytest.mark.parametrize("value", ["0", "two"])
def test_workers_option_is_checked(engine_tester, value: str) -> None:
    result = engine_tester.run("run", *SMALL, "--workers", value)
    assert result.ret == 4
    assert "--workers" in result.stderr and "expected a positive whole number" in result.stderr


@pytest.mark.skipif(not os.environ.get("HARNESS_SLOW_TESTS"), reason="starts three worker pools (~20 s); "
                    "set HARNESS_SLOW_TESTS=1")
def test_a_worker_that_dies_is_an_error_row_and_its_neighbour_is_rerun(engine_tester) -> None:
    engine_tester.make_plugin(ENGINE_PLUGIN + '''

def die(request):
    import os
    import signal
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would


_engine_models = harness_models_register


@harness.hookimpl
def harness_models_register(config):
    return [*_engine_models(config), harness.ModelSpec(name="die", factory=die)]
''')
    result = engine_tester.run("run", *SMALL, *models("tiny", "slow", "die"), "--set", "slow.nap=0.01",
                               "--steps", "3", "--workers", "2")
    records = {r["model"]: r for r in result.records}
    assert sorted(records) == ["die", "slow", "tiny"]
    assert records["die"]["status"] == "error" and records["die"]["error_kind"] == "worker"
    assert records["slow"]["status"] in ("passed", "failed") and records["tiny"]["status"] in ("passed", "failed")
