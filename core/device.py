"""Which device a run trains on: "auto" picks CUDA, then Apple's MPS, then the CPU.

The choice is made once per run, and a run reports the device it really used. Asking for a device
this machine lacks is a configuration error with a message, never a crash inside PyTorch.
"""

from __future__ import annotations

import contextlib

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def available_devices() -> list[str]:
    """The choices that work on this machine, "auto" first."""
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found


def resolve_device(name: str = "auto") -> torch.device:
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name not in available_devices():
        raise ValueError(
            f"device {name!r} is not available on this machine; choose one of: {', '.join(available_devices())}"
        )
    return torch.device(name)


def describe(device: torch.device | str, threads: int = 0) -> str:
    """A name for people: "CPU (2 threads)", "CUDA GPU: NVIDIA H100", "Apple GPU (MPS)". A CPU's threads are this
    process's PyTorch threads unless `threads` says how many another process (a trainer) uses."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = threads or torch.get_num_threads()
    return f"CPU ({threads} thread{'s' * (threads != 1)})"


def autocast(device: torch.device | str, enabled: bool = True):
    """bfloat16 mixed precision on a CUDA GPU (its tensor cores, half the memory traffic), and nothing elsewhere:
    on the CPU and MPS every number stays float32, so runs there stay exact and reproducible."""
    if not (enabled and torch.device(device).type == "cuda"):
        return contextlib.nullcontext()  # not even a disabled autocast: it costs microseconds a step
    return torch.autocast("cuda", dtype=torch.bfloat16)
