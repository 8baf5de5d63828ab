"""The photo page's "Your model": which of this browser's models answers beside the pretrained one, and its answer.

A head taught on the Teach page answers with the student's own classes, through the frozen backbone
(`core.vision.transfer.Taught`); a CIFAR-10 cat / dog / neither ResNet answers at 32x32. Either comes from a run of
this browser, the newest by default, or from an uploaded checkpoint, read once per upload.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from core import checkpoint
from core.datasets import CATDOG, PHOTO_FEATURES
from core.models import pretrained
from core.vision import transfer
from ui.photo import backbone
from ui.server import my_runs


@dataclass(frozen=True)
class Own:
    """The user's model: a head taught on their photos' features (`taught`), or a 32x32 cat / dog / neither net."""

    net: torch.nn.Module
    classes: tuple[str, ...]
    taught: bool
    key: str  # names it in the heatmaps' cache


def own_model(sb) -> Own | None:
    """The user's model: the newest by default of this browser's finished (or interrupted) runs that can answer -
    a head taught on their photos, or a ResNet of CIFAR-10 cat / dog / neither - or an uploaded checkpoint. An
    interrupted run answers with the weights of its last evaluation. `sb`: where to draw the choice."""
    runs = [j for j in my_runs() if j.outcome and j.last_eval]
    usable = [j for j in runs if j.config.dataset == PHOTO_FEATURES or j.config.dataset == CATDOG.key]
    choices = {f"{j.label} ({j.last_eval.val_acc:.0%} val accuracy)": j for j in usable}
    options = ["none", *choices, "upload a checkpoint"]
    choice = sb.selectbox("Your model", options, index=len(choices), key="own")
    if choice in choices:
        job = choices[choice]
        if job.model is None:
            sb.error("This run has no weights to answer with.")
            return None
        return Own(job.model, tuple(job.classes), job.config.dataset == PHOTO_FEATURES, f"run-{job.id}")
    if choice == "upload a checkpoint":
        file = sb.file_uploader("Checkpoint (.pt) saved on a training page or the Teach page", type=["pt", "pth"])
        if file is not None:
            own, problem = uploaded_model(file)
            if problem:
                sb.error(problem)
            return own
    return None


def uploaded_model(file) -> tuple:
    """(Own, None) or (None, why not), read once per upload: a page redraws often, an upload comes once."""
    kept = st.session_state.get("uploaded-model")
    if kept is None or kept[0] != file.file_id:
        try:
            ckpt = checkpoint.load(file.getvalue())
            taught = ckpt.preprocess is not None
            problem = None if taught else pretrained.own_model_problem(ckpt.classes, ckpt.input_shape)
            own = None if problem else Own(ckpt.model, ckpt.classes, taught, f"upload-{file.file_id}")
            kept = (file.file_id, own, problem)
        except checkpoint.CheckpointError as err:
            kept = (file.file_id, None, str(err))
        st.session_state["uploaded-model"] = kept
    return kept[1], kept[2]


def own_answer(own: Own, image, threshold: float) -> tuple[str, dict[str, float]]:
    """(label, probability of each class) from the user's model; `threshold` for the cat / dog / neither rule."""
    if own.taught:
        answer = transfer.answer(transfer.Taught(backbone(), own.net), own.classes, [image])[0]
        return answer.label, answer.probs
    mine = pretrained.classify_own(own.net, image, threshold)
    return mine.label, mine.probs
