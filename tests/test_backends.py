"""The backend seam: choosing a backend, one per process, the same feed order on every backend, and a run
on JAX or PyTorch that never imports TensorFlow."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import backends
from harness.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not backends.installed(name), reason=f"{name} is not installed")


OTHER_BACKENDS = [pytest.param("jax", marks=needs("jax")), pytest.param("torch", marks=needs("torch"))]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(extra)
    return env


def test_default_is_keras_backend_else_the_first_installed(monkeypatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backends.default_name() == "torch"
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    with pytest.raises(UsageError, match="KERAS_BACKEND: unknown backend 'theano'"):
        backends.default_name()
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setattr(backends, "installed", lambda name: name != "tensorflow")
    assert backends.default_name() == "jax"
    monkeypatch.setattr(backends, "installed", lambda name: False)
    with pytest.raises(UsageError, match=r"no Keras backend is installed: pip install harness\[tf\]"):
        backends.default_name()


@needs("jax")
def test_a_process_keeps_the_backend_keras_was_imported_with() -> None:
    """Keras fixes its backend at import: activate sets KERAS_BACKEND before that, refuses another after."""
    code = ("import os\nfrom harness import backends\nfrom harness.errors import UsageError\n"
            "backends.activate('jax')\nprint(os.environ['KERAS_BACKEND'])\nimport keras\n"
            "print(keras.backend.backend())\nbackends.activate('jax')\n"
            "try:\n    backends.activate('torch')\nexcept UsageError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_env())
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["jax", "jax"]
    assert lines[2].startswith("--backend torch: this process already loaded Keras with the jax backend")


def test_bad_backend_option_is_a_usage_error(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--backend", "theano", "--collect-only"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120, env=_env())
    assert out.returncode == 4
    assert "invalid backend 'theano'" in out.stderr and len(out.stderr.strip().splitlines()) <= 3


def test_what_differs_between_backends_is_a_capability_of_the_backend() -> None:
    """The engine asks the backend object, never its name: TensorFlow traces a graph without XLA, JAX runs a
    step uncompiled when one layer cannot be jit-compiled (the engine moves such an augmentation into the
    feed), PyTorch neither. Reading these imports no framework."""
    capabilities = {name: (backends.load(name).compiles_graph, backends.load(name).needs_jittable_layers)
                    for name in backends.NAMES}
    assert capabilities == {"tensorflow": (True, False), "jax": (False, True), "torch": (False, False)}


def test_the_device_is_looked_up_once_per_backend(monkeypatch) -> None:
    from harness.backends.jax import JaxBackend

    backend, calls = JaxBackend(), []

    def devices() -> list[backends.Device]:
        calls.append(1)
        return [backends.Device("cpu", "CPU"), backends.Device("cpu", "other")]

    monkeypatch.setattr(backend, "devices", devices)
    assert backend.device() == backends.Device("cpu", "CPU") and backend.device() is backend.device()
    assert len(calls) == 1


def _python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_backends_never_import_the_engine() -> None:
    """One direction: the engine uses the backends; no module of harness.backends imports harness.engine, at
    the top or inside a function."""
    found = []
    for path in _python_files(ROOT / "harness" / "backends"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("harness.engine")]
    assert found == []


def test_no_code_outside_the_backends_compares_a_backend_name() -> None:
    """What differs between backends is asked of the backend object (a capability), as Keras' generic code
    never asks ``keras.backend.backend()``: no comparison with a backend's ``name`` outside harness.backends."""
    found = []
    for path in _python_files(ROOT / "harness"):
        if "backends" in path.relative_to(ROOT / "harness").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Attribute) and side.attr == "name" and "backend" in ast.unparse(side.value)
                    for side in [node.left, *node.comparators]):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


