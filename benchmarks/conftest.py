"""The benchmark suite: pytest-benchmark over harness, against the hand-written Keras script of the study.

    pytest benchmarks/ --benchmark-only                         # every group at small sizes (minutes)
    pytest benchmarks/test_study.py --bench-size full           # one group at the sizes of docs/benchmarks.md
    pytest benchmarks/ --bench-set rounds=3 --bench-data DIR    # override one size; the images' folder

Not collected by the README's ``python3 -m pytest`` (``testpaths`` leaves ``benchmarks/`` out). Each test
module declares ``SIZES = {"small": {...}, "full": {...}}``; the ``sizes`` fixture returns the chosen one with
the ``--bench-set NAME=VALUE`` overrides applied. A test that measures something against a reference (the
plain script, ``image_dataset_from_directory``, float32) records both with the ``ratios`` fixture: the ratio of
the medians goes into the benchmark's ``extra_info`` (``--benchmark-json``, saved runs) and into the table
printed at the end of the session. Thresholds are not checked here: ``tox -e bench-check`` compares a run
against the last saved one (``--benchmark-compare-fail``).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _common import find_data, machine, subset

SIZE_CHOICES = ("small", "full")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness benchmarks", "harness's benchmark suite (benchmarks/)")
    group.addoption("--bench-size", choices=SIZE_CHOICES, default="small",
                    help="small: minutes for the whole suite (default); full: the sizes of docs/benchmarks.md")
    group.addoption("--bench-set", action="append", default=[], metavar="NAME=VALUE", type=_parse_setting,
                    help="override one size of the selected benchmarks, e.g. rounds=3, epochs=5, "
                    "train_per_class=none (repeatable; the names are in each test module's SIZES)")
    group.addoption("--bench-data", default=None, metavar="DIR",
                    help="the cats_and_dogs_filtered folder (or its parent); default $HARNESS_BENCH_DATA, "
                    "../shared/data, else downloaded")
    group.addoption("--bench-harness-arg", action="append", default=[], metavar="ARG",
                    help="an extra argument for the study's `harness run` (repeatable), e.g. "
                    "--bench-harness-arg=--workers --bench-harness-arg=2")


def _parse_setting(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. rounds=3")
    if value.lower() == "none":
        return name, None
    try:
        return name, int(value)
    except ValueError:
        return name, value


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RATIOS] = Ratios()
    names = {name for name, _ in config.getoption("bench_set")}
    config.stash[UNUSED] = names


def pytest_report_header(config: pytest.Config) -> str:
    return f"benchmarks: --bench-size {config.getoption('bench_size')}; machine: {machine()}"


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """The CPU's model, cores and bf16/AMX units (no load average here: a saved run is compared with this
    machine's only when ``machine_info`` is the same; the load is in each benchmark's ``extra_info``)."""
    machine_info["harness_cpu"] = machine().split(", load average")[0]


def pytest_sessionstart(session: pytest.Session) -> None:
    """``--benchmark-compare`` with no saved run says so and stops (pytest-benchmark only warns, and the
    thresholds of ``--benchmark-compare-fail`` would then pass without checking anything)."""
    config = session.config
    if not config.getoption("benchmark_compare", None):
        return
    storage = str(config.getoption("benchmark_storage"))
    folder = Path(storage.removeprefix("file://")) if "://" not in storage or storage.startswith("file://") else None
    if folder is not None and not any(folder.glob("*/*.json")):
        raise pytest.UsageError(f"--benchmark-compare: no saved run under {folder} to compare with; save one "
                                "first on this machine (tox -e bench, or --benchmark-autosave)")


@pytest.fixture(autouse=True)
def _load_average(request: pytest.FixtureRequest) -> Any:
    """Each benchmark's ``extra_info`` gets the load average at its end (these machines are shared)."""
    bench = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    yield
    if bench is not None:
        bench.extra_info["load_average"] = [round(v, 2) for v in os.getloadavg()]


