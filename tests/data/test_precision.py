from __future__ import annotations

import pytest

from harness.backends import Device
from harness.engine import precision

CPU = [Device("cpu", "CPU")]
AMPERE = [Device("gpu", "NVIDIA A100-SXM4-40GB", 40 << 30, 8.0), Device("gpu", "NVIDIA H200", 141 << 30, 9.0)]
VOLTA = [Device("gpu", "Tesla V100-SXM2-16GB", 16 << 30, 7.0)]


@pytest.mark.parametrize("policy", precision.POLICIES)
def test_explicit_policies_pass_through(policy) -> None:
    assert precision.resolve(policy, AMPERE) == policy
    assert precision.resolve(policy, CPU) == policy


def test_auto_on_gpus_is_bfloat16_from_ampere_on_else_float16() -> None:
    assert precision.resolve("auto", AMPERE) == "mixed_bfloat16"
    assert precision.resolve("auto", VOLTA) == "mixed_float16"
    assert precision.resolve("auto", AMPERE + VOLTA) == "mixed_float16"  # every GPU must support it
    assert precision.resolve("auto", [Device("gpu", "unknown")]) == "mixed_float16"


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu avx2 avx512f avx512_bf16", "mixed_bfloat16"),
    ("fpu avx2 amx_bf16 amx_tile", "mixed_bfloat16"),
    ("fpu avx2 avx512f", "float32"),
])
def test_auto_on_cpu_follows_bf16_units(monkeypatch, tmp_path, flags, expected) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    precision.cpu_has_bf16.cache_clear()
    try:
        assert precision.resolve("auto", CPU) == expected
    finally:
        precision.cpu_has_bf16.cache_clear()


def test_no_cpuinfo_means_float32(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "missing")
    precision.cpu_has_bf16.cache_clear()
    try:
        assert precision.resolve("auto", CPU) == "float32"
    finally:
        precision.cpu_has_bf16.cache_clear()


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="float32"):
        precision.resolve("bfloat16", CPU)