FEED_ORDER = """
import json, numpy as np
from harness import backends
backend = backends.activate({name!r})
images = np.zeros((23, 2, 2, 1), dtype=np.uint8)
images[:, 0, 0, 0] = np.arange(23)
labels = (np.arange(23) % 3).astype(np.int32)
feed = backend.make_feed(images, labels, 5, shuffle=True, seed=7)
def rows(x):
    return [int(v) for v in np.asarray(x)[:, 0, 0, 0]]
if {name!r} == "tensorflow":
    epochs = [[rows(x) for x, _ in feed] for _ in range(2)]
else:
    epochs = []
    for _ in range(2):
        epochs.append([rows(feed[i][0]) for i in range(len(feed))])
        feed.on_epoch_end()
print(json.dumps(epochs))
"""


@pytest.mark.slow
@needs("tensorflow")
@pytest.mark.parametrize("name", OTHER_BACKENDS)
def test_same_seed_same_batches_on_every_backend(name: str) -> None:
    """The training feed's batches, epoch after epoch, are the same on TensorFlow (tf.data) and on JAX and
    PyTorch (the PyDataset feed): one NumPy order per seed and epoch."""
    orders = {}
    for backend in ("tensorflow", name):
        out = subprocess.run([sys.executable, "-c", FEED_ORDER.format(name=backend)], capture_output=True,
                             text=True, timeout=300, env=_env(TF_CPP_MIN_LOG_LEVEL="3"))
        assert out.returncode == 0, out.stderr
        orders[backend] = json.loads(out.stdout.strip().splitlines()[-1])
    first, second = orders["tensorflow"]
    assert sorted(sum(first, [])) == list(range(23)) and first != second and [len(b) for b in first][-1] == 3
    assert orders[name] == orders["tensorflow"]


NO_TENSORFLOW = """
import importlib.machinery, sys
attempts = []
class NoTensorFlow:  # as on a machine without TensorFlow: not found, by imports and find_spec; imports counted
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            if sys._getframe(2).f_code.co_name == "_find_and_load_unlocked":  # an import, not a probe
                attempts.append(name)
            return None
        return self.inner.find_spec(name, path, target)
    def __getattr__(self, name):  # find_distributions (entry points), invalidate_caches
        return getattr(self.inner, name)
sys.meta_path[:] = [NoTensorFlow(f) if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
from harness.cli import main
code = main(["run", "--backend", {name!r}, "--dataset", "synthetic", "--model", "small_cnn",
             "--augmentation", "flip_rotate", "--steps", "2", "--batch-size", "8",
             "--set", "synthetic.image_size=[24,24]", "--set", "synthetic.train_per_class=16",
             "--set", "synthetic.validation_per_class=8", "--set", "synthetic.test_per_class=8",
             "--output", "out", "-q"])
print("EXIT", int(code), "TF", "tensorflow" in sys.modules, "ATTEMPTS", attempts)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", OTHER_BACKENDS)
def test_a_run_on_jax_or_torch_never_imports_tensorflow(name: str, tmp_path) -> None:
    """On a machine without TensorFlow (the import system finds none, and counts every attempt to import it),
    a run on JAX or PyTorch trains and reports, and never even tries to import TensorFlow."""
    out = subprocess.run([sys.executable, "-c", NO_TENSORFLOW.format(name=name)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, env=_env())
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert last in ("EXIT 0 TF False ATTEMPTS []", "EXIT 1 TF False ATTEMPTS []"), out.stdout + out.stderr
    assert next(tmp_path.glob("out/*/report.html")).is_file()
    records = [json.loads(line) for line in next(tmp_path.glob("out/*/records.jsonl")).read_text().splitlines()]
    (record,) = records
    assert record["backend"] == name and record["status"] in ("passed", "failed"), record.get("error")
    assert record["device"]["kind"] == "cpu" and record["compile_seconds"] > 0
    if name == "jax":  # the rotation is not jittable: it runs in the feed, the step is compiled
        assert (record["augmentation_in"], record["compiled"], record["jit_compile"]) == ("feed", True, True)
    else:  # Keras runs PyTorch eagerly: recorded, not hidden
        assert (record["augmentation_in"], record["compiled"]) == ("model", False)


@pytest.mark.slow
def test_devices_must_be_visible_gpus(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--dataset", "synthetic", "--model", "small_cnn",
                          "--augmentation", "none", "--devices", "0,2", "--steps", "1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300, env=_env())
    assert out.returncode == 4, out.stderr
    assert "--devices 0,2: no GPU 0 here (visible: none)" in out.stderr


def test_each_worker_takes_a_gpu_of_its_own(tmp_path) -> None:
    """A process worker makes its GPU the only one it sees (CUDA_VISIBLE_DEVICES) and its Keras backend the
    run's, before anything imports the framework."""
    code = ("import multiprocessing, os, sys\nfrom harness.executors import process\n"
            "from harness.worker import WorkerPlugins\n"
            "mine, theirs = multiprocessing.Pipe()\n"
            "theirs.send_bytes(b'')\n"  # an empty message ends the worker once it is ready
            f"process._serve(mine, WorkerPlugins((), False, {str(tmp_path)!r}), ('jax', 1), 2)\n"
            "print(theirs.recv()[0], os.environ['CUDA_VISIBLE_DEVICES'], 'jax' in sys.modules, "
            "os.environ['KERAS_BACKEND'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ready", "2", "False", "jax"]


