"""The reproducibility manifest of a run (``metadata.json``'s ``manifest``): what it takes to run it again.

Every installed distribution with its version, Python, the operating system, the CPU and GPU models, the
runtime, the git commit of the working directory with a dirty flag and a hash of its diff (never the diff: it
may hold anything), the environment variables that change how frameworks compute, and one command line that
reproduces the run: its own, less ``--resume`` and ``--reuse``, with the seeds, threads, backends and
precision pinned as the run recorded them. Secrets are masked (:mod:`harness.redact`).

Collecting it costs a few hundredths of a second (reading the distributions' metadata is most of it); git gets
:data:`GIT_TIMEOUT` seconds a call, and nothing here imports a framework.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.redact import MASK, redact, redact_argv

#: Seconds each git call may take (a huge or networked working tree): past it, the commit reads as unknown.
GIT_TIMEOUT = 5.0

#: Options left out of the reproduce command: they say where results come from, not what they are.
DROPPED = ("--resume", "--reuse")
#: Options the reproduce command pins to the values the run recorded (replacing those given).
PINNED = ("--seed", "--repeats", "--threads", "--backend", "--precision")

#: Environment variables recorded: those that change what a framework computes or where harness reads.
#: (TensorFlow's own ``TF_`` names only: Terraform's ``TF_VAR_*`` hold anything.)
ENV_PREFIXES = ("HARNESS_", "KERAS_", "TF_NUM_", "TF_ENABLE_", "TF_DETERMINISTIC", "TF_XLA_", "TF_GPU_", "TF_FORCE_",
                "TF_USE_", "TF_CUDNN_", "TF_CPP_", "XLA_", "JAX_", "CUDA_", "OMP_", "MKL_", "PYTHONHASHSEED",
                "MLFLOW_TRACKING_URI", "RAY_ADDRESS")
#: Names of environment variables whose values are secrets: recorded masked.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PWD|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


def distributions() -> dict[str, str]:
    """Every installed distribution and its version, by its normalized name (PEP 503: ``gitpython``,
    ``typing-extensions``), sorted; a distribution installed twice (on two ``sys.path`` entries) is the one
    Python imports: the first."""
    from importlib.metadata import distributions as installed

    found: dict[str, str] = {}
    for dist in installed():
        name, version = _name_and_version(dist)
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), version or "?")
    return dict(sorted(found.items()))


def _name_and_version(dist: Any) -> tuple[str | None, str | None]:
    """A distribution's name and version from the head of its metadata file (ten times faster than parsing
    the whole file, long description included, as ``dist.metadata`` does); else from ``dist.metadata``."""
    name = version = None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if not line:  # the headers end here
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            return name, version
    return dist.metadata["Name"], dist.version


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what :mod:`platform` says) and the number of
    logical CPUs."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.split(":", 1)[0].strip() in ("model name", "Model", "cpu model"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "?"
    return f"{name} ({os.cpu_count() or '?'} logical CPUs)"


def operating_system() -> str:
    """The OS and its release, with the distribution's name where ``/etc/os-release`` gives it."""
    pretty = ""
    try:
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except (OSError, AttributeError):
        pass
    return platform.platform() + (f" ({pretty})" if pretty else "")


def _git(cwd: Path, *args: str) -> bytes | None:
    """A git command's output in ``cwd``; ``None`` when git is missing, fails or runs out of time."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, env=env,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: Path) -> dict[str, Any] | None:
    """The commit of the git working tree at ``cwd``, whether it differs from it (``dirty``: ``git diff
    HEAD`` is not empty; untracked files are not counted) and the SHA-256 of that diff (the diff itself is
    never recorded); ``None`` outside a git working tree or when git does not answer."""
    commit = _git(cwd, "rev-parse", "--verify", "HEAD")
    if not commit:
        return None
    diff = _git(cwd, "diff", "HEAD", "--no-ext-diff", "--no-color", "--binary")
    if diff is None:
        return {"commit": commit.decode().strip(), "dirty": None, "diff_sha256": None}
    return {"commit": commit.decode().strip(), "dirty": bool(diff),
            "diff_sha256": hashlib.sha256(diff).hexdigest() if diff else None}


def environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of :data:`ENV_PREFIXES` set in ``env`` (default: this process's), secrets masked: the
    value of a variable whose name says it holds one, and the credentials of every URI."""
    env = os.environ if env is None else env
    return {name: (MASK if _SECRET_NAME.search(name) else redact(value)) for name, value in sorted(env.items())
            if name.startswith(ENV_PREFIXES)}


def without(argv: Iterable[str], options: Iterable[str], optional_value: bool) -> list[str]:
    """``argv`` less each of ``options`` (``--opt VALUE``, ``--opt=VALUE``); with ``optional_value``, the next
    argument is its value only when it does not start with ``-``."""
    names = tuple(options)
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            if not optional_value or not arg.startswith("-"):
                continue
        if arg in names:
            skip = True
            continue
        if not arg.startswith(tuple(f"{name}=" for name in names)):
            out.append(arg)
    return out


def reproduce(argv: list[str], runtime: Mapping[str, Any] | None, seed: int, repeats: int) -> str:
    """One command line that runs the run again: ``harness`` and its arguments less ``--resume``/``--reuse``,
    with ``--seed``, ``--repeats`` and, once the runtime is known, ``--threads``, ``--backend`` and
    ``--precision`` (when every backend has the same) pinned to what the run recorded; secrets masked. Run it
    in the run's working directory (``cwd``), whose configuration file it reads as the run did."""
    args = without(argv, DROPPED, optional_value=True)
    pinned = ["--seed", str(seed), "--repeats", str(repeats)]
    if runtime:
        names = list(runtime.get("backends") or [])
        precisions = set(dict(runtime.get("precisions") or {}).values())
        pinned += ["--threads", str(runtime.get("threads")), "--backend", ",".join(names)]
        if len(precisions) == 1:
            pinned += ["--precision", precisions.pop()]
    drop = [flag for flag in PINNED if flag in pinned]
    args = without(args, drop, optional_value=False)
    return shlex.join(["harness", *redact_argv([*args, *pinned])])


def collect(cwd: Path) -> dict[str, Any]:
    """What describes this machine and software for a run started in ``cwd`` (the parts that do not depend on
    the run): distributions, Python, OS, CPU, git, environment."""
    return {
        "distributions": distributions(),
        "python": {"version": sys.version.split()[0], "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "os": operating_system(),
        "cpu": cpu_model(),
        "git": git_state(cwd),
        "environment": environment(),
    }
