"""Overhead per task of ``--executor slurm`` against ``--executor process``: the fast trainer's 4-task grid
(two models, two seeds; its training takes milliseconds, so a run's wall time is the executor's own cost),
``--rounds`` times each, alternating, on the cluster ``SLURM_CONF`` names. Overhead per task is
``wall x slots / tasks``: the wall time a task slot spends per task (2 slots each: ``--workers 2``, and a
cluster with 2 CPUs for 1-thread tasks).

    python plugins/slurm/scripts/overhead.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GRID = ["-p", "harness.testing.fast", "-p", "no:reports", "run", "--dataset", "synthetic", "--augmentation", "none",
        "--model", "fast_pass", "--model", "fast_fail", "--repeats", "2", "--backend", "jax", "--threads", "1",
        "-q"]
EXECUTORS = {"process": ["--executor", "process", "--workers", "2"], "slurm": ["--executor", "slurm"]}
TASKS, SLOTS = 4, 2


def wall(executor: list[str], folder: str) -> float:
    env = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness", "-p", "harness_slurm", *GRID, *executor,
                           "--output", folder], env=env, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(executor)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    walls: dict[str, list[float]] = {name: [] for name in EXECUTORS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for name, args in EXECUTORS.items():
                walls[name].append(wall(args, folder))
    for name, times in walls.items():
        median = statistics.median(times)
        print(f"{name:8} wall median {median:5.2f} s ({', '.join(f'{t:.2f}' for t in times)}); "
              f"overhead per task {median * SLOTS / TASKS:.2f} s")
    extra = (statistics.median(walls["slurm"]) - statistics.median(walls["process"])) * SLOTS / TASKS
    print(f"slurm adds {extra:.2f} s per task over process")


if __name__ == "__main__":
    main()
