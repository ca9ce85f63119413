from __future__ import annotations

import pytest

from harness.engine import precision


@pytest.mark.parametrize("policy", precision.POLICIES)
def test_explicit_policies_pass_through(policy) -> None:
    assert precision.resolve(policy, has_gpu=True) == policy
    assert precision.resolve(policy, has_gpu=False) == policy


def test_auto_on_gpu_is_mixed_float16() -> None:
    assert precision.resolve("auto", has_gpu=True) == "mixed_float16"


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
        assert precision.resolve("auto", has_gpu=False) == expected
    finally:
        precision.cpu_has_bf16.cache_clear()


def test_no_cpuinfo_means_float32(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "missing")
    precision.cpu_has_bf16.cache_clear()
    try:
        assert precision.resolve("auto", has_gpu=False) == "float32"
    finally:
        precision.cpu_has_bf16.cache_clear()


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="float32"):
        precision.resolve("bfloat16", has_gpu=False)
