"""``harness export mlflow RUN_DIR``: send a run directory's records and report to MLflow, those the tracking
URI does not have yet (all of them the first time, what failed after a run whose tracker was down)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ExitCode
from harness.store import RunStore
from harness_mlflow.sender import Sender, State, resolve_uri

if TYPE_CHECKING:
    from harness.config import Config


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
    uri = (resolve_uri(option.tracking_uri, config.cwd) if option.tracking_uri
           else State.load(run_dir).last or resolve_uri(None, config.cwd))
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
        sys.stderr.write(f"harness: mlflow: cannot log to {uri} ({error}); sent {sent} of {len(missing)} task "
                         f"runs; run the command again to send the rest\n")
        return ExitCode.FAILED
    target = sender.target
    what = f"{sent} task runs" + (" and the report" if report else "")
    print(f"sent {what} of {run_dir} to {uri}, experiment {target.experiment!r} (parent run "
          f"{target.parent_run_id})" if sent or report else f"{uri} has every record of {run_dir}: nothing to send")
    return ExitCode.OK
