"""Scaling: wall time of one ``harness run`` process for 1, 2, 4 and 8 combinations (tasks); should grow linearly.

    python benchmarks/scaling.py [--counts 1,2,4,8] [--steps 20] [--train-per-class 100] [--val-per-class 50]

Each run trains the study's model 1 on a cats-vs-dogs subset for ``--steps`` steps per task, N tasks by
``--repeats N`` (N seeds of one combination), warm decode-once cache. Prints the wall time, the time per task,
and the fitted fixed cost and cost per task (least squares over the counts).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import bench_env, find_data, machine, subset, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--counts", default="1,2,4,8")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--val-per-class", type=int, default=50)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        data = subset(find_data(args.data), args.train_per_class, args.val_per_class, Path(tmp))
        print(f"machine: {machine()}")

        def fit_seconds() -> float:
            """Sum over the tasks of the last run of the time inside ``model.fit`` (validation included)."""
            run_dir = max((Path(tmp) / "reports").iterdir(), key=lambda p: p.stat().st_mtime)
            records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line]
            return sum(float(r.get("wall_seconds") or 0.0) for r in records)

        def run(n: int) -> float:
            cmd = ["harness", "run", "-p", "study_plugin", "--dataset", "bench_cats_dogs", "--augmentation", "none",
                   "--model", "study_model1", "--repeats", str(n), "--steps", str(args.steps),
                   "--data-dir", str(data.parent), "--cache-dir", str(Path(tmp) / "cache"),
                   "--output", str(Path(tmp) / "reports"), "-q"]
            return timed(cmd, env=bench_env())[0]

        run(1)  # warm the cache and the file-system cache
        walls = {}
        for n in counts:
            walls[n] = run(n)
            fits = fit_seconds()
            print(f"{n} combination(s): {walls[n]:6.1f} s  ({walls[n] / n:5.1f} s per combination; in model.fit "
                  f"{fits:5.1f} s, {fits / n:4.1f} s per combination)", flush=True)
        xs, ys = list(walls), list(walls.values())
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        fixed = mean_y - slope * mean_x
        worst = max(abs(y - (fixed + slope * x)) / y for x, y in zip(xs, ys))
        print(f"fit: wall = {fixed:.1f} s + {slope:.2f} s x combinations (largest deviation {worst:.0%})")
        print(f"load after: {machine().split('load average ')[1]}")


if __name__ == "__main__":
    main()
