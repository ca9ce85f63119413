"""Scaling: the wall time of one ``harness run`` process for 1, 2, 4 and 8 tasks (N seeds of the study's model
1 on a cats-vs-dogs subset, ``steps`` steps each, the decode-once cache warm): it should grow linearly. Each
count's ``extra_info`` holds the time inside ``model.fit`` (the records' ``wall_seconds``); the fixed cost and
the cost per task (least squares over the counts) are printed at the end.

    pytest benchmarks/test_scaling.py --bench-size full       # docs/benchmarks.md: 1, 2, 4, 8 tasks of 20 steps
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _common import bench_env
from conftest import chosen_sizes

pytestmark = pytest.mark.benchmark(group="scaling")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_per_class": 16, "val_per_class": 40, "steps": 2, "batch_size": 8, "counts": "1,2", "warm": 0},
    "full": {"train_per_class": 100, "val_per_class": 50, "steps": 20, "batch_size": 32, "counts": "1,2,4,8",
             "warm": 1},
}
WALLS: dict[int, float] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "count" in metafunc.fixturenames:
        metafunc.parametrize("count", [int(c) for c in str(chosen_sizes(metafunc.config, SIZES)["counts"]).split(",")])


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder for the module; the first count's warm-up round fills it."""
    return tmp_path_factory.mktemp("scaling-cache")


def harness_run(data: Path, cache: Path, output: Path, count: int, sizes: dict[str, Any]) -> float:
    """Runs ``count`` tasks; returns the seconds inside ``model.fit`` summed over them."""
    cmd = [sys.executable, "-m", "harness", "run", "-p", "study_plugin", "--dataset", "bench_cats_dogs",
           "--augmentation", "none", "--model", "study_model1", "--repeats", str(count),
           "--steps", str(sizes["steps"]), "--batch-size", str(sizes["batch_size"]), "--data-dir", str(data.parent),
           "--cache-dir", str(cache), "--output", str(output), "-q"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=bench_env())
    # exit code 1: a task that did not beat the baseline (data, not a failure of the benchmark)
    assert out.returncode in (0, 1), f"harness run failed ({out.returncode}):\n{out.stderr[-3000:]}"
    run_dir = max(output.iterdir(), key=lambda p: p.stat().st_mtime)
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line]
    assert len(records) == count and all(r.get("status") != "error" for r in records), records
    return sum(float(r.get("wall_seconds") or 0.0) for r in records)


def test_tasks(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs: Path, warm_cache: Path,
               tmp_path: Path, count: int) -> None:
    warm = 0 if WALLS else sizes["warm"]  # a first run warms the decode-once cache and the file-system cache
    fit = benchmark.pedantic(harness_run, args=(cats_dogs, warm_cache, tmp_path / "reports", count, sizes),
                             rounds=1, warmup_rounds=warm)
    benchmark.extra_info.update(tasks=count, fit_seconds=round(fit, 2))
    if benchmark.stats:
        WALLS[count] = float(benchmark.stats.stats.median)
        benchmark.extra_info["seconds_per_task"] = round(WALLS[count] / count, 2)
    if len(WALLS) >= 2:
        ratios.notes["scaling"] = fit_line(WALLS)


def fit_line(walls: dict[int, float]) -> str:
    """``wall = fixed + slope x tasks``, least squares over the counts run."""
    xs, ys = list(walls), list(walls.values())
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    fixed = mean_y - slope * mean_x
    worst = max(abs(y - (fixed + slope * x)) / y for x, y in zip(xs, ys))
    return (f"scaling: wall = {fixed:.1f} s + {slope:.2f} s x tasks over {', '.join(map(str, xs))} tasks "
            f"(largest deviation from the line {worst:.0%})")
