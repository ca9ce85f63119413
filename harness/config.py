"""Options: the command line, ``[tool.harness]`` in ``pyproject.toml`` or ``harness.toml``, and presets.

The command line wins over a preset, which wins over the configuration file, which wins over the
defaults. Every value is checked when it is read, and a bad one is reported with the place it came from.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from harness.errors import UsageError

if TYPE_CHECKING:
    import pluggy

    from harness.pluginmanager import HarnessPluginManager

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")

# -------------------------------------------------------------------------------------------------
# Value parsers: each takes a string (or a TOML value) and returns the typed value or raises ValueError
# with a message that names the expected form.
# -------------------------------------------------------------------------------------------------

_DURATION = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ms|h|m|s)?")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(value: Any) -> float:
    """``90``, ``90s``, ``1.5m``, ``1h30m`` or ``250ms`` to seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        pos, seconds = 0, 0.0
        while pos < len(text):
            match = _DURATION.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"invalid duration {value!r}: expected e.g. 90, 90s, 5m, 1h30m")
            seconds += float(match["num"]) * _UNITS[match["unit"]]
            pos = match.end()
        if not text:
            raise ValueError(f"invalid duration {value!r}: expected e.g. 90, 90s, 5m, 1h30m")
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be positive")
    return seconds


def _whole(value: Any, minimum: int, expected: str) -> int:
    try:
        number = int(str(value), 10) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"invalid value {value!r}: expected {expected}") from None
    if isinstance(number, bool) or number < minimum:
        raise ValueError(f"invalid value {value!r}: expected {expected}")
    return number


def positive_int(value: Any) -> int:
    return _whole(value, 1, "a positive whole number")


def nonnegative_int(value: Any) -> int:
    return _whole(value, 0, "a whole number >= 0")


def fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value {value!r}: expected a number between 0 and 1") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"invalid value {value!r}: expected a number between 0 and 1")
    return number


def choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value)
        if text not in choices:
            raise ValueError(f"invalid value {value!r}: expected one of {', '.join(choices)}")
        return text

    parse.__name__ = "choice"
    return parse


def seed_number(value: Any) -> int:
    """A random seed: what NumPy and TensorFlow take, 0 to 2**32 - 1."""
    number = _whole(value, 0, f"a whole number from 0 to {2**32 - 1}")
    if number > 2**32 - 1:
        raise ValueError(f"invalid value {value!r}: expected a whole number from 0 to {2**32 - 1}")
    return number


def selection_name(value: Any) -> str:
    """A name or a pattern (``--dataset``, ``--model``...): text, never a number or a table from a file."""
    if not isinstance(value, str):
        raise ValueError(f"invalid value {value!r}: expected a name in quotes")
    return value


def backend_names(value: Any) -> list[str]:
    """``--backend``: ``jax``, ``tensorflow,jax`` (each once), or a TOML list of names."""
    from harness.backends import NAMES

    items = value if isinstance(value, list) else str(value).split(",")
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if name not in NAMES:
            raise ValueError(f"invalid backend {name!r}: expected one of {', '.join(NAMES)} (comma-separated)")
        if name not in names:
            names.append(name)
    return names


def device_ids(value: Any) -> list[int]:
    """``--devices 0,2``: GPU indices, as ``nvidia-smi`` numbers them."""
    items = value if isinstance(value, list) else str(value).split(",")
    return [_whole(str(item).strip(), 0, "GPU indices such as 0,2") for item in items]


def string(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"invalid value {value!r}: expected a string")
    return str(value)


