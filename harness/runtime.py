"""The run's runtime: how every task of a run trains (backend, precision, threads per task, GPUs).

Decided once per run by the session (:meth:`harness.session.Session.choose_runtime`), recorded in the run's
metadata and in every record, and applied the same way by every executor in the process where a task trains
(:func:`apply`). A task's numbers depend on its configuration and this runtime only, never on the executor,
the number of workers or the schedule: that is why the thread count is a value of the run (``--threads``,
default: the cores this machine has) rather than something each executor chooses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.backends import Backend


@dataclass(frozen=True)
class Runtime:
    """What the run's tasks train with; frozen, picklable, the same in the driver and in every worker."""

    #: The Keras backends of the run (``--backend``); several make the backend an axis of the grid.
    backends: tuple[str, ...]
    #: Each backend's precision policy (``--precision``, ``auto`` resolved for the devices it sees).
    precisions: tuple[tuple[str, str], ...]
    #: Intra-op threads of the backend in each process that trains a task (``--threads``).
    threads: int
    #: The GPUs tasks train on (``--devices``, else every visible one), one task per GPU at a time; ``()``: CPU.
    gpus: tuple[int, ...] = ()

    def precision(self, backend: str) -> str:
        return dict(self.precisions).get(backend, "float32")

    def as_dict(self) -> dict[str, Any]:
        """What the run's metadata and ``harness compare`` show."""
        return {"backends": list(self.backends), "precisions": dict(self.precisions), "threads": self.threads,
                "gpus": list(self.gpus)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Runtime:
        return cls(backends=tuple(values["backends"]), precisions=tuple(sorted(values["precisions"].items())),
                   threads=int(values["threads"]), gpus=tuple(values.get("gpus") or ()))


#: What :func:`apply` set in this process: (backend, threads). A process trains with one runtime only.
_APPLIED: tuple[str, int] | None = None


def apply(backend: str, threads: int, gpu: int | None = None) -> Backend:
    """Make this process train as the runtime says, before any plugin imports Keras: ``gpu`` as its only
    visible GPU (``CUDA_VISIBLE_DEVICES``), ``backend`` as its Keras backend, ``threads`` intra-op threads.

    Called once by every process that trains (the driver with the serial executor, each worker process, each
    Ray or SLURM worker); calling it again with the same values does nothing. Another thread count in a process
    that applied one already is refused (TensorFlow cannot change it once started): RuntimeError."""
    global _APPLIED
    from harness import backends

    if _APPLIED is not None:
        if _APPLIED != (backend, threads):
            raise RuntimeError(f"this process trains with {_APPLIED[0]} on {_APPLIED[1]} threads already; "
                               f"cannot switch to {backend} on {threads} threads")
        return backends.load(backend)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    chosen = backends.activate(backend)
    chosen.configure(threads)
    _APPLIED = (backend, threads)
    return chosen
