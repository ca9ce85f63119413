"""The Keras callbacks a task trains with, one job each, composed in a list by :func:`training_callbacks`.

What they keep and when they read the clock or the loss is :mod:`harness.engine.budget`'s docstring (the
budget's clock, compile time off it, the NaN checks, time to a target accuracy); this module imports Keras,
so the engine imports it only to train.

In the order they run after each batch and each epoch:

- :class:`StopOnNaN` looks at the loss where the budget reads it, and stops training at a NaN or infinite loss;
  before the budget's callback, so that its wait for the device is on the clock of the batch it waited for;
- :class:`TimeToTarget` notes the first complete epoch whose validation accuracy reaches the target, first at
  the end of an epoch so that its wall clock stops as soon as the epoch's validation is done;
- :class:`KeepWithinBudget` counts each batch on the :class:`BudgetMeter` and stops training at a limit;
- :class:`EpochHistory` keeps one entry per epoch for the record, and the wall time of training;
- :class:`KeepBestWeights` keeps the weights of the epoch with the best validation accuracy;
- :class:`Progress` emits the ``batch`` and ``epoch`` progress events;
- :class:`OffTheClock`, last, restarts the budget's clock: the callbacks' own time is not training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from harness.engine import events
from harness.engine.budget import BATCH_EVENT_INTERVAL, NAN_CHECK_INTERVAL, BudgetMeter
from harness.engine.task import Task

Clock = Callable[[], float]


class Stopwatch:
    """The budget's clock over the batches: :meth:`lap` is the time since the last lap or restart."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.mark = 0.0

    def lap(self) -> float:
        now = self.clock()
        elapsed, self.mark = now - self.mark, now
        return elapsed

    def restart(self) -> None:
        self.mark = self.clock()


def _not_finite(loss: Any) -> bool:
    """Whether ``loss`` (a float or a device tensor: reading it waits for the device) is NaN or infinite."""
    return loss is not None and not math.isfinite(float(loss))


class StopOnNaN(keras.callbacks.Callback):  # type: ignore[misc]
    """Stops training at a NaN or infinite loss, found where the loss is read: the first batch of a phase, the
    last batch of an epoch or of a step or image budget, every :data:`NAN_CHECK_INTERVAL` seconds, and each
    epoch's mean loss. ``nan_at`` is the epoch and step where it was found; the meter's ``stop_reason``
    becomes ``nan_loss``, whatever limit the same batch reached."""

    def __init__(self, meter: BudgetMeter, clock: Clock) -> None:
        super().__init__()
        self.meter, self.clock = meter, clock
        self.nan_at: dict[str, int] | None = None
        self._first_of_phase = False
        self._last_check = 0.0

    def on_train_begin(self, logs: Any = None) -> None:
        self._first_of_phase = True  # each fit call (phase) compiles its training step on its first batch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        """``logs`` hold the step's values as device tensors (see :func:`harness.engine.budget.callback_list`):
        the loss is read only at the batches above. This batch is the meter's next (counted after this)."""
        first, self._first_of_phase = self._first_of_phase, False
        now = self.clock()
        if first or self.meter.next_batch_is_last() or now - self._last_check >= NAN_CHECK_INTERVAL:
            self._last_check = now
            if _not_finite((logs or {}).get("loss")):
                self._found(step=self.meter.steps + 1)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.nan_at is None and _not_finite((logs or {}).get("loss")):
            self._found(step=self.meter.steps)

    def _found(self, step: int) -> None:
        if self.nan_at is None:
            self.nan_at = {"epoch": self.meter.epochs + 1, "step": step}
        self.meter.stop_reason = "nan_loss"
        self.model.stop_training = True


class TimeToTarget(keras.callbacks.Callback):  # type: ignore[misc]
    """The first complete epoch whose validation accuracy reaches ``target``, on MLPerf's clock: wall time from
    the first touch of the training data (the start of ``fit``, plus what the meter counted before it: cached
    training features) to the end of that epoch's validation; ``time_to_target`` stays ``None`` until then."""

    def __init__(self, target: float, meter: BudgetMeter, clock: Clock) -> None:
        super().__init__()
        self.target, self.meter, self.clock = target, meter, clock
        self.time_to_target: dict[str, float] | None = None
        self._start: float | None = None
        self._offset = 0.0

    def on_train_begin(self, logs: Any = None) -> None:
        if self._start is None:  # a second phase (fine-tuning) continues the same clock
            self._start = self.clock()
            self._offset = self.meter.seconds

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        since_start = self.clock() - (self._start if self._start is not None else self.clock())
        meter = self.meter
        if self.time_to_target is not None or meter.epoch_steps < meter.steps_per_epoch \
                or not float((logs or {}).get("val_accuracy", math.nan)) >= self.target:
            return
        self.time_to_target = {"epoch": epoch + 1, "seconds": self._offset + since_start,
                               "train_seconds": meter.seconds, "compile_seconds": meter.compile_seconds}


class KeepWithinBudget(keras.callbacks.Callback):  # type: ignore[misc]
    """Counts each batch on ``meter`` (its time on ``stopwatch``; the first batch of each phase compiles the
    step, off the clock) and each epoch, and stops training when a limit is reached."""

    def __init__(self, meter: BudgetMeter, stopwatch: Stopwatch) -> None:
        super().__init__()
        self.meter, self.stopwatch = meter, stopwatch
        self._compiling = False

    def on_train_begin(self, logs: Any = None) -> None:
        self._compiling = True

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.meter.start_epoch()
        self.stopwatch.restart()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        compiling, self._compiling = self._compiling, False
        if self.meter.add_batch(self.stopwatch.lap(), compiling=compiling) is not None:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.meter.end_epoch() is not None:
            self.model.stop_training = True


