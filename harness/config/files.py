"""Configuration files: ``harness.toml`` in the working directory, else ``[tool.harness]`` of its
``pyproject.toml``; each key is an option's ``file_key`` (or one of :data:`CONFIG_TABLES`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Tables of the configuration file that are not options.
CONFIG_TABLES = ("params", "datasets", "augmentations", "models", "presets", "budgets")
#: Keys of the configuration file that are read before plugins load.
EARLY_KEYS = ("plugins",)


@dataclass
class ConfigFile:
    path: Path | None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.path is None:
            return "defaults"
        return str(self.path) + (" [tool.harness]" if self.path.name == "pyproject.toml" else "")


def find_config_file(cwd: Path) -> ConfigFile:
    """``harness.toml`` in the working directory, else ``[tool.harness]`` of its ``pyproject.toml``."""
    for path in (cwd / "harness.toml", cwd / "pyproject.toml"):
        if not path.exists():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark is no error
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: invalid TOML: {exc}") from None
        except OSError as exc:  # unreadable, a folder, ...: the user's to fix
            raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
        if path.name == "harness.toml":
            return ConfigFile(path, data)
        tool = data.get("tool", {}).get("harness")
        if tool is not None:
            if not isinstance(tool, dict):
                raise UsageError(f"{path}: [tool.harness] must be a table")
            return ConfigFile(path, tool)
    return ConfigFile(None, {})
