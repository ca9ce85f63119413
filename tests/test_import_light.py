"""`import harness`, `harness --help`, `harness list` and `--collect-only` import no backend (TensorFlow, JAX,
PyTorch), no Keras, no matplotlib, no MLflow and no tensorboardX."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
{body}
heavy = sorted(m for m in ("tensorflow", "keras", "jax", "torch", "matplotlib", "mlflow", "tensorboardX")
               if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "body",
    [
        "import harness",
        "from harness.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from harness.cli import main\nmain(['list'])",
        "from harness.cli import main\nmain(['run', '--collect-only'])",
        "from harness.cli import main\nmain(['run', '--collect-only', '--backend', 'jax,torch'])",
        "import harness.backends, harness.backends.jax, harness.backends.torch, harness.backends.tensorflow",
    ],
    ids=["import", "help", "list", "collect-only", "collect-only-backends", "backend-modules"],
)
def test_light_paths_import_no_backend(body: str, tmp_path) -> None:
    out = subprocess.run([sys.executable, "-c", CHECK.format(body=body)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY=\n" in out.stdout, out.stdout
