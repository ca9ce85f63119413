"""What the driver asks SLURM and the machine: the states of a job array's elements (``squeue``, which needs
no accounting database), cancelling (``scancel``), the partition's nodes (``sinfo``) and whether a folder is on
a filesystem the nodes share."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Seconds a SLURM command may take before it counts as unanswered.
COMMAND_SECONDS = 30
#: States in which an element may still train (or be about to).
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
                    "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"})
#: Filesystem types that a cluster's nodes share (``/proc/mounts``).
SHARED_FILESYSTEMS = frozenset({"nfs", "nfs4", "lustre", "gpfs", "beegfs", "cephfs", "ceph", "glusterfs",
                                "fuse.glusterfs", "panfs", "wekafs", "cifs", "smb3", "fuse.sshfs", "orangefs",
                                "fuse.juicefs", "virtiofs", "9p"})


class SlurmUnreachable(Exception):
    """A SLURM command did not answer (the controller is down or unreachable)."""


@dataclass(frozen=True)
class ElementState:
    """What ``squeue`` says of one element: ``RUNNING``, ``CANCELLED``...; the node; SLURM's reason."""

    state: str
    node: str
    reason: str


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """A SLURM command, its output captured; one that does not answer in time is :class:`SlurmUnreachable`."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_SECONDS)
    except subprocess.TimeoutExpired:
        raise SlurmUnreachable(f"`{' '.join(command)}` did not answer in {COMMAND_SECONDS}s") from None
    except OSError as exc:
        raise SlurmUnreachable(f"`{command[0]}`: {exc}") from None


def states(array_id: str) -> dict[str, ElementState]:
    """Every element of the array that SLURM still knows (finished ones for ``MinJobAge``), by ``ARRAY_INDEX``."""
    done = run(["squeue", "--noheader", "--array", "--states=all", f"--jobs={array_id}", "--format=%i|%T|%N|%r"])
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:  # forgotten: every element finished long ago
            return {}
        raise SlurmUnreachable(f"squeue: {done.stderr.strip() or f'exit code {done.returncode}'}")
    found = {}
    for line in done.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            found[parts[0]] = ElementState(parts[1], parts[2], parts[3])
    return found


def cancel(job: str, pending_only: bool = False) -> None:
    """``scancel`` the job (an array: every element); ``pending_only``: those that have not started."""
    run(["scancel", *(["--state=PENDING"] if pending_only else []), job])


def why_unusable(partition: str | None) -> str | None:
    """Why no job can be submitted from here (no SLURM commands, a controller that does not answer, an unknown
    partition), in a few words; ``None`` when ``sinfo`` answers and knows the partition."""
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        return "no SLURM here (sbatch or srun not found on PATH)"
    try:
        done = run(["sinfo", "--noheader", "--format=%R"])
    except SlurmUnreachable as exc:
        return f"SLURM does not answer: {exc}"
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        return f"SLURM does not answer ({said[-1].strip() if said else f'sinfo: exit code {done.returncode}'}); " \
               "is SLURM_CONF set, does slurmctld run?"
    known = sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})
    if partition is not None and partition not in known:
        return f"--slurm-partition {partition}: no such partition (known: {', '.join(known) or 'none'})"
    return None


def partition_time(partition: str | None) -> str:
    """The time limit a job of ``partition`` (default: the cluster's default partition) gets when it asks for
    none: its ``DefaultTime``, else its ``MaxTime`` (``infinite``: none), as ``sinfo`` writes them."""
    try:
        done = run(["sinfo", "--noheader", "--format=%P|%L|%l"])
    except SlurmUnreachable:
        return "infinite"
    for line in done.stdout.splitlines():
        name, _, times = line.strip().partition("|")
        default_time, _, max_time = times.partition("|")
        if (partition is None and name.endswith("*")) or name.rstrip("*") == partition:
            return default_time if default_time not in ("", "n/a") else (max_time or "infinite")
    return "infinite"


def node_hosts(partition: str | None) -> list[str]:
    """The host names of the partition's nodes (``[]`` when ``sinfo`` does not say)."""
    try:
        where = [f"--partition={partition}"] if partition else []
        done = run(["sinfo", "--noheader", "--Node", "--format=%n", *where])
    except SlurmUnreachable:
        return []
    return sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})


def only_this_machine(hosts: list[str]) -> bool:
    """Whether every node is this machine (a single-node cluster: every folder is shared)."""
    here = {socket.gethostname(), socket.getfqdn(), "localhost", "127.0.0.1"}
    return bool(hosts) and set(hosts) <= here


def filesystem(path: Path) -> str:
    """The type of the filesystem ``path`` (or its nearest existing parent) is on, from ``/proc/mounts``."""
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (str(path) == point or str(path).startswith(point.rstrip("/") + os.sep)) and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def sharing(path: Path, hosts: list[str]) -> tuple[str, bool]:
    """``(filesystem type, whether the nodes see it)``: on a single-node cluster on this machine, yes; else
    whether its type is one that clusters share."""
    kind = filesystem(path)
    return kind, only_this_machine(hosts) or kind in SHARED_FILESYSTEMS
