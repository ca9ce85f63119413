"""Budgets: the meter's arithmetic (no TensorFlow), the limits in real training, and budget profiles."""

from __future__ import annotations

import numpy as np
import pytest

import harness
from harness.engine.budget import BudgetMeter
from harness.engine.task import Task
from harness.specs import Budget

from .conftest import SMALL, models

# -------------------------------------------------------------------------------------------------
# The meter, batch by batch
# -------------------------------------------------------------------------------------------------


def feed(meter: BudgetMeter, seconds: list[float], steps_per_epoch: int) -> list[str | None]:
    """Batches of the given durations, with epoch boundaries every ``steps_per_epoch`` batches."""
    reasons = []
    meter.start_epoch()
    for number, duration in enumerate(seconds, start=1):
        reasons.append(meter.add_batch(duration))
        if meter.exhausted:
            meter.end_epoch()
            break
        if number % steps_per_epoch == 0:
            meter.end_epoch()
            if meter.exhausted:
                break
            meter.start_epoch()
    return reasons


def test_steps_limit_is_exact_and_crosses_epochs() -> None:
    meter = BudgetMeter(Budget(steps=6), n_train=32, batch_size=8)
    reasons = feed(meter, [0.1] * 20, meter.steps_per_epoch)
    assert reasons[-1] == "steps" and len(reasons) == 6
    used = meter.used()
    assert (used["steps"], used["images"], used["epochs"], used["stop_reason"]) == (6, 48, 2, "steps")
    assert used["epochs_fraction"] == pytest.approx(1.5)


def test_images_limit_stops_at_the_first_batch_that_reaches_it() -> None:
    meter = BudgetMeter(Budget(images=20), n_train=32, batch_size=8)
    feed(meter, [0.1] * 20, meter.steps_per_epoch)
    assert (meter.steps, meter.images, meter.stop_reason) == (3, 24, "images")
    exact = BudgetMeter(Budget(images=24), n_train=32, batch_size=8)
    feed(exact, [0.1] * 20, exact.steps_per_epoch)
    assert (exact.steps, exact.images) == (3, 24)


def test_images_count_the_short_last_batch_of_an_epoch() -> None:
    meter = BudgetMeter(Budget(epochs=2), n_train=30, batch_size=8)
    assert meter.steps_per_epoch == 4
    assert [meter.batch_size_of(k) for k in (1, 2, 3, 4)] == [8, 8, 8, 6]
    feed(meter, [0.1] * 20, meter.steps_per_epoch)
    assert (meter.epochs, meter.steps, meter.images, meter.stop_reason) == (2, 8, 60, "epochs")


def test_time_limit_overruns_by_at_most_the_batch_that_crossed_it() -> None:
    meter = BudgetMeter(Budget(seconds=1.0), n_train=1000, batch_size=10)
    durations = [0.5, 0.3, 0.15, 0.25, 0.4]  # crosses 1.0 during the 4th batch
    feed(meter, durations, meter.steps_per_epoch)
    used = meter.used()
    assert used["stop_reason"] == "time" and used["steps"] == 4
    assert used["train_seconds"] == pytest.approx(1.2)
    assert used["time_overrun_seconds"] == pytest.approx(0.2)
    assert 0 <= used["time_overrun_seconds"] <= used["last_batch_seconds"] == pytest.approx(0.25)
    assert used["first_batch_seconds"] == 0.5 and used["max_batch_seconds"] == 0.5


def test_the_first_limit_reached_wins() -> None:
    meter = BudgetMeter(Budget(epochs=10, steps=5, seconds=100.0), n_train=32, batch_size=8)
    feed(meter, [0.1] * 50, meter.steps_per_epoch)
    assert meter.stop_reason == "steps"
    meter = BudgetMeter(Budget(epochs=1, steps=50), n_train=32, batch_size=8)
    feed(meter, [0.1] * 50, meter.steps_per_epoch)
    assert (meter.stop_reason, meter.steps) == ("epochs", 4)


# -------------------------------------------------------------------------------------------------
# Real training
# -------------------------------------------------------------------------------------------------


def test_steps_and_images_limits_in_training(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "6")
    assert result.ret in (0, 1), result.stderr
    (record,) = result.records
    assert (record["steps"], record["images"], record["epochs"], record["stop_reason"]) == (6, 48, 2, "steps")
    assert [e["steps"] for e in record["history"]] == [4, 2]
    assert [e["partial"] for e in record["history"]] == [False, True]
    assert record["epochs_fraction"] == pytest.approx(1.5)
    assert record["config"]["budget"] == {"epochs": None, "seconds": None, "steps": 6, "images": None}
    assert sum(e["seconds"] for e in record["history"]) == pytest.approx(record["train_seconds"])

    result = engine_tester.run("run", *SMALL, *models("tiny"), "--images", "20")
    (record,) = result.records
    assert (record["steps"], record["images"], record["stop_reason"]) == (3, 24, "images")


class Clock:
    """A clock that moves only when told: batch times that do not depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _ticker(clock: Clock, seconds: float):
    """A Keras callback, placed before the budget's, that makes every batch take ``seconds`` on ``clock``."""
    import keras

    class Ticker(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None) -> None:
            clock.now += seconds

    return Ticker()


