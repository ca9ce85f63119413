"""The built-in TensorBoard plugin: ``harness run --tensorboard DIR`` writes each task's curves for
``tensorboard --logdir DIR``.

One folder per task, ``DIR/RUN_ID/TASK`` (``TASK`` as harness prints it, ``DATASET-AUGMENTATION-MODEL[seed=N]``,
with the backend when a run has several), so TensorBoard draws every combination's curves side by side in one
chart per metric, and several runs can share ``DIR``. Written as training goes (each epoch as the driver
receives it, also from worker processes) and completed from the record when the task is stored:

- per epoch, at step = epoch: ``loss/train``, ``loss/validation``, ``accuracy/train``,
  ``accuracy/validation``, ``time/epoch_seconds``;
- at the end, at step = the last epoch: ``test/accuracy``, ``test/baseline_accuracy``, ``test/lift_points``,
  ``test/p_value``, ``speed/images_per_second``, ``time/train_seconds``.

The event files are written by :mod:`harness.builtin.tfevents`, without importing a framework. A folder that
cannot be written is one warning line; the run goes on without TensorBoard. ``-p no:tensorboard`` removes the
option.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness.config import OptionParser, StashKey
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.builtin.tfevents import EventWriter
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

#: Per-epoch scalars: the history's field and the chart.
EPOCH_TAGS = {"loss": "loss/train", "val_loss": "loss/validation", "accuracy": "accuracy/train",
              "val_accuracy": "accuracy/validation", "seconds": "time/epoch_seconds"}
#: Final scalars: the record's field and the chart (``test/lift_points`` is computed).
FINAL_TAGS = {"test_accuracy": "test/accuracy", "baseline_accuracy": "test/baseline_accuracy",
              "p_value": "test/p_value", "images_per_second": "speed/images_per_second",
              "train_seconds": "time/train_seconds"}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def epoch_scalars(entry: dict[str, Any]) -> dict[str, float]:
    """One history entry's scalars, by chart."""
    values = {tag: _finite(entry.get(field)) for field, tag in EPOCH_TAGS.items()}
    return {tag: value for tag, value in values.items() if value is not None}


def final_scalars(record: dict[str, Any]) -> dict[str, float]:
    """A record's outcome, by chart."""
    values = {tag: _finite(record.get(field)) for field, tag in FINAL_TAGS.items()}
    test, baseline = values["test/accuracy"], values["test/baseline_accuracy"]
    values["test/lift_points"] = None if test is None or baseline is None else 100.0 * (test - baseline)
    return {tag: value for tag, value in values.items() if value is not None}


class Board:
    """This run's TensorBoard writers, one per task while it trains."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.writers: dict[str, EventWriter] = {}
        #: Per task folder: the epochs written (the record then adds those the progress events missed).
        self.epochs: dict[str, set[int]] = {}
        #: Set once writing failed: nothing more is written in this run.
        self.error: str | None = None

    def folder(self, session: Session, task: Task) -> str:
        name = f"{task.combination_id}[seed={task.seed}"
        return name + (f",{task.backend}]" if len(session.backends) > 1 else "]")

    def _writer(self, session: Session, folder: str) -> EventWriter:
        from harness.builtin.tfevents import EventWriter

        if folder not in self.writers:
            run = session.run_dir.name if session.run_dir is not None else "run"
            self.writers[folder] = EventWriter(self.logdir / run / folder)
            self.epochs.setdefault(folder, set())
        return self.writers[folder]

    def epoch(self, session: Session, task: Task, entry: dict[str, Any]) -> None:
        folder = self.folder(session, task)
        epoch = entry.get("epoch")
        if self.error is not None or not isinstance(epoch, int) or epoch in self.epochs.get(folder, ()):
            return
        try:
            self._writer(session, folder).scalars(epoch, epoch_scalars(entry))
        except OSError as exc:
            return self._failed(exc)
        self.epochs[folder].add(epoch)

    def result(self, session: Session, task: Task, record: dict[str, Any]) -> None:
        if self.error is not None or record.get("status") == "skipped":
            return
        folder = self.folder(session, task)
        history = [e for e in record.get("history") or [] if isinstance(e.get("epoch"), int)]
        for entry in history:
            self.epoch(session, task, entry)
        try:
            writer = self._writer(session, folder)
            writer.scalars(max((e["epoch"] for e in history), default=0), final_scalars(record))
            writer.close()
        except OSError as exc:
            return self._failed(exc)
        del self.writers[folder]

    def close(self) -> None:
        for writer in self.writers.values():
            try:
                writer.close()
            except OSError:
                pass
        self.writers.clear()

    def _failed(self, exc: OSError) -> None:
        self.error = f"{exc.strerror or exc}: {exc.filename or self.logdir}"
        self.close()
        sys.stderr.write(f"harness: --tensorboard: cannot write ({self.error}); the run goes on without it\n")


BOARD: StashKey[Board] = StashKey()


def _board(config: Config) -> Board | None:
    return config.stash[BOARD] if BOARD in config.stash else None


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--tensorboard", metavar="DIR",
                     help="write each task's curves for `tensorboard --logdir DIR`, one folder per task under "
                          "DIR/RUN_ID/")


@harness.hookimpl
def harness_configure(config: Config) -> None:
    if config.command != "run" or not config.options.tensorboard:
        return
    value = config.options.tensorboard
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else config.cwd / path
    if path.exists() and not path.is_dir():
        raise UsageError(f"--tensorboard {value}: not a folder")
    config.stash[BOARD] = Board(path)


@harness.hookimpl
def harness_combination_progress(session: Session, task: Task, event: dict[str, Any]) -> None:
    board = _board(session.config)
    if board is not None and event.get("kind") == "epoch":
        board.epoch(session, task, event)


@harness.hookimpl
def harness_combination_result(session: Session, task: Task, result: dict[str, Any]) -> None:
    board = _board(session.config)
    if board is not None:
        board.result(session, task, result)


@harness.hookimpl
def harness_terminal_summary(session: Session, terminal: Any) -> None:
    board = _board(session.config)
    if board is not None and board.error is None and board.epochs and session.run_dir is not None:
        tasks = f"{len(board.epochs)} task's" if len(board.epochs) == 1 else f"{len(board.epochs)} tasks'"
        terminal.write_line(f"tensorboard: {tasks} curves in {board.logdir / session.run_dir.name} "
                            f"(tensorboard --logdir {board.logdir})")


@harness.hookimpl
def harness_session_finish(session: Session, exitstatus: int) -> None:
    board = _board(session.config)
    if board is not None:
        board.close()
