"""The PyTorch backend: the backend-neutral feed, torch's thread counts, CUDA's cached memory emptied
between tasks."""

from __future__ import annotations

from typing import Any

from harness.backends import Device, KerasBackend


class TorchBackend(KerasBackend):
    name = "torch"
    _configured = False

    def configure(self, threads: int | None = None) -> None:
        if self._configured:
            return
        self._configured = True
        import torch

        if threads:
            torch.set_num_threads(threads)
            try:
                torch.set_num_interop_threads(max(1, min(2, threads)))
            except RuntimeError:  # already set, or parallel work already started in this process
                pass

    def seed(self, seed: int) -> None:
        import torch

        super().seed(seed)
        torch.manual_seed(seed)

    def begin_task(self) -> Any:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return None

    def release(self, state: Any = None) -> None:
        import torch

        super().release(state)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def devices(self) -> list[Device]:
        import torch

        found = []
        for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
            props = torch.cuda.get_device_properties(index)
            found.append(Device("gpu", str(props.name), int(props.total_memory), float(f"{props.major}.{props.minor}")))
        return found or [Device("cpu", "CPU")]

    def intra_op_threads(self) -> int | None:
        import torch

        return int(torch.get_num_threads())

    def peak_memory_bytes(self) -> int | None:
        import torch

        return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


BACKEND = TorchBackend()
