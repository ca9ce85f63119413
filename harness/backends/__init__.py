"""The Keras backends harness trains on: TensorFlow, JAX and PyTorch, one module each behind one protocol.

As Keras keeps ``keras/src/backend/{tensorflow,jax,torch}/`` apart, everything that touches a framework
lives in :mod:`harness.backends.tensorflow`, :mod:`harness.backends.jax` or :mod:`harness.backends.torch`;
the engine, the workers and the session call only :class:`Backend`. Importing this package imports no
framework and no Keras: ``harness --help``, ``harness list`` and ``--collect-only`` stay light.

The dependency goes one way: the engine uses the backends, the backends never import the engine (their feed
is :mod:`harness.backends.feed`, backend-neutral). What differs between backends is said by the backend
object, as a capability (:attr:`Backend.compiles_graph`, :attr:`Backend.needs_jittable_layers`,
:attr:`Backend.version`, :meth:`Backend.device`): code outside this package never asks a backend its name.

Keras fixes its backend when it is first imported, once per process: :func:`activate` sets
``KERAS_BACKEND`` before that, and refuses (a :class:`~harness.errors.UsageError`) a backend other than the
one an already imported Keras uses. A run with several backends trains each backend's tasks in their own
worker processes.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import random
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.errors import UsageError

#: The backends, in the order the default is looked for.
NAMES = ("tensorflow", "jax", "torch")
#: The Python package each backend needs, to tell whether it is installed.
PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
#: What to install for each (extras of the harness package).
EXTRAS = {"tensorflow": "harness[tf]", "jax": "harness[jax]", "torch": "harness[torch]"}


@dataclass(frozen=True)
class Device:
    """One device a backend trains on: ``kind`` ``gpu`` or ``cpu``, its model name, its memory in bytes
    (``None`` when unknown) and, for NVIDIA GPUs, its compute capability (``8.0`` and up: bfloat16)."""

    kind: str
    name: str
    memory_bytes: int | None = None
    compute_capability: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "memory_bytes": self.memory_bytes,
                "compute_capability": self.compute_capability}


class Backend(Protocol):
    """What the engine needs of a backend. Every method but :meth:`devices` and :meth:`device` may import
    Keras."""

    #: ``tensorflow``, ``jax`` or ``torch``: what records and messages call it (never a test in the engine).
    name: str
    #: Whether Keras compiles the training step even without XLA (TensorFlow traces a graph): a model that
    #: does not run eagerly has a compiled step. Elsewhere a step is compiled only when XLA compiles it.
    compiles_graph: bool
    #: Whether one layer that XLA cannot compile (``supports_jit=False``) makes Keras run the whole training
    #: step uncompiled (JAX): the engine then applies such an augmentation in the feed, outside the model,
    #: and a record whose step ran uncompiled names the layers (``jit_blockers``).
    needs_jittable_layers: bool

    @property
    def version(self) -> str:
        """The framework's version (TensorFlow's, JAX's or PyTorch's)."""

    def configure(self, threads: int | None = None) -> None:
        """Once per process, before training: thread counts (``None``: the framework's default), GPU memory
        taken as needed rather than all at once."""

    def seed(self, seed: int) -> None:
        """Seed every random generator a task uses: Python, NumPy, the framework, Keras."""

    def set_precision(self, policy: str) -> None:
        """Set Keras' global dtype policy (``float32``, ``mixed_bfloat16``, ``mixed_float16``)."""

    def make_feed(self, images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
                  transform: Any = None) -> Any:
        """What ``model.fit``/``evaluate``/``predict`` read: batches of ``(images, int32 labels)`` in the
        order of :func:`harness.backends.feed.epoch_order`; ``transform`` (a Keras layer) is applied to each
        training batch before the model sees it."""

    def begin_task(self) -> Any:
        """Called before a task; what it returns is given back to :meth:`release`."""

    def release(self, state: Any = None) -> None:
        """Free what a task left behind (graphs, compiled functions, device memory) for the next one."""

    def devices(self) -> list[Device]:
        """The devices this backend trains on here (GPUs, else the CPU). Imports the framework, not Keras."""

    def device(self) -> Device:
        """The device this process trains on (the first of :meth:`devices`), looked up once per process."""

    def intra_op_threads(self) -> int | None:
        """Threads one operation runs on, where the framework says."""

    def versions(self) -> dict[str, str]:
        """``backend``, ``keras`` and the framework's version (keyed by the backend's name)."""

    def peak_memory_bytes(self) -> int | None:
        """The device's peak memory since the last :meth:`begin_task`, where the framework says."""


class KerasBackend:
    """What the three backends share; each module subclasses it."""

    name = ""
    compiles_graph = False
    needs_jittable_layers = False
    _device: Device | None = None

    def configure(self, threads: int | None = None) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def seed(self, seed: int) -> None:
        """As ``keras.utils.set_random_seed``, which also imports TensorFlow whenever it is installed: a
        JAX or PyTorch process must not pay for that (nor depend on it)."""
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils

        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
        random.seed(seed)
        np.random.seed(seed)

    def set_precision(self, policy: str) -> None:
        import keras

        keras.mixed_precision.set_global_policy(policy)

    def make_feed(self, images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
                  transform: Any = None) -> Any:
        from harness.backends.feed import batch_feed

        return batch_feed(images, labels, batch_size, shuffle=shuffle, seed=seed, transform=transform)

    def begin_task(self) -> Any:
        return None

    def release(self, state: Any = None) -> None:
        import keras

        keras.backend.clear_session(free_memory=False)  # one garbage collection below
        keras.mixed_precision.set_global_policy("float32")
        gc.collect()

    def devices(self) -> list[Device]:  # pragma: no cover - overridden
        raise NotImplementedError

    def device(self) -> Device:
        if self._device is None:
            self._device = self.devices()[0]
        return self._device

    def intra_op_threads(self) -> int | None:
        return None

    def versions(self) -> dict[str, str]:
        import keras

        module = importlib.import_module(PACKAGES[self.name])
        return {"backend": self.name, "keras": keras.__version__, self.name: str(module.__version__)}

    @property
    def version(self) -> str:
        return self.versions()[self.name]

    def peak_memory_bytes(self) -> int | None:
        return None


def installed(name: str) -> bool:
    return importlib.util.find_spec(PACKAGES[name]) is not None


def check_name(name: str, where: str = "--backend") -> str:
    if name not in NAMES:
        raise UsageError(f"{where}: unknown backend {name!r} (known: {', '.join(NAMES)})")
    return name


def default_name() -> str:
    """``KERAS_BACKEND`` when set, else the first installed of tensorflow, jax, torch."""
    env = os.environ.get("KERAS_BACKEND")
    if env:
        return check_name(env, "KERAS_BACKEND")
    for name in NAMES:
        if installed(name):
            return name
    raise UsageError("no Keras backend is installed: pip install " + ", ".join(EXTRAS[n] for n in NAMES)
                     + " (one of them)")


def keras_backend() -> str | None:
    """The backend of the Keras this process imported, or ``None`` when Keras is not imported yet."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    try:
        return str(keras.backend.backend())
    except AttributeError:  # a Keras still being imported: its configuration is read already
        from keras.src.backend.config import backend

        return str(backend())


def load(name: str) -> Backend:
    """The backend ``name`` (its module imported, not its framework)."""
    check_name(name)
    module = importlib.import_module(f"harness.backends.{name}")
    return module.BACKEND  # type: ignore[no-any-return]


def activate(name: str) -> Backend:
    """Make ``name`` this process's Keras backend: set ``KERAS_BACKEND`` if Keras is not imported yet, refuse
    if it is, with another backend. Imports nothing heavy itself."""
    check_name(name)
    current = keras_backend()
    if current is None:
        os.environ["KERAS_BACKEND"] = name
    elif current != name:
        raise UsageError(f"--backend {name}: this process already loaded Keras with the {current} backend, and "
                         "Keras has one backend per process (run each backend in its own process)")
    if not installed(name):
        raise UsageError(f"--backend {name}: {PACKAGES[name]} is not installed (pip install {EXTRAS[name]})")
    return load(name)
