"""Choosing the numeric precision policy once per run (recorded with every result)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

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


def resolve(policy: str, has_gpu: bool) -> str:
    """``auto``: mixed float16 on a GPU, mixed bfloat16 on a CPU with bf16 units, float32 elsewhere."""
    if policy not in CHOICES:
        raise ValueError(f"precision policy {policy!r} is not one of {', '.join(CHOICES)}")
    if policy != "auto":
        return policy
    if has_gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"
