"""Training step time of the study's model 1 by precision policy (and XLA), on the real images (160x160, batch
32; 8 at small size) through harness's feed from the decode-once cache: ``steps`` training steps a round, after
a 2-step warm-up that traces. The reference is float32. ``+xla`` compiles with ``jit_compile=True``.
TensorFlow's thread pools: ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` in the environment.

    pytest benchmarks/test_mixed_precision.py --bench-size full     # docs/benchmarks.md (20 steps, 3 rounds, XLA)
    pytest benchmarks/test_mixed_precision.py --bench-set variants=float32,mixed_bfloat16+xla
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _common import decoded, model_1
from conftest import chosen_sizes

#: the dataset shuffles itself (Keras warns about its own shuffle=True on a tf.data.Dataset)
FIT = {"epochs": 1, "verbose": 0, "shuffle": False}
pytestmark = pytest.mark.benchmark(group="precision")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"batch_size": 8, "train_per_class": 24, "steps": 3, "rounds": 1, "variants": "float32,mixed_bfloat16"},
    "full": {"batch_size": 32, "train_per_class": None, "steps": 20, "rounds": 3,
             "variants": "float32,mixed_bfloat16,float32+xla,mixed_bfloat16+xla"},
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", chosen_sizes(metafunc.config, SIZES)["variants"].split(","))


def test_step_time(benchmark: Any, sizes: dict[str, Any], ratios: Any, cats_dogs: Path, tmp_path: Path,
                   variant: str) -> None:
    from harness.backends.tensorflow import make_dataset

    policy, _, xla = variant.partition("+")
    images, labels = decoded(cats_dogs / "train", tmp_path / "cache")
    feed = make_dataset(images, labels, sizes["batch_size"], shuffle=True, seed=1).repeat()
    model = model_1(policy=policy, xla=bool(xla), uint8=True)
    model.fit(feed, steps_per_epoch=2, **FIT)  # traces, off the clock
    steps = sizes["steps"]
    benchmark.pedantic(model.fit, args=(feed,), kwargs=FIT | {"steps_per_epoch": steps},
                       rounds=sizes["rounds"])
    if benchmark.stats:
        benchmark.extra_info["ms_per_step"] = round(1000 * benchmark.stats.stats.median / steps, 1)
    first = sizes["variants"].split(",")[0]
    ratios.record(benchmark, f"{steps} steps, {variant}",
                  reference=None if variant == first else f"{steps} steps, {first}")
