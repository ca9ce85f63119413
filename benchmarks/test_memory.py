"""Memory over the tasks of one ``harness run`` process: peak (``VmHWM``) and resident (``VmRSS``) after each of
six combinations (augmentations none and flip x three widths of model 1 on a cats-vs-dogs subset, 160x160; at
small size one combination with three seeds), read by ``benchmarks/memory.py`` in a fresh process. Flat from
the first combination to the last means each combination's memory is released. The benchmark's time is the
whole process's; the figures are in ``extra_info`` (``--benchmark-json``) and under the ratio table.

    pytest benchmarks/test_memory.py --bench-size full        # docs/benchmarks.md: 10 steps, batch 32
    pytest benchmarks/test_memory.py --bench-size full --bench-set same=1    # one combination, six seeds
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _common import HERE, bench_env

pytestmark = pytest.mark.benchmark(group="memory")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_per_class": 16, "val_per_class": 40, "steps": 2, "batch_size": 8, "same": 1, "repeats": 3},
    "full": {"train_per_class": 100, "val_per_class": 50, "steps": 10, "batch_size": 32, "same": 0, "repeats": 6},
}


def test_memory(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs_root: Path) -> None:
    cmd = [sys.executable, str(HERE / "memory.py"), "--data", str(cats_dogs_root), "--steps", str(sizes["steps"]),
           "--train-per-class", str(sizes["train_per_class"]), "--val-per-class", str(sizes["val_per_class"]),
           "--batch-size", str(sizes["batch_size"])]
    if sizes["same"]:
        cmd += ["--same", "--repeats", str(sizes["repeats"])]

    def run() -> dict[str, Any]:
        out = subprocess.run(cmd, capture_output=True, text=True, env=bench_env())
        assert out.returncode == 0, f"memory.py failed ({out.returncode}):\n{out.stderr[-3000:]}"
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    result = benchmark.pedantic(run, rounds=1)
    rows = result["after"]
    # exit code 1: a task that did not beat the baseline (data, not a failure of the benchmark)
    assert len(rows) == (sizes["repeats"] if sizes["same"] else 6) and result["exit_code"] in (0, 1), result
    first, last = rows[0], rows[-1]
    benchmark.extra_info.update(
        peak_mib=[round(r["VmHWM"]) for r in rows], resident_mib=[round(r["VmRSS"]) for r in rows],
        resident_growth_mib=round(last["VmRSS"] - rows[1]["VmRSS"]),
        peak_growth_mib=round(last["VmHWM"] - first["VmHWM"]))
    ratios.notes["memory"] = (f"memory after each task: peak {benchmark.extra_info['peak_mib']} MiB, resident "
                              f"{benchmark.extra_info['resident_mib']} MiB")
