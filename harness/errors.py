"""Exit codes and the errors that map to them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """How ``harness`` exits, as pytest does."""

    #: Every combination that ran beat its baseline.
    OK = 0
    #: Some combination did not beat its baseline, or errored.
    FAILED = 1
    #: Interrupted (Ctrl-C, or SIGTERM: ``kill``, systemd, SLURM); what finished is kept and reported.
    INTERRUPTED = 2
    #: A bug in harness or in a plugin; a traceback is printed.
    INTERNAL_ERROR = 3
    #: Bad command line, configuration or plugin.
    USAGE_ERROR = 4
    #: The selection matched no combination.
    NO_COMBINATIONS = 5
    #: The run lost what it trains on (a cluster's head, a batch system): what finished is kept and reported,
    #: and ``harness run --resume RUN_DIR`` trains the rest, on any executor.
    INFRASTRUCTURE_LOST = 6


class UsageError(Exception):
    """A user error: printed as one line, exit code 4, no traceback."""


class PluginError(UsageError):
    """A plugin failed to load or broke the hook contract."""


class DataError(UsageError):
    """A dataset cannot be used (missing directory, bad archive, checksum mismatch, ...)."""


class InfrastructureLost(Exception):
    """An executor lost what it trains on (a cluster's head, a batch system) and cannot go on: one line (its
    message says what was lost, and where), exit code 6; the records that finished are kept and the report is
    written."""
