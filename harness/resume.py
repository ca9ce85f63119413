"""``harness run --resume``: the command line a run directory was started with, and what a resume may add.

The stored command line is resolved before the configuration is built: its plugins load, its options are
parsed, and the options given with ``--resume`` are checked against them. Options that do not change what a
task trains (how the run is shown, stopped or spread over workers) and the selection (which combinations
run; what the run finished stays) may be given; any other option must match the stored one or be left out.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.redact import is_redacted, redact_value
from harness.store import RunStore, latest_run

#: Options that change how a run is shown, stopped or spread, never what a task trains (``--reuse`` takes only
#: results of the same configuration and runtime).
NEUTRAL = frozenset({"verbose", "quiet", "tbstyle", "exitfirst", "maxfail", "output", "resume", "workers", "executor",
                     "task_timeout", "reuse"})
#: Options that choose which combinations run: a resume may narrow or widen the selection.
SELECTION = frozenset({"dataset", "augmentation", "model", "keyword", "markexpr"})
#: Flags of the selection: a command line given for a run whose own is lost must name what it trains.
SELECTION_FLAGS = frozenset({"--dataset", "--augmentation", "--model", "--preset", "-k", "-m", "--keyword",
                             "--markexpr"})
#: Plugins that only show results: a resume may block them with ``-p no:NAME``.
DISPLAY_PLUGINS = frozenset({"terminal", "reports"})


@dataclass(frozen=True)
class StoredRun:
    """A run directory to resume and the command line it was started with."""

    run_dir: Path
    argv: list[str]
    cwd: Path


def stored_run(resume: str, output: str, cwd: Path, given: list[str] | None = None) -> StoredRun:
    """``--resume RUN_DIR``, or ``--resume`` alone (the latest run under ``output``), with its stored
    command line and working directory (from its ``metadata.json``). A run whose metadata is lost or has no
    command line takes the one ``given`` with ``--resume`` (less ``--resume``) as its own: its records are
    kept, and the tasks they do not have run."""
    if resume == "latest":
        base = Path(output)
        run_dir = latest_run(base if base.is_absolute() else cwd / base)
    else:
        run_dir = Path(resume) if Path(resume).is_absolute() else cwd / resume
    store = RunStore.open(run_dir)
    metadata = store.metadata()
    argv = metadata.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        argv = _given_instead(run_dir, store, without_resume(given or []))
    stored_cwd = Path(str(metadata.get("cwd") or cwd))
    return StoredRun(run_dir.resolve(), argv, stored_cwd if stored_cwd.is_dir() else cwd)


def without_resume(argv: list[str]) -> list[str]:
    """``argv`` less its ``--resume [RUN_DIR]`` (``--resume=RUN_DIR`` too)."""
    out, skip_value = [], False
    for arg in argv:
        if skip_value:
            skip_value = False
            if not arg.startswith("-") and arg != "run":
                continue
        if arg == "--resume":
            skip_value = True
            continue
        if not arg.startswith("--resume="):
            out.append(arg)
    return out


def _given_instead(run_dir: Path, store: RunStore, argv: list[str]) -> list[str]:
    """The command line given with ``--resume``, for a run whose metadata has none; a :class:`UsageError`
    saying what to give when it names nothing to train."""
    why = store.metadata_problem() or "metadata.json has no command line"
    if argv[:1] == ["run"] and any(arg.split("=", 1)[0] in SELECTION_FLAGS for arg in argv):
        return argv
    names = sorted({str(r.get("id")) for r in store.records() if r.get("id")})
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    of = f": its records are of {shown}" if names else ""
    raise UsageError(f"--resume {run_dir}: {why}; give the run's options again after --resume (harness run "
                     f"--resume {run_dir} --dataset ... --model ...){of}")


def check_plugins(given: list[str], stored: list[str], run: StoredRun) -> None:
    """``-p`` values given with ``--resume`` must be the run's own, or block a display plugin."""
    for value in given:
        if value not in stored and not (value.startswith("no:") and value[3:] in DISPLAY_PLUGINS):
            raise UsageError(f"--resume {run.run_dir}: -p {value} is not in the run's command line "
                             f"({' '.join(run.argv)}): its plugins are taken from there")


def merge(parser: argparse.ArgumentParser, given: argparse.Namespace, run: StoredRun,
          defaults: dict[str, Any], flags: dict[str, str]) -> argparse.Namespace:
    """The run's stored command line, parsed, with the options ``given`` alongside ``--resume`` that may
    change: the neutral ones and the selection. Any other option given must equal the stored value (or
    the default, when the run did not set it); otherwise a one-line :class:`UsageError`."""
    stored = parser.parse_args(run.argv)
    if getattr(stored, "command", None) != "run":
        raise UsageError(f"--resume {run.run_dir}: its command line is not a `harness run`: {' '.join(run.argv)}")
    for dest, value in vars(given).items():
        if dest in ("command", "plugins"):
            continue
        if dest in NEUTRAL or dest in SELECTION:
            setattr(stored, dest, value)
            continue
        before = getattr(stored, dest, defaults.get(dest))
        if _secret_given_again(value, before):
            setattr(stored, dest, value)
            continue
        if value != before:
            raise UsageError(
                f"--resume {run.run_dir}: {flags.get(dest, dest)} {_shown(value)} would change the results of a "
                f"run started with {_shown(before)}: options that change results are taken from the run's "
                f"command line ({' '.join(run.argv)}); leave it out, or start a new run"
            )
    _check_no_secret_missing(stored, given, run, flags)
    stored.resume = str(run.run_dir)
    return stored


def _secret_given_again(value: Any, before: Any) -> bool:
    """Whether ``value`` is the stored value whose secret was masked in ``metadata.json`` (it stores none): a
    URI, or a ``--set`` whose value is one."""
    return is_redacted(repr(before)) and redact_value(value) == before


def _check_no_secret_missing(stored: argparse.Namespace, given: argparse.Namespace, run: StoredRun,
                             flags: dict[str, str]) -> None:
    """An option of the stored command line whose secret was masked must be given again with ``--resume``."""
    for dest, value in vars(stored).items():
        if is_redacted(repr(value)) and dest not in vars(given):
            flag = flags.get(dest, f"--{dest.replace('_', '-')}")
            raise UsageError(f"--resume {run.run_dir}: the run's {flag} {_shown(value)} held a secret, which "
                             f"harness does not store: give it again ({flag} VALUE)")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_shown(v) for v in value) or "none"
    if isinstance(value, tuple) and len(value) == 3:  # a --set NAME.KEY=VALUE
        return f"{value[0]}.{value[1]}={value[2]}"
    return "the default" if value is None else str(value)
