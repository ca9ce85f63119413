"""The report's files besides its pages: each table as CSV (machine column names, numbers rounded as in
``results.csv``) and Markdown, each figure as PNG."""

from __future__ import annotations

import io
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from harness.store import write_atomic

TABLES_DIR = "tables"
FIGURES_DIR = "figures"
_SAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")

#: Significant digits of the numbers in the tables' CSV files, as in ``results.csv``
#: (:data:`harness.store.SIGNIFICANT_DIGITS`): ``0.5000000000000004`` is written ``0.5``.
SIGNIFICANT_DIGITS = 12


def write_file(path: Path, write: Any, mode: str = "w") -> None:
    """Atomically, and readable by everyone like any other output (temporary files start private)."""
    write_atomic(path, write, mode)
    os.chmod(path, 0o644)


def safe_name(name: str) -> str:
    """A table or figure name usable as a file stem."""
    return _SAFE.sub("_", str(name)).strip("._") or "unnamed"


def _rounded(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def rounded(frame: Any) -> Any:
    """A copy of ``frame`` whose floats (in float columns and in mixed ones) carry no rounding noise."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind in "fO":
            out[column] = out[column].map(_rounded)
    return out


def _has_index(frame: Any) -> bool:
    import pandas as pd

    return not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None


def write_csv(path: Path, frame: Any) -> None:
    """``frame`` as CSV, its own column names, numbers rounded like ``results.csv``."""
    clean = rounded(frame)
    write_file(path, lambda handle: clean.to_csv(handle, index=_has_index(frame)))


def render_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    if "matplotlib.pyplot" in sys.modules:  # a plugin's pyplot figure: free it
        sys.modules["matplotlib.pyplot"].close(figure)
    return buffer.getvalue()


def write_png(path: Path, png: bytes) -> None:
    write_file(path, lambda handle: handle.write(png), mode="wb")
