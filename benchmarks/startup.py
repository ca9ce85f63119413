"""Start-up: ``python -c "import harness"``, ``harness --help``, ``harness list``; median of N processes each.

    python benchmarks/startup.py [--runs 7]

Also checks, in-process, that TensorFlow, Keras and matplotlib are not imported by ``import harness``,
``--help`` or ``list``. Target (issue 6): ``--help`` and ``list`` under one second, TensorFlow not imported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _common import bench_env, fmt, machine, median, timed

HEAVY = ("tensorflow", "keras", "matplotlib")
CHECK = """
import sys
{body}
print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""
BODIES = {
    "import harness": "import harness",
    "harness --help": "from harness.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "harness list": "from harness.cli import main\nmain(['list'])",
}


def heavy_modules(body: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK.format(body=body, heavy=HEAVY)], capture_output=True,
                         text=True, env=bench_env())
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    return line[-1][6:] if line else f"(failed: {out.stderr.strip()[-300:]})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "import harness": [sys.executable, "-c", "import harness"],
        "harness --help": ["harness", "--help"],
        "harness list": ["harness", "list"],
    }
    print(f"machine: {machine()}")
    baseline = [timed([sys.executable, "-c", "pass"])[0] for _ in range(args.runs)]
    print(f"{'python -c pass':<16} {fmt(baseline)}")
    failed = False
    for name, cmd in commands.items():
        timed(cmd, env=bench_env())  # warm the file-system cache
        times = [timed(cmd, env=bench_env())[0] for _ in range(args.runs)]
        heavy = heavy_modules(BODIES[name])
        verdict = "ok" if (name == "import harness" or median(times) < 1.0) and not heavy else "MISSED"
        failed |= verdict != "ok"
        print(f"{name:<16} {fmt(times)}  heavy modules imported: {heavy or 'none'}  [{verdict}]")
    print(f"load after: {machine().split('load average ')[1]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
