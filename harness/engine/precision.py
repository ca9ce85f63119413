"""Choosing the numeric precision policy once per run."""

from __future__ import annotations

from pathlib import Path

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def cpu_has_bf16() -> bool:
    """True on CPUs with AMX or AVX-512 BF16 (fast bfloat16 matrix work)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve(policy: str, has_gpu: bool) -> str:
    """``auto``: mixed float16 on a GPU, mixed bfloat16 on a CPU with bf16 units, float32 elsewhere."""
    if policy != "auto":
        return policy
    if has_gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"
