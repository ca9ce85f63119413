"""The study against a plain hand-written Keras script (benchmarks/plain_study.py): the same model(s), the same
cats-vs-dogs files, the same epochs, each contender a whole process (TensorFlow's import and the data's loading
included). The ratio harness / plain script is in each harness benchmark's ``extra_info`` and in the table.

- model 1 alone: ``plain`` (float32), ``harness`` (float32; issue 6 target <= 0.8) and, at full size,
  ``harness-auto`` (``--precision auto``: mixed bfloat16 where the CPU has it; target <= 0.5 against the
  float32 script);
- the study's six cells (``grid``, full size or ``--bench-set grid=1``): the vision plugin's ``small_cnn``,
  ``small_cnn_scaled`` and ``mobilenet_v2`` x ``none`` and ``flip_rotate`` (model 4's MobileNetV2 base frozen,
  on a seeded random base written once into the cache folder unless ``--bench-set mobilenet_weights=imagenet``);
  target <= 0.75.

harness uses a cache folder that persists between sessions (``$HARNESS_BENCH_CACHE``, default
``~/.cache/harness-bench``: the decode-once cache is meant to be hit; ``--bench-set cold_cache=1`` empties it
before every harness round).

    pytest benchmarks/test_study.py --bench-size full -k model_1                 # 20 epochs, 2 rounds
    pytest benchmarks/test_study.py --bench-size full -k grid --bench-harness-arg=--workers --bench-harness-arg=2
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _common import HERE, bench_env
from conftest import chosen_sizes

pytestmark = pytest.mark.benchmark(group="study")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_per_class": 16, "val_per_class": 40, "epochs": 1, "rounds": 1, "contenders": "plain,harness",
              "grid": 0, "cold_cache": 0, "mobilenet_weights": None},
    "full": {"train_per_class": None, "val_per_class": None, "epochs": 20, "rounds": 2,
             "contenders": "plain,harness,harness-auto", "grid": 1, "cold_cache": 0, "mobilenet_weights": None},
}
TARGETS = {("model 1", "harness"): "<= 0.8", ("model 1", "harness-auto"): "<= 0.5", ("grid", "harness"): "<= 0.75"}
GRID = ["-p", "harness_vision.augmentations", "-p", "harness_vision.models", "--augmentation", "none",
        "--augmentation", "flip_rotate", "--model", "small_cnn", "--model", "small_cnn_scaled",
        "--model", "mobilenet_v2"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contender" in metafunc.fixturenames:
        metafunc.parametrize("contender", chosen_sizes(metafunc.config, SIZES)["contenders"].split(","))


def run(cmd: list[str], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, env=bench_env())
    if out.returncode not in ok:
        pytest.fail(f"{' '.join(cmd)} failed with {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return out


def mobilenet_weights(sizes: dict[str, Any], cache: Path) -> str:
    """``mobilenet_weights``, else a base weights file written once into the cache folder: a seeded random
    MobileNetV2 base at 160x160, for machines that cannot download ImageNet weights (frozen, it costs the same
    to run whatever its values)."""
    if sizes["mobilenet_weights"]:
        return str(sizes["mobilenet_weights"])
    path = cache / "mobilenet_v2_160_random.weights.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        code = ("import keras, sys; keras.utils.set_random_seed(1); keras.applications.MobileNetV2("
                "input_shape=(160, 160, 3), include_top=False, weights=None).save_weights(sys.argv[1])")
        run([sys.executable, "-c", code, str(path)])
    return str(path)


def plain_command(data: Path, sizes: dict[str, Any], grid: bool, cache: Path) -> list[str]:
    return [sys.executable, str(HERE / "plain_study.py"), str(data), "--epochs", str(sizes["epochs"]),
            *(["--grid", "--mobilenet-weights", mobilenet_weights(sizes, cache)] if grid else [])]


def harness_command(data: Path, sizes: dict[str, Any], grid: bool, cache: Path, output: Path, precision: str,
                    extra: list[str]) -> list[str]:
    selection = [*GRID, "--set", f"mobilenet_v2.weights={mobilenet_weights(sizes, cache)}"] if grid else [
        "--augmentation", "none", "--model", "study_model1"]
    return [sys.executable, "-m", "harness", "run", "-p", "study_plugin", "--dataset", "bench_cats_dogs", *selection,
            "--epochs", str(sizes["epochs"]), "--data-dir", str(data.parent), "--cache-dir", str(cache),
            "--output", str(output), "--precision", precision, "-q", *extra]


def records(output: Path) -> list[dict[str, Any]]:
    run_dir = max(output.iterdir(), key=lambda p: p.stat().st_mtime)
    rows = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line.strip()]
    for row in rows:
        assert row.get("status") != "error", f"the harness run errored: {row.get('traceback') or row.get('error')}"
    return rows


def study(benchmark: Any, sizes: dict[str, Any], ratios: Any, request: pytest.FixtureRequest, data: Path,
          cache: Path, output: Path, contender: str, grid: bool) -> None:
    what = "grid" if grid else "model 1"
    if contender == "plain":
        cmd = plain_command(data, sizes, grid, cache)
        out = benchmark.pedantic(run, args=(cmd,), rounds=sizes["rounds"])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        benchmark.extra_info.update(fit_seconds=round(result["fit_seconds"], 2),
                                    test_accuracy=round(result["test_accuracy"], 4))
        ratios.record(benchmark, f"{what}: plain script")
        return
    precision = "auto" if contender == "harness-auto" else "float32"
    cmd = harness_command(data, sizes, grid, cache, output, precision, request.config.getoption("bench_harness_arg"))

    def cold() -> None:
        if sizes["cold_cache"]:
            for child in cache.glob("*"):
                if child.is_dir():
                    shutil.rmtree(child)

    # exit code 1: a combination that did not beat the baseline (data, not a failure of the benchmark)
    benchmark.pedantic(run, args=(cmd, (0, 1)), setup=cold, rounds=sizes["rounds"])
    rows = records(output)
    benchmark.extra_info.update(train_seconds=round(sum(float(r["train_seconds"]) for r in rows), 2),
                                test_accuracy=[round(float(r["test_accuracy"]), 4) for r in rows],
                                precision=rows[0].get("precision"))
    ratios.record(benchmark, f"{what}: {contender}", reference=f"{what}: plain script",
                  target=TARGETS.get((what, contender), ""))


def test_model_1(benchmark: Any, sizes: dict[str, Any], ratios: Any, request: pytest.FixtureRequest,
                 cats_dogs: Path, bench_cache: Path, tmp_path: Path, contender: str) -> None:
    study(benchmark, sizes, ratios, request, cats_dogs, bench_cache, tmp_path / "reports", contender, grid=False)


def test_grid(benchmark: Any, sizes: dict[str, Any], ratios: Any, request: pytest.FixtureRequest,
              cats_dogs: Path, bench_cache: Path, tmp_path: Path, contender: str) -> None:
    if contender == "harness-auto":
        pytest.skip("the grid runs in float32")
    if not sizes["grid"]:
        pytest.skip("the study's six cells: --bench-size full or --bench-set grid=1")
    study(benchmark, sizes, ratios, request, cats_dogs, bench_cache, tmp_path / "reports", contender, grid=True)
