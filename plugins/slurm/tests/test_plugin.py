"""The plugin without a cluster: it registers the executor and its options, checks them, imports submitit only
to run, and a machine without SLURM is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "src"


def harness(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1", **env,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))}
    return subprocess.run([sys.executable, "-m", "harness", "-p", "harness_slurm", *args], env=environ, text=True,
                          capture_output=True, timeout=300, cwd=cwd)


def test_list_executors_shows_slurm_without_importing_submitit() -> None:
    result = harness("list", "executors")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert {"serial", "process", "slurm"} <= set(names), result.stdout
    assert "(harness-slurm " in next(line for line in result.stdout.splitlines() if line.startswith("slurm "))
    light = subprocess.run([sys.executable, "-c", "import sys, harness_slurm; assert 'submitit' not in sys.modules"],
                           env={"PYTHONPATH": str(PLUGIN_SRC), "PATH": ""}, capture_output=True, text=True)
    assert light.returncode == 0, light.stderr


@pytest.mark.parametrize(("args", "said"), [
    (["--slurm-mem", "lots"], "--slurm-mem"),
    (["--slurm-time", "soon"], "--slurm-time"),
    (["--slurm-sbatch", "array=0-3"], "harness writes --array itself"),
    (["--slurm-sbatch", "Bad Key=1"], "--slurm-sbatch"),
    (["--slurm-cpus-per-task", "0"], "--slurm-cpus-per-task"),
])
def test_bad_values_are_one_line_naming_the_option(args: list[str], said: str, tmp_path: Path) -> None:
    result = harness("run", "--executor", "slurm", *args, "--collect-only", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cpus_per_task_other_than_the_threads_needs_threads(tmp_path: Path) -> None:
    """A task trains with the run's --threads (part of its numbers): the CPUs follow it, not the reverse."""
    result = harness("run", "--executor", "slurm", "--slurm-cpus-per-task", "4", "--collect-only", cwd=tmp_path)
    assert result.returncode == 4 and "give --threads 4 too" in result.stderr, result.stderr
    result = harness("run", "--executor", "slurm", "--slurm-cpus-per-task", "1", "--threads", "2", "--collect-only",
                     cwd=tmp_path)
    assert result.returncode == 4 and "needs at least as many CPUs" in result.stderr, result.stderr
    fine = harness("run", "--dataset", "synthetic", "--executor", "slurm", "--slurm-cpus-per-task", "4",
                   "--threads", "2", "--collect-only", cwd=tmp_path)
    assert fine.returncode in (0, 5) and "error" not in fine.stderr, fine.stderr  # 5: no models installed


def test_the_options_come_from_the_configuration_file_too(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('slurm_mem = "lots"\n')
    result = harness("run", "--executor", "slurm", "--collect-only", cwd=tmp_path)
    assert result.returncode == 4 and "slurm_mem" in result.stderr, result.stderr


def test_a_machine_without_slurm_is_one_line(tmp_path: Path) -> None:
    result = harness("-p", "harness.testing.fast", "-p", "no:reports", "run", "--dataset", "synthetic",
                     "--augmentation", "none", "--model", "fast_pass", "--backend", "jax", "--threads", "1",
                     "--executor", "slurm", cwd=tmp_path, PATH=os.path.dirname(sys.executable))
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        "harness: error: --executor slurm: no SLURM here (sbatch or srun not found on PATH)"


def test_the_time_limit_comes_from_the_option_else_the_task_timeout_with_a_margin() -> None:
    from harness_slurm.executor import limit_words, time_limit

    from harness.engine.task import Task
    from harness.specs import AugmentationSpec, Budget, DatasetSpec, ModelSpec

    def task(timeout: float | None) -> Task:
        return Task(dataset=DatasetSpec(name="d", factory=print),
                    augmentation=AugmentationSpec(name="a", factory=print), model=ModelSpec(name="m", factory=print),
                    budget=Budget(epochs=1), seed=1, timeout_seconds=timeout)

    assert time_limit(90, [task(None)], None) == ("2", "--slurm-time")
    assert time_limit(None, [task(600), task(1800)], None) == ("35", "the task timeout 30m + 5m")
    assert limit_words("35") == "35m" and limit_words("150") == "2h30m" and limit_words("infinite") == "infinite"


def test_a_folder_is_shared_when_its_filesystem_is_or_the_one_node_is_this_machine(tmp_path: Path) -> None:
    import socket

    from harness_slurm.cluster import filesystem, sharing

    assert filesystem(Path("/proc/self")) == "proc"
    assert filesystem(tmp_path / "not" / "yet") == filesystem(tmp_path)
    assert sharing(tmp_path, [socket.gethostname()])[1] is True
    kind, shared = sharing(tmp_path, ["node1", "node2"])
    assert shared is (kind in ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cephfs"))
