"""Option declarations and the frozen object they are read from.

An option is declared once, as an :class:`Option`: that one declaration gives its command-line flag (``--epochs``),
its key in ``[tool.harness]``/``harness.toml`` (``epochs``), its ``--harness-epochs`` flag of the pytest plugin
(for harness's own options) and the parser that checks its value wherever it comes from. harness's own options of
``harness run`` are the table :data:`RUN_OPTIONS`; a plugin declares its own with ``parser.addoption(...)`` in
``harness_options_add`` (an :class:`OptionParser`), a command with ``command.addoption(...)``. The resolved
values are read from :class:`Options`, frozen: ``config.options.epochs``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from harness.config.parsers import (
    backend_names,
    checked,
    choice,
    device_ids,
    fraction,
    parse_assignment,
    parse_duration,
    positive_int,
    seed_number,
    selection_name,
    string,
)
from harness.errors import UsageError

T = TypeVar("T")


class DeclarationError(ValueError):
    """A declaration that cannot be an option or a command (no flag, a name taken twice...): the declaring
    plugin's mistake, reported as a :class:`~harness.errors.PluginError` naming it."""


@dataclass(frozen=True)
class Option(Generic[T]):
    """One option: its flags, help, parser and default, and how it is given.

    ``many``: repeatable on the command line, a list in files. ``flag``: takes no value (true when given).
    ``count``: takes no value and counts (``-vv``). ``nargs="?"`` with ``const``: the value may be left out
    (``--resume`` alone means ``const``). No flags: a positional argument of a command. ``plugin``: the plugin
    that declared it (empty for harness's own table), which is also its group in ``--help``.
    """

    dest: str
    flags: tuple[str, ...]
    help: str
    parse: Callable[[Any], T] | None = None
    default: Any = None
    group: str = "run"
    many: bool = False
    flag: bool = False
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None
    count: bool = False
    plugin: str = ""

    @property
    def positional(self) -> bool:
        return not self.flags

    @property
    def long_flag(self) -> str:
        """``--epochs``: the flag messages name (the first long one, else the first)."""
        return next((flag for flag in self.flags if flag.startswith("--")), self.flags[0] if self.flags else self.dest)

    @property
    def file_key(self) -> str:
        """The key in ``[tool.harness]``/``harness.toml``: the dest (``batch_size``; ``batch-size`` is read too)."""
        return self.dest

    def parse_text(self, text: Any) -> T:
        """One value as given on the command line (or in a file), checked: a :class:`ValueError` quoting it."""
        if self.parse is None:
            return string(text)  # type: ignore[return-value]
        return checked(self.parse, text)  # type: ignore[no-any-return]

    def from_file(self, value: Any, where: str) -> Any:
        """A value of a configuration file or preset, checked; a bad one is a :class:`UsageError` naming ``where``
        and the key."""
        try:
            if self.many:
                items = value if isinstance(value, list) else [value]
                return [self.parse_text(item) if self.parse else item for item in items]
            if self.flag:
                if not isinstance(value, bool):
                    raise ValueError(f"invalid value {value!r}: expected true or false")
                return value
            if self.count:
                return _count(value)
            if self.nargs == "?" and value is True:
                return self.const
            return self.parse_text(value) if self.parse else value
        except ValueError as exc:
            raise UsageError(f"{where}: {self.dest}: {exc}") from None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"invalid value {value!r}: expected a whole number >= 0")
    return value


def make_option(flags: tuple[str, ...], *, plugin: str, group: str, dest: str | None = None, help: str = "",
                parse: Callable[[Any], Any] | None = None, default: Any = None, metavar: str | None = None,
                many: bool = False, flag: bool = False, count: bool = False, nargs: str | None = None,
                const: Any = None) -> Option[Any]:
    """An :class:`Option` from ``addoption``'s arguments, its flags and kind checked (a declaration's mistake is
    the plugin's: :class:`ValueError`, which the caller reports naming the plugin)."""
    if not flags or not all(isinstance(f, str) and f.startswith("-") and len(f) > 1 for f in flags):
        raise DeclarationError(f"addoption{flags!r}: give one or more flags such as '--my-plugin-size'")
    if sum((many, flag, count, nargs is not None)) > 1:
        raise DeclarationError(f"addoption{flags!r}: many, flag, count and nargs exclude each other")
    if nargs not in (None, "?"):
        raise DeclarationError(f"addoption{flags!r}: nargs may only be '?' (a value that may be left out)")
    long = next((f for f in flags if f.startswith("--")), flags[0])
    name = dest or long.lstrip("-").replace("-", "_")
    if not name.isidentifier() or name in RESERVED:
        raise DeclarationError(f"addoption{flags!r}: dest {name!r} is not a usable name")
    if default is None and (many or count or flag):
        default = [] if many else (0 if count else False)
    return Option(name, tuple(flags), help, parse, default, group, many, flag, metavar, nargs, const, count, plugin)


