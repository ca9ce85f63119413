"""TensorFlow's start-up notices stay off stderr; an import failure still shows what it printed."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_first_import_is_quiet() -> None:
    out = run("from harness.backends.tfimport import ensure_tensorflow\nensure_tensorflow()\n"
              "import sys; print('keras' in sys.modules and 'tensorflow' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    assert "oneDNN" not in out.stderr and "absl" not in out.stderr, out.stderr


def test_a_failing_import_replays_what_it_printed() -> None:
    code = (
        "import os, sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *args, **kwargs):\n"
        "    if name == 'keras':\n"
        "        os.write(2, b'native complaint\\n')\n"
        "        raise ImportError('no keras here')\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = fake\n"
        "from harness.backends.tfimport import ensure_tensorflow\n"
        "ensure_tensorflow()\n"
    )
    out = run(code)
    assert out.returncode != 0
    assert "native complaint" in out.stderr and "no keras here" in out.stderr