class EpochHistory(keras.callbacks.Callback):  # type: ignore[misc]
    """One entry per epoch (the record's ``history``: losses, accuracies, the epoch's steps and seconds on the
    budget's clock, whether a budget cut it short) and ``wall_seconds``, from the start of training to the
    end of the last epoch."""

    def __init__(self, meter: BudgetMeter, clock: Clock) -> None:
        super().__init__()
        self.meter, self.clock = meter, clock
        self.entries: list[dict[str, Any]] = []
        self.wall_seconds = 0.0
        self._start: float | None = None

    def on_train_begin(self, logs: Any = None) -> None:
        if self._start is None:
            self._start = self.clock()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs, meter = logs or {}, self.meter
        self.entries.append({
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", math.nan)),
            "accuracy": float(logs.get("accuracy", math.nan)),
            "val_loss": float(logs.get("val_loss", math.nan)),
            "val_accuracy": float(logs.get("val_accuracy", math.nan)),
            "seconds": meter.epoch_seconds,
            "train_seconds_total": meter.seconds,
            "steps": meter.epoch_steps,
            "partial": meter.epoch_steps < meter.steps_per_epoch,
        })
        self.wall_seconds = self.clock() - (self._start if self._start is not None else self.clock())


class KeepBestWeights(keras.callbacks.Callback):  # type: ignore[misc]
    """The weights of the epoch with the best validation accuracy (the first such epoch on ties)."""

    def __init__(self) -> None:
        super().__init__()
        self.best_weights: list[Any] | None = None
        self.best_epoch = 0
        self.best_val = -math.inf

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        val_accuracy = float((logs or {}).get("val_accuracy", math.nan))
        if val_accuracy > self.best_val:
            self.best_val, self.best_epoch = val_accuracy, epoch + 1
            self.best_weights = self.model.get_weights()


class Progress(keras.callbacks.Callback):  # type: ignore[misc]
    """The ``batch`` events (at most one every :data:`BATCH_EVENT_INTERVAL` seconds) and the ``epoch`` events
    (the epoch's history entry) of task ``task_id``."""

    def __init__(self, task_id: str, meter: BudgetMeter, history: EpochHistory, clock: Clock) -> None:
        super().__init__()
        self.task_id, self.meter, self.history, self.clock = task_id, meter, history, clock
        self._last_event = 0.0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        now = self.clock()
        if now - self._last_event < BATCH_EVENT_INTERVAL:
            return
        self._last_event = now
        meter = self.meter
        events.emit({"kind": "batch", "task": self.task_id, "epoch": meter.epochs + 1, "step": meter.epoch_steps,
                     "steps_per_epoch": meter.steps_per_epoch, "steps_total": meter.steps, "images": meter.images,
                     "train_seconds_total": meter.seconds})

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        events.emit({"kind": "epoch", "task": self.task_id, **self.history.entries[-1]})


class ValidateWith(keras.callbacks.Callback):  # type: ignore[misc]
    """Validates with ``evaluator`` (the head on cached validation features) after each epoch and puts
    ``val_loss`` and ``val_accuracy`` into the epoch's logs, as ``validation_data`` would; first in the list,
    off the budget's clock (as Keras' own validation is)."""

    def __init__(self, evaluator: Any, feed: Any) -> None:
        super().__init__()
        self.evaluator, self.feed = evaluator, feed

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if logs is not None:
            result = self.evaluator.evaluate(self.feed, verbose=0, return_dict=True)
            logs.update({f"val_{name}": value for name, value in result.items()})


class OffTheClock(keras.callbacks.Callback):  # type: ignore[misc]
    """Last in the list: restarts the budget's clock after every batch's callbacks, so that the time they take
    (reading the clock, events, the terminal) is not counted as training."""

    def __init__(self, stopwatch: Stopwatch) -> None:
        super().__init__()
        self.stopwatch = stopwatch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.stopwatch.restart()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.stopwatch.restart()


@dataclass
class TrainingCallbacks:
    """The callbacks of one task, in the order they run (:attr:`callbacks`), and what the record reads of
    them once training is over."""

    meter: BudgetMeter
    nan: StopOnNaN
    history: EpochHistory
    best: KeepBestWeights
    target: TimeToTarget | None
    callbacks: list[Any]

    @property
    def nan_at(self) -> dict[str, int] | None:
        return self.nan.nan_at

    @property
    def time_to_target(self) -> dict[str, float] | None:
        return None if self.target is None else self.target.time_to_target


def training_callbacks(task: Task, n_train: int, clock: Clock = time.perf_counter) -> TrainingCallbacks:
    """The callbacks that train ``task`` (``n_train`` training images) within its budget and keep what its
    record needs; ``clock`` (seconds) measures the batches."""
    meter = BudgetMeter(task.budget, n_train, task.batch_size)
    stopwatch = Stopwatch(clock)
    nan, history, best = StopOnNaN(meter, clock), EpochHistory(meter, clock), KeepBestWeights()
    target = None if task.target_accuracy is None else TimeToTarget(task.target_accuracy, meter, clock)
    callbacks = [nan, *([target] if target is not None else []), KeepWithinBudget(meter, stopwatch), history, best,
                 Progress(task.id, meter, history, clock), OffTheClock(stopwatch)]
    return TrainingCallbacks(meter, nan, history, best, target, callbacks)
