"""harness-ray: ``harness run --executor ray`` trains each task (one combination and seed) as a Ray task.

A plugin of the ``harness`` entry-point group: it adds the ``ray`` executor and its options. Ray is imported
only when a run uses the executor, so ``harness --help`` and ``harness list`` stay light.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any

import harness
from harness.executor import ExecutorSpec

if TYPE_CHECKING:
    from harness.config import Config

__version__ = "0.1.0"
__all__ = ["harness_executors_register", "harness_options_add"]


class _BadValue(argparse.ArgumentTypeError, ValueError):
    """Reported by argparse on the command line, and as a usage error from a configuration file."""


def resources(value: Any) -> float:
    """A task's share of a resource: a non-negative number, whole above 1 (as Ray requires)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _BadValue(f"expected a number such as 1 or 0.5, got {value!r}") from None
    if math.isnan(number) or number < 0 or (number > 1 and not number.is_integer()):
        raise _BadValue(f"expected 0, a fraction up to 1 or a whole number, got {value!r}")
    return number


@harness.hookimpl
def harness_options_add(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ray")
    group.add_argument("--ray-address", dest="ray_address", default=None, metavar="ADDR",
                       help="the Ray cluster for --executor ray: HOST:PORT, 'auto' (the cluster started on this "
                            "machine with `ray start`) or 'local' (default: RAY_ADDRESS, else a Ray started for the "
                            "run on 127.0.0.1)")
    group.add_argument("--ray-gpus-per-task", dest="ray_gpus_per_task", type=resources, default=None,
                       metavar="N", help="GPUs for each task; fractions share a GPU (default 1 when the cluster "
                                         "has GPUs, else 0)")
    group.add_argument("--ray-cpus-per-task", dest="ray_cpus_per_task", type=resources, default=None,
                       metavar="N", help="CPUs Ray reserves for each task (default: the run's --threads)")


def _make_executor(config: Config) -> Any:
    from harness_ray.executor import RayExecutor

    return RayExecutor(config)


@harness.hookimpl
def harness_executors_register(config: Config) -> list[ExecutorSpec]:
    return [ExecutorSpec(name="ray", factory=_make_executor,
                         description="each task a Ray task, on a Ray cluster or a local Ray (harness-ray)")]