def _task(budget: Budget, batch_size: int) -> Task:
    dataset = harness.DatasetSpec(name="points", factory=print)
    augmentation = harness.AugmentationSpec(name="none", factory=print)
    model = harness.ModelSpec(name="dense", factory=print)
    return Task(dataset=dataset, augmentation=augmentation, model=model, budget=budget, seed=1, batch_size=batch_size)


def test_time_budget_stops_within_one_batch_of_its_limit() -> None:
    """Real Keras training, batches timed by a controlled clock (0.1 s each, 16 per epoch): a check at the end
    of each epoch would overrun a 0.25 s budget by 1.35 s; checked after every batch, training stops after the
    third batch on the clock (the fourth: the first compiles, off the clock), mid-epoch, 0.05 s over: less
    than the batch that crossed the limit."""
    import keras

    from harness.engine.callbacks import training_callbacks

    keras.utils.set_random_seed(1)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clock = Clock()
    training = training_callbacks(_task(Budget(epochs=5, seconds=0.25), batch_size=4), n_train=64, clock=clock)
    model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0,
              callbacks=[_ticker(clock, 0.1), *training.callbacks])
    used = training.meter.used()
    # The first batch compiles the step: its 0.1 s is compile_seconds, off the clock; three more reach 0.3 s.
    assert (used["stop_reason"], used["steps"], used["epochs"]) == ("time", 4, 1)
    assert used["compile_seconds"] == pytest.approx(0.1)
    assert used["train_seconds"] == pytest.approx(0.3)
    assert used["time_overrun_seconds"] == pytest.approx(0.05)
    assert 0 <= used["time_overrun_seconds"] <= used["last_batch_seconds"] == pytest.approx(0.1)
    assert [(e["steps"], e["partial"]) for e in training.history.entries] == [(4, True)]


class LossReads:
    """Counts how often the loss of a training batch is read as a number (``float(loss)``: on a GPU, a wait
    for the device): a Keras callback placed before the budget's wraps each batch's loss in the real logs."""

    def __init__(self) -> None:
        self.batches = 0
        self.reads: list[int] = []  # the batch (1-based, across epochs) of each read

    def callback(self):
        import keras

        counter = self

        class Counted:
            def __init__(self, value, batch: int) -> None:
                self.value, self.batch = value, batch

            def __float__(self) -> float:
                counter.reads.append(self.batch)
                return float(self.value)

        class Wrap(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None) -> None:
                counter.batches += 1
                logs["loss"] = Counted(logs["loss"], counter.batches)

        return Wrap()


def _fit_counting(x, y, budget: Budget, epochs: int, seconds_per_batch: float) -> tuple[LossReads, object]:
    """Real Keras training as the engine does it (its callback list, which leaves the batches' logs on the
    device), 4 images a batch, each batch taking ``seconds_per_batch`` on a controlled clock."""
    import keras

    from harness.engine.budget import callback_list
    from harness.engine.callbacks import training_callbacks

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clock, reads = Clock(), LossReads()
    training = training_callbacks(_task(budget, batch_size=4), n_train=len(x), clock=clock)
    steps = len(x) // 4
    callbacks = callback_list(model, [_ticker(clock, seconds_per_batch), reads.callback(), *training.callbacks],
                              epochs, steps)
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)
    return reads, training


def test_the_loss_is_not_read_after_every_batch() -> None:
    """Reading the loss waits for the device: 2 epochs of 16 batches (1/8 s each) read it at the first batch,
    each epoch's last, and once a second (NAN_CHECK_INTERVAL) of training between them: 5 of 32 batches."""
    from harness.engine import budget as budget_module

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    reads, callback = _fit_counting(x, y, Budget(epochs=2), epochs=2, seconds_per_batch=0.125)
    assert reads.batches == 32 and callback.meter.stop_reason == "epochs" and callback.nan_at is None
    assert budget_module.NAN_CHECK_INTERVAL == 1.0
    assert reads.reads == [1, 9, 16, 24, 32]  # a second after the first batch, the epoch's end, a second later


def test_a_nan_loss_between_two_reads_is_still_caught() -> None:
    """The loss becomes NaN at the 6th batch (a NaN input), which is not read: it is found at the next read
    (a second after the first batch: the 9th), and training stops there, for a NaN loss."""
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    x[21] = np.nan  # in the 6th batch of 4; the weights are NaN after it, and so is every later loss
    y = (np.nan_to_num(x[:, 0]) > 0).astype("int32")
    reads, callback = _fit_counting(x, y, Budget(epochs=2), epochs=2, seconds_per_batch=0.125)
    assert reads.reads == [1, 9] and reads.batches == 9  # stopped at the batch where it was found
    assert callback.nan_at == {"epoch": 1, "step": 9}
    assert callback.meter.used()["stop_reason"] == "nan_loss"


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_time_budget_in_a_run_stops_by_time_and_overruns_by_at_most_one_batch(engine_tester) -> None:
    """The same property end to end, on the real clock: whatever the machine's speed (the first batch, which
    traces the training step, may alone outlast the limit), training stops for time, and past the limit by no
    more than the batch that crossed it."""
    limit = 0.5
    result = engine_tester.run("run", *SMALL, "--set", "synthetic.train_per_class=32", "--batch-size", "4",
                               *models("slow"), "--set", "slow.nap=0.1", "--time", f"{limit}s")
    (record,) = result.records
    assert record["status"] != "error", record.get("traceback")
    assert record["stop_reason"] == "time"
    overrun = record["train_seconds"] - limit
    assert overrun == pytest.approx(record["time_overrun_seconds"])
    assert 0 <= overrun <= record["last_batch_seconds"]
    assert record["last_batch_seconds"] >= 0.1  # the nap is real: these are whole batches


