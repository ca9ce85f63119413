"""Budgets: the meter's arithmetic (no TensorFlow), the limits in real training, and budget profiles."""

from __future__ import annotations

import pytest

from harness.engine.budget import BudgetMeter
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


def test_time_budget_stops_within_one_batch_of_its_limit(engine_tester) -> None:
    # Every batch sleeps 0.1 s and an epoch has 16 of them: a check at the end of each epoch would overrun
    # by up to 1.5 s; checked after every batch, the overrun is at most the last batch.
    limit = 2.5
    result = engine_tester.run("run", *SMALL, "--set", "synthetic.train_per_class=32", "--batch-size", "4",
                               *models("slow"), "--set", "slow.nap=0.1", "--time", f"{limit}s")
    (record,) = result.records
    assert record["status"] != "error", record.get("traceback")
    assert record["stop_reason"] == "time"
    overrun = record["train_seconds"] - limit
    assert overrun == pytest.approx(record["time_overrun_seconds"])
    assert 0 <= overrun <= record["last_batch_seconds"]
    assert record["last_batch_seconds"] >= 0.1  # the nap is real: these are whole batches
    assert record["steps"] >= 2 and record["last_batch_seconds"] < 16 * 0.1
    print(f"time budget {limit}s: trained {record['train_seconds']:.3f}s in {record['steps']} steps, overrun "
          f"{overrun:.3f}s, last batch {record['last_batch_seconds']:.3f}s, first {record['first_batch_seconds']:.3f}s")


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
