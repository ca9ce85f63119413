"""The JAX backend: the backend-neutral feed, XLA's CPU threads, GPU memory taken as needed (never
preallocated: tasks and worker processes share a GPU), compiled functions dropped between tasks."""

from __future__ import annotations

import os
import sys
from typing import Any

from harness.backends import Device, KerasBackend


class JaxBackend(KerasBackend):
    name = "jax"
    #: Keras jit-compiles a model's step only when every layer supports it (else runs it all eagerly).
    needs_jittable_layers = True
    _configured = False
    _threads: int | None = None

    def configure(self, threads: int | None = None) -> None:
        """Before JAX is imported: no preallocation of the GPU (``XLA_PYTHON_CLIENT_PREALLOCATE=false``, unless
        the user set it or ``XLA_PYTHON_CLIENT_MEM_FRACTION``) and, with ``threads``, XLA's CPU threads."""
        if self._configured:
            return
        self._configured = True
        if "XLA_PYTHON_CLIENT_MEM_FRACTION" not in os.environ:
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        if threads and "jax" not in sys.modules:
            flags = os.environ.get("XLA_FLAGS", "")
            if "intra_op_parallelism_threads" not in flags:
                eigen = "true" if threads > 1 else "false"
                os.environ["XLA_FLAGS"] = (f"{flags} --xla_cpu_multi_thread_eigen={eigen}"
                                           f" intra_op_parallelism_threads={threads}").strip()
                self._threads = threads

    def release(self, state: Any = None) -> None:
        import jax

        super().release(state)
        jax.clear_caches()  # each task's compiled steps hold its model's constants

    def devices(self) -> list[Device]:
        self.configure()
        import jax

        found = []
        for device in jax.devices():
            if device.platform != "gpu":
                continue
            stats = _memory_stats(device)
            capability = getattr(device, "compute_capability", None)
            found.append(Device("gpu", str(device.device_kind), stats.get("bytes_limit"),
                                float(capability) if capability else None))
        return found or [Device("cpu", "CPU")]

    def intra_op_threads(self) -> int | None:
        return self._threads

    def peak_memory_bytes(self) -> int | None:
        """The process's peak on its first device so far (JAX cannot reset it between tasks)."""
        import jax

        device = jax.devices()[0]
        peak = _memory_stats(device).get("peak_bytes_in_use")
        return int(peak) if peak is not None else None


def _memory_stats(device: Any) -> dict[str, Any]:
    try:
        return dict(device.memory_stats() or {})
    except (AttributeError, RuntimeError, NotImplementedError):
        return {}


BACKEND = JaxBackend()
