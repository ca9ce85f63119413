"""What ``--executor ray`` costs: the same grid of 8 tasks on Ray (two one-CPU worker nodes), in two worker
processes (``--executor process --workers 2``) and one after the other (``--executor serial``).

    python benchmarks/ray_overhead.py [--rounds 2] [--epochs 1]

The grid: the built-in ``synthetic`` dataset (32x32) x augmentations ``none``, ``flip_rotate`` x models
``small_cnn``, ``small_cnn_scaled`` x 2 seeds. Ray runs on a cluster started before the runs (a head without
CPUs and two worker nodes with one CPU each, all on 127.0.0.1: ``ray.cluster_utils.Cluster``), as on a real
cluster, where ``ray start`` happened long before; one more run with ``--ray-address local`` shows what
starting a Ray for the run adds. Needs ``pip install -e plugins/ray``.

Prints, per executor, the median wall time of a run, the time inside the trainer (``finished_at -
started_at`` of each record) and the overhead per task: the wall time of each task slot not spent in the
trainer, ``(wall - trainer / slots) / (tasks / slots)``; Ray's own cost is its overhead minus the process
executor's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import bench_env, machine, timed

GRID = ["-p", "harness_vision.augmentations", "-p", "harness_vision.models", "--dataset", "synthetic",
        "--augmentation", "none", "--augmentation", "flip_rotate", "--model", "small_cnn",
        "--model", "small_cnn_scaled", "--repeats", "2", "-p", "no:reports", "-q"]
PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "ray" / "src"


def trainer_seconds(output: Path) -> tuple[int, float]:
    """Tasks and total time inside the trainer of the one run under ``output``."""
    [run_dir] = [p.parent for p in output.glob("*/records.jsonl")]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line]
    return len(records), sum(r["finished_at"] - r["started_at"] for r in records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray address on 127.0.0.1
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))
    from ray.cluster_utils import Cluster

    print(f"machine: {machine()}")
    temp = tempfile.mkdtemp(prefix="hrb", dir="/tmp")
    local = {"node_ip_address": "127.0.0.1", "temp_dir": temp}
    cluster = Cluster(initialize_head=True, head_node_args={**local, "num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(**local, num_cpus=1)
    cluster.wait_for_nodes()
    variants = {
        "serial": (["--executor", "serial"], 1),
        "process (2 workers)": (["--executor", "process", "--workers", "2"], 2),
        "ray (2 one-CPU nodes)": (["--executor", "ray", "--ray-address", cluster.address], 2),
    }
    with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp:
        cache = Path(tmp) / "cache"
        base = [sys.executable, "-m", "harness", "-p", "harness_ray", "run", *GRID, "--epochs", str(args.epochs),
                "--cache-dir", str(cache)]
        env = bench_env()
        timed([*base, "--output", str(Path(tmp) / "warm")], env=env)  # the decode cache and the OS file cache
        results: dict[str, list[tuple[float, int, float]]] = {name: [] for name in variants}
        for round_ in range(args.rounds):
            for name, (options, _) in variants.items():
                output = Path(tmp) / f"{name.split()[0]}-{round_}"
                wall, _ = timed([*base, *options, "--output", str(output)], env=env)
                results[name].append((wall, *trainer_seconds(output)))
                print(f"round {round_ + 1} {name}: {wall:.1f} s", flush=True)
        output = Path(tmp) / "local"
        cluster.shutdown()
        local_wall, _ = timed([*base, "--executor", "ray", "--ray-address", "local", "--output", str(output)],
                              env=env)
    print()
    overheads = {}
    for name, (_, slots) in variants.items():
        wall = statistics.median(r[0] for r in results[name])
        tasks = results[name][0][1]
        trainer = statistics.median(r[2] for r in results[name])
        overheads[name] = (wall - trainer / slots) / (tasks / slots)
        print(f"{name:<24} wall {wall:6.1f} s   in the trainer {trainer:6.1f} s   overhead per task "
              f"{overheads[name]:5.2f} s")
    ray_wall = statistics.median(r[0] for r in results["ray (2 one-CPU nodes)"])
    process_wall = statistics.median(r[0] for r in results["process (2 workers)"])
    print(f"ray vs process: grid {ray_wall / process_wall - 1:+.1%}, per task "
          f"{overheads['ray (2 one-CPU nodes)'] - overheads['process (2 workers)']:+.2f} s")
    print(f"ray with a local Ray started for the run (--ray-address local, 2 CPUs): {local_wall:.1f} s")
    print(f"load after: {machine().split('load average ')[1]}")


if __name__ == "__main__":
    main()
