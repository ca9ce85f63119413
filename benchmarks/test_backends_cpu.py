"""The Keras backends side by side on this CPU (benchmarks/backends_cpu.py, run as it is): the study's small CNN
through ``harness run --backend NAME`` (step time and compile time from the record: the ratio to TensorFlow's
step time is in the table) and the feed alone (images per second in ``extra_info``), each backend in its own
process. Full size only by default (three backends' compilations take minutes on this CPU):

    pytest benchmarks/test_backends_cpu.py --bench-size full             # 160 px, 12 steps, every installed backend
    pytest benchmarks/test_backends_cpu.py --bench-set backends=tensorflow,jax --bench-set size=96

``python benchmarks/backends_cpu.py`` prints the same figures without pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import backends_cpu
import pytest
from conftest import chosen_sizes

pytestmark = pytest.mark.benchmark(group="backends")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"backends": "", "size": 96, "steps": 8, "batch_size": 32, "feed_images": 1000},
    "full": {"backends": "tensorflow,jax,torch", "size": 160, "steps": 12, "batch_size": 32, "feed_images": 2000},
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = [n for n in str(chosen_sizes(metafunc.config, SIZES)["backends"] or "").split(",") if n]
        skip = pytest.mark.skip(reason="--bench-size full or --bench-set backends=tensorflow,jax,...")
        metafunc.parametrize("backend", names or [pytest.param("tensorflow", marks=skip)])


def test_train(benchmark: Any, sizes: dict[str, Any], ratios: Any, tmp_path: Path, backend: str) -> None:
    if not backends_cpu.installed(backend):
        pytest.skip(f"{backend} is not installed")
    result = benchmark.pedantic(backends_cpu.train, args=(backend, sizes["size"], sizes["steps"],
                                                          sizes["batch_size"], tmp_path), rounds=1)
    benchmark.extra_info.update(ms_per_step=round(1000 * result["step"], 1),
                                compile_seconds=round(result["compile"], 2),
                                images_per_second=round(result["images_per_second"], 1), compiled=result["compiled"])
    first = str(sizes["backends"]).split(",")[0]
    ratios.record(benchmark, f"step, {backend}", reference=None if backend == first else f"step, {first}",
                  value=result["step"], unit="s/step")


def test_feed(benchmark: Any, sizes: dict[str, Any], backend: str) -> None:
    if not backends_cpu.installed(backend):
        pytest.skip(f"{backend} is not installed")
    rates = benchmark.pedantic(backends_cpu.feed, args=(backend, sizes["feed_images"], sizes["size"],
                                                        sizes["batch_size"]), rounds=1)
    benchmark.extra_info["images_per_second"] = {label: round(rate) for label, rate in rates.items()}
