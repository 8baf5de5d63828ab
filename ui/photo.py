"""What the two photo pages share: the pretrained network (once per server), this browser's album, a taught
model's network, answers as bars, and heatmaps of where a model looked.

Grad-CAM hooks into the network it explains, so heatmaps use a copy of the pretrained network of their own,
one at a time; classifying never waits for them. Heatmaps are computed only behind their toggle, and kept in
the session, so a redraw does not compute one again.
"""

from __future__ import annotations

import copy
import threading

import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from core.models import pretrained
from core.vision import heatmaps, transfer
from core.vision.album import Album, Albums
from ui.server import book, owner
from ui.text import svg

HEATMAPS_KEPT = 48  # per session


@st.cache_resource(show_spinner="Loading the pretrained model (once per server)...")
def classifier(name: str = transfer.BACKBONE) -> pretrained.Classifier:
    return pretrained.load_classifier(name)


def backbone() -> transfer.Backbone:
    return transfer.Backbone(classifier().net)


@st.cache_resource
def _albums() -> Albums:
    return Albums(book().store)


def my_album() -> Album:
    return _albums().of(owner())


@st.cache_resource
def _heat_nets() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


def heat_net(name: str) -> torch.nn.Module:
    """A copy of a pretrained network for heatmaps only (captum's hooks must not catch other pages' forwards)."""
    nets, lock = _heat_nets()
    with lock:
        if name not in nets:
            nets[name] = copy.deepcopy(classifier(name).net)
        return nets[name]


def heatmap(key: tuple, model: torch.nn.Module, X: torch.Tensor, target: int, picture: Image.Image) -> Image.Image:
    """`picture` with the map of where `model` looked for class `target` on input X (1, 3, H, W); kept by key."""
    kept = st.session_state.setdefault("heatmaps", {})
    if key not in kept:
        with _heat_nets()[1]:  # one at a time: two pages' Grad-CAMs on one copy would mix their hooks
            _, maps = heatmaps.where_looked(model, X, target)
        if len(kept) >= HEATMAPS_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = heatmaps.overlay(picture, maps[0])
    return kept[key]


def probability_bars(probs: dict[str, float], label: str, key: str) -> None:
    colours = ["#ff4b4b" if name == label else "#bbb" for name in probs]
    names = [svg(name) for name in probs]  # a class name from a checkpoint is drawn as text, never a link
    fig = go.Figure(go.Bar(x=list(probs.values()), y=names, orientation="h", marker_color=colours))
    height = 40 + 30 * len(probs)
    fig.update_layout(height=height, margin=dict(t=0, b=0, l=0, r=10), xaxis=dict(range=[0, 1], tickformat=".0%"))
    fig.update_yaxes(autorange="reversed")  # the classes from the top, in their order
    st.plotly_chart(fig, key=key, config={"displayModeBar": False})
