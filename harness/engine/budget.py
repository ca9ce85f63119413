"""Keeping a task within its budget: a meter that counts what training used and says when to stop, checked
after every batch, and the Keras callback that feeds it and keeps what the record needs (history, best
weights, time to a target accuracy).

What the clock counts (``train_seconds``, what a time budget limits): the training batches and the input
pipeline between them, from the start of each epoch to its last batch, *except* the first batch of each
training phase, which traces and compiles the training step (XLA on JAX, a graph on TensorFlow): that batch's
time is recorded as ``compile_seconds`` and is off the clock (as MLPerf leaves initialization out), though
its images and step count. Validation and the test evaluation are not counted either. A later
recompilation (the short last batch of an epoch on JAX) stays on the clock.

Since the limits are checked after each batch, a time budget overruns by at most the duration of the batch
that crossed it, and a step or image budget stops at the first batch boundary where it is reached (an image
budget that is not a multiple of the batch size rounds up to a whole batch).

The check does not wait for the device after every batch: it reads the clock, not the loss (reading the
loss after each batch forces a device synchronization on a GPU, where steps otherwise run ahead of Python).
The loss is read (waiting for the device) at the first batch of a phase, at the last batch of each epoch and
of a step or image budget, and every :data:`NAN_CHECK_INTERVAL` seconds: there a NaN or infinite loss is
looked for, so ``nan_at`` is the step where it was found, at or after the one where it appeared. Per-batch
seconds in between are those of dispatching each step on a device that runs ahead (the waits land on the
batches where the loss is read), so an epoch's seconds are its real time, and a time budget is seen
crossed at most about NAN_CHECK_INTERVAL late.

Time to a target accuracy (``--target-accuracy``, MLPerf Training's clock): validation is the evaluation,
at a fixed cadence, the end of every epoch; an epoch that a budget cut short does not count. The clock
starts at the first touch of the training data (the start of ``fit``; with cached features of a frozen
base, the seconds spent computing the training features are added) and stops at the end of the first
epoch whose validation accuracy reaches the target: wall time, never paused, so it includes the input
pipeline, the validations and the compilation of the steps. ``time_to_target`` records the ``epoch``,
those ``seconds``, and beside them the ``train_seconds`` (the budget's clock) and ``compile_seconds`` (the
first batch of each phase) at that point. The budget still caps the run: one that ends before reaching
the target has no ``time_to_target``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.engine import events
from harness.engine.task import Task
from harness.record import StopReason
from harness.specs import Budget

#: Least seconds between two ``batch`` progress events.
BATCH_EVENT_INTERVAL = 1.0
#: Least seconds between two looks at the loss for NaN (each one waits for the device).
NAN_CHECK_INTERVAL = 1.0


@dataclass
class BudgetMeter:
    """Counts the steps, images, epochs and seconds a task used, against its budget. No TensorFlow."""

    budget: Budget
    n_train: int
    batch_size: int
    steps: int = 0
    images: int = 0
    epochs: int = 0
    seconds: float = 0.0
    #: The longest single batch, and the one that ended training: the bound on a time budget's overrun.
    max_batch_seconds: float = 0.0
    last_batch_seconds: float = 0.0
    #: The first batch also traces and compiles the training step.
    first_batch_seconds: float | None = None
    #: The first batch of each phase (compiling its training step), off the clock.
    compile_seconds: float = 0.0
    stop_reason: StopReason | None = None
    epoch_steps: int = 0
    epoch_seconds: float = 0.0

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.n_train / self.batch_size))

    @property
    def exhausted(self) -> bool:
        return self.stop_reason is not None

    def start_epoch(self) -> None:
        self.epoch_steps = 0
        self.epoch_seconds = 0.0

    def batch_size_of(self, step_in_epoch: int) -> int:
        """Images in the ``step_in_epoch``-th batch (1-based) of an epoch: the last one may be short."""
        if step_in_epoch < self.steps_per_epoch:
            return self.batch_size
        return self.n_train - (self.steps_per_epoch - 1) * self.batch_size

    def add_batch(self, seconds: float, compiling: bool = False) -> StopReason | None:
        """Count one finished batch that took ``seconds`` (``compiling``: the first of a phase, whose seconds
        are ``compile_seconds``, off the clock); returns the limit it reached, if any."""
        self.epoch_steps += 1
        self.steps += 1
        self.images += self.batch_size_of(self.epoch_steps)
        if compiling:
            self.compile_seconds += seconds
        else:
            self.seconds += seconds
            self.epoch_seconds += seconds
        self.last_batch_seconds = seconds
        if self.first_batch_seconds is None:
            self.first_batch_seconds = seconds
        self.max_batch_seconds = max(self.max_batch_seconds, seconds)
        reason = self.limit_reached()
        if reason is not None:
            self.stop(reason)
        return reason

    def end_epoch(self) -> StopReason | None:
        self.epochs += 1
        if self.stop_reason is None and self.budget.epochs is not None and self.epochs >= self.budget.epochs:
            self.stop("epochs")
        return self.stop_reason

    def next_batch_is_last(self) -> bool:
        """Whether the batch being counted next ends an epoch or reaches a step or image limit."""
        step = self.epoch_steps + 1
        budget = self.budget
        return (step >= self.steps_per_epoch or (budget.steps is not None and self.steps + 1 >= budget.steps)
                or (budget.images is not None and self.images + self.batch_size_of(step) >= budget.images))

    def limit_reached(self) -> StopReason | None:
        budget = self.budget
        if budget.steps is not None and self.steps >= budget.steps:
            return "steps"
        if budget.images is not None and self.images >= budget.images:
            return "images"
        if budget.seconds is not None and self.seconds >= budget.seconds:
            return "time"
        return None

    def stop(self, reason: StopReason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def used(self) -> dict[str, Any]:
        """What the record keeps of the budget: what was used, and why training stopped."""
        return {
            "epochs": self.epochs,
            "epochs_fraction": self.steps / self.steps_per_epoch,
            "steps": self.steps,
            "images": self.images,
            "train_seconds": self.seconds,
            "stop_reason": self.stop_reason or "epochs",
            "first_batch_seconds": self.first_batch_seconds,
            "compile_seconds": self.compile_seconds,
            "max_batch_seconds": self.max_batch_seconds,
            "last_batch_seconds": self.last_batch_seconds,
            "time_overrun_seconds": (self.seconds - self.budget.seconds
                                     if self.stop_reason == "time" and self.budget.seconds is not None else None),
        }


def make_budget_callback(task: Task, n_train: int, clock: Callable[[], float] = time.perf_counter) -> Any:
    """The Keras callback that keeps ``task`` within its budget (see the module's docstring); ``clock``
    (seconds) measures the batches."""
    import keras

    class BudgetCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.meter = BudgetMeter(task.budget, n_train, task.batch_size)
            self.history: list[dict[str, Any]] = []
            self.best_weights: list[Any] | None = None
            self.best_epoch = 0
            self.best_val = -math.inf
            self.time_to_target: dict[str, float] | None = None
            self.nan_at: dict[str, int] | None = None
            self.wall_seconds = 0.0
            self._mark = 0.0
            self._fit_start: float | None = None
            self._clock_offset = 0.0
            self._last_event = 0.0
            self._last_nan_check = 0.0
            self._compiling = False

        def _lap(self) -> float:
            now = clock()
            elapsed, self._mark = now - self._mark, now
            return elapsed

        def on_train_begin(self, logs: Any = None) -> None:
            if self._fit_start is None:  # a second phase (fine-tuning) continues the same clock
                self._fit_start = clock()
                # What the meter counted before fit (cached training features): data already touched.
                self._clock_offset = self.meter.seconds
            self._compiling = True  # each fit call (phase) compiles its training step on its first batch

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.meter.start_epoch()
            self._lap()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            """``logs`` hold the step's values as device tensors (see :func:`callback_list`): reading one
            waits for the device. It is read only where the clock must be exact or a NaN looked for: the
            first batch of a phase (compilation), the last one of an epoch or of a step or image budget, and
            every NAN_CHECK_INTERVAL (which also bounds how far the clock lags behind a device running ahead)."""
            compiling, self._compiling = self._compiling, False
            meter = self.meter
            now = clock()
            bad = False
            if compiling or meter.next_batch_is_last() or now - self._last_nan_check >= NAN_CHECK_INTERVAL:
                self._last_nan_check = now
                bad = _not_finite((logs or {}).get("loss"))
            reason = meter.add_batch(self._lap(), compiling=compiling)
            if bad:
                reason = self._nan_found()
            if reason is not None:
                self.model.stop_training = True
            self._batch_event()
            self._mark = clock()  # time spent in the callback itself is not training

        def _note_target(self, entry: dict[str, Any], since_start: float) -> None:
            """The first complete epoch whose validation reaches ``--target-accuracy`` (see the module's
            docstring: the time-to-accuracy clock)."""
            target = task.target_accuracy
            if target is None or self.time_to_target is not None or entry["partial"] \
                    or not entry["val_accuracy"] >= target:
                return
            self.time_to_target = {"epoch": entry["epoch"], "seconds": self._clock_offset + since_start,
                                   "train_seconds": self.meter.seconds,
                                   "compile_seconds": self.meter.compile_seconds}

        def _nan_found(self) -> StopReason:
            if self.nan_at is None:
                self.nan_at = {"epoch": self.meter.epochs + 1, "step": self.meter.steps}
            self.meter.stop_reason = "nan_loss"
            return "nan_loss"

        def _batch_event(self) -> None:
            now = clock()
            if now - self._last_event < BATCH_EVENT_INTERVAL:
                return
            self._last_event = now
            meter = self.meter
            events.emit({"kind": "batch", "task": task.id, "epoch": meter.epochs + 1, "step": meter.epoch_steps,
                         "steps_per_epoch": meter.steps_per_epoch, "steps_total": meter.steps,
                         "images": meter.images, "train_seconds_total": meter.seconds})

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            since_start = clock() - (self._fit_start or clock())  # the validation of this epoch included
            logs = dict(logs or {})
            meter = self.meter
            if self.nan_at is None and _not_finite(logs.get("loss")):
                self._nan_found()
            epoch_steps, epoch_seconds = meter.epoch_steps, meter.epoch_seconds
            meter.end_epoch()
            val_accuracy = float(logs.get("val_accuracy", math.nan))
            entry = {
                "epoch": epoch + 1,
                "loss": float(logs.get("loss", math.nan)),
                "accuracy": float(logs.get("accuracy", math.nan)),
                "val_loss": float(logs.get("val_loss", math.nan)),
                "val_accuracy": val_accuracy,
                "seconds": epoch_seconds,
                "train_seconds_total": meter.seconds,
                "steps": epoch_steps,
                "partial": epoch_steps < meter.steps_per_epoch,
            }
            self.history.append(entry)
            self.wall_seconds = clock() - (self._fit_start or clock())
            if val_accuracy > self.best_val:
                self.best_val = val_accuracy
                self.best_epoch = epoch + 1
                self.best_weights = self.model.get_weights()
            self._note_target(entry, since_start)
            if meter.exhausted:
                self.model.stop_training = True
            events.emit({"kind": "epoch", "task": task.id, **entry})
            self._lap()

    return BudgetCallback()


def _not_finite(loss: Any) -> bool:
    """Whether ``loss`` (a float or a device tensor: reading it waits for the device) is NaN or infinite."""
    return loss is not None and not math.isfinite(float(loss))


def callback_list(model: Any, callbacks: list[Any], epochs: int, steps: int) -> Any:
    """What ``model.fit`` is given as ``callbacks``: Keras' ``CallbackList`` (with its ``History``), except
    that training batches' logs reach the callbacks as they are, device tensors, instead of being converted
    to Python floats after every batch (which waits for the device: a synchronization per step on a GPU).
    Epoch logs are converted as usual."""
    import keras

    class Unsynchronized(keras.callbacks.CallbackList):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            for callback in self.callbacks:
                callback.on_train_batch_end(batch, logs=logs)

    return Unsynchronized(callbacks, add_history=True, add_progbar=False, verbose=0, epochs=epochs, steps=steps,
                          model=model)
