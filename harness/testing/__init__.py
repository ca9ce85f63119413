"""Testing kit for plugin authors: write a plugin inline in a test and run harness on it, and check that
specs keep harness's contract.

A pytest plugin that a test suite loads itself (opt-in, as pytest's ``pytester``): put
``pytest_plugins = ["harness.testing"]`` in the ``conftest.py`` at the root of your tests, or run
``pytest -p harness.testing``. It gives the ``harness_tester`` fixture::

    def test_my_model(harness_tester):
        harness_tester.make_plugin('''
            import harness
            @harness.hookimpl
            def harness_models_register(config):
                return [harness.ModelSpec(name="tiny", factory=build)]
            ...
        ''')
        result = harness_tester.run("run", "--dataset", "synthetic", "--model", "tiny", "--steps", "2")
        assert result.ret == 0
        result.assert_outcomes(passed=1)

``harness_tester.run`` runs harness in-process; ``harness_tester.run_subprocess`` runs ``python -m harness``
in the tester's directory with the same environment, and returns the same :class:`RunResult`.

Tests of what is not training (reports, the terminal, executors, resume) train with the fast trainer,
``-p harness.testing.fast`` (:mod:`harness.testing.fast`): a valid record in milliseconds, without Keras. The
session-scoped ``harness_fast_run`` fixture makes such a run once per test session for the same arguments and
hands every test that asks for it the same :class:`RunResult`, for tests that only read a finished run (treat
its directory as read-only: copy it first to change it)::

    def test_my_report_section(harness_fast_run):
        result = harness_fast_run("--dataset", "synthetic", "--model", "fast_pass", "--model", "fast_fail",
                                  "--augmentation", "none", "--repeats", "2")
        assert (result.run_dir / "report.html").is_file()

The contract checks (:func:`check_model_spec`, :func:`check_augmentation_spec`, :func:`check_dataset_spec`,
:func:`check_spec_metadata`) are what harness's own ``tests/test_contract.py`` runs over every installed
plugin; a plugin package runs them over its own specs (:func:`registered_specs` finds them)::

    @pytest.mark.parametrize("spec", registered_specs(package="harness-example")["models"], ids=str)
    def test_model_contract(spec):
        check_model_spec(spec)
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.pluginmanager import LOCAL_PLUGIN_FILE
from harness.specs import VALUE_RANGES, AugmentationSpec, DatasetRequest, DatasetSpec, ModelRequest, ModelSpec
from harness.store import METADATA, RESULTS

#: The statuses a result can have, in the order :meth:`RunResult.assert_outcomes` reports them.
OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class RunResult:
    ret: int
    stdout: str
    stderr: str
    run_dir: Path | None

    @property
    def results(self) -> Any:
        """``results.csv`` of the run as a pandas DataFrame."""
        import pandas as pd

        if self.run_dir is None:
            raise AssertionError(f"no run directory was written (exit code {self.ret}):\n{self.stderr}")
        return pd.read_csv(self.run_dir / RESULTS, keep_default_na=False, na_values=[""])

    @property
    def records(self) -> list[dict[str, Any]]:
        from harness.store import RunStore

        if self.run_dir is None:
            raise AssertionError(f"no run directory was written (exit code {self.ret})")
        return RunStore(self.run_dir).records()

    def parseoutcomes(self) -> dict[str, int]:
        """How many results of each status the run recorded (``passed``, ``failed``, ``error``,
        ``skipped``); all zero when no run directory was written."""
        counts = Counter(r.get("status") for r in self.records) if self.run_dir is not None else Counter()
        return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}

    def assert_outcomes(self, passed: int = 0, failed: int = 0, error: int = 0, skipped: int = 0) -> None:
        """Assert how many results of each status the run recorded, as pytester's ``assert_outcomes``:
        every status not named must be absent."""
        __tracebackhide__ = True
        expected = {"passed": passed, "failed": failed, "error": error, "skipped": skipped}
        got = self.parseoutcomes()
        assert got == expected, f"outcomes {got} != expected {expected} (exit code {self.ret})\n{self.stderr}"


class HarnessTester:
    """Runs ``harness`` in-process in a temporary working directory."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        monkeypatch.chdir(path)
        monkeypatch.setenv("HARNESS_CACHE_DIR", str(path / ".cache"))
        monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)

    def make_plugin(self, source: str, name: str = LOCAL_PLUGIN_FILE) -> Path:
        """Write a plugin module; the default name is loaded automatically, like pytest's conftest.py."""
        target = self.path / (name if name.endswith(".py") else f"{name}.py")
        target.write_text(textwrap.dedent(source))
        return target

    def make_config(self, text: str, name: str = "harness.toml") -> Path:
        target = self.path / name
        target.write_text(textwrap.dedent(text))
        return target

    def run(self, *args: str) -> RunResult:
        from harness.cli import main
        from harness.data.prepare import clear_memo

        clear_memo()
        before = set(self._run_dirs())
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ret = main([str(a) for a in args], cwd=self.path)
        new = sorted(set(self._run_dirs()) - before)
        run_dir = new[-1] if new else self._resumed(args)
        return RunResult(ret, out.getvalue(), err.getvalue(), run_dir)

    def run_subprocess(self, *args: str) -> RunResult:
        """Run ``python -m harness ARGS`` in a subprocess, in this directory and with this environment
        (the test's, with the tester's settings), and return its :class:`RunResult`."""
        before = set(self._run_dirs())
        out = subprocess.run([sys.executable, "-m", "harness", *[str(a) for a in args]], cwd=self.path,
                             env=dict(os.environ), capture_output=True, text=True, check=False)
        new = sorted(set(self._run_dirs()) - before)
        run_dir = new[-1] if new else self._resumed(args)
        return RunResult(out.returncode, out.stdout, out.stderr, run_dir)

    def _run_dirs(self) -> list[Path]:
        return [p.parent for p in self.path.glob(f"**/{METADATA}")]

    def _resumed(self, args: tuple[str, ...]) -> Path | None:
        if "--resume" not in args:
            return None
        index = args.index("--resume")
        if index + 1 < len(args) and not args[index + 1].startswith("-"):
            return Path(self.path / args[index + 1])
        runs = sorted(self._run_dirs())
        return runs[-1] if runs else None


