"""Saving and loading trained models together with the config that built them.

A checkpoint is a plain dictionary of tensors, numbers and strings (format, config, input shape,
class names, state dict, and for a head taught on photos' features the preprocessing those features
came from: `core.vision.transfer.PREPROCESS`), written by `torch.save`. Loading reads it with `weights_only=True`, so a
file that carries pickled code or objects is refused instead of executed, and any file that is not
one of our checkpoints gets a `CheckpointError` that says what is wrong. An upload is checked before
anything is built from it: classes, input shape, the model's size (built on PyTorch's meta device, which
allocates nothing) and every tensor's name and shape, so a small crafted file cannot make the server
allocate gigabytes.
"""

from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from core.datasets import PHOTO_FEATURES
from core.models import build_model
from core.vision import transfer
from core.vision.album import MAX_NAME

FORMAT = "d2l-dashboard-checkpoint/1"
# what a checkpoint may ask for: ResNet-18 (11M parameters) and 3x224x224 photos fit well within
MAX_PARAMS = 30_000_000  # 120 MB of float32
MAX_SIDE, MAX_INPUTS, MAX_CLASSES = 4096, 3 * 512 * 512, 1000


class CheckpointError(ValueError):
    """The file is not a checkpoint this dashboard can load; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    model: nn.Module
    config: object  # RunConfig
    input_shape: tuple[int, ...]
    classes: tuple[str, ...]
    preprocess: dict | None = None  # a photo head's: which backbone, resize, crop, mean and std (core.vision.transfer)


def save(run, file: str | Path | BinaryIO) -> None:
    """Write a run's model (on the CPU) with its config, input shape and class names."""
    state = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    write(run.config, run.data.input_shape, run.data.classes, state, file)


def write(config, input_shape, classes, state: dict, file: str | Path | BinaryIO) -> None:
    """Write a checkpoint from its parts: a RunConfig, one example's shape, the class names, a CPU state dict."""
    payload = {"format": FORMAT, "config": config.as_dict(), "input_shape": list(input_shape)}
    if config.dataset == PHOTO_FEATURES:  # the head alone answers nothing: say what turns a photo into its input
        payload["preprocess"] = transfer.PREPROCESS
    torch.save(payload | {"classes": list(classes), "state_dict": state}, file)


def to_bytes(run) -> bytes:
    buffer = io.BytesIO()
    save(run, buffer)
    return buffer.getvalue()


def pack(config, input_shape, classes, state: dict) -> bytes:
    """`write`'s bytes."""
    buffer = io.BytesIO()
    write(config, input_shape, classes, state, buffer)
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
        config, input_shape, classes, state = _checked(payload, RunConfig)
        # the model first on the meta device, which allocates nothing: its size, its tensors' names and shapes
        with torch.device("meta"):
            skeleton = build_model(config, input_shape, len(classes) or 1)
        _fits(skeleton, state)
        model = build_model(config, input_shape, len(classes) or 1)
        model.load_state_dict(state)
    except (ConfigError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"The checkpoint is damaged or from an incompatible version: {err}") from None
    model.eval()
    preprocess = payload.get("preprocess")
    if config.dataset == PHOTO_FEATURES and preprocess != transfer.PREPROCESS:
        raise CheckpointError(
            f"This head was taught on features from other preprocessing ({preprocess}); this dashboard makes "
            f"them with {transfer.PREPROCESS}."
        )
    return Checkpoint(model, config, input_shape, classes, preprocess)


def _checked(payload: dict, RunConfig) -> tuple:
    """The payload's config, input shape, classes and state dict, each checked before anything is built."""
    config = RunConfig.from_dict(dict(payload["config"]))
    input_shape = tuple(int(s) for s in payload["input_shape"])
    if not 1 <= len(input_shape) <= 3 or not all(1 <= s <= MAX_SIDE for s in input_shape):
        raise ValueError(f"an input shape of {list(input_shape)}: inputs have 1 to 3 dimensions of 1 to {MAX_SIDE}")
    if math.prod(input_shape) > MAX_INPUTS:
        raise ValueError(f"inputs of {math.prod(input_shape):,} numbers; at most {MAX_INPUTS:,} are loaded here")
    classes = tuple(str(c) for c in payload["classes"])
    if len(classes) > MAX_CLASSES:
        raise ValueError(f"{len(classes):,} classes; at most {MAX_CLASSES:,} are loaded here")
    # capped as Teach caps its own: a class name of 200,000 characters froze the tab that drew it
    if any(len(c) > MAX_NAME or not c.isprintable() for c in classes):
        longest = max(len(c) for c in classes)
        raise ValueError(f"a class name of {longest:,} characters or with control characters; names of at most "
                         f"{MAX_NAME} printable characters are loaded here")  # fmt: skip
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("its state_dict is not a table of tensors")
    return config, input_shape, classes, state


def _fits(skeleton: nn.Module, state: dict) -> None:
    """Refuse a model too large to build, or a state dict that is not that model's, before any memory is taken."""
    num_params = sum(p.numel() for p in skeleton.parameters())
    if num_params > MAX_PARAMS:
        raise ValueError(f"its config builds {num_params:,} parameters; models up to {MAX_PARAMS:,} are loaded here")
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    missing, unexpected = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
    wrong = [f"{k} {have[k]} instead of {want[k]}" for k in want.keys() & have.keys() if have[k] != want[k]]
    if missing or unexpected or wrong:

        def first(names: list[str]) -> str:
            return ", ".join(names[:3]) + ", ..." * (len(names) > 3)

        parts = [
            f"{len(missing)} tensor(s) missing ({first(missing)})" * bool(missing),
            f"{len(unexpected)} unexpected ({first(unexpected)})" * bool(unexpected),
            f"shapes differ: {first(sorted(wrong))}" * bool(wrong),
        ]
        raise ValueError("its weights do not fit the model its config describes: " + "; ".join(p for p in parts if p))
