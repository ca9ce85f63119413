"""The terminal reporter (a built-in plugin): progress while training and the summary at the end."""

from __future__ import annotations

import math
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import harness

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

WORDS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}


def format_duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _pct(value: Any) -> str:
    return "  -  " if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


class TerminalReporter:
    def __init__(self, config: Config, out: IO[str] | None = None) -> None:
        self.config = config
        self.out = out or sys.stdout
        self.verbosity = int(getattr(config.option, "verbose", 0) or 0) - int(getattr(config.option, "quiet", 0) or 0)
        self.live = self.out.isatty() and self.verbosity >= 0
        self.task_started = 0.0
        self.finished_seconds: list[float] = []
        self._line_open = False

    def write_line(self, text: str = "") -> None:
        self._end_live()
        self.out.write(text + "\n")
        self.out.flush()

    def _end_live(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False

    def _live(self, text: str) -> None:
        columns = 120
        self.out.write("\r" + text[: columns - 1].ljust(columns - 1))
        self.out.flush()
        self._line_open = True

    # -- hooks ------------------------------------------------------------------------------------

    @harness.hookimpl
    def harness_collection_finish(self, session: Session) -> None:
        combos = session.combinations
        skipped = sum(c.skip_reason is not None for c in combos)
        if self.config.option.collect_only:
            for combination in combos:
                suffix = f"  SKIPPED ({combination.skip_reason})" if combination.skip_reason else ""
                self.write_line(f"{combination.id}{suffix}")
            self.write_line(f"{len(combos)} combinations collected" + (f", {skipped} to skip" if skipped else ""))
            return
        if self.verbosity >= 0:
            self.write_line(f"harness {harness.__version__}: {len(combos)} combinations selected"
                            + (f" ({skipped} skipped)" if skipped else ""))

    @harness.hookimpl
    def harness_runloop(self, session: Session) -> None:
        if self.verbosity < 0:
            return None
        runtime = session.store.metadata() if session.store else {}
        devices = runtime.get("devices") or ["CPU"]
        where = "the CPU (no GPU visible)" if devices == ["CPU"] else ", ".join(devices)
        pending = len(session.pending_tasks())
        done = len(session.tasks) - pending
        self.write_line(f"run directory: {session.run_dir}")
        self.write_line(f"training {pending} tasks on {where}, precision {session.precision}"
                        + (f" ({done} already done, resumed)" if done else ""))
        return None

    @harness.hookimpl
    def harness_combination_progress(self, session: Session, task: Task, event: dict[str, Any]) -> None:
        kind = event["kind"]
        if kind == "prepare":
            self.task_started = time.perf_counter()
        if self.verbosity < 0:
            return
        head = f"[{task.index + 1}/{task.total}] {task.id}"
        if kind == "decode" and self.live:
            self._live(f"{head} decoding images {event['done']}/{event['total']}")
        elif kind == "epoch":
            elapsed = time.perf_counter() - self.task_started
            epochs = task.budget.epochs
            text = (f"{head} epoch {event['epoch']}{'/' + str(epochs) if epochs else ''} "
                    f"loss {event['loss']:.3f} val_acc {event['val_accuracy']:.3f} "
                    f"elapsed {format_duration(elapsed)} left {format_duration(self._eta(task, event, elapsed))}")
            if self.live:
                self._live(text)
            elif self.verbosity >= 1:
                self.write_line(text)

    def _eta(self, task: Task, event: dict[str, Any], elapsed: float) -> float:
        remaining_tasks = task.total - task.index - 1
        per_task = (sum(self.finished_seconds) / len(self.finished_seconds)) if self.finished_seconds else math.nan
        budget = task.budget
        fraction = math.nan
        if budget.epochs:
            fraction = event["epoch"] / budget.epochs
        if budget.seconds:
            fraction = max(fraction if not math.isnan(fraction) else 0.0,
                           event["train_seconds_total"] / budget.seconds)
        this_left = elapsed * (1 / fraction - 1) if fraction and not math.isnan(fraction) else math.nan
        if math.isnan(per_task):
            per_task = elapsed / fraction if fraction and not math.isnan(fraction) else math.nan
        return this_left + remaining_tasks * per_task

    @harness.hookimpl
    def harness_combination_result(self, session: Session, task: Task, result: dict[str, Any]) -> None:
        self.finished_seconds.append(time.perf_counter() - self.task_started)
        if self.verbosity < 0:
            return
        word = WORDS.get(result.get("status", ""), "?")
        head = f"[{task.index + 1}/{task.total}] {task.id}"
        if result.get("status") == "error":
            self.write_line(f"{head} ERROR {result.get('error')}")
            return
        self.write_line(
            f"{head} {word} test {_pct(result.get('test_accuracy'))} vs baseline "
            f"{_pct(result.get('baseline_accuracy'))} (p={result.get('p_value', math.nan):.2g}) "
            f"{result.get('epochs')} epochs, {format_duration(result.get('train_seconds', math.nan))} "
            f"[{result.get('stop_reason')}]"
        )

    @harness.hookimpl
    def harness_session_finish(self, session: Session, exitstatus: int) -> None:
        self._end_live()
        if self.config.option.collect_only or not session.results and session.store is None:
            if not session.combinations and not self.config.option.collect_only:
                self.write_line("no combinations selected")
            return
        session.hook.harness_terminal_summary(session=session, terminal=self)

    @harness.hookimpl(tryfirst=True)
    def harness_terminal_summary(self, session: Session, terminal: TerminalReporter) -> None:
        records = session.store.records() if session.store else []
        if not records:
            return
        self.write_line("=" * 30 + " summary " + "=" * 30)
        for record in records:
            word = WORDS.get(record.get("status", ""), "?")
            tail = ""
            if record.get("status") in ("error", "skipped"):
                tail = f" - {record.get('error')}"
            elif record.get("test_accuracy") is not None:
                lift = 100 * (record["test_accuracy"] - record["baseline_accuracy"])
                tail = f" test {record['test_accuracy']:.3f} ({lift:+.1f} pts over baseline {record['baseline_accuracy']:.3f})"
            self.write_line(f"{word:<8} {record['id']} seed={record.get('seed')}{tail}")
        for dataset, best in _best_per_dataset(records).items():
            self.write_line(f"best on {dataset}: {best['id']} test {best['test_accuracy']:.3f}")
        counts: dict[str, int] = {}
        for record in records:
            counts[record.get("status", "?")] = counts.get(record.get("status", "?"), 0) + 1
        parts = [f"{counts[s]} {s}" for s in ("passed", "failed", "error", "skipped") if counts.get(s)]
        elapsed = time.time() - session.started
        interrupted = " (interrupted)" if session.exitstatus == 2 else ""
        self.write_line(f"{', '.join(parts)} in {format_duration(elapsed)}{interrupted}")
        if session.run_dir is not None:
            self.write_line(str(session.run_dir))


def _best_per_dataset(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for record in records:
        accuracy = record.get("test_accuracy")
        if accuracy is None:
            continue
        current = best.get(record["dataset"])
        if current is None or accuracy > current["test_accuracy"]:
            best[record["dataset"]] = record
    return best


@harness.hookimpl
def harness_configure(config: Config) -> None:
    if getattr(config.option, "command", None) == "run":
        config.pluginmanager.register(TerminalReporter(config), "terminalreporter")
