"""A task: one combination trained with one seed. Self-contained and picklable, so it can run anywhere
(this process, a worker process, another machine); :func:`harness.engine.train.train` turns it into a record."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.specs import AugmentationSpec, Budget, DatasetSpec, ModelSpec


def _spec_state(spec: Any) -> tuple[type, dict[str, Any]]:
    """A spec as its class and constructor arguments (its read-only mappings as plain dicts)."""
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.init}
    values["params"] = dict(values["params"])
    values["param_descriptions"] = dict(values["param_descriptions"])
    return type(spec), values


def _spec_from_state(cls: type, values: dict[str, Any]) -> Any:
    return cls(**values)


def _task_from_state(values: dict[str, Any]) -> Task:
    for name in ("dataset", "augmentation", "model"):
        values[name] = _spec_from_state(*values[name])
    return Task(**values)


@dataclass(frozen=True)
class Task:
    dataset: DatasetSpec
    augmentation: AugmentationSpec
    model: ModelSpec
    budget: Budget
    seed: int
    #: 0 for the first seed of a combination, 1 for the next...
    repeat: int = 0
    #: The seed of the train/validation/test split: the same for every repeat.
    split_seed: int = 1
    batch_size: int = 32
    precision: str = "float32"
    #: The Keras backend that trains it (``tensorflow``, ``jax``, ``torch``): part of the result.
    backend: str = "tensorflow"
    #: Intra-op threads of the backend in the process that trains it (the run's :class:`~harness.runtime.Runtime`):
    #: part of what determines the result (TensorFlow's CPU kernels split their sums by thread).
    threads: int = 1
    restore_best: bool = True
    target_accuracy: float | None = None
    data_dir: str | None = None
    cache_dir: str = ""
    #: Train a frozen-base model's head on features computed once (see ``ModelSpec.features``). How the
    #: work is done, not what is computed: not part of :meth:`describe` or the hashes.
    feature_cache: bool = True
    #: The dataset's split digest where the run started (``harness.data.prepare.split_digest``), sent by
    #: executors that train on other machines: a machine whose files give another digest fails the task.
    #: Where the data is read, not what is computed: not part of :meth:`describe` or the hashes.
    data_digest: str | None = None
    #: The run trains on several backends: the backend is part of :attr:`id` (how the task is shown and told
    #: apart from the same combination and seed on another backend). Not part of :meth:`describe`.
    backend_in_id: bool = False
    #: Seconds the task may take, model building and evaluation included (``--task-timeout``, or a default
    #: derived from a time budget; ``None``: unbounded). The executor that supervises it stops it then and
    #: records :func:`harness.runner.timed_out`. How the run is guarded, not what is computed: not hashed.
    timeout_seconds: float | None = None
    #: Position in the run, for progress displays.
    index: int = 0
    total: int = 1

    def __reduce__(self) -> tuple[Any, ...]:
        # Specs hold their params in a read-only mapping, which pickle refuses: send plain dicts and let the
        # constructors freeze them again. Factories are pickled by reference (module-level callables).
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("dataset", "augmentation", "model"):
            values[name] = _spec_state(values[name])
        return _task_from_state, (values,)

    @property
    def combination_id(self) -> str:
        return f"{self.dataset.name}-{self.augmentation.name}-{self.model.name}"

    @property
    def id(self) -> str:
        """``DATASET-AUGMENTATION-MODEL[seed=1]``, or ``...[jax, seed=1]`` in a run on several backends."""
        backend = f"{self.backend}, " if self.backend_in_id else ""
        return f"{self.combination_id}[{backend}seed={self.seed}]"

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
            "backend": self.backend,
            "threads": self.threads,
            "restore_best": self.restore_best,
            "target_accuracy": self.target_accuracy,
        }

    @property
    def config_hash(self) -> str:
        """Identifies this task (combination, settings and seed): what ``--resume`` skips when recorded."""
        return _digest(self.describe())

    @property
    def combination_hash(self) -> str:
        """The same for every seed of one combination with the same settings: what repeat statistics group by."""
        description = self.describe()
        del description["seed"]
        return _digest(description)


def _digest(description: dict[str, Any]) -> str:
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