def parse_scalar(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (``3``, ``0.5``, ``true``, ``[1, 2]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(value: Any) -> tuple[str, str, Any]:
    """``NAME.KEY=VALUE`` to ``(NAME, KEY, VALUE)``."""
    text = str(value)
    target, sep, raw = text.partition("=")
    name, dot, key = target.strip().partition(".")
    if not sep or not dot or not name or not key:
        raise ValueError(f"invalid setting {value!r}: expected NAME.KEY=VALUE, e.g. mobilenet_v2.weights=none")
    return name, key.strip(), parse_scalar(raw.strip())


# -------------------------------------------------------------------------------------------------
# Options of ``harness run``: one table drives the parser and the configuration-file keys.
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option(Generic[T]):
    dest: str
    flags: tuple[str, ...]
    help: str
    parse: Callable[[Any], T] | None = None
    default: Any = None
    group: str = "run"
    many: bool = False  # repeatable on the command line, a list in files
    flag: bool = False  # store_true
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None


RUN_OPTIONS: tuple[Option[Any], ...] = (
    # selection
    Option("dataset", ("--dataset",), "run only these datasets (repeatable, shell wildcards)",
           selection_name, [], "selection", many=True, metavar="NAME"),
    Option("augmentation", ("--augmentation",), "run only these augmentations (repeatable, wildcards)",
           selection_name, [], "selection", many=True, metavar="NAME"),
    Option("model", ("--model",), "run only these models (repeatable, wildcards)",
           selection_name, [], "selection", many=True, metavar="NAME"),
    Option("keyword", ("-k",), "only combinations whose id matches EXPR: substrings with and/or/not, as in pytest",
           string, None, "selection", metavar="EXPR"),
    Option("markexpr", ("-m",), "only combinations whose tags match EXPR, e.g. 'not slow and not download'",
           string, None, "selection", metavar="EXPR"),
    Option("preset", ("--preset",), "use a named preset of options (see `harness list presets`)",
           string, None, "selection", metavar="NAME"),
    Option("collect_only", ("--collect-only", "--co"), "list the selected combinations, run nothing",
           None, False, "selection", flag=True),
    # budget
    Option("epochs", ("--epochs",), "epochs per combination", positive_int, None, "budget", metavar="N"),
    Option("time", ("--time",), "training wall time per combination, e.g. 90s, 5m, 1h",
           parse_duration, None, "budget", metavar="DURATION"),
    Option("steps", ("--steps",), "training steps (batches) per combination", positive_int, None, "budget",
           metavar="N"),
    Option("images", ("--images",), "training images seen per combination", positive_int, None, "budget",
           metavar="N"),
    Option("budget", ("--budget",), "a named budget profile from configuration (smoke, default, full, ...)",
           string, None, "budget", metavar="PROFILE"),
    Option("target_accuracy", ("--target-accuracy",), "record time and epochs to first reach this validation "
           "accuracy; the report ranks combinations by it, MLPerf's way (use --repeats 5; README: Time to "
           "accuracy)", fraction, None, "budget", metavar="A"),
    # run
    Option("seed", ("--seed",), "random seed of the first repeat (default 1)", seed_number, 1, metavar="N"),
    Option("repeats", ("--repeats",), "train each combination with N seeds", positive_int, 1, metavar="N"),
    Option("batch_size", ("--batch-size",), "batch size (default 32)", positive_int, 32, metavar="N"),
    Option("output", ("--output",), "where run directories are written (default reports/)", string, "reports",
           metavar="DIR"),
    Option("data_dir", ("--data-dir",), "where datasets look for local copies before downloading "
           "(also HARNESS_DATA_DIR)", string, None, metavar="DIR"),
    Option("cache_dir", ("--cache-dir",), "where downloads and decoded images are cached "
           "(also HARNESS_CACHE_DIR; default ~/.cache/harness)", string, None, metavar="DIR"),
    Option("backend", ("--backend",), "Keras backend: tensorflow, jax or torch; several, comma-separated, make "
           "the backend an axis of the grid (default: KERAS_BACKEND, else the first installed)", backend_names,
           None, metavar="NAME[,NAME]"),
    Option("devices", ("--devices",), "train on these GPUs only, one task per GPU at a time (default: every "
           "visible GPU)", device_ids, None, metavar="0,2"),
    Option("precision", ("--precision",), "numeric precision policy: float32 (default), mixed_bfloat16, "
           "mixed_float16, or auto (mixed bfloat16 on Ampere and later GPUs and on CPUs with AMX or AVX-512 "
           "BF16, mixed float16 on older GPUs)",
           choice("auto", "float32", "mixed_bfloat16", "mixed_float16"), "float32", metavar="POLICY"),
    Option("threads", ("--threads",), "intra-op threads of the backend in each process that trains a task; "
           "part of what a task computes (TensorFlow's CPU sums depend on it), so every executor uses the same "
           "(default: the cores this machine gives harness; a resumed run keeps its own)", positive_int, None,
           metavar="N"),
    Option("task_timeout", ("--task-timeout",), "stop a task that takes longer (model building and evaluation "
           "included) and record it as an error, e.g. 30s, 20m; with --time T and no --task-timeout: 3 x T + "
           "10m (default: no limit)", parse_duration, None, metavar="DURATION"),
    Option("keep_last_weights", ("--keep-last-weights",), "test the last epoch's weights instead of the best "
           "validation epoch's", None, False, flag=True),
    Option("no_feature_cache", ("--no-feature-cache",), "recompute a frozen pretrained base every epoch instead "
           "of computing its outputs once per image (README: Frozen bases)", None, False,
           flag=True),
    Option("settings", ("--set",), "set a parameter of a dataset, augmentation or model: NAME.KEY=VALUE "
           "(repeatable)", parse_assignment, [], many=True, metavar="NAME.KEY=VALUE"),
    Option("resume", ("--resume",), "continue a run directory (default: the latest under --output), skipping "
           "what it finished", string, None, nargs="?", const="latest", metavar="RUN_DIR"),
    Option("exitfirst", ("-x", "--exitfirst"), "stop at the first task that fails or errors (--maxfail 1)", None,
           False, flag=True),
    Option("maxfail", ("--maxfail",), "stop after N tasks failed or errored", positive_int, None, metavar="N"),
    Option("verbose", ("-v", "--verbose"), "more output (repeatable)", None, 0, "output"),
    Option("quiet", ("-q", "--quiet"), "less output (repeatable)", None, 0, "output"),
    Option("tbstyle", ("--tb",), "traceback of an error inside a combination: short (default: the plugin's "
           "frames, file and line), long (the whole traceback) or no (the message only)",
           choice("short", "long", "no"), "short", "output", metavar="STYLE"),
)

RUN_OPTION_BY_DEST = {opt.dest: opt for opt in RUN_OPTIONS}

#: Tables of the configuration file that are not options.
CONFIG_TABLES = ("params", "datasets", "augmentations", "models", "presets", "budgets")
#: Keys of the configuration file that are read before plugins load.
EARLY_KEYS = ("plugins",)

BUILTIN_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 1, "steps": 5},
    "default": {"epochs": 5},
    "full": {"epochs": 20},
}


