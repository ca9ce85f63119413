"""The GPUs this machine lets a run use, found without a deep-learning framework.

The session decides the run's runtime in the driver, which trains nothing with the process executor: asking
TensorFlow for its devices there would cost seconds and memory for nothing. ``CUDA_VISIBLE_DEVICES`` and
``nvidia-smi`` say the same: which NVIDIA GPUs exist, their names, memory and compute capability.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from harness.backends import Device

#: What ``nvidia-smi`` is asked, one line per GPU.
QUERY = "index,uuid,name,memory.total,compute_cap"
#: ``CUDA_VISIBLE_DEVICES`` values that hide every GPU.
HIDDEN = ("", "-1", "none", "NoDevFiles")


def visible_gpus() -> list[Device]:
    """The GPUs a process of this run sees, in CUDA's order (index ``i`` is the i-th entry of
    ``CUDA_VISIBLE_DEVICES`` when it is set): none when the variable hides them or nothing answers."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip() in HIDDEN:
        return []
    physical = nvidia_smi()
    if env is None:
        return [device for _, _, device in physical]
    by_key = {key: device for index, uuid, device in physical for key in (index, uuid)}
    entries = [entry.strip() for entry in env.split(",") if entry.strip()]
    return [by_key.get(entry, Device("gpu", f"GPU {entry}")) for entry in entries]


def nvidia_smi() -> list[tuple[str, str, Device]]:
    """``(index, uuid, device)`` of every GPU ``nvidia-smi`` lists; empty without it or when it fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        out = subprocess.run([program, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [parsed for line in out.stdout.splitlines() if (parsed := parse_line(line)) is not None]


def parse_line(line: str) -> tuple[str, str, Device] | None:
    """One line of ``nvidia-smi --query-gpu=index,uuid,name,memory.total,compute_cap`` (MiB, ``8.0``)."""
    fields = [field.strip() for field in line.split(",")]
    if len(fields) != 5 or not fields[0].isdigit():
        return None
    index, uuid, name, memory, capability = fields
    return index, uuid, Device("gpu", name, int(memory) * 2**20 if memory.isdigit() else None,
                               _number(capability))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
