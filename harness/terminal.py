"""The terminal reporter (a built-in plugin): progress while training and the summary at the end."""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator
from typing import IO, TYPE_CHECKING, Any

import harness
from harness.errors import ExitCode
from harness.redact import redact
from harness.report.records import latest_per_task as latest_records  # one per combination, seed, backend
from harness.report.records import several_backends
from harness.reuse import FIELD, run_name
from harness.tracebacks import format_traceback
from harness.words import plural

if TYPE_CHECKING:
    from harness.config import Config
    from harness.engine.task import Task
    from harness.session import Session

#: Seconds between two heartbeat lines when the output is not a terminal.
HEARTBEAT_SECONDS = 30.0

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


def _of(total: int | None) -> str:
    """``/5`` when the total is known."""
    return f"/{total}" if total else ""


def _head(task: Task, node: Any = None) -> str:
    """``[i/n] TASK-ID``, and ``on NODE`` when the executor says where the task trains (``--executor ray``)."""
    return f"[{task.index + 1}/{task.total}] {task.id}" + (f" on {node}" if node else "")


def _pct(value: Any) -> str:
    return "  -  " if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _tasks_of(option: Any, runnable: int) -> str:
    """``--collect-only``'s count of tasks, where seeds (``--repeats``) or backends multiply the combinations:
    ``; 4 tasks (2 seeds x 2 backends: tensorflow, jax)``."""
    seeds = int(getattr(option, "repeats", 1) or 1)
    names = list(getattr(option, "backend", None) or [])
    parts = ([plural(seeds, "seed")] if seeds > 1 else []) + \
        ([f"{len(names)} backends: {', '.join(names)}"] if len(names) > 1 else [])
    if not parts or not runnable:
        return ""
    return f"; {plural(runnable * seeds * max(1, len(names)), 'task')} ({' x '.join(parts)})"


