"""harness: a plugin-based, pytest-style benchmarking harness for image classification.

**The public API** is what this package exports (:data:`__all__`): what a plugin package needs to contribute
datasets, augmentations, models, presets, executors, trackers, report sections and commands, as pytest's plugins
import from ``pytest``. Import it from here (``import harness``; ``harness.ModelSpec``), never from a submodule:
every other module of the ``harness`` package is internal and may change in any release. The testing kit,
:mod:`harness.testing`, is public too. Public names follow semantic versioning; a public name that goes away
first warns (``DeprecationWarning``) for one minor version (see ``docs/api.md``).

Importing this package is cheap: it never imports TensorFlow, JAX, PyTorch or matplotlib. Most names are
imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

import pluggy

from harness.errors import DataError, ExitCode, InfrastructureLost, PluginError, UsageError
from harness.specs import (
    AugmentationSpec,
    Budget,
    Combination,
    DatasetRequest,
    DatasetSpec,
    ModelRequest,
    ModelSpec,
)

__version__ = "0.1.0"

#: Marker for hook implementations: ``@harness.hookimpl def harness_models_register(config): ...``
hookimpl = pluggy.HookimplMarker("harness")

#: Public names imported on first use: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    # specs and datasets
    "TRAINER_PARAMS": ("harness.specs", "TRAINER_PARAMS"),
    "ImageFiles": ("harness.data.sources", "ImageFiles"),
    "ImageArrays": ("harness.data.sources", "ImageArrays"),
    "SplitFractions": ("harness.data.sources", "SplitFractions"),
    "split_digest": ("harness.data.prepare", "split_digest"),
    "with_data_digests": ("harness.executor", "with_data_digests"),
    "DOWNLOADS_SUBDIR": ("harness.data.cache", "DOWNLOADS"),
    "display_path": ("harness.data.names", "shown"),
    "ensure_tensorflow": ("harness.backends.tfimport", "ensure_tensorflow"),
    # per-image predictions of a recorded task (harness.predictions)
    "read_predictions": ("harness.predictions", "read"),
    "prediction_file": ("harness.predictions", "path_of"),
    # configuration, session, options
    "Config": ("harness.config", "Config"),
    "StashKey": ("harness.config", "StashKey"),
    "Stash": ("harness.config", "Stash"),
    "Option": ("harness.config", "Option"),
    "OptionParser": ("harness.config", "OptionParser"),
    "Options": ("harness.config", "Options"),
    "Command": ("harness.commands", "Command"),
    "Commands": ("harness.commands", "Commands"),
    # value parsers for options (each raises ValueError quoting the bad value)
    "parse_duration": ("harness.config", "parse_duration"),
    "positive_int": ("harness.config", "positive_int"),
    "nonnegative_int": ("harness.config", "nonnegative_int"),
    "fraction": ("harness.config", "fraction"),
    "number": ("harness.config", "number"),
    "choice": ("harness.config", "choice"),
    "string": ("harness.config", "string"),
    "Session": ("harness.session", "Session"),
    # running tasks: executors
    "Task": ("harness.engine.task", "Task"),
    "Runtime": ("harness.runtime", "Runtime"),
    "apply_runtime": ("harness.runtime", "apply"),
    "run_task": ("harness.runner", "run_task"),
    "raised": ("harness.runner", "raised"),
    "crashed": ("harness.runner", "crashed"),
    "timed_out": ("harness.runner", "timed_out"),
    "lost": ("harness.runner", "lost"),
    "Executor": ("harness.executor", "Executor"),
    "ExecutorSpec": ("harness.executor", "ExecutorSpec"),
    "WorkerPlugins": ("harness.worker", "WorkerPlugins"),
    # records and run directories: trackers, reports
    "Record": ("harness.record", "Record"),
    "ErrorKind": ("harness.record", "ErrorKind"),
    "Status": ("harness.record", "Status"),
    "error_record": ("harness.record", "error_record"),
    "RunStore": ("harness.store", "RunStore"),
    "Report": ("harness.report.context", "Report"),
    "TerminalReporter": ("harness.terminal", "TerminalReporter"),
    # secrets: what harness prints or writes passes through these
    "redact_text": ("harness.redact", "redact"),
    "redact_value": ("harness.redact", "redact_value"),
    "is_redacted": ("harness.redact", "is_redacted"),
}

#: Public names on their way out: name -> (the replacement to use, the version that removes it).
_DEPRECATED: dict[str, tuple[str, str]] = {}

#: The public API: the names above and those imported on first use (:data:`_LAZY`).
__all__ = [
    "AugmentationSpec",
    "Budget",
    "Combination",
    "Command",
    "Commands",
    "Config",
    "DOWNLOADS_SUBDIR",
    "DataError",
    "DatasetRequest",
    "DatasetSpec",
    "ErrorKind",
    "Executor",
    "ExecutorSpec",
    "ExitCode",
    "ImageArrays",
    "ImageFiles",
    "InfrastructureLost",
    "ModelRequest",
    "ModelSpec",
    "Option",
    "OptionParser",
    "Options",
    "PluginError",
    "Record",
    "Report",
    "RunStore",
    "Runtime",
    "Session",
    "SplitFractions",
    "Stash",
    "StashKey",
    "Status",
    "TRAINER_PARAMS",
    "Task",
    "TerminalReporter",
    "UsageError",
    "WorkerPlugins",
    "apply_runtime",
    "choice",
    "crashed",
    "display_path",
    "ensure_tensorflow",
    "error_record",
    "fraction",
    "hookimpl",
    "is_redacted",
    "lost",
    "nonnegative_int",
    "number",
    "parse_duration",
    "positive_int",
    "prediction_file",
    "raised",
    "read_predictions",
    "redact_text",
    "redact_value",
    "run_task",
    "split_digest",
    "string",
    "timed_out",
    "with_data_digests",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use; warn for a deprecated one."""
    if name in _DEPRECATED:
        replacement, removed_in = _DEPRECATED[name]
        warnings.warn(f"harness.{name} is deprecated and goes in harness {removed_in}: use {replacement}",
                      DeprecationWarning, stacklevel=2)
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    if name not in _DEPRECATED:
        globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from harness.backends.tfimport import ensure_tensorflow
    from harness.commands import Command, Commands
    from harness.config import (
        Config,
        Option,
        OptionParser,
        Options,
        Stash,
        StashKey,
        choice,
        fraction,
        nonnegative_int,
        number,
        parse_duration,
        positive_int,
        string,
    )
    from harness.data.cache import DOWNLOADS as DOWNLOADS_SUBDIR
    from harness.data.names import shown as display_path
    from harness.data.prepare import split_digest
    from harness.data.sources import ImageArrays, ImageFiles, SplitFractions
    from harness.engine.task import Task
    from harness.executor import Executor, ExecutorSpec
    from harness.record import ErrorKind, Record, Status, error_record
    from harness.redact import is_redacted, redact_value
    from harness.redact import redact as redact_text
    from harness.report.context import Report
    from harness.runner import crashed, lost, raised, run_task, timed_out
    from harness.runtime import Runtime
    from harness.runtime import apply as apply_runtime
    from harness.session import Session
    from harness.specs import TRAINER_PARAMS
    from harness.store import RunStore
    from harness.terminal import TerminalReporter
    from harness.worker import WorkerPlugins
