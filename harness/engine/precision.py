"""Choosing the numeric precision policy once per run (recorded with every result)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.backends import Device

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
CHOICES = ("auto", *POLICIES)
CPUINFO = Path("/proc/cpuinfo")


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True on CPUs with AMX or AVX-512 BF16 (fast bfloat16 matrix work), read from ``/proc/cpuinfo``."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(re.split(r"\s+", line.partition(":")[2].strip()))
    return bool(flags & {"amx_bf16", "avx512_bf16"})


#: The first NVIDIA compute capability with bfloat16 tensor cores (Ampere).
BF16_COMPUTE_CAPABILITY = 8.0


def resolve(policy: str, devices: Sequence[Device]) -> str:
    """``auto``: on GPUs, mixed bfloat16 when every one is Ampere or later (compute capability 8.0 and up),
    else mixed float16; on the CPU, mixed bfloat16 with bf16 units (AMX, AVX-512 BF16), else float32."""
    if policy not in CHOICES:
        raise ValueError(f"precision policy {policy!r} is not one of {', '.join(CHOICES)}")
    if policy != "auto":
        return policy
    gpus = [d for d in devices if d.kind == "gpu"]
    if gpus:
        recent = all((d.compute_capability or 0.0) >= BF16_COMPUTE_CAPABILITY for d in gpus)
        return "mixed_bfloat16" if recent else "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"
