"""A Ray cluster whose head dies mid-run: the run says so in one line, keeps what finished, exits 6, and
``--resume --executor serial`` finishes it. A cluster of its own (its head is killed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from raycluster import RUN_TIMEOUT, Runner, local_cluster

pytestmark = pytest.mark.slow

#: A wrapper around the fast trainer: ``fast_fail`` waits while ``hold`` exists, once it wrote ``holding``.
HOLDING_PLUGIN = '''
import time
from pathlib import Path

import harness


@harness.hookimpl(wrapper=True)
def harness_combination_train(task):
    hold = Path("{path}") / "hold"
    if task.model.name == "fast_fail" and hold.exists():
        (hold.parent / "holding").write_text("yes")
        while hold.exists():
            time.sleep(0.2)
    return (yield)
'''


def test_losing_the_head_is_said_keeps_what_finished_and_exits_6(tmp_path: Path) -> None:
    with local_cluster(1) as cluster:
        runner = Runner(tmp_path, cluster.address)
        (tmp_path / "harness_plugins.py").write_text(HOLDING_PLUGIN.replace("{path}", str(tmp_path)))
        (tmp_path / "hold").write_text("")
        grid = ["-p", "harness.testing.fast", "run", "--dataset", "synthetic", "--augmentation", "none",
                "--backend", "jax", "--threads", "1", "--model", "fast_pass", "--model", "fast_fail",
                "--output", "r"]
        process = runner.start(*grid, "--executor", "ray")
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while not (tmp_path / "holding").exists():
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.2)
            cluster.head_node.kill_all_processes(check_alive=False, allow_graceful=False)
            cluster.head_killed = True
            killed = time.monotonic()
            out, _ = process.communicate(timeout=120)
            noticed = time.monotonic() - killed
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 6, out
    assert noticed < 45, noticed  # Ray alone would wait 60 s, then end the process without a word
    assert f"harness: lost the Ray cluster at {cluster.address}: its head" in out, out
    assert "lost lost" not in out
    assert "state-dump" not in out and "\x1b[" not in out, out  # Ray's own messages are in ray.log
    records = runner.records("r")
    assert [r["model"] for r in records] == ["fast_pass"]
    [run_dir] = (tmp_path / "r").iterdir()
    assert (run_dir / "ray.log").is_file()
    (tmp_path / "hold").unlink()
    code, out = runner.run("-p", "harness.testing.fast", "run", "--resume", str(run_dir), "--executor", "serial")
    assert code == 1, out  # fast_fail does not beat its baseline
    assert sorted(r["model"] for r in runner.records("r")) == ["fast_fail", "fast_pass"]
