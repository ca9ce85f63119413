"""Per-image predictions of a task: what each test image was predicted to be, and how confidently.

A trainer returns them in its record as ``predictions``: a mapping of :data:`COLUMNS` to equal-length lists
(``id``: the image's id in the split, its path relative to the dataset's folder for a folder dataset, its index
for a generated one; ``label`` and ``predicted``: class indices into ``dataset_info["class_names"]``;
``confidence``: the probability the model gave its prediction). The run's store
(:meth:`harness.store.RunStore.append`, the one writer of a run directory) writes them to
``predictions/<config_hash>.csv.gz`` beside ``records.jsonl`` and keeps only that relative path in the record,
so that the record stays small and every executor sends predictions the same way: in the record.

The file is a gzip-compressed CSV that pandas reads in one line::

    pandas.read_csv("reports/RUN/predictions/0123abcd.csv.gz")

A task trained again (``--resume``) writes its file again: the latest record of a task and its file agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The folder of the prediction files in a run directory.
FOLDER = "predictions"
#: The columns of a prediction file, in order.
COLUMNS = ("id", "label", "predicted", "confidence")
#: A prediction file's name ends with this.
SUFFIX = ".csv.gz"


class PredictionsError(ValueError):
    """Predictions a trainer returned that cannot be written: columns missing or of unequal lengths."""


def relative_path(config_hash: str) -> str:
    """Where a task's predictions lie, relative to its run directory."""
    return f"{FOLDER}/{config_hash}{SUFFIX}"


def check(columns: Mapping[str, Sequence[Any]]) -> int:
    """The number of rows of in-flight predictions; :class:`PredictionsError` naming what is wrong."""
    if not isinstance(columns, Mapping):
        raise PredictionsError(f"predictions must map {', '.join(COLUMNS)} to lists, got {type(columns).__name__}")
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise PredictionsError(f"predictions lack the column(s) {', '.join(missing)}")
    lengths = {c: len(columns[c]) for c in COLUMNS}
    if len(set(lengths.values())) != 1:
        raise PredictionsError(f"predictions' columns differ in length: {lengths}")
    return lengths["id"]


def frame(columns: Mapping[str, Sequence[Any]]) -> Any:
    """In-flight predictions as a DataFrame with :data:`COLUMNS` (ids as strings, labels as ints)."""
    import pandas as pd

    check(columns)
    table = pd.DataFrame({c: list(columns[c]) for c in COLUMNS}, columns=list(COLUMNS))
    table["id"] = table["id"].astype(str)
    table["label"] = table["label"].astype("int64")
    table["predicted"] = table["predicted"].astype("int64")
    table["confidence"] = table["confidence"].astype("float64")
    return table


def encode(columns: Mapping[str, Sequence[Any]]) -> bytes:
    """In-flight predictions as the bytes of their file: a gzip-compressed CSV, the same bytes for the same
    predictions (no timestamp in the gzip header). :meth:`harness.store.RunStore.append` writes them."""
    import gzip

    text = frame(columns).to_csv(index=False, float_format="%.6g")
    return gzip.compress(text.encode("utf-8"), mtime=0)


def path_of(run_dir: Path, record: Mapping[str, Any]) -> Path | None:
    """The prediction file of a record, if the record names one and it exists."""
    relative = record.get("predictions")
    if not isinstance(relative, str):
        return None
    path = Path(run_dir) / relative
    return path if path.is_file() else None


def read(run_dir: Path, record: Mapping[str, Any]) -> Any | None:
    """A record's predictions as a DataFrame (:data:`COLUMNS`), or ``None`` when it has none (an error, a
    run written before predictions were kept, a file lost)."""
    import pandas as pd

    path = path_of(run_dir, record)
    if path is None:
        return None
    return pd.read_csv(path, dtype={"id": str, "label": "int64", "predicted": "int64", "confidence": "float64"})


def correct(table: Any) -> Any:
    """Whether each image was predicted right, indexed by id (a boolean Series)."""
    return (table["label"] == table["predicted"]).set_axis(table["id"].to_numpy())


def paired(table_a: Any, table_b: Any) -> tuple[Any, Any] | None:
    """Both tasks' right-or-wrong per image, aligned on the image ids, when both saw the same test images
    (the same ids and labels); ``None`` otherwise (then only an unpaired comparison is possible)."""
    if len(table_a) != len(table_b):
        return None
    a = table_a.set_index("id").sort_index()
    b = table_b.set_index("id").sort_index()
    if not a.index.equals(b.index) or not (a["label"] == b["label"]).all():
        return None
    return (a["label"] == a["predicted"]), (b["label"] == b["predicted"])


def accuracy(table: Any) -> float:
    """The accuracy the predictions give (what the record's ``test_accuracy`` must equal)."""
    n = len(table)
    return float((table["label"] == table["predicted"]).sum()) / n if n else math.nan
