"""Fixtures of the report tests: run directories written by hand (fast, no training)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .fakes import write_run


@pytest.fixture
def run_dir_factory(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(records: list[dict[str, Any]], name: str | None = None, **metadata: Any) -> Path:
        return write_run(tmp_path / (name or f"run{next(counter)}"), records, **metadata)

    return make

