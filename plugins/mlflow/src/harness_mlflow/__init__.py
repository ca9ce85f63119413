"""harness-mlflow: ``harness run --mlflow [TRACKING_URI]`` logs each task as an MLflow run as it finishes, and
``harness export mlflow RUN_DIR`` sends a finished run (or what could not be sent) later.

A plugin of the ``harness`` entry-point group. MLflow is imported only when a run uses ``--mlflow`` or the
export command runs, so ``harness --help`` and ``harness list`` stay light. What is logged (parameters,
per-epoch and final metrics, tags) is in :mod:`harness_mlflow.convert`; how, and what the run directory's
``mlflow.json`` keeps, in :mod:`harness_mlflow.sender`.

A tracking server that is down or refuses never costs the harness record: the first failure prints one
warning line, nothing more is tried during the run (so a dead server does not slow every task), the run goes
on, and ``mlflow.json`` says what is missing for ``harness export mlflow RUN_DIR``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import ExitCode, StashKey, UsageError
from harness import redact_text as redact

if TYPE_CHECKING:
    from harness import Commands, Config, OptionParser, Session, Task, TerminalReporter
    from harness_mlflow.sender import Sender

__version__ = "0.1.0"
__all__ = ["harness_combination_result", "harness_configure", "harness_options_add", "harness_runloop",
           "harness_session_finish", "harness_subcommands_register", "harness_terminal_summary"]


class Tracker:
    """This run's link to MLflow: sends each record as it is stored; after a failure it tries nothing more."""

    def __init__(self, uri: str, experiment: str | None) -> None:
        self.uri = uri
        self.experiment = experiment
        self.sender: Sender | None = None
        #: The first failure, as one line; once set, nothing more is sent during this run.
        self.error: str | None = None
        self.sent = 0

    def send(self, session: Session, records: Iterable[dict[str, Any]]) -> None:
        if self.error is not None or session.run_dir is None:
            return
        try:
            if self.sender is None:
                from harness_mlflow.sender import Sender

                self.sender = Sender(session.run_dir, self.uri, self.experiment)
            for record in records:
                self.sender.send(record)
                self.sent += 1
        except Exception as exc:  # any failure of the tracker: warn, remember, go on
            self._failed(session.run_dir, exc)

    def send_missing(self, session: Session) -> None:
        """Whatever the run directory has that the tracker does not (skipped combinations, the records of an
        earlier session of a resumed run)."""
        if self.error is not None or session.store is None:
            return
        records = session.store.records()
        if self.sender is not None:
            records = self.sender.state.missing(self.uri, records)
        self.send(session, records)

    def send_report(self, session: Session, exitstatus: int) -> None:
        if self.error is not None or self.sender is None or session.run_dir is None:
            return
        try:
            self.sender.send_report(exitstatus)
        except Exception as exc:  # as for a record
            self._failed(session.run_dir, exc)

    def _failed(self, run_dir: Path, exc: BaseException) -> None:
        from harness_mlflow.sender import State, one_line

        if self.sender is not None:
            self.error = self.sender.fail(exc)
        else:  # the client itself could not be made: the state file says so all the same
            self.error = one_line(exc)
            state = State.load(run_dir)
            state.target(self.uri, self.experiment or run_dir.name).error = self.error
            try:
                state.save()
            except OSError:
                pass
        sys.stderr.write(f"harness: mlflow: cannot log to {redact(self.uri)} ({self.error}); the run goes on, and "
                         f"`harness export mlflow {run_dir}` sends what is missing later\n")

    def summary(self, run_dir: Path | None) -> str | None:
        if self.sender is None and self.error is None:
            return None
        if self.error is not None:
            return (f"mlflow: {self._runs()} logged to {redact(self.uri)}, then it failed ({self.error}); "
                    f"`harness export mlflow {run_dir}` sends the rest")
        target = self.sender.target if self.sender is not None else None
        where = f", experiment {target.experiment!r}, parent run {target.parent_run_id}" if target else ""
        from harness_mlflow.sender import how_to_open

        return (f"mlflow: {self._runs()} logged to {redact(self.uri)}{where} (the report follows as its "
                f"artifacts); {how_to_open(self.uri)}")

    def _runs(self) -> str:
        """``1 task run``, ``2 task runs``: the tasks logged, one MLflow run each."""
        return f"{self.sent} task run{'' if self.sent == 1 else 's'}"


#: The run's tracker, when ``--mlflow`` is on.
TRACKER: StashKey[Tracker] = StashKey()