@pytest.fixture
def harness_tester(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HarnessTester:
    return HarnessTester(tmp_path, monkeypatch)


class FastRuns:
    """Runs of ``harness run -p harness.testing.fast ARGS`` (``--executor serial`` unless ARGS name an executor),
    each made once (in its own directory under ``root``) and then handed out again for the same arguments."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[tuple[str, ...], RunResult] = {}

    def __call__(self, *args: str) -> RunResult:
        key = tuple(str(a) for a in args)
        if key not in self._runs:
            path = self.root / f"run{len(self._runs)}"
            path.mkdir(parents=True)
            with pytest.MonkeyPatch.context() as monkeypatch:
                executor = () if any(a.startswith("--executor") for a in key) else ("--executor", "serial")
                result = HarnessTester(path, monkeypatch).run("run", "-p", "harness.testing.fast", *executor, *key)
            if result.run_dir is None:
                raise AssertionError(f"harness run -p harness.testing.fast {' '.join(key)} wrote no run directory "
                                     f"(exit code {result.ret}):\n{result.stderr}")
            self._runs[key] = result
        return self._runs[key]


@pytest.fixture(scope="session")
def harness_fast_run(tmp_path_factory: pytest.TempPathFactory) -> FastRuns:
    """``harness_fast_run(*ARGS)``: the :class:`RunResult` of ``harness run -p harness.testing.fast ARGS``, made
    once per test session for the same arguments (in a directory of its own, with every installed plugin; on the
    serial executor, in this process, unless ARGS name one) and shared by the tests that ask for it: read it, do
    not change it."""
    return FastRuns(tmp_path_factory.mktemp("fast_runs"))


# -------------------------------------------------------------------------------------------------
# Contract checks: what every spec must do, for harness's own tests and a plugin package's
# -------------------------------------------------------------------------------------------------


def registered_specs(package: str | None = None, cwd: Path | None = None) -> dict[str, list[Any]]:
    """The registered specs by kind (``datasets``, ``augmentations``, ``models``), as ``harness list`` sees
    them from ``cwd`` (a fresh temporary directory by default): every installed plugin, or only those of
    the distribution ``package`` (a name such as ``harness-example``)."""
    from harness.cli import make_config
    from harness.registry import build_registry

    with tempfile.TemporaryDirectory() as empty:
        config = make_config(["list"], Path(cwd or empty))
        try:
            registry = build_registry(config)
        finally:
            config.hook.harness_unconfigure(config=config)
    return {kind: [spec for _, spec in sorted(registry.of_kind(kind).items())
                   if package is None or spec.package.split(" ")[0] == package]
            for kind in ("datasets", "augmentations", "models")}


def check_spec_metadata(spec: DatasetSpec | AugmentationSpec | ModelSpec) -> None:
    """A registered spec says what it is (``description``) and where it comes from (``package``), and its
    ``param_descriptions`` describe parameters it has."""
    __tracebackhide__ = True
    assert spec.description, f"{spec.kind} {spec.name!r} has no description"
    assert spec.package, f"{spec.kind} {spec.name!r} has no package (was it registered through a plugin?)"
    unknown = sorted(set(spec.param_descriptions) - spec.accepted_params())
    assert not unknown, (f"{spec.kind} {spec.name!r}: param_descriptions names {', '.join(unknown)}, not a "
                         "parameter (in params or optional_params)")


def _model_params(spec: ModelSpec) -> dict[str, Any]:
    params = dict(spec.params)
    if "weights" in params:
        params["weights"] = "none"  # no downloads in contract checks
    return params


def check_model_spec(spec: ModelSpec, num_classes: int = 3) -> None:
    """The model builds for a small input in its ``input_range`` and returns finite logits of shape
    ``(batch, num_classes)``. When it declares ``features``, the split is ``None`` or ``(extractor, head)``
    with no trainable weights in the extractor and ``head(extractor(x)) == model(x)`` at inference."""
    __tracebackhide__ = True
    import keras
    import numpy as np

    side = max(32, spec.min_image_size)
    channels = spec.channels or 3
    keras.backend.clear_session()
    model = spec.factory(ModelRequest(input_shape=(side, side, channels), num_classes=num_classes,
                                      params=_model_params(spec), seed=1))
    low, high = VALUE_RANGES[spec.input_range]
    x = np.random.default_rng(0).uniform(low, high, size=(2, side, side, channels)).astype("float32")
    logits = np.asarray(model(x, training=False))
    assert logits.shape == (2, num_classes), f"model {spec.name!r}: logits of shape {logits.shape}, expected " \
                                             f"{(2, num_classes)}"
    assert np.all(np.isfinite(logits)), f"model {spec.name!r}: logits are not finite"
    if spec.features is None:
        return
    split = spec.features(model)
    if split is None:
        return
    extractor, head = split
    trainable = [w.path for w in extractor.trainable_weights]
    assert not trainable, f"model {spec.name!r}: the frozen part of its features split has trainable " \
                          f"weights: {', '.join(trainable[:3])}"
    through = np.asarray(head(extractor(x, training=False), training=False))
    np.testing.assert_allclose(through, logits, rtol=1e-4, atol=1e-4,
                               err_msg=f"model {spec.name!r}: head(extractor(x)) differs from model(x)")


def check_augmentation_spec(spec: AugmentationSpec) -> None:
    """The augmentation layer (or ``None``) keeps the shape and the 0-255 range in training and does
    nothing at inference."""
    __tracebackhide__ = True
    import numpy as np

    layer = spec.factory(dict(spec.params))
    if layer is None:
        return
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 24, 24, 3)).astype("float32")
    trained = np.asarray(layer(x, training=True))
    assert trained.shape == x.shape, f"augmentation {spec.name!r}: shape {trained.shape}, expected {x.shape}"
    assert trained.min() >= -1e-3 and trained.max() <= 255.0 + 1e-3, \
        f"augmentation {spec.name!r}: values outside 0-255 ({trained.min()} to {trained.max()})"
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), x, atol=1e-4,
                               err_msg=f"augmentation {spec.name!r}: changes images at inference")


def check_dataset_spec(spec: DatasetSpec, cache_dir: str | Path) -> None:
    """The dataset loads (into ``cache_dir``) with images of its declared size and channels in every
    split, ``uint8``, labelled, and a label-frequency baseline strictly between 0 and 1. Datasets tagged
    ``download`` or ``user-data`` need the network or the user's files: check them in their own tests."""
    __tracebackhide__ = True
    import numpy as np

    from harness.data.prepare import prepare

    request = DatasetRequest(params=dict(spec.params), data_dir=None, cache_dir=str(cache_dir), seed=1,
                             image_size=spec.image_size, channels=spec.channels)
    data = prepare(spec, request, split_seed=1)
    for split, (x, y) in data.arrays.items():
        assert x.shape[1:] == (*spec.image_size, spec.channels), \
            f"dataset {spec.name!r}: {split} images of shape {x.shape[1:]}, expected " \
            f"{(*spec.image_size, spec.channels)}"
        assert x.dtype == np.uint8, f"dataset {spec.name!r}: {split} images are {x.dtype}, expected uint8"
        assert len(x) == len(y) > 0, f"dataset {spec.name!r}: {split} has {len(x)} images and {len(y)} labels"
    assert 0.0 < data.info["baseline_accuracy"] < 1.0, f"dataset {spec.name!r}: one class only"
