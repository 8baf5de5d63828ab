"""Saving and loading trained models together with the config that built them.

A checkpoint is a plain dictionary of tensors, numbers and strings (format, config, input shape,
class names, state dict), written by `torch.save`. Loading reads it with `weights_only=True`, so a
file that carries pickled code or objects is refused instead of executed, and any file that is not
one of our checkpoints gets a `CheckpointError` that says what is wrong.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from core.models import build_model

FORMAT = "d2l-dashboard-checkpoint/1"


class CheckpointError(ValueError):
    """The file is not a checkpoint this dashboard can load; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    model: nn.Module
    config: object  # RunConfig
    input_shape: tuple[int, ...]
    classes: tuple[str, ...]


def save(run, file: str | Path | BinaryIO) -> None:
    """Write a run's model (on the CPU) with its config, input shape and class names."""
    state = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    torch.save(
        {
            "format": FORMAT,
            "config": run.config.as_dict(),
            "input_shape": list(run.data.input_shape),
            "classes": list(run.data.classes),
            "state_dict": state,
        },
        file,
    )


def to_bytes(run) -> bytes:
    buffer = io.BytesIO()
    save(run, buffer)
    return buffer.getvalue()


def load(file: str | Path | BinaryIO | bytes) -> Checkpoint:
    """Rebuild the model of a checkpoint on the CPU. Refuses anything but plain tensors and data."""
    from core.train import ConfigError, RunConfig

    if isinstance(file, bytes):
        file = io.BytesIO(file)
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" not in str(err).lower():  # torch names the class it refused to build as a "global"
            raise CheckpointError("This is not a PyTorch checkpoint file.") from None
        refused = next((line.strip() for line in str(err).splitlines() if "global" in line.lower()), "")
        raise CheckpointError(
            "This file holds Python objects beyond tensors and plain data, so it was not loaded "
            f"(only weights are loaded, with weights_only=True). {refused}"
        ) from None
    except Exception as err:  # truncated zip, not a torch file at all, ...
        raise CheckpointError(f"This is not a PyTorch checkpoint file ({type(err).__name__}: {err}).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("This is a PyTorch file, but not a checkpoint saved by this dashboard.")
    try:
        config_dict = dict(payload["config"])
        if "true_w" in config_dict:  # saved as a list; the frozen config holds a tuple
            config_dict["true_w"] = tuple(config_dict["true_w"])
        config = RunConfig(**config_dict)
        input_shape = tuple(int(s) for s in payload["input_shape"])
        classes = tuple(str(c) for c in payload["classes"])
        model = build_model(config, input_shape, len(classes) or 1)
        model.load_state_dict(payload["state_dict"])
    except (ConfigError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"The checkpoint is damaged or from an incompatible version: {err}") from None
    model.eval()
    return Checkpoint(model, config, input_shape, classes)