#: The engine's tests that must hold on every backend, run again on JAX (Keras: one backend per process).
ENGINE_ON_JAX = [
    "tests/engine/test_train.py::test_same_seed_same_result_whatever_ran_before",
    "tests/engine/test_train.py::test_errors_nan_and_oom_become_rows_and_the_others_run",
    "tests/engine/test_train.py::test_records_carry_what_a_report_needs",
    "tests/engine/test_train.py::test_a_step_that_runs_uncompiled_is_never_silent",
    "tests/engine/test_budget.py::test_steps_and_images_limits_in_training",
    "tests/engine/test_features.py::test_head_on_cached_features_follows_the_full_models_trajectory",
]


@pytest.mark.slow
@needs("jax")
def test_the_engine_tests_pass_on_jax() -> None:
    """The full engine suite runs on each backend in tox (py-jax, py-torch); the main suite runs the engine's
    contract on JAX too: determinism, failures as rows, the record, budgets, feature caching."""
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *ENGINE_ON_JAX],
                         capture_output=True, text=True, cwd=ROOT, timeout=1200, env=_env(KERAS_BACKEND="jax"))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert f"{len(ENGINE_ON_JAX)} passed" in out.stdout


@pytest.mark.slow
@needs("tensorflow")
@needs("jax")
def test_a_run_on_two_backends_trains_and_shows_each(tmp_path) -> None:
    """`--backend tensorflow,jax`: the same combination and seed trains once on each backend (in its own worker
    process), each task named with its backend as it finishes and in the summary, both counted."""
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--backend", "tensorflow,jax", "--dataset",
                          "synthetic", "--model", "small_cnn", "--augmentation", "none", "--steps", "1",
                          "--batch-size", "8", "--set", "synthetic.image_size=[24,24]",
                          "--set", "synthetic.train_per_class=8", "--set", "synthetic.validation_per_class=4",
                          "--set", "synthetic.test_per_class=4", "--output", "out", "-p", "no:reports"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600, env=_env())
    assert out.returncode in (0, 1), out.stdout + out.stderr
    records = [json.loads(line) for line in next(tmp_path.glob("out/*/records.jsonl")).read_text().splitlines()]
    assert sorted(r["backend"] for r in records) == ["jax", "tensorflow"]
    assert "[1/2] synthetic-none-small_cnn[tensorflow, seed=1]" in out.stdout
    assert "[2/2] synthetic-none-small_cnn[jax, seed=1]" in out.stdout
    assert " synthetic-none-small_cnn[jax] test " in out.stdout and " synthetic-none-small_cnn[tensorflow] test " \
        in out.stdout
    last = out.stdout.strip().splitlines()[-1]
    assert sum(int(n) for n in re.findall(r"(\d+) (?:passed|failed)", last)) == 2, last
