"""Which device a run trains on: "auto" picks CUDA, then Apple's MPS, then the CPU.

The choice is made once per run, and a run reports the device it really used. Asking for a device
this machine lacks is a configuration error with a message, never a crash inside PyTorch.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from core import settings

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


def cpu_bf16() -> bool:
    """Whether convolutional models train on the CPU in bfloat16: DASHBOARD_CPU_BF16=1 or 0 says; by default, where
    the CPU has the instructions (AVX-512 BF16, AMX). Measured by bench/bench_precision.py on a 2-core machine with
    AVX-512 BF16: the ResNet page's default run 1.4-2.0x faster, its final accuracy the same (88.77% both)."""
    chosen = settings.value("DASHBOARD_CPU_BF16")
    return chosen if chosen is not None else bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to ask here, so float32
        return frozenset()
    return frozenset(
        next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    )


def precision(device: torch.device | str, enabled: bool = True) -> str:
    """The precision a run's steps use on `device` ("bfloat16" or "float32"), as `autocast` gives it."""
    kind = torch.device(device).type
    return "bfloat16" if enabled and (kind == "cuda" or (kind == "cpu" and cpu_bf16())) else "float32"


def autocast(device: torch.device | str, enabled: bool = True):
    """bfloat16 mixed precision on a CUDA GPU (its tensor cores, half the memory traffic) and on a CPU with bfloat16
    instructions (`cpu_bf16`), and nothing elsewhere: MPS, and a CPU without them or with DASHBOARD_CPU_BF16=0,
    keep every number in float32, exact and as the tests compare them."""
    if precision(device, enabled) == "float32":
        return contextlib.nullcontext()  # not even a disabled autocast: it costs microseconds a step
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
