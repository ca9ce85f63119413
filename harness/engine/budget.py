"""Keeping a task within its budget: a meter that counts what training used and says when to stop, checked
after every batch. The Keras callbacks that feed it and keep what the record needs (history, best weights,
time to a target accuracy, the NaN checks), one job each, are :mod:`harness.engine.callbacks`; this module
says what they measure and imports no Keras.

What the clock counts (``train_seconds``, what a time budget limits): the training batches and the input
pipeline between them, from the start of each epoch to its last batch, *except* the first batch of each
training phase, which traces and compiles the training step (XLA on JAX, a graph on TensorFlow): that batch's
time is recorded as ``compile_seconds`` and is off the clock (as MLPerf leaves initialization out), though
its images and step count. Validation and the test evaluation are not counted either, nor the time the
callbacks take after each batch (progress events, the terminal). A later recompilation (the short last batch
of an epoch on JAX) stays on the clock.

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
from dataclasses import dataclass
from typing import Any

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
