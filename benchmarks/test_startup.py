"""Start-up: ``python -c "import harness"``, ``harness --help``, ``harness list``, each a fresh process, against
``python -c pass``; and, in each, that TensorFlow, Keras and matplotlib stay unimported (issue 6: ``--help`` and
``list`` under one second, no TensorFlow).

    pytest benchmarks/test_startup.py --bench-size full     # docs/benchmarks.md: median of 7
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from _common import bench_env

pytestmark = pytest.mark.benchmark(group="startup")

SIZES: dict[str, dict[str, Any]] = {"small": {"rounds": 3}, "full": {"rounds": 7}}
HEAVY = ("tensorflow", "keras", "matplotlib")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import harness": [sys.executable, "-c", "import harness"],
    "harness --help": [sys.executable, "-m", "harness", "--help"],
    "harness list": [sys.executable, "-m", "harness", "list"],
}
BODIES = {
    "import harness": "import harness",
    "harness --help": "from harness.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "harness list": "from harness.cli import main\nmain(['list'])",
}
CHECK = "import sys\n{body}\nprint('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules))\n"


def heavy_modules(body: str) -> list[str]:
    """The heavy modules that ``body`` imports, run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHECK.format(body=body, heavy=HEAVY)], capture_output=True,
                         text=True, env=bench_env(), check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")][-1]
    return [name for name in line[len("HEAVY="):].split(",") if name]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup(benchmark: Any, sizes: dict[str, Any], ratios: Any, name: str) -> None:
    env = bench_env()

    def run() -> None:
        subprocess.run(COMMANDS[name], env=env, capture_output=True, check=True)

    benchmark.pedantic(run, rounds=sizes["rounds"], warmup_rounds=1)  # the warm-up fills the file-system cache
    ratios.record(benchmark, name, reference=None if name == "python -c pass" else "python -c pass",
                  target="" if name in ("python -c pass", "import harness") else "< 1 s")
    if name in BODIES:
        heavy = heavy_modules(BODIES[name])
        benchmark.extra_info["heavy_modules"] = heavy
        assert not heavy, f"{name} imported {', '.join(heavy)}"