def chosen_sizes(config: pytest.Config, table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``table[--bench-size]`` with ``--bench-set`` applied to the names it knows (a module's ``SIZES``; also for
    ``pytest_generate_tests``, where a size is a parameter, e.g. the variants)."""
    chosen = dict(table[config.getoption("bench_size")])
    for name, value in config.getoption("bench_set"):
        if name in chosen:
            chosen[name] = value
            config.stash[UNUSED].discard(name)
    return chosen


@pytest.fixture
def sizes(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The module's ``SIZES`` for ``--bench-size``, with the ``--bench-set`` overrides."""
    return chosen_sizes(request.config, request.module.SIZES)


@pytest.fixture(scope="session")
def cats_dogs_root(request: pytest.FixtureRequest) -> Path:
    """The full ``cats_and_dogs_filtered`` folder (looked up or downloaded once per session)."""
    return find_data(request.config.getoption("bench_data"))


@pytest.fixture
def cats_dogs(cats_dogs_root: Path, sizes: dict[str, Any], tmp_path: Path) -> Path:
    """A ``cats_and_dogs_filtered`` folder of the module's ``train_per_class`` / ``val_per_class`` images
    (symbolic links to the first N of each class; the whole folder when both are None)."""
    return subset(cats_dogs_root, sizes.get("train_per_class"), sizes.get("val_per_class", 1), tmp_path)


@pytest.fixture
def bench_cache() -> Path:
    """The benchmarks' harness cache folder, kept between runs (the decode-once cache is meant to be hit)."""
    return Path(os.environ.get("HARNESS_BENCH_CACHE", Path.home() / ".cache" / "harness-bench"))


# -- ratios against a reference ------------------------------------------------------------------------------

@dataclass
class Row:
    group: str
    name: str
    value: float
    reference: str
    reference_value: float
    target: str
    unit: str

    @property
    def ratio(self) -> float:
        return self.value / self.reference_value


@dataclass
class Ratios:
    """The medians of this session's benchmarks by label, and the rows of the ratio table."""

    medians: dict[str, float] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    #: one line each, printed under the table (e.g. the scaling fit, the memory rows)
    notes: dict[str, str] = field(default_factory=dict)

    def record(self, benchmark: Any, label: str, reference: str | None = None, target: str = "",
               value: float | None = None, unit: str = "s") -> float | None:
        """Remember ``benchmark``'s median (or ``value``, in ``unit``: e.g. a step time read from a record) as
        ``label``; with ``reference`` (an earlier label), put the ratio in its ``extra_info`` and in the table.
        Returns the ratio (None without stats or reference)."""
        if value is None:
            if benchmark.disabled or not benchmark.stats:
                return None
            value = float(benchmark.stats.stats.median)
        self.medians[label] = value
        benchmark.extra_info["label"] = label
        if reference is None or reference not in self.medians:
            return None
        row = Row(benchmark.group or "", label, value, reference, self.medians[reference], target, unit)
        self.rows.append(row)
        benchmark.extra_info.update(reference=reference, ratio=round(row.ratio, 4), target=target)
        return row.ratio


RATIOS = pytest.StashKey[Ratios]()
UNUSED = pytest.StashKey[set[str]]()


@pytest.fixture
def ratios(request: pytest.FixtureRequest) -> Ratios:
    return request.config.stash[RATIOS]


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Any:
    """The ratio table after pytest-benchmark's tables, even when its ``--benchmark-compare-fail`` raised."""
    try:
        return (yield)
    finally:
        print_ratios(terminalreporter, config)


def print_ratios(terminalreporter: Any, config: pytest.Config) -> None:
    unused = config.stash[UNUSED]
    if unused and config.getoption("bench_set"):
        terminalreporter.write_line(f"warning: --bench-set {', '.join(sorted(unused))}: no selected benchmark "
                                    "has a size of that name", yellow=True)
    rows, notes = config.stash[RATIOS].rows, config.stash[RATIOS].notes
    if not rows and not notes:
        return
    terminalreporter.section("ratios: median time / the reference's median time (below 1: faster)")
    header = ("group", "benchmark", "median", "reference", "median", "ratio", "speed-up", "target")
    lines = [header] + [(r.group, r.name, f"{r.value:.3f} {r.unit}", r.reference, f"{r.reference_value:.3f} {r.unit}",
                         f"{r.ratio:.2f}", f"{1 / r.ratio:.2f}x", r.target) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        terminalreporter.write_line("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    for note in notes.values():
        terminalreporter.write_line(note)
    terminalreporter.write_line(f"machine: {machine()}")