class OptionParser:
    """What ``harness_options_add(parser)`` gets: ``parser.addoption("--my-size", parse=positive_int, default=3,
    help=...)`` declares an option of ``harness run`` (its flag, its ``[tool.harness]`` key ``my_size``, read as
    ``config.options.my_size``). One parser per plugin: its options form a group named after the plugin."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.declared: list[Option[Any]] = []

    def addoption(self, *flags: str, dest: str | None = None, help: str = "",
                  parse: Callable[[Any], Any] | None = None, default: Any = None, metavar: str | None = None,
                  many: bool = False, flag: bool = False, count: bool = False, nargs: str | None = None,
                  const: Any = None) -> Option[Any]:
        """Declare an option. ``parse`` takes the text (or the file's TOML value) and returns the typed value or
        raises :class:`ValueError` (the parsers of :mod:`harness.config.parsers`, or ``int``, ``float``...);
        the value is checked when the command line and the files are read, and a bad one is one line quoting
        it. See :class:`Option` for ``many``, ``flag``, ``count``, ``nargs`` and ``const``."""
        option = make_option(flags, plugin=self.plugin, group=self.plugin, dest=dest, help=help, parse=parse,
                             default=default, metavar=metavar, many=many, flag=flag, count=count, nargs=nargs,
                             const=const)
        self.declared.append(option)
        return option

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        """argparse's spelling, which this hook took before: refused with the way to say it now."""
        raise DeclarationError("harness_options_add gets harness's OptionParser, not argparse: declare "
                               "options with parser.addoption('--my-option', parse=..., default=..., help=...)")

    add_argument_group = add_argument


class Options(Mapping[str, Any]):
    """The resolved options of one invocation, frozen: ``options.epochs`` (a ``ValueError``-checked value, typed
    by its option's parser), ``options["epochs"]``, ``options.of(EPOCHS)`` (typed statically by the
    :class:`Option`), ``options.origin("epochs")`` (``default``, ``file``, ``preset`` or ``command line``).
    Assigning an attribute raises :class:`dataclasses.FrozenInstanceError`."""

    __slots__ = ("_values", "_origins")

    def __init__(self, values: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))
        object.__setattr__(self, "_origins", MappingProxyType(dict(origins or {})))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            raise AttributeError(f"no option {name!r} in this command's options") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"options are frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"options are frozen: cannot delete {name!r}")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Options({dict(self._values)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Options, (dict(self._values), dict(self._origins)))

    def of(self, option: Option[T]) -> T:
        """The value of ``option``, typed as its parser returns it."""
        return self._values[option.dest]  # type: ignore[no-any-return]

    def origin(self, name: str) -> str:
        """Where the value of ``name`` came from: ``default``, ``file``, ``preset`` or ``command line``."""
        return self._origins.get(name, "default")

    @property
    def origins(self) -> Mapping[str, str]:
        """Where each value that is not a default came from."""
        return self._origins


#: Names an option may not take: the methods of :class:`Options` and what the command line itself keeps.
RESERVED = frozenset({"of", "origin", "origins", "get", "keys", "items", "values", "command", "plugins"})

# -------------------------------------------------------------------------------------------------
# Options of ``harness run``: one table gives the flags, the configuration-file keys and the pytest plugin's
# ``--harness-*`` flags.
# -------------------------------------------------------------------------------------------------

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
           "accuracy; the report ranks combinations by it, MLPerf's way (use --repeats 5; docs: Budgets, time to "
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
           "of computing its outputs once per image (docs: Budgets, frozen bases)", None, False,
           flag=True),
    Option("settings", ("--set",), "set a parameter of a dataset, augmentation or model: NAME.KEY=VALUE "
           "(repeatable)", parse_assignment, [], many=True, metavar="NAME.KEY=VALUE"),
    Option("resume", ("--resume",), "continue a run directory (default: the latest under --output), skipping "
           "what it finished", string, None, nargs="?", const="latest", metavar="RUN_DIR"),
    Option("reuse", ("--reuse",), "take the results of tasks that earlier runs under DIR (default: --output; or one "
           "run directory) finished with the same configuration and runtime, with their predictions, and train "
           "only the rest", string, None, nargs="?", const=True, metavar="DIR"),
    Option("exitfirst", ("-x", "--exitfirst"), "stop at the first task that fails or errors (--maxfail 1)", None,
           False, flag=True),
    Option("maxfail", ("--maxfail",), "stop after N tasks failed or errored", positive_int, None, metavar="N"),
    Option("verbose", ("-v", "--verbose"), "more output (repeatable)", None, 0, "output", count=True),
    Option("quiet", ("-q", "--quiet"), "less output (repeatable)", None, 0, "output", count=True),
    Option("tbstyle", ("--tb",), "traceback of an error inside a combination: short (default: the plugin's "
           "frames, file and line), long (the whole traceback) or no (the message only)",
           choice("short", "long", "no"), "short", "output", metavar="STYLE"),
)

RUN_OPTION_BY_DEST = {opt.dest: opt for opt in RUN_OPTIONS}
