"""A task is self-contained and picklable, and its hashes say what determines its result."""

from __future__ import annotations

import dataclasses
import pickle

from harness.builtin.core import _no_augmentation
from harness.builtin.synthetic import synthetic_spec
from harness.engine.task import Task
from harness.specs import AugmentationSpec, Budget, ModelSpec


def build(request):  # a module-level factory: pickled by reference
    return request


def unfreeze(body, params) -> None:
    pass


def make_task(**changes) -> Task:
    task = Task(
        dataset=synthetic_spec(size=16),
        augmentation=AugmentationSpec(name="none", factory=_no_augmentation, plugin="core", package="harness 0.1.0"),
        model=ModelSpec(name="tiny", factory=build, params={"learning_rate": 0.01, "width": [4, 8]},
                        fine_tune=unfreeze, tags={"fast"}, plugin="mine", package="mine 1.0"),
        budget=Budget(epochs=2, seconds=30.0), seed=3, repeat=2, split_seed=1, batch_size=8,
        precision="mixed_bfloat16", target_accuracy=0.9, cache_dir="/tmp/cache", index=4, total=9,
    )
    return dataclasses.replace(task, **changes)


def test_a_task_round_trips_through_pickle() -> None:
    task = make_task()
    copy = pickle.loads(pickle.dumps(task))
    assert copy == task
    assert copy.config_hash == task.config_hash and copy.describe() == task.describe()
    assert copy.model.factory is build and copy.model.fine_tune is unfreeze
    assert dict(copy.model.params) == {"learning_rate": 0.01, "width": [4, 8]}
    assert copy.model.tags == frozenset({"fast"}) and copy.model.package == "mine 1.0"
    assert (copy.index, copy.total, copy.budget) == (4, 9, Budget(epochs=2, seconds=30.0))
    # the specs stay frozen and read-only after the trip
    try:
        copy.model.params["learning_rate"] = 1.0  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("params became writable")


def test_config_hash_covers_what_determines_the_result() -> None:
    base = make_task()
    assert base.config_hash == make_task(index=0, total=1, cache_dir="/elsewhere").config_hash
    for change in ({"seed": 4}, {"budget": Budget(epochs=3)}, {"batch_size": 16}, {"precision": "float32"},
                   {"split_seed": 2}, {"restore_best": False}, {"backend": "jax"}):
        assert make_task(**change).config_hash != base.config_hash, change
    # --resume never takes one backend's result for another's, nor do repeat statistics pool them.
    assert make_task(backend="torch").combination_hash != base.combination_hash


def test_combination_hash_is_the_same_for_every_seed() -> None:
    base = make_task()
    other_seed = make_task(seed=4, repeat=3)
    assert other_seed.combination_hash == base.combination_hash
    assert other_seed.config_hash != base.config_hash
    assert make_task(batch_size=16).combination_hash != base.combination_hash
