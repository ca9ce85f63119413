"""``harness cache info|clear``: the decoded-image cache and the downloads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config.parsers import choice
from harness.errors import ExitCode

if TYPE_CHECKING:
    from harness.commands import Commands
    from harness.config import Config


def cache(config: Config) -> ExitCode:
    from harness.data import cache as store

    options = config.options
    cache_dir = Path(options.cache_dir) if options.cache_dir else store.default_cache_dir()
    if options.action == "clear":
        freed = store.clear(cache_dir)
        print(f"cleared {cache_dir / store.SUBDIR} and {cache_dir / store.DOWNLOADS} ({freed / 2**20:.1f} MiB)")
        return ExitCode.OK
    _info(store.info(cache_dir))
    return ExitCode.OK


def _info(summary: dict[str, Any]) -> None:
    from harness.terminal import plural

    print(f"decoded-image cache: {summary['path']}")
    for entry in summary["entries"]:
        height, width = entry["size"] or ("?", "?")
        print(f"  {entry['key']}  {plural(entry['files'], 'file')} at {height}x{width}x{entry['channels']}"
              f"  {entry['bytes'] / 2**20:.1f} MiB  skipped {entry['skipped']}  {entry['root']}")
    print(f"downloads: {summary['downloads_path']}")
    for download in summary["downloads"]:
        print(f"  {download['name']}  {download['bytes'] / 2**20:.1f} MiB")
    entries = plural(len(summary["entries"]), "entry").replace("entrys", "entries")
    print(f"total {(summary['bytes'] + summary['downloads_bytes']) / 2**20:.1f} MiB in {entries} "
          f"and {plural(len(summary['downloads']), 'download')} "
          "(move it with --cache-dir or HARNESS_CACHE_DIR; empty it with `harness cache clear`)")


def register(commands: Commands) -> None:
    command = commands.add("cache", help="show or clear the cache (decoded images and downloads)", handler=cache)
    command.addargument("action", parse=choice("info", "clear"), metavar="ACTION",
                        help="info (what the cache holds) or clear (empty it)")
    command.addoption("--cache-dir", metavar="DIR")
