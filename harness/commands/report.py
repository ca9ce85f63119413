"""``harness report RUN_DIR``: rebuild a run's report from its stored record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ExitCode

if TYPE_CHECKING:
    from harness.commands import Commands
    from harness.config import Config


def report(config: Config) -> ExitCode:
    from harness.report.rebuild import rebuild

    return rebuild(config, Path(config.options.run_dir))


def register(commands: Commands) -> None:
    command = commands.add("report", help="rebuild a run's report from its stored record",
                           description="Rewrite results.csv, the tables, the figures and both pages of a run "
                                       "directory from its records.jsonl and metadata.json.", handler=report)
    command.addargument("run_dir", metavar="RUN_DIR")
    command.addoption("--data-dir", dest="report_data_dir", metavar="DIR",
                      help="where the run's datasets are, for the figures of images (default: the run's own "
                           "--data-dir, else HARNESS_DATA_DIR)")
    command.addoption("--reference", dest="report_reference", metavar="AUGMENTATION-MODEL",
                      help="the combination that scores 1 in the leaderboard across datasets (kept in the run's "
                           "metadata for later rebuilds; default: the run's own --reference, else the best of "
                           "the run on each dataset)")
