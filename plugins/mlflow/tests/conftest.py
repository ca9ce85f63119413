"""Shared fixtures: harness runs in this process (harness's testing kit), with this package's plugin loaded by
``-p harness_mlflow`` and installed plugins left out (an installed harness-mlflow would register twice)."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "src"
if str(PLUGIN_SRC) not in sys.path:  # the package's own source, installed or not
    sys.path.insert(0, str(PLUGIN_SRC))

pytest_plugins = ["harness.testing"]
