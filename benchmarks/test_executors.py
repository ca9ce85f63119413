"""What ``--executor ray`` costs: the same grid of 8 tasks on Ray (two one-CPU worker nodes of a cluster
started before the runs, all on 127.0.0.1, as ``ray start`` would have long before), in two worker processes
(``--executor process --workers 2``) and one after the other (``--executor serial``). The grid: the built-in
``synthetic`` dataset (32x32) x ``none``, ``flip_rotate`` x ``small_cnn``, ``small_cnn_scaled`` x 2 seeds. Each
benchmark's ``extra_info`` holds the time inside the trainer and the overhead per task: the wall time of each
task slot not spent in the trainer, ``(wall - trainer / slots) / (tasks / slots)``; the table: ray / process.

Full size only by default (a local Ray cluster takes 20-30 s to start here); needs ``pip install -e plugins/ray``:

    pytest benchmarks/test_executors.py --bench-size full                 # docs/cluster.md: 2 rounds, 1 epoch
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _common import REPO, bench_env
from conftest import chosen_sizes

pytestmark = pytest.mark.benchmark(group="executors")

SIZES: dict[str, dict[str, Any]] = {"small": {"ray": 0, "rounds": 1, "epochs": 1},
                                    "full": {"ray": 1, "rounds": 2, "epochs": 1}}
GRID = ["-p", "harness_vision.augmentations", "-p", "harness_vision.models", "--dataset", "synthetic",
        "--augmentation", "none", "--augmentation", "flip_rotate", "--model", "small_cnn",
        "--model", "small_cnn_scaled", "--repeats", "2", "-p", "no:reports", "-q"]
PLUGIN_SRC = REPO / "plugins" / "ray" / "src"
VARIANTS = {"serial": 1, "process": 2, "ray": 2}


@pytest.fixture(scope="module")
def ray_address(request: pytest.FixtureRequest) -> Iterator[str]:
    """A local Ray cluster: a head without CPUs and two one-CPU worker nodes, on 127.0.0.1."""
    if not chosen_sizes(request.config, SIZES)["ray"]:
        pytest.skip("a Ray cluster: --bench-size full or --bench-set ray=1")
    pytest.importorskip("harness_ray")
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    local = {"node_ip_address": "127.0.0.1", "temp_dir": tempfile.mkdtemp(prefix="hrb", dir="/tmp")}
    cluster = cluster_utils.Cluster(initialize_head=True,
                                    head_node_args={**local, "num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(**local, num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield str(cluster.address)
    finally:
        cluster.shutdown()


@pytest.fixture
def executor_env() -> dict[str, str]:
    env = bench_env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_SRC), env.get("PYTHONPATH", "")]))
    return env


def trainer_seconds(output: Path) -> tuple[int, float]:
    """Tasks and total time inside the trainer of the one run under ``output``."""
    [run_dir] = [p.parent for p in output.glob("*/records.jsonl")]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line]
    return len(records), sum(r["finished_at"] - r["started_at"] for r in records)


@pytest.mark.parametrize("executor", list(VARIANTS))
def test_grid(benchmark: Any, sizes: dict[str, Any], ratios: Any, executor_env: dict[str, str],
              request: pytest.FixtureRequest, tmp_path: Path, executor: str) -> None:
    address = request.getfixturevalue("ray_address")  # skips unless wanted
    options = {"serial": ["--executor", "serial"], "process": ["--executor", "process", "--workers", "2"],
               "ray": ["--executor", "ray", "--ray-address", address]}[executor]
    base = [sys.executable, "-m", "harness", "-p", "harness_ray", "run", *GRID, "--epochs", str(sizes["epochs"]),
            "--cache-dir", str(tmp_path / "cache")]
    outputs = iter(tmp_path / f"run-{i}" for i in range(1000))

    def run() -> Path:
        output = next(outputs)
        out = subprocess.run([*base, *options, "--output", str(output)], capture_output=True, text=True,
                             env=executor_env)
        assert out.returncode in (0, 1), f"harness run failed ({out.returncode}):\n{out.stderr[-3000:]}"
        return output

    output = benchmark.pedantic(run, rounds=sizes["rounds"], warmup_rounds=1)  # warm-up: the decode cache
    tasks, trainer = trainer_seconds(output)
    slots = VARIANTS[executor]
    if benchmark.stats:
        wall = float(benchmark.stats.stats.median)
        benchmark.extra_info.update(tasks=tasks, trainer_seconds=round(trainer, 2),
                                    overhead_per_task=round((wall - trainer / slots) / (tasks / slots), 2))
    ratios.record(benchmark, f"8 tasks, {executor}", reference="8 tasks, process" if executor == "ray" else None)