def _tracker(config: Config) -> Tracker | None:
    return config.stash[TRACKER] if TRACKER in config.stash else None


def tracking_uri(value: Any) -> str | bool:
    """``--mlflow [TRACKING_URI]``: a URI or a path; in a configuration file also ``true`` (the default URI) or
    ``false`` (no MLflow)."""
    if isinstance(value, bool) or (isinstance(value, str) and value):
        return value
    raise ValueError(f"invalid value {value!r}: expected a tracking URI (http://..., a path) or true")


@harness.hookimpl
def harness_options_add(parser: OptionParser) -> None:
    parser.addoption("--mlflow", parse=tracking_uri, nargs="?", const=True, metavar="TRACKING_URI",
                     help="log each task as an MLflow run as it finishes, with the report on a parent run: to "
                          "TRACKING_URI (http://..., a path of a file store, ...), else MLFLOW_TRACKING_URI, else "
                          "./mlflow.db, an SQLite store (harness-mlflow)")
    parser.addoption("--mlflow-experiment", metavar="NAME",
                     help="the MLflow experiment (default: the run directory's name)")


@harness.hookimpl
def harness_configure(config: Config) -> None:
    options = config.options
    if config.command != "run":
        return
    if not options.mlflow:
        if options.mlflow_experiment is not None:
            sys.stderr.write(f"harness: warning: --mlflow-experiment {options.mlflow_experiment!r} is ignored: "
                             "nothing is logged to MLflow without --mlflow [TRACKING_URI]\n")
        return
    if importlib.util.find_spec("mlflow") is None:
        raise UsageError("--mlflow needs MLflow's client: python3 -m pip install harness-mlflow (or mlflow-skinny)")
    from harness_mlflow.sender import check_store, resolve_uri

    uri = resolve_uri(options.mlflow, config.cwd)
    check_store(uri)
    config.stash[TRACKER] = Tracker(uri, options.mlflow_experiment)


@harness.hookimpl(wrapper=True)
def harness_runloop(session: Session) -> Generator[None, bool | None, bool | None]:
    """Before the tasks: the parent run, and the records the run directory has already (skipped
    combinations; with ``--resume``, what an earlier session recorded and did not send)."""
    tracker = _tracker(session.config)
    if tracker is not None:
        tracker.send_missing(session)
    return (yield)


@harness.hookimpl
def harness_combination_result(session: Session, task: Task, result: dict[str, Any]) -> None:
    tracker = _tracker(session.config)
    if tracker is not None:
        tracker.send(session, [result])


@harness.hookimpl
def harness_terminal_summary(session: Session, terminal: TerminalReporter) -> None:
    tracker = _tracker(session.config)
    line = tracker.summary(session.run_dir) if tracker is not None else None
    if line:
        terminal.write_line(line)


@harness.hookimpl(trylast=True)
def harness_session_finish(session: Session, exitstatus: int) -> None:
    """After the report is written (the report plugin is ``tryfirst``): what is still missing, then the
    report as the parent run's artifacts."""
    tracker = _tracker(session.config)
    if tracker is None or session.store is None or not session.store.records():
        return
    tracker.send_missing(session)
    tracker.send_report(session, exitstatus)


# -------------------------------------------------------------------------------------------------
# harness export mlflow RUN_DIR
# -------------------------------------------------------------------------------------------------


@harness.hookimpl
def harness_subcommands_register(commands: Commands) -> None:
    export = commands.add("export", help="send a finished run to a tracker: mlflow (harness-mlflow)",
                          description="Send a finished run directory to a tracker.")
    mlflow = export.add("mlflow", help="send a run's records and report to MLflow (what it does not have yet)",
                        description="Send RUN_DIR's records (one MLflow run each) and report (on a parent run) to "
                                    "MLflow: what the tracking URI does not have yet, as RUN_DIR/mlflow.json says.",
                        handler=_export)
    mlflow.addargument("run_dir", metavar="RUN_DIR")
    mlflow.addoption("--tracking-uri", metavar="URI",
                     help="where to (default: the URI the run logged to, else MLFLOW_TRACKING_URI, else "
                          "./mlflow.db)")
    mlflow.addoption("--experiment", metavar="NAME",
                     help="the MLflow experiment (default: as before, else the run directory's name)")


def _export(config: Config) -> ExitCode:
    from harness_mlflow.export import export_mlflow

    return export_mlflow(config)
