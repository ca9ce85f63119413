"""Built-in essentials: the ``none`` augmentation, the budget and the serial run loop (replaceable hooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import harness
from harness.engine import events
from harness.errors import UsageError
from harness.specs import AugmentationSpec, Budget, Combination

if TYPE_CHECKING:
    from harness.config import Config
    from harness.session import Session

#: Used when no budget is given anywhere.
DEFAULT_EPOCHS = 5


def _no_augmentation(params: object) -> None:
    return None


@harness.hookimpl
def harness_augmentations_register(config: Config) -> list[AugmentationSpec]:
    """``none``: the axis every grid has, so a dataset x model pair always runs unaugmented too."""
    return [AugmentationSpec(name="none", factory=_no_augmentation, description="no augmentation")]


@harness.hookimpl(trylast=True)
def harness_budget_make(config: Config, combination: Combination) -> Budget:
    option = config.option
    limits: dict[str, object] = {}
    if option.budget is not None:
        profiles = config.budget_profiles()
        if option.budget not in profiles:
            from harness.config import _unknown

            raise UsageError("--budget: " + _unknown("budget profile", option.budget, profiles))
        limits.update(profiles[option.budget])
        if "time" in limits:
            from harness.config import parse_duration

            limits["seconds"] = parse_duration(limits.pop("time"))
    for name, dest in (("epochs", "epochs"), ("seconds", "time"), ("steps", "steps"), ("images", "images")):
        value = getattr(option, dest)
        if value is not None:
            limits[name] = value
    if not limits:
        limits["epochs"] = DEFAULT_EPOCHS
    try:
        return Budget(**limits)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise UsageError(f"budget profile {option.budget!r}: {exc}") from None


@harness.hookimpl(trylast=True)
def harness_runloop(session: Session) -> bool:
    """Train the pending tasks one after the other, in this process."""
    for task in session.pending_tasks():
        def forward(event: dict, task=task) -> None:  # type: ignore[no-untyped-def, type-arg]
            session.hook.harness_combination_progress(session=session, task=task, event=event)

        with events.listening(forward):
            result = session.hook.harness_combination_train(task=task)
        if result is None:
            raise UsageError("no plugin implements harness_combination_train (was the engine blocked with -p no:?)")
        session.record(task, result)
        if session.should_stop:
            break
    return True