def add_run_options(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, argparse._ArgumentGroup] = {}
    for opt in RUN_OPTIONS:
        group = groups.setdefault(opt.group, parser.add_argument_group(opt.group))
        kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help, "default": argparse.SUPPRESS}
        if opt.dest in ("verbose", "quiet"):
            kwargs["action"] = "count"
        elif opt.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = _argparse_type(opt)
            kwargs["metavar"] = opt.metavar
            if opt.many:
                kwargs["action"] = "append"
            if opt.nargs:
                kwargs["nargs"] = opt.nargs
                kwargs["const"] = opt.const
        group.add_argument(*opt.flags, **kwargs)


def _argparse_type(opt: Option[Any]) -> Callable[[str], Any]:
    parse = opt.parse or string

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = opt.dest
    return convert


# -------------------------------------------------------------------------------------------------
# Configuration files
# -------------------------------------------------------------------------------------------------


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


class Stash:
    """Typed per-run storage for plugins: ``key = StashKey[int](); config.stash[key] = 3``."""

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], Any] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return self._data[key]  # type: ignore[no-any-return]

    def get(self, key: StashKey[T], default: T) -> T:
        return self._data.get(key, default)  # type: ignore[no-any-return]

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return self._data.setdefault(key, default)  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return key in self._data


class StashKey(Generic[T]):
    """A key of :class:`Stash`; each instance is a distinct key."""

    __slots__ = ()


