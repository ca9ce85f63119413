"""The process executor (``--workers N``): worker processes that build the run's plugins and train through the
hook, the finisher, a worker's death, -x."""

from __future__ import annotations

import os

import pytest

from harness.system import usable_cores
from tests.engine.conftest import ENGINE_PLUGIN, SMALL, models
from tests.engine.test_train import outcome


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


def test_a_replaced_trainer_trains_in_the_workers(engine_tester) -> None:
    """Workers build the run's plugin manager (here with harness_plugins.py) and train through the hook: a
    plugin's wrapper around the trainer runs there, in processes other than this one."""
    engine_tester.make_plugin(ENGINE_PLUGIN + '''

@harness.hookimpl(wrapper=True)
def harness_combination_train(task):
    import os
    result = yield
    with open("trainers.log", "a") as log:
        log.write(f"{os.getpid()} {task.model.name} {result['status']}\\n")
    return result
''')
    result = engine_tester.run("run", *SMALL, *models("tiny", "broken"), "--steps", "2", "--workers", "2")
    assert result.ret == 1, result.stderr
    lines = [line.split() for line in (engine_tester.path / "trainers.log").read_text().splitlines()]
    assert sorted((model, status) for _, model, status in lines) in (
        [("broken", "error"), ("tiny", "passed")], [("broken", "error"), ("tiny", "failed")])
    assert all(int(pid) != os.getpid() for pid, _, _ in lines)  # trained in the workers, not here
    assert sorted(r["model"] for r in result.records) == ["broken", "tiny"]


def test_exitfirst_stops_handing_out(engine_tester) -> None:
    engine_tester.make_plugin(ENGINE_PLUGIN + '''

_engine_models = harness_models_register


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="early_error", factory=broken), *_engine_models(config)]
''')
    result = engine_tester.run("run", *SMALL, *models("early_error", "tiny", "tiny_b", "tiny_c"), "--steps", "2",
                               "--workers", "2", "-x")
    assert result.ret == 1, result.stderr
    recorded = {r["model"]: r["status"] for r in result.records}
    assert recorded.pop("early_error") == "error"
    assert set(recorded) <= {"tiny"}  # what trained already may finish; nothing new is handed out


@pytest.mark.slow
def test_a_worker_that_dies_is_an_error_row_and_its_neighbour_is_rerun(engine_tester) -> None:
    """``die`` kills its worker while ``slow`` trains next to it: the pool breaks; both are suspects and run
    again, each alone; ``die`` kills its worker again and is recorded as an error, ``slow`` trains (built in
    two processes), ``tiny`` (not started) goes to a fresh pool. Every task is recorded once."""
    engine_tester.make_plugin(ENGINE_PLUGIN + '''

from pathlib import Path


def die(request):
    import os
    import signal
    Path("die.log").write_text("started")
    while not Path("slow.log").exists():  # its neighbour is training
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would


def logged_slow(request):
    import os
    with open("slow.log", "a") as log:
        log.write(f"{os.getpid()}\\n")
    waited = time.monotonic()  # next to die: it trains once die has started, however late its worker came up
    while not Path("die.log").exists() and time.monotonic() - waited < 120:
        time.sleep(0.05)
    return slow(request)


_engine_models = harness_models_register


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="die", factory=die),
            harness.ModelSpec(name="logged_slow", factory=logged_slow, input_range="0-1",
                              params={"learning_rate": 0.01, "nap": 0.5}),
            *_engine_models(config)]
''')
    result = engine_tester.run("run", *SMALL, *models("die", "logged_slow", "tiny"), "--steps", "3",
                               "--workers", "2")
    records = {r["model"]: r for r in result.records}
    assert len(result.records) == 3 and sorted(records) == ["die", "logged_slow", "tiny"]
    assert records["die"]["status"] == "error" and records["die"]["error_kind"] == "worker"
    assert records["die"]["error"] == "the worker process training it died"
    assert records["logged_slow"]["status"] in ("passed", "failed")
    assert records["tiny"]["status"] in ("passed", "failed")
    builds = (engine_tester.path / "slow.log").read_text().split()
    assert len(builds) == 2 and builds[0] != builds[1]  # rerun alone, in a fresh process


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_ctrl_c_stops_the_workers_and_exits_2(engine_tester) -> None:
    import signal
    import subprocess
    import sys
    import time

    engine_tester.make_plugin(ENGINE_PLUGIN + '''

def hang(request):
    import os
    with open("hang.pid", "w") as out:
        out.write(str(os.getpid()))
    time.sleep(3600)


_engine_models = harness_models_register


@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="hang", factory=hang), *_engine_models(config)]
''')
    pid_file = engine_tester.path / "hang.pid"
    process = subprocess.Popen([sys.executable, "-m", "harness", "-p", "no:reports", "run", *SMALL,
                                *models("hang", "tiny"), "--steps", "2", "--workers", "2"],
                               cwd=engine_tester.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not pid_file.exists() or not pid_file.read_text():
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        worker = int(pid_file.read_text())
        assert _alive(worker)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=600)  # a hung exit fails here rather than after the hour
    finally:
        process.kill()
    assert process.returncode == 2, err
    assert not _alive(worker)
