"""The budget callback: stops training at the first limit reached, checked after every batch, and keeps
what the run needs to record (history, best weights, time to a target accuracy)."""

from __future__ import annotations

import math
import time
from typing import Any

from harness.engine import events
from harness.engine.task import Task


def make_budget_callback(task: Task, n_train: int) -> Any:
    import keras

    class BudgetCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.budget = task.budget
            self.steps_per_epoch = max(1, math.ceil(n_train / task.batch_size))
            self.last_batch = n_train - (self.steps_per_epoch - 1) * task.batch_size
            self.steps = 0
            self.images = 0
            self.epochs_done = 0
            self.train_seconds = 0.0
            self.wall_seconds = 0.0
            self.stop_reason = "epochs"
            self.exhausted = False
            self.history: list[dict[str, Any]] = []
            self.best_weights: list[Any] | None = None
            self.best_epoch = 0
            self.best_val = -math.inf
            self.time_to_target: dict[str, float] | None = None
            self.nan_at: dict[str, int] | None = None
            self._mark = 0.0
            self._epoch_train = 0.0
            self._epoch_step = 0
            self._fit_start = 0.0

        # time spent in training batches and the pipeline between them, validation excluded
        def _lap(self) -> float:
            now = time.perf_counter()
            elapsed, self._mark = now - self._mark, now
            return elapsed

        def on_train_begin(self, logs: Any = None) -> None:
            self._fit_start = time.perf_counter()
            self._mark = self._fit_start

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch_train = 0.0
            self._epoch_step = 0
            self._lap()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            elapsed = self._lap()
            self.train_seconds += elapsed
            self._epoch_train += elapsed
            self._epoch_step += 1
            self.steps += 1
            self.images += self.last_batch if self._epoch_step == self.steps_per_epoch else task.batch_size
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.nan_at = {"epoch": self.epochs_done + 1, "step": self.steps}
                self._stop("nan")
                return
            reason = self._limit_reached()
            if reason:
                self._stop(reason)

        def _limit_reached(self) -> str | None:
            budget = self.budget
            if budget.steps is not None and self.steps >= budget.steps:
                return "steps"
            if budget.images is not None and self.images >= budget.images:
                return "images"
            if budget.seconds is not None and self.train_seconds >= budget.seconds:
                return "time"
            return None

        def _stop(self, reason: str) -> None:
            self.stop_reason = reason
            self.exhausted = True
            self.model.stop_training = True

        def on_test_begin(self, logs: Any = None) -> None:
            self._val_start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = dict(logs or {})
            self.epochs_done = epoch + 1
            val_accuracy = float(logs.get("val_accuracy", math.nan))
            entry = {
                "epoch": epoch + 1,
                "loss": float(logs.get("loss", math.nan)),
                "accuracy": float(logs.get("accuracy", math.nan)),
                "val_loss": float(logs.get("val_loss", math.nan)),
                "val_accuracy": val_accuracy,
                "seconds": self._epoch_train,
                "train_seconds_total": self.train_seconds,
                "steps": self._epoch_step,
            }
            self.history.append(entry)
            self.wall_seconds = time.perf_counter() - self._fit_start
            if val_accuracy > self.best_val:
                self.best_val = val_accuracy
                self.best_epoch = epoch + 1
                self.best_weights = self.model.get_weights()
            target = task.target_accuracy
            if target is not None and self.time_to_target is None and val_accuracy >= target:
                self.time_to_target = {"epoch": epoch + 1, "seconds": self.train_seconds}
            if self.budget.epochs is not None and self.epochs_done >= self.budget.epochs:
                self.exhausted = True
            events.emit({"kind": "epoch", "task": task.id, **entry})
            self._lap()

    return BudgetCallback()
