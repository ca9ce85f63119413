"""harness-slurm: ``harness run --executor slurm`` trains each task (one combination and seed) as one element
of a SLURM job array, submitted through submitit.

A plugin of the ``harness`` entry-point group: it adds the ``slurm`` executor and its options (flags, and
``slurm_*`` keys of ``[tool.harness]``). submitit is imported only when a run uses the executor, so
``harness --help`` and ``harness list`` stay light.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import harness
from harness import ExecutorSpec, UsageError

if TYPE_CHECKING:
    from harness import Config, OptionParser

__version__ = "0.1.0"
__all__ = ["harness_configure", "harness_executors_register", "harness_options_add"]

#: sbatch options the executor writes itself: ``--slurm-sbatch`` may not replace them.
RESERVED_SBATCH = frozenset({"array", "output", "error", "open-mode", "wrap"})


def memory(value: Any) -> str:
    """``--slurm-mem``: sbatch's ``--mem`` form, a whole number with an optional unit (``16G``, ``500M``)."""
    text = str(value).strip().upper()
    if not re.fullmatch(r"\d+[KMGT]?", text) or int(re.sub(r"\D", "", text)) == 0:
        raise ValueError(f"invalid value {value!r}: expected a size such as 16G or 500M")
    return text


def sbatch_option(value: Any) -> tuple[str, str | bool]:
    """``--slurm-sbatch KEY=VALUE`` (or ``KEY`` alone, a flag): one more ``#SBATCH --KEY=VALUE`` line."""
    text = str(value).strip()
    key, sep, given = text.partition("=")
    key = key.strip().lstrip("-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
        raise ValueError(f"invalid value {value!r}: expected KEY=VALUE with an sbatch option name, e.g. "
                         "account=lab or qos=high")
    if key in RESERVED_SBATCH:
        raise ValueError(f"invalid value {value!r}: harness writes --{key} itself")
    return key, given.strip() if sep else True


def count(value: Any) -> int:
    """A whole number >= 0 (``--slurm-gpus-per-task``)."""
    number = harness.nonnegative_int(value)
    return int(number)


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--slurm-partition", parse=harness.string, metavar="NAME",
                     help="the partition of --executor slurm's job array (default: the cluster's default)")
    parser.addoption("--slurm-gpus-per-task", parse=count, metavar="N",
                     help="GPUs for each task (sbatch --gpus-per-task; default: none)")
    parser.addoption("--slurm-cpus-per-task", parse=harness.positive_int, metavar="N",
                     help="CPUs for each task (default: the run's --threads, which every task trains with: "
                          "giving another number takes --threads N too)")
    parser.addoption("--slurm-mem", parse=memory, metavar="SIZE",
                     help="memory for each task, e.g. 16G (sbatch --mem; default: the partition's)")
    parser.addoption("--slurm-time", parse=harness.parse_duration, metavar="DURATION",
                     help="time limit of each task, e.g. 30m, 2h (default: the task's --task-timeout, or 3 x a "
                          "--time budget + 10m, plus 5m to start; without either, the partition's limit)")
    parser.addoption("--slurm-array-parallelism", parse=harness.positive_int, metavar="N",
                     help="at most N tasks of the array at once (default: as many as the cluster gives)")
    parser.addoption("--slurm-setup", parse=harness.string, many=True, metavar="LINE",
                     help="a shell line run before each task, e.g. 'module load cuda' (repeatable)")
    parser.addoption("--slurm-sbatch", parse=sbatch_option, many=True, metavar="KEY=VALUE",
                     help="any other sbatch option, e.g. account=lab, qos=high, constraint=a100 (repeatable)")


@harness.hookimpl
def harness_configure(config: Config) -> None:
    """A task trains with the run's thread count (part of what it computes): CPUs per task other than that
    need ``--threads`` to say so."""
    options = config.options
    cpus = options.get("slurm_cpus_per_task")
    if cpus is None or options.get("executor") != "slurm":
        return
    threads = options.get("threads")
    if threads is None:
        raise UsageError(f"--slurm-cpus-per-task {cpus}: each task trains with --threads threads (default: the "
                         f"cores of this machine): give --threads {cpus} too, or --threads N for fewer")
    if cpus < threads:
        raise UsageError(f"--slurm-cpus-per-task {cpus}: each task trains with --threads {threads} threads and "
                         "needs at least as many CPUs")


def _make_executor(config: Config) -> Any:
    from harness_slurm.executor import SlurmExecutor

    return SlurmExecutor(config)


@harness.hookimpl
def harness_executors_register(config: Config) -> list[ExecutorSpec]:
    return [ExecutorSpec(name="slurm", factory=_make_executor,
                         description="one SLURM job array per run, a task per element, through submitit "
                                     "(harness-slurm)")]
