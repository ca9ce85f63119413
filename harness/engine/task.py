"""A task: one combination trained with one seed. Self-contained and picklable, so it can run anywhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.specs import AugmentationSpec, Budget, DatasetSpec, ModelSpec


@dataclass(frozen=True)
class Task:
    dataset: DatasetSpec
    augmentation: AugmentationSpec
    model: ModelSpec
    budget: Budget
    seed: int
    #: 0 for the first seed of a combination, 1 for the next...
    repeat: int = 0
    split_seed: int = 1
    batch_size: int = 32
    precision: str = "float32"
    restore_best: bool = True
    target_accuracy: float | None = None
    data_dir: str | None = None
    cache_dir: str = ""
    #: Position in the run, for progress displays.
    index: int = 0
    total: int = 1

    @property
    def combination_id(self) -> str:
        return f"{self.dataset.name}-{self.augmentation.name}-{self.model.name}"

    @property
    def id(self) -> str:
        return f"{self.combination_id}[seed={self.seed}]"

    def describe(self) -> dict[str, Any]:
        """What determines the result: recorded with it and hashed for ``--resume``."""
        return {
            "dataset": {"name": self.dataset.name, "params": dict(self.dataset.params),
                        "image_size": list(self.dataset.image_size), "channels": self.dataset.channels},
            "augmentation": {"name": self.augmentation.name, "params": dict(self.augmentation.params)},
            "model": {"name": self.model.name, "params": dict(self.model.params),
                      "input_range": self.model.input_range},
            "budget": self.budget.as_dict(),
            "seed": self.seed,
            "split_seed": self.split_seed,
            "batch_size": self.batch_size,
            "precision": self.precision,
            "restore_best": self.restore_best,
            "target_accuracy": self.target_accuracy,
        }

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
