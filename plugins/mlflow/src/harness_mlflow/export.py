"""``harness export mlflow RUN_DIR``: send a run directory's records and report to MLflow, those the tracking
URI does not have yet (all of them the first time, what failed after a run whose tracker was down)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness import ExitCode, RunStore, UsageError, is_redacted
from harness import redact_text as redact
from harness_mlflow.sender import Sender, State, resolve_uri

if TYPE_CHECKING:
    from harness import Config


def export_mlflow(config: Config) -> ExitCode:
    option = config.option
    run_dir = Path(option.run_dir)
    run_dir = run_dir if run_dir.is_absolute() else config.cwd / run_dir
    store = RunStore.open(run_dir)  # a folder that is not a run: a usage error naming it
    store.lock()  # a run still in progress sends its own records: refused, as a second run would be
    try:
        return _export(config, store)
    finally:
        store.close()


def _export(config: Config, store: RunStore) -> ExitCode:
    option, run_dir = config.option, store.run_dir
    records = store.records()
    uri = resolve_uri(option.tracking_uri, config.cwd) if option.tracking_uri else _last_uri(config, run_dir)
    sender = Sender(run_dir, uri, option.experiment)
    missing = sender.state.missing(uri, records)
    report = not sender.target.report
    sent = 0
    try:
        for record in missing:
            sender.send(record)
            sent += 1
        if report:
            sender.send_report()
    except Exception as exc:  # the server's failure: one line, the state says what is left
        error = sender.fail(exc)
        sys.stderr.write(f"harness: mlflow: cannot log to {redact(uri)} ({error}); sent {sent} of {len(missing)} task "
                         f"runs; run the command again to send the rest\n")
        return ExitCode.FAILED
    target = sender.target
    what = f"{sent} task run{'' if sent == 1 else 's'}" + (" and the report" if report else "")
    shown = redact(uri)
    print(f"sent {what} of {run_dir} to {shown}, experiment {target.experiment!r} (parent run "
          f"{target.parent_run_id})" if sent or report else f"{shown} has every record of {run_dir}: nothing to send")
    return ExitCode.OK


def _last_uri(config: Config, run_dir: Path) -> str:
    """The URI the run logged to last, else ``MLFLOW_TRACKING_URI``, else the default store. ``mlflow.json``
    keeps it with its credentials masked: they come from ``MLFLOW_TRACKING_URI`` (when it is the same URI
    once masked) or from ``--tracking-uri``."""
    last = State.load(run_dir).last
    if last is None:
        return resolve_uri(None, config.cwd)
    if not is_redacted(last):
        return last
    environment = os.environ.get("MLFLOW_TRACKING_URI")
    if environment and redact(environment) == last:
        return environment
    raise UsageError(f"{run_dir}: the run logged to {last}, whose credentials harness does not keep: give the "
                     "URI again with --tracking-uri URI (or MLFLOW_TRACKING_URI)")