class Config:
    """The resolved options of one invocation, with the plugin manager and a stash for plugins."""

    def __init__(
        self,
        option: argparse.Namespace,
        pluginmanager: HarnessPluginManager,
        file: ConfigFile,
        cwd: Path,
        args: list[str],
    ) -> None:
        self.option = option
        self.pluginmanager = pluginmanager
        self.file = file
        self.cwd = cwd
        self.args = args
        self.stash = Stash()
        #: Presets from plugins and the configuration file, filled by :func:`resolve_options`.
        self.presets: dict[str, dict[str, Any]] = {}
        #: Where each preset comes from: its plugin's package (``name version``) or the configuration file.
        self.preset_origins: dict[str, str] = {}

    @property
    def hook(self) -> pluggy.HookRelay:
        """Call a hook on every plugin: ``config.hook.harness_NAME(arg=...)``."""
        return self.pluginmanager.hook

    def table(self, name: str) -> dict[str, Any]:
        """A table of the configuration file (``params``, ``datasets``, ...), empty when absent."""
        value = self.file.values.get(name, {})
        if not isinstance(value, dict):
            raise UsageError(f"{self.file.label}: '{name}' must be a table")
        return value

    def budget_profiles(self) -> dict[str, dict[str, Any]]:
        profiles = {name: dict(values) for name, values in BUILTIN_BUDGETS.items()}
        profiles.update(self.table("budgets"))
        return profiles


def _convert(opt: Option[Any], value: Any, where: str) -> Any:
    parse = opt.parse
    try:
        if opt.many:
            items = value if isinstance(value, list) else [value]
            return [parse(item) if parse else item for item in items]
        if opt.flag:
            if not isinstance(value, bool):
                raise ValueError(f"invalid value {value!r}: expected true or false")
            return value
        return parse(value) if parse else value
    except ValueError as exc:
        raise UsageError(f"{where}: {opt.dest}: {exc}") from None


def _iter_layers(
    file: ConfigFile, preset: tuple[str, dict[str, Any]] | None
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield file.label, {k: v for k, v in file.values.items() if k not in CONFIG_TABLES and k not in EARLY_KEYS}
    if preset is not None:
        yield f"preset {preset[0]!r}", preset[1]


def resolve_options(
    cli: argparse.Namespace,
    file: ConfigFile,
    presets: dict[str, dict[str, Any]],
    extra_options: dict[str, Option[Any]] | None = None,
) -> argparse.Namespace:
    """Merge defaults, the configuration file, the preset and the command line into one namespace."""
    known = {**RUN_OPTION_BY_DEST, **(extra_options or {})}
    resolved: dict[str, Any] = {dest: opt.default for dest, opt in known.items()}
    preset_name = getattr(cli, "preset", None) or file.values.get("preset")
    preset = None
    if preset_name is not None:
        if preset_name not in presets:
            raise UsageError(_unknown("preset", str(preset_name), presets))
        preset = (str(preset_name), dict(presets[preset_name]))
    #: Where each value that is not a default came from: ``file``, ``preset`` or ``command line``.
    origins: dict[str, str] = {}
    for where, layer in _iter_layers(file, preset):
        for key, value in layer.items():
            dest = key.replace("-", "_")
            if dest == "params" and preset is not None and where.startswith("preset"):
                continue
            if dest not in known:
                raise UsageError(f"{where}: unknown option {key!r}" + _suggest(dest, known))
            resolved[dest] = _convert(known[dest], value, where)
            origins[dest] = "preset" if where.startswith("preset") else "file"
    for dest, value in vars(cli).items():
        resolved[dest] = value
        origins[dest] = "command line"
    resolved["option_origins"] = origins
    if preset is not None and "params" in preset[1]:
        resolved["preset_params"] = preset[1]["params"]
    resolved.setdefault("preset_params", {})
    return argparse.Namespace(**resolved)


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _unknown(kind: str, name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known)) or 'none'})"
