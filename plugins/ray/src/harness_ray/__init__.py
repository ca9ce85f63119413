"""harness-ray: ``harness run --executor ray`` trains each task (one combination and seed) as a Ray task.

A plugin of the ``harness`` entry-point group: it adds the ``ray`` executor and its options. Ray is imported
only when a run uses the executor, so ``harness --help`` and ``harness list`` stay light.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import harness
from harness.executor import ExecutorSpec

if TYPE_CHECKING:
    from harness.config import Config, OptionParser

__version__ = "0.1.0"
__all__ = ["harness_executors_register", "harness_options_add"]


def resources(value: Any) -> float:
    """A task's share of a resource: a non-negative number, whole above 1 (as Ray requires)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value {value!r}: expected a number such as 1 or 0.5") from None
    if math.isnan(number) or number < 0 or (number > 1 and not number.is_integer()):
        raise ValueError(f"invalid value {value!r}: expected 0, a fraction up to 1 or a whole number")
    return number


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--ray-address", metavar="ADDR",
                     help="the Ray cluster for --executor ray: HOST:PORT, 'auto' (the cluster started on this "
                          "machine with `ray start`) or 'local' (default: RAY_ADDRESS, else 'auto' when a cluster "
                          "runs here, else a Ray started for the run on 127.0.0.1)")
    parser.addoption("--ray-gpus-per-task", parse=resources, metavar="N",
                     help="GPUs for each task; fractions share a GPU (default 1 when the cluster has GPUs, else 0)")
    parser.addoption("--ray-cpus-per-task", parse=resources, default=1.0, metavar="N",
                     help="CPUs for each task (default 1); also its TensorFlow thread count")


def _make_executor(config: Config) -> Any:
    from harness_ray.executor import RayExecutor

    return RayExecutor(config)


@harness.hookimpl
def harness_executors_register(config: Config) -> list[ExecutorSpec]:
    return [ExecutorSpec(name="ray", factory=_make_executor,
                         description="each task a Ray task, on a Ray cluster or a local Ray (harness-ray)")]