class TerminalReporter:
    """Progress while training and the summary at the end. On a terminal, a live line shows the latest task's
    position (epoch and batch); elsewhere (a log file, CI), a heartbeat line every :data:`HEARTBEAT_SECONDS`
    tells each task that trains where it is. Timers are kept per task: with worker processes, several tasks
    train at once."""

    def __init__(self, config: Config, out: IO[str] | None = None) -> None:
        self.config = config
        self.out = out or sys.stdout
        self.verbosity = int(getattr(config.option, "verbose", 0) or 0) - int(getattr(config.option, "quiet", 0) or 0)
        self.live = self.out.isatty() and self.verbosity >= 0
        #: Seconds, for the timers (tests replace it).
        self.clock: Callable[[], float] = time.monotonic
        #: Tasks this run trains (set when the run loop begins).
        self.pending_total = 0
        #: Per task id: when its first event came, where it is (the latest batch or epoch event).
        self.started: dict[str, float] = {}
        self.position: dict[str, tuple[Task, dict[str, Any]]] = {}
        self.finished_seconds: list[float] = []
        #: The most tasks seen training at once (the workers' number, as far as this reporter can tell).
        self.parallel = 1
        self.last_heartbeat: float | None = None
        self._line_open = False

    def write_line(self, text: str = "") -> None:
        """One line, replacing the live line, with every credential in it masked (:func:`harness.redact.redact`:
        plugins' lines quote URIs)."""
        self._clear_live()
        self.out.write(redact(text) + "\n")
        self.out.flush()

    def _clear_live(self) -> None:
        """Blank the live line, so that what is written next replaces it rather than follows it."""
        if self._line_open:
            self.out.write("\r" + " " * (self._columns() - 1) + "\r")
            self._line_open = False

    def _columns(self) -> int:
        return min(shutil.get_terminal_size((80, 24)).columns, 120)

    def _live(self, text: str) -> None:
        columns = self._columns()
        self.out.write("\r" + redact(text)[: columns - 1].ljust(columns - 1))
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
            self.write_line(f"{plural(len(combos), 'combination')} collected"
                            + (f", {skipped} to skip" if skipped else "") + _tasks_of(self.config.option,
                                                                                      len(combos) - skipped))
            return
        if self.verbosity >= 0:
            from harness.session import selected

            # without a selection nothing is selected: the run shows the whole grid and asks for one
            word = "selected" if selected(self.config) else "installed (none selected)"
            self.write_line(f"harness {harness.__version__}: {plural(len(combos), 'combination')} {word}"
                            + (f" ({skipped} skipped)" if skipped else ""))

    @harness.hookimpl(wrapper=True)
    def harness_runloop(self, session: Session) -> Generator[None, bool | None, bool | None]:
        """The run's header, before the run loop (whichever implementation runs it)."""
        self.pending_total = len(session.pending_tasks())
        if self.verbosity >= 0:
            runtime = session.store.metadata() if session.store else {}
            devices = runtime.get("devices") or ["CPU"]
            where = "the CPU (no GPU visible)" if devices == ["CPU"] else ", ".join(devices)
            retry = session.retrying
            done = len(session.tasks) - self.pending_total - len(session.reused)
            resumed = [f"{done} already done" if done else "", f"{retry} to retry: errored" if retry else ""]
            self.write_line(f"run directory: {session.run_dir}")
            self._store_problems(session)
            self.write_line(f"training {plural(self.pending_total, 'task')} on {where}, precision "
                            f"{session.precision}" + (f" ({', '.join(w for w in resumed if w)}, resumed)"
                                                      if done or retry else "") + reused_note(session.reused))
        return (yield)

    def _store_problems(self, session: Session) -> None:
        """A resumed run directory's damage, one ``note:`` line each: what reading it passed over (a corrupt
        line: its task runs again; a lost ``metadata.json``) and a torn last line set aside."""
        if session.store is not None and not session.created:
            for problem in session.store.problems():
                self.write_line(f"note: {problem}")

    @harness.hookimpl
    def harness_combination_progress(self, session: Session, task: Task, event: dict[str, Any]) -> None:
        now = self.clock()
        self.started.setdefault(task.id, now)
        self.parallel = max(self.parallel, len(self.started))
        kind = event["kind"]
        if kind in ("batch", "epoch"):
            self.position[task.id] = (task, event)
        if self.verbosity < 0:
            return
        head = _head(task, event.get("node"))
        if kind == "decode" and self.live:
            self._live(f"{head} decoding images {event['done']}/{event['total']}")
        elif kind == "features" and self.live:
            self._live(f"{head} computing frozen features {event['done']}/{event['total']}")
        elif kind == "batch" and self.live:
            self._live(f"{head} {self._where(task, event)} elapsed {format_duration(now - self.started[task.id])}")
        elif kind == "epoch":
            elapsed = now - self.started[task.id]
            text = (f"{head} epoch {event['epoch']}{_of(task.budget.epochs)} "
                    f"loss {event['loss']:.3f} val_acc {event['val_accuracy']:.3f} "
                    f"elapsed {format_duration(elapsed)} left {format_duration(self._eta(task, event, elapsed))}")
            if self.live:
                self._live(text)
            elif self.verbosity >= 1:
                self.write_line(text)
        if not self.live:
            self._heartbeat(now)

    def _where(self, task: Task, event: dict[str, Any]) -> str:
        """``epoch 2/5 batch 10/63`` from a batch or an epoch event."""
        text = f"epoch {event['epoch']}{_of(task.budget.epochs)}"
        if event["kind"] == "batch":
            text += f" batch {event['step']}{_of(event.get('steps_per_epoch'))}"
        return text

    def _heartbeat(self, now: float) -> None:
        """Every HEARTBEAT_SECONDS, a line per task training (not on a terminal: the live line does that)."""
        if self.last_heartbeat is None:
            self.last_heartbeat = now
            return
        if now - self.last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = now
        for task_id, (task, event) in sorted(self.position.items(), key=lambda item: item[1][0].index):
            self.write_line(f"{_head(task, event.get('node'))} training: {self._where(task, event)}, "
                            f"elapsed {format_duration(now - self.started[task_id])}")

    def _eta(self, task: Task, event: dict[str, Any], elapsed: float) -> float:
        """This task's time left, plus the queued tasks' at the pace of those finished (else of this one),
        shared by the tasks that train at once."""
        budget = task.budget
        fraction = math.nan
        if budget.epochs:
            fraction = event["epoch"] / budget.epochs
        if budget.seconds:
            fraction = max(fraction if not math.isnan(fraction) else 0.0,
                           event["train_seconds_total"] / budget.seconds)
        this_left = elapsed * (1 / fraction - 1) if fraction and not math.isnan(fraction) else math.nan
        if self.finished_seconds:
            per_task = sum(self.finished_seconds) / len(self.finished_seconds)
        else:
            per_task = elapsed / fraction if fraction and not math.isnan(fraction) else math.nan
        queued = max(0, self.pending_total - len(self.finished_seconds) - len(self.started))
        return this_left + queued * per_task / self.parallel

    @harness.hookimpl
    def harness_combination_result(self, session: Session, task: Task, result: dict[str, Any]) -> None:
        started = self.started.pop(task.id, None)
        self.position.pop(task.id, None)
        if started is not None:
            self.finished_seconds.append(self.clock() - started)
        if self.verbosity < 0:
            return
        word = WORDS.get(result.get("status", ""), "?")
        head = _head(task, result.get("node"))
        if result.get("status") == "error":
            self.write_line(f"{head} ERROR {result.get('error')}")
            return
        self.write_line(
            f"{head} {word} test {_pct(result.get('test_accuracy'))} vs baseline "
            f"{_pct(result.get('baseline_accuracy'))} (p={result.get('p_value', math.nan):.2g}) "
            f"{plural(int(result.get('epochs') or 0), 'epoch')}, "
            f"{format_duration(result.get('train_seconds', math.nan))} [{result.get('stop_reason')}]"
        )

    @harness.hookimpl
    def harness_session_finish(self, session: Session, exitstatus: int) -> None:
        """The summary: the plugins' sections (this reporter's first), then the counts on the last line."""
        self._clear_live()
        if self.config.option.collect_only:
            return
        if exitstatus == ExitCode.NO_COMBINATIONS and not session.combinations:
            self.write_line("no combinations selected")
            return
        if session.store is None or (exitstatus == ExitCode.USAGE_ERROR and not session.tasks):
            return  # stopped before anything ran: the error says why
        session.hook.harness_terminal_summary(session=session, terminal=self)
        records = latest_records(session.store.records() + session.unrecorded)
        interrupted = exitstatus == ExitCode.INTERRUPTED
        from harness.session import combination_statuses

        self.write_line(self.rule(stats_line(records, time.time() - session.started, interrupted,
                                             session.should_stop, session.not_run(),
                                             combination_statuses(records))))

    def rule(self, title: str = "", fill: str = "=") -> str:
        """``title`` centred in a line of ``fill`` as wide as the terminal (at most 120 columns)."""
        width = min(shutil.get_terminal_size((80, 24)).columns, 120)
        if not title:
            return fill * width
        side = max(3, (width - len(title) - 2) // 2)
        return f"{fill * side} {title} {fill * side}"

    @harness.hookimpl(tryfirst=True)
    def harness_terminal_summary(self, session: Session, terminal: TerminalReporter) -> None:
        records = latest_records((session.store.records() if session.store else []) + session.unrecorded)
        if not records:
            self.write_line("no task finished")
            return
        if self.verbosity < -1:
            return
        repeated = _repeated_ids(records)
        backend = several_backends(records)
        self._tracebacks(records, repeated)
        self.write_line(self.rule("summary"))
        for record in sorted(records, key=lambda r: STATUS_ORDER.get(r.get("status", ""), len(STATUS_ORDER))):
            if self.verbosity < 0 and record.get("status") == "passed":
                continue
            self.write_line(result_line(record, with_seed=record.get("id") in repeated, with_backend=backend,
                                        full=self.verbosity >= 1))
        for dataset, (combination, accuracy, seeds, baseline) in best_per_dataset(records).items():
            mean = f" (mean of {seeds} seeds)" if seeds > 1 else ""
            lift = "" if baseline is None else f", {100 * (accuracy - baseline):+.1f} pts vs baseline {baseline:.3f}"
            self.write_line(f"best on {dataset}: {combination} test {accuracy:.3f}{mean}{lift}")
        for line in files_lines(records, full=self.verbosity >= 1):
            self.write_line(line)
        if session.run_dir is not None:
            self.write_line(f"run directory: {session.run_dir}")

    def _tracebacks(self, records: list[dict[str, Any]], repeated: set[str]) -> None:
        """``--tb``: the tracebacks of the errors that raised inside a combination, as pytest's "ERRORS"
        section (``short``: a plugin's exceptions, by its frames; ``long``: every error's whole traceback)."""
        style = getattr(self.config.option, "tbstyle", "short") or "short"
        shown = [r for r in records if r.get("status") == "error" and r.get("traceback")
                 and (style == "long" or r.get("error_kind") == "exception")]
        if style == "no" or not shown:
            return
        self.write_line(self.rule("errors"))
        backend = several_backends(records)
        for record in shown:
            self.write_line(self.rule(_name(record, record.get("id") in repeated, backend), "_"))
            for line in format_traceback(record["traceback"], style, self.config.cwd):
                self.write_line(line)


STATUS_ORDER = {status: i for i, status in enumerate(("passed", "failed", "error", "skipped"))}
#: Errors and skip reasons are cut to this many characters in the summary (``-v`` shows them whole).
MAX_REASON = 150


def _repeated_ids(records: list[dict[str, Any]]) -> set[str]:
    """Combinations with several seeds (on one backend)."""
    seen: dict[tuple[str, Any], int] = {}
    for record in records:
        key = (record.get("id", "?"), record.get("backend"))
        seen[key] = seen.get(key, 0) + 1
    return {name for (name, _), n in seen.items() if n > 1}


def _reason(text: Any, full: bool = False) -> str:
    line = " ".join(str(text or "").split())
    return line if full or len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "... (-v: whole)"


def _name(record: dict[str, Any], with_seed: bool, with_backend: bool) -> str:
    """``id``, ``id[seed=2]``, ``id[jax]`` or ``id[jax, seed=2]``."""
    parts = ([str(record.get("backend"))] if with_backend and record.get("backend") else []) \
        + ([f"seed={record.get('seed')}"] if with_seed else [])
    return f"{record.get('id')}[{', '.join(parts)}]" if parts else str(record.get("id"))


def reused_note(reused: dict[str, str]) -> str:
    """`` (4 reused from RUN)``, `` (4 reused from RUN and 2 more runs)``: the tasks ``--reuse`` took."""
    if not reused:
        return ""
    runs = sorted({run_name(source) for source in reused.values()})
    more = f" and {plural(len(runs) - 1, 'more run')}" if len(runs) > 1 else ""
    return f" ({len(reused)} reused from {runs[0]}{more})"


def _reused_mark(record: dict[str, Any]) -> str:
    """`` (reused from RUN)`` for a record ``--reuse`` took from an earlier run."""
    return f" (reused from {run_name(record[FIELD])})" if record.get(FIELD) else ""


def result_line(record: dict[str, Any], with_seed: bool = False, with_backend: bool = False,
                full: bool = False) -> str:
    """``PASSED   id  test 0.953, +45.3 pts over baseline 0.500 (p=1e-30)``; ``ERROR``/``SKIPPED`` with the reason
    (cut to :data:`MAX_REASON` characters unless ``full``). ``with_backend``: the id names the backend (a run
    on several)."""
    status = record.get("status", "")
    name = _name(record, with_seed, with_backend)
    word = WORDS.get(status, "?")
    if status in ("error", "skipped") or record.get("test_accuracy") is None:
        return f"{word:<8} {name} - {_reason(record.get('error'), full)}"
    test, baseline = record["test_accuracy"], record.get("baseline_accuracy")
    p = record.get("p_value")
    verdict = "" if status == "passed" else ", not significant" if test > (baseline or 0) else ""
    detail = f" (p={p:.2g}{verdict})" if p is not None else ""
    if baseline is None:
        return f"{word:<8} {name} test {test:.3f}{detail}{_reused_mark(record)}"
    return (f"{word:<8} {name} test {test:.3f}, {100 * (test - baseline):+.1f} pts vs baseline {baseline:.3f}"
            f"{detail}{_reused_mark(record)}")


def best_per_dataset(records: list[dict[str, Any]]) -> dict[str, tuple[str, float, int, float | None]]:
    """Per dataset: the combination (on its backend, named in a run on several) with the best mean test
    accuracy over its seeds, that mean, the number of seeds and the baseline."""
    accuracies: dict[tuple[str, str], list[float]] = {}
    baselines: dict[str, float | None] = {}
    backend = several_backends(records)
    for record in records:
        if record.get("test_accuracy") is None:
            continue
        name = _name(record, with_seed=False, with_backend=backend)
        accuracies.setdefault((record["dataset"], name), []).append(float(record["test_accuracy"]))
        baselines.setdefault(record["dataset"], record.get("baseline_accuracy"))
    best: dict[str, tuple[str, float, int, float | None]] = {}
    for (dataset, combination), values in sorted(accuracies.items()):
        mean = sum(values) / len(values)
        if dataset not in best or mean > best[dataset][1]:
            best[dataset] = (combination, mean, len(values), baselines[dataset])
    return best


def _kinds(entries: list[dict[str, Any]]) -> str:
    """``2 not an image file, 1 not a regular file``: the reasons of ``entries``, each up to its detail."""
    counts = Counter(str(entry.get("reason", "?")).split(":")[0].split(" (")[0] for entry in entries)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def _dataset_files(info: dict[str, Any]) -> tuple[str, list[str]]:
    """What a dataset passed over, as a summary (``3 files skipped (...), 1 ignored (...)``) and one line per
    file with its reason (``skipped_files``, the source's ``skipped_links``, ``ignored_files``/``ignored_list``:
    see :mod:`harness.record`)."""
    source = info.get("source_info") or {}
    skipped, links = list(info.get("skipped_files") or []), list(source.get("skipped_links") or [])
    ignored, listed = int(source.get("ignored_files") or 0), list(source.get("ignored_list") or [])
    parts = [f"{plural(len(items), word)} skipped ({_kinds(items)})" for items, word in
             ((skipped, "file"), (links, "link")) if items]
    if ignored:
        parts.append(f"{ignored} ignored" + (f" ({_kinds(listed)}{', ...' if len(listed) < ignored else ''})"
                                              if listed else " (not image files)"))
    each = [f"  {entry.get('file')}: {entry.get('reason')}" for entry in (*skipped, *links, *listed)]
    if ignored > len(listed):
        each.append(f"  ... and {ignored - len(listed)} more ignored")
    return ", ".join(parts), each


def files_lines(records: list[dict[str, Any]], full: bool = False) -> list[str]:
    """Per dataset, the files it skipped (not decodable) or ignored (not image names) with the reasons,
    counted (with ``full``, ``-v``, each file too), and its warnings (classes with few test images)."""
    infos: dict[str, dict[str, Any]] = {}
    for record in records:
        info = record.get("dataset_info")
        if isinstance(info, dict) and record.get("dataset"):
            infos.setdefault(str(record["dataset"]), info)
    lines = []
    for dataset, info in sorted(infos.items()):
        summary, each = _dataset_files(info)
        if summary:
            lines.append(f"{dataset}: {summary}" + ("" if full else " (-v: each file)"))
            lines.extend(each if full else [])
        lines.extend(f"warning: {warning}" for warning in info.get("warnings") or [])
    return lines


def stats_line(records: list[dict[str, Any]], seconds: float, interrupted: bool = False, stopped: str | None = None,
               not_run: int = 0, verdict: list[str] | None = None) -> str:
    """``5 passed, 1 failed, 2 errors in 12m31s``, as pytest ends; a run that stopped early or was
    interrupted says so, and how many tasks did not run. ``verdict``: each combination's status (seeds
    pooled, Holm-corrected: what the exit status follows); where it differs from the seeds' own tests, the
    line counts combinations and gives the seeds' counts beside them."""
    per_seed = _counts([str(r.get("status")) for r in records])
    text = per_seed or "nothing finished"
    if verdict is not None and sorted(verdict) != sorted(str(r.get("status")) for r in records):
        text = f"{_counts(verdict)} (combinations, seeds pooled; per seed: {per_seed})"
    text += f" in {format_duration(seconds)}"
    why = [w for w in ("interrupted" if interrupted else "", stopped or "") if w]
    if not_run and why:
        why.append(f"{not_run} not run")
    return text + (f" ({'; '.join(why)})" if why else "")


def _counts(statuses: list[str]) -> str:
    """``5 passed, 1 failed, 2 errors``."""
    counts = {status: statuses.count(status) for status in STATUS_ORDER}
    return ", ".join(f"{n} {'errors' if status == 'error' and n > 1 else status}" for status, n in counts.items() if n)


@harness.hookimpl
def harness_configure(config: Config) -> None:
    if getattr(config.option, "command", None) == "run":
        config.pluginmanager.register(TerminalReporter(config), "terminalreporter")