# -------------------------------------------------------------------------------------------------
# Budget options and profiles (resolved when the command line is read: no training)
# -------------------------------------------------------------------------------------------------


def budget_of(tester, *args: str):
    from harness.builtin.core import BUDGET_KEY
    from harness.cli import make_config

    config = make_config(["run", *args], tester.path)
    try:
        return config.stash[BUDGET_KEY]
    finally:
        config.hook.harness_unconfigure(config=config)


def test_budget_options_combine(engine_tester) -> None:
    assert budget_of(engine_tester) == Budget(epochs=5)
    assert budget_of(engine_tester, "--epochs", "3", "--time", "90s", "--steps", "7", "--images", "100") == Budget(
        epochs=3, seconds=90.0, steps=7, images=100)


def test_budget_profiles_from_configuration(engine_tester) -> None:
    engine_tester.make_config("""
        epochs = 7

        [budgets.quick]
        steps = 3
        time = "1m"

        [budgets.smoke]
        epochs = 2
    """)
    # A profile chosen on the command line replaces the file's limits; command-line limits override it.
    assert budget_of(engine_tester, "--budget", "quick") == Budget(steps=3, seconds=60.0)
    assert budget_of(engine_tester, "--budget", "quick", "--steps", "2") == Budget(steps=2, seconds=60.0)
    assert budget_of(engine_tester, "--budget", "smoke") == Budget(epochs=2)  # overrides the built-in smoke
    assert budget_of(engine_tester, "--budget", "full") == Budget(epochs=20)  # built-in
    assert budget_of(engine_tester) == Budget(epochs=7)


def test_budget_profile_chosen_in_the_file_yields_to_the_command_line(engine_tester) -> None:
    engine_tester.make_config("""
        budget = "quick"
        epochs = 4

        [budgets.quick]
        steps = 3
    """)
    assert budget_of(engine_tester) == Budget(epochs=4, steps=3)  # same level: both kept
    assert budget_of(engine_tester, "--epochs", "1") == Budget(epochs=1, steps=3)


@pytest.mark.parametrize(("table", "message"), [
    ("[budgets.bad]\nepoch = 3", "budget profile 'bad': unknown limit 'epoch' (expected epochs, time, steps, images)"),
    ("[budgets.bad]\ntime = \"soon\"", "budget profile 'bad': time: invalid duration 'soon'"),
    ("[budgets.bad]\nsteps = 0", "budget profile 'bad': steps: invalid value 0"),
    ("[budgets.bad]", "budget profile 'bad' has no limit"),
])
def test_bad_budget_profiles_are_usage_errors(engine_tester, table: str, message: str) -> None:
    engine_tester.make_config(table)
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--budget", "bad")
    assert result.ret == 4
    assert message in result.stderr


def test_unknown_budget_profile(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--budget", "smoek")
    assert result.ret == 4
    assert "unknown budget profile 'smoek'; did you mean smoke?" in result.stderr


def test_a_profile_is_the_budget_that_training_uses(engine_tester) -> None:
    engine_tester.make_config("[budgets.tiny]\nsteps = 2\n")
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--budget", "tiny")
    (record,) = result.records
    assert (record["steps"], record["stop_reason"]) == (2, "steps")
    assert record["config"]["budget"]["steps"] == 2


def test_the_device_is_waited_for_at_each_epochs_end_and_the_budgets_last_batch() -> None:
    """The budget check reads the loss (a device sync) only where the clock must be exact: the batch that
    ends an epoch or reaches a step or image limit (besides the first batch and every second)."""
    meter = BudgetMeter(Budget(steps=6, images=1000), n_train=30, batch_size=8)  # 4 batches an epoch
    last = []
    for _ in range(6):
        last.append(meter.next_batch_is_last())
        meter.add_batch(0.1)
        if meter.epoch_steps == meter.steps_per_epoch:
            meter.end_epoch()
            meter.start_epoch()
    assert last == [False, False, False, True, False, True]
    images = BudgetMeter(Budget(images=20), n_train=100, batch_size=8)
    images.start_epoch()
    seen = []
    for _ in range(3):
        seen.append(images.next_batch_is_last())
        images.add_batch(0.1)
    assert seen == [False, False, True] and images.stop_reason == "images"  # 16 seen: the next reaches 20
