"""``harness run``: the session's lifecycle (start, collect, run each task, finish); every way out maps to an
:class:`ExitCode`, and ``harness_session_finish`` receives the one the process returns."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from harness import backends
from harness.engine import precision
from harness.errors import ExitCode, UsageError
from harness.session import Session, runtime_versions
from harness.terminal import plural

if TYPE_CHECKING:
    from harness.config import Config


def run(config: Config) -> ExitCode:
    """Open the run directory (none with ``--collect-only``), then ``harness_session_start``, collection and
    the run loop; ``harness_session_finish`` follows whenever ``harness_session_start`` completed, whatever
    the way out. A usage error or an internal error propagates after it (to be printed by the command)."""
    session = Session(config)
    hook = config.hook
    status = ExitCode.INTERNAL_ERROR
    try:
        if not config.option.collect_only:
            session.open_store()
        hook.harness_session_start(session=session)
    except BaseException:
        session.close_store()
        raise
    try:
        status = _collect_and_run(session)
    except KeyboardInterrupt:
        status = ExitCode.INTERRUPTED
    except UsageError:
        status = ExitCode.USAGE_ERROR
        raise
    finally:
        session.exitstatus = status
        try:
            hook.harness_session_finish(session=session, exitstatus=int(status))
        finally:
            session.close_store()
    return status


#: Options that choose what runs. Without any of them (from the command line, a preset or the configuration
#: file), ``harness run`` shows what the whole installed grid would be and asks for a selection.
SELECTION_OPTIONS = ("dataset", "augmentation", "model", "keyword", "markexpr", "preset")

#: What to do when nothing is selected: the one-line error.
NO_SELECTION = ("no selection: choose what to train with --preset NAME (`harness list presets`), --dataset/"
                "--augmentation/--model NAME (`harness list`), -k/-m EXPR, or dataset = [...] and model = [...] "
                "in a [tool.harness] table of pyproject.toml (or harness.toml); --collect-only lists every "
                "combination")


def _collect_and_run(session: Session) -> ExitCode:
    config = session.config
    combinations = session.collect()
    if config.option.collect_only:
        return ExitCode.OK if combinations else ExitCode.NO_COMBINATIONS
    if combinations and not selected(config):
        if int(getattr(config.option, "quiet", 0) or 0) == 0:
            sys.stdout.write(whole_grid(session))
        raise UsageError(NO_SELECTION)
    runnable = any(c.skip_reason is None for c in combinations)
    if runnable:
        choose_backends(session)
        session.runtime = runtime_versions(session.backends)
        session.make_tasks()
    session.describe_run()
    if not runnable:
        return ExitCode.NO_COMBINATIONS
    config.hook.harness_runloop(session=session)
    return session.exit_code()


def choose_backends(session: Session) -> None:
    """The run's backends (``--backend``, else the default), each one's precision policy for the devices it
    sees, and the GPUs to train on (``--devices``, else every one visible). A run with one backend makes it
    this process's Keras backend; with several, each trains in its own worker processes."""
    config = session.config
    session.backends = list(config.option.backend or [backends.default_name()])
    for name in session.backends:
        backend = backends.activate(name) if len(session.backends) == 1 else backends.load(name)
        found = backend.devices()
        session.precisions[name] = precision.resolve(config.option.precision, found)
        session.gpus = session.gpus or [index for index, d in enumerate(found) if d.kind == "gpu"]
    session.precision = session.precisions[session.backends[0]]
    if config.option.devices is not None:
        unknown = sorted(set(config.option.devices) - set(session.gpus))
        if unknown:
            raise UsageError(f"--devices {','.join(map(str, config.option.devices))}: no GPU {unknown[0]} here "
                             f"(visible: {','.join(map(str, session.gpus)) or 'none'})")
        session.gpus = list(config.option.devices)


def selected(config: Config) -> bool:
    """Whether the run names what to train (or resumes a run that did)."""
    origins = getattr(config.option, "option_origins", {})
    return bool(config.option.resume) or any(name in origins for name in SELECTION_OPTIONS)


def whole_grid(session: Session) -> str:
    """What ``harness run`` without a selection would train: the parts, with the tags that cost (downloads,
    pretrained weights, slow models), and the number of trainings with their budget."""
    config = session.config
    combinations = session.combinations
    runnable = [c for c in combinations if c.skip_reason is None]
    lines = ["without a selection, harness would train every installed dataset x augmentation x model:"]
    for kind in ("dataset", "augmentation", "model"):
        specs = {getattr(c, kind).name: getattr(c, kind) for c in combinations}
        names = [name + (f" [{', '.join(sorted(spec.tags))}]" if spec.tags else "") for name, spec in specs.items()]
        lines.append(f"  {plural(len(specs), kind)}: {', '.join(names)}")
    trainings = len(runnable) * config.option.repeats * len(config.option.backend or [None])
    costs = [f"{sum(tag in c.tags for c in runnable)} {what}" for tag, what in
             (("download", "on downloaded data"), ("pretrained", "with pretrained weights"), ("slow", "slow"))
             if any(tag in c.tags for c in runnable)]
    budget = config.hook.harness_budget_make(config=config, combination=runnable[0]).describe() if runnable else ""
    skipped = len(combinations) - len(runnable)
    lines.append(f"  {plural(len(combinations), 'combination')}" + (f" ({skipped} to skip)" if skipped else "")
                 + f": {plural(trainings, 'training')}" + (f" of {budget} each" if budget else "")
                 + (f" ({', '.join(costs)})" if costs else ""))
    return "".join(f"{line}\n" for line in lines)
