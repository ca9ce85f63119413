"""The ``report`` object handed to the report hooks: a run's records and metadata, its results frame, and a
way to load the run's datasets and augmentations again for the figures that show images."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.data.prepare import PreparedData
    from harness.registry import Registry
    from harness.specs import AugmentationSpec


@dataclass
class Report:
    run_dir: Path
    #: Every record of ``records.jsonl`` (one per finished task, plus one per skipped combination).
    records: list[dict[str, Any]]
    metadata: dict[str, Any]
    #: The specs to load datasets and augmentations with, or ``None`` (then no image figures).
    registry: Registry | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    #: What the report could not show and why; shown on the page and in the terminal.
    notes: list[str] = field(default_factory=list)
    _data: dict[str, PreparedData | None] = field(default_factory=dict, repr=False)
    _predictions: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @cached_property
    def results(self) -> Any:
        """The ``results.csv`` frame of the records (:func:`harness.store.results_frame`)."""
        from harness.store import results_frame

        return results_frame(self.records)

    def predictions(self, record: dict[str, Any]) -> Any | None:
        """A record's per-image predictions (:func:`harness.predictions.read`: a DataFrame of ``id``, ``label``,
        ``predicted``, ``confidence``), read once per report; ``None`` when it has none."""
        from harness import predictions

        key = str(record.get("predictions"))
        if key not in self._predictions:
            self._predictions[key] = predictions.read(self.run_dir, record)
        return self._predictions[key]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- datasets and augmentations, for the figures that show images -----------------------------

    def _trained_record(self, dataset: str) -> dict[str, Any] | None:
        for record in self.records:
            if record.get("dataset") == dataset and record.get("dataset_info") and record.get("config"):
                return record
        return None

    def load_dataset(self, dataset: str) -> PreparedData | None:
        """The run's splits of ``dataset``, prepared again from its recorded parameters; ``None`` (with a
        note) when the dataset is not registered here or cannot be loaded."""
        if dataset not in self._data:
            self._data[dataset] = self._load(dataset)
        return self._data[dataset]

    def _load(self, dataset: str) -> PreparedData | None:
        record = self._trained_record(dataset)
        if record is None:
            return None
        if self.registry is None or dataset not in self.registry.datasets:
            self.note(f"images of dataset {dataset!r} not shown: no plugin registers it here")
            return None
        from harness.data.cache import default_cache_dir
        from harness.data.prepare import prepare
        from harness.specs import DatasetRequest

        config = record["config"]
        wanted = config["dataset"]
        height, width = (int(side) for side in wanted["image_size"])
        spec = dataclasses.replace(self.registry.datasets[dataset], params=dict(wanted.get("params") or {}),
                                   image_size=(height, width), channels=int(wanted["channels"]))
        split_seed = int(config.get("split_seed", 1))
        request = DatasetRequest(params=dict(spec.params), data_dir=self.data_dir,
                                 cache_dir=str(self.cache_dir or default_cache_dir()), seed=split_seed,
                                 image_size=(height, width), channels=spec.channels)
        try:
            data = prepare(spec, request, split_seed=split_seed)
        except Exception as exc:  # missing data is a note, not the end of the report
            self.note(f"images of dataset {dataset!r} not shown: it cannot be loaded here ({type(exc).__name__}: "
                      f"{exc})")
            return None
        if data.info.get("split_digest") != record["dataset_info"].get("split_digest"):
            self.note(f"dataset {dataset!r} loaded here differs from the run's (split digest "
                      f"{data.info.get('split_digest')} vs {record['dataset_info'].get('split_digest')})")
        return data

    def augmentation(self, name: str, dataset: str) -> tuple[AugmentationSpec, dict[str, Any]] | None:
        """The spec of augmentation ``name`` and the parameters it ran with on ``dataset``."""
        record = next((r for r in self.records if r.get("augmentation") == name and r.get("dataset") == dataset
                       and r.get("config")), None)
        if record is None:
            return None
        if self.registry is None or name not in self.registry.augmentations:
            self.note(f"augmentation {name!r} not shown: no plugin registers it here")
            return None
        params = dict((record["config"].get("augmentation") or {}).get("params") or {})
        return self.registry.augmentations[name], params

    def augmentations_of(self, dataset: str) -> list[str]:
        return sorted({str(r["augmentation"]) for r in self.records
                       if r.get("dataset") == dataset and r.get("config") and r.get("augmentation")})


def data_dir_of_run(metadata: dict[str, Any]) -> str | None:
    """Where the run looked for local copies of datasets: recorded in the metadata, else its ``--data-dir``
    argument (relative to the run's working directory), else ``HARNESS_DATA_DIR``."""
    if metadata.get("data_dir"):
        return str(metadata["data_dir"])
    argv = [str(a) for a in metadata.get("argv") or []]
    value = None
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--data-dir="):
            value = arg.split("=", 1)[1]
    if value is not None:
        return str(Path(metadata.get("cwd") or ".") / value)
    return os.environ.get("HARNESS_DATA_DIR") or None
