"""The training callbacks, one job each, driven hook by hook as ``fit`` calls them (a real Keras model, no
training): what each keeps, and that their own time is not on the budget's clock."""

from __future__ import annotations

import math

import numpy as np
import pytest

import harness
from harness.engine import events
from harness.engine.task import Task
from harness.specs import Budget


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _task(budget: Budget, target: float | None = None) -> Task:
    return Task(dataset=harness.DatasetSpec(name="points", factory=print),
                augmentation=harness.AugmentationSpec(name="none", factory=print),
                model=harness.ModelSpec(name="dense", factory=print), budget=budget, seed=1, batch_size=8,
                target_accuracy=target)


class Driver:
    """Calls the callbacks' hooks in ``fit``'s order; each batch takes ``batch_seconds`` on the clock."""

    def __init__(self, budget: Budget, target: float | None = None, n_train: int = 32) -> None:
        import keras

        from harness.engine.callbacks import training_callbacks

        self.clock = Clock()
        self.training = training_callbacks(_task(budget, target), n_train=n_train, clock=self.clock)
        self.model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        for callback in self.training.callbacks:
            callback.set_model(self.model)
        self.model.stop_training = False
        self.epoch = 0

    def call(self, hook: str, *args) -> None:
        for callback in self.training.callbacks:
            getattr(callback, hook)(*args)

    def epoch_of(self, batches: int, batch_seconds: float = 0.5, loss: float = 0.5, **logs: float) -> None:
        if self.epoch == 0:
            self.call("on_train_begin", None)
        self.call("on_epoch_begin", self.epoch, None)
        for batch in range(batches):
            self.clock.now += batch_seconds
            self.call("on_train_batch_end", batch, {"loss": loss})
            if self.model.stop_training:
                break
        self.call("on_epoch_end", self.epoch, {"loss": loss, "accuracy": 0.5, "val_loss": 0.7, **logs})
        self.epoch += 1


def test_history_best_weights_and_time_to_target_each_keep_their_part() -> None:
    drive = Driver(Budget(epochs=3), target=0.7)
    drive.epoch_of(4, val_accuracy=0.5)
    drive.model.layers[0].kernel.assign(np.ones((2, 1)))
    drive.epoch_of(4, val_accuracy=0.75)  # the best, and the first to reach the target
    drive.model.layers[0].kernel.assign(np.zeros((2, 1)))
    drive.epoch_of(4, val_accuracy=0.75)  # a tie: the first epoch stays the best
    training = drive.training
    assert [(e["epoch"], e["steps"], e["partial"], e["val_accuracy"]) for e in training.history.entries] == [
        (1, 4, False, 0.5), (2, 4, False, 0.75), (3, 4, False, 0.75)]
    # the first batch compiles, off the clock: 3 batches of 0.5 s in epoch 1, 4 in the others
    assert [e["seconds"] for e in training.history.entries] == [1.5, 2.0, 2.0]
    assert [e["train_seconds_total"] for e in training.history.entries] == [1.5, 3.5, 5.5]
    assert training.history.wall_seconds == pytest.approx(6.0)
    assert training.best.best_epoch == 2
    np.testing.assert_array_equal(training.best.best_weights[0], np.ones((2, 1)))
    assert training.time_to_target == {"epoch": 2, "seconds": 4.0, "train_seconds": 3.5, "compile_seconds": 0.5}
    assert (training.meter.stop_reason, training.nan_at, drive.model.stop_training) == ("epochs", None, True)


def test_an_epoch_cut_short_never_reaches_the_target() -> None:
    drive = Driver(Budget(steps=6), target=0.7)
    drive.epoch_of(4, val_accuracy=0.5)
    drive.epoch_of(4, val_accuracy=0.9)  # stopped after 2 of 4 batches by the step budget
    assert [e["partial"] for e in drive.training.history.entries] == [False, True]
    assert drive.training.time_to_target is None and drive.training.meter.stop_reason == "steps"


def test_without_a_target_there_is_no_target_callback() -> None:
    drive = Driver(Budget(epochs=1))
    drive.epoch_of(4, val_accuracy=1.0)
    assert drive.training.target is None and drive.training.time_to_target is None


def test_a_nan_loss_stops_training_and_wins_over_a_limit_reached_at_the_same_batch() -> None:
    drive = Driver(Budget(steps=3))
    drive.epoch_of(4, loss=math.nan, val_accuracy=0.5)  # the first batch is read: NaN there
    assert drive.training.nan_at == {"epoch": 1, "step": 1} and drive.training.meter.steps == 1
    assert drive.training.meter.stop_reason == "nan_loss"

    drive = Driver(Budget(steps=3))
    drive.call("on_train_begin", None)
    drive.call("on_epoch_begin", 0, None)
    for batch in range(3):  # the third reaches the step limit and is read (the budget's last): NaN there
        drive.clock.now += 0.1
        drive.call("on_train_batch_end", batch, {"loss": math.nan if batch == 2 else 0.5})
    assert drive.training.nan_at == {"epoch": 1, "step": 3} and drive.training.meter.stop_reason == "nan_loss"


def test_a_nan_the_batches_did_not_show_is_found_in_the_epochs_loss() -> None:
    """A time budget stops at a batch whose loss is not read; the epoch's mean loss still shows the NaN, and
    it wins over the time limit."""
    drive = Driver(Budget(seconds=1.0), n_train=800)  # 100 batches an epoch
    drive.epoch_of(100, batch_seconds=0.4, loss=0.5)  # compiling, then 0.4 + 0.4 + 0.4 s: time
    assert drive.training.meter.stop_reason == "time" and drive.training.meter.steps == 4
    drive = Driver(Budget(seconds=1.0), n_train=800)
    drive.call("on_train_begin", None)
    drive.call("on_epoch_begin", 0, None)
    for batch in range(4):
        drive.clock.now += 0.4
        drive.call("on_train_batch_end", batch, {"loss": 0.5})
    drive.call("on_epoch_end", 0, {"loss": math.nan, "val_accuracy": 0.5})
    assert drive.training.meter.stop_reason == "nan_loss" and drive.training.nan_at == {"epoch": 1, "step": 4}


def test_progress_events_and_the_time_they_take_is_not_training() -> None:
    """A batch event at most once a second, an epoch event with the epoch's history entry; a listener that
    takes 10 s on each event (a slow terminal) adds nothing to the budget's clock."""
    drive = Driver(Budget(epochs=1), n_train=64)  # 8 batches of 0.5 s
    seen: list[dict] = []

    def slow_listener(event: dict) -> None:
        seen.append(event)
        drive.clock.now += 10.0

    with events.listening(slow_listener):
        drive.epoch_of(8, val_accuracy=0.5)
    kinds = [event["kind"] for event in seen]
    assert kinds == ["batch"] * 8 + ["epoch"]  # each batch is 10.5 s after the last event: one each
    assert {k: v for k, v in seen[-1].items() if k not in ("kind", "task")} == drive.training.history.entries[0]
    used = drive.training.meter.used()
    assert used["train_seconds"] == pytest.approx(3.5) and used["compile_seconds"] == pytest.approx(0.5)
