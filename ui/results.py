"""What a finished (or training) model gets wrong: the gallery of mistakes, the confusion matrix, per-class accuracy.

The metrics come from `core.evaluate`, computed once per run and step and kept in the session; a
click on a cell of the confusion matrix shows the images behind it, and a toggle draws where the model
looked in each mistake (`core.vision.heatmaps`: Grad-CAM for a ResNet, saliency for the others).
`save_button` offers the model as a weights-only checkpoint, which the photo page loads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from core import checkpoint
from core.evaluate import Evaluation, evaluate
from core.vision import heatmaps
from ui.text import md, svg

CELL_PX = 88  # a mistake's width: 8 a row in a projector's 820 px, 3 in a phone's 358


def to_image(x: torch.Tensor) -> np.ndarray:
    """One example (C, H, W) in [0, 1] -> an (H, W) or (H, W, 3) uint8 picture."""
    pic = (x.detach().cpu().clamp(0, 1) * 255).to(torch.uint8)
    return pic[0].numpy() if pic.shape[0] == 1 else pic.permute(1, 2, 0).numpy()


def evaluation_of(job, run=None, version=0) -> Evaluation | None:
    """The validation metrics of the job's model as it is now (on `run`'s data: job.run's by default); cached per
    job, step and `version` of the data."""
    run = run or job.run
    if run is None or not job.history:
        return None
    key = (job.id, job.history[-1].step, version)
    cache = st.session_state.setdefault("evaluations", {})
    if key not in cache:
        data = run.data
        # while it trains, evaluate a copy: the training thread keeps the original in train mode
        model = run.model if job.state == "done" else copy.deepcopy(run.model)
        cache.clear()  # one at a time is enough, and keeps a session's memory small
        cache[key] = evaluate(model, data.X_val, data.y_val, len(data.classes))
    return cache[key]


def results(job, extra_tabs: dict[str, Callable] | None = None, run=None, picture=None, version=0) -> None:
    """Tabs of what the model gets wrong; for classification runs that have a model.

    `run`: the job's run on the page's own data (photos); `picture(i)`: how to show validation example i (the
    photo behind a feature vector), by default the example itself; `version`: of that data, for the caches."""
    run = run or job.run
    ev = evaluation_of(job, run, version)
    if ev is None:
        return
    classes = run.data.classes
    images = picture is None  # the examples are images (not a photo's features): heatmaps can be drawn over them
    picture = picture or (lambda i: to_image(run.data.X_val[i]))
    st.subheader(f"What the model gets wrong ({len(ev.mistakes):,} of {len(ev.predictions):,} validation images)")
    names = ["Mistakes", "Confusion matrix", "Per-class accuracy", *(extra_tabs or {})]
    tabs = st.tabs(names)
    with tabs[0]:
        looked = where_looked_toggle(job, run, ev.mistakes[:24]) if images else None
        gallery(ev.mistakes[:24], classes, picture, looked)
    with tabs[1]:
        confusion_matrix(job, ev, classes, picture)
    with tabs[2]:
        frame = pd.DataFrame({"class": classes, "accuracy": ev.per_class_accuracy})
        fig = go.Figure(go.Bar(x=frame["accuracy"], y=[svg(c) for c in classes], orientation="h"))
        fig.update_layout(height=320, xaxis_tickformat=".0%", margin=dict(t=10, b=10), yaxis_autorange="reversed")
        st.plotly_chart(fig, key=f"per-class-{job.id}")
    for tab, draw in zip(tabs[3:], (extra_tabs or {}).values()):
        with tab:
            draw(job)


def where_looked_toggle(job, run, mistakes) -> dict | None:
    """Behind a toggle: where the model looked in each mistake, for the class it wrongly chose - Grad-CAM for a
    ResNet, a gradient saliency map for softmax regression and the MLP. {example index: picture}, or None."""
    help_ = "Red: the pixels that raised the score of the class it chose. Computed once per step of the run."
    if not mistakes or not st.toggle("Show where the model looked", key=f"looked-{job.id}", help=help_):
        return None
    key = (job.id, job.history[-1].step, len(run.data.X_val))
    kept = st.session_state.get("looked")
    if kept is None or kept[0] != key:
        model = copy.deepcopy(run.model)  # never the one a trainer is updating
        X = run.data.X_val[torch.tensor([m.index for m in mistakes])].float()
        kind, maps = heatmaps.where_looked(model, X, torch.tensor([m.predicted for m in mistakes]))
        big = [Image.fromarray(to_image(x)).resize((112, 112), Image.Resampling.NEAREST) for x in X]
        kept = (key, kind, {m.index: heatmaps.overlay(b, h) for m, b, h in zip(mistakes, big, maps)})
        st.session_state["looked"] = kept
    what = "a saliency map, |d score / d pixel|"
    if kept[1] == "Grad-CAM":
        what = "Grad-CAM of its last convolutional stage"
    st.caption(f"Where it looked for the class it chose: {what}. Red counts most.")
    return kept[2]


def gallery(mistakes, classes, picture: Callable, looked: dict | None = None) -> None:
    """The mistakes' images (or, from `looked`, the heatmaps over them), with their true and predicted classes."""
    if not mistakes:
        st.write("No mistakes here.")
        return
    st.caption("Worst first: the images whose true label got the lowest probability.")
    # a row that wraps (not columns, which a phone stacks one full-width image a row): 8 a row on a projector,
    # 3 on a phone
    row = st.container(horizontal=True, gap="small")
    for m in mistakes:
        cell = row.container(width=CELL_PX, gap=None)
        alt = f"a {classes[m.true]} taken for {classes[m.predicted]}"  # what a screen reader says
        cell.image(looked[m.index] if looked else picture(m.index), width="stretch", alt=alt)
        cell.caption(f"true: **{md(classes[m.true])}**  \npred: {md(classes[m.predicted])} ({m.confidence:.0%})")


def confusion_matrix(job, ev: Evaluation, classes, picture: Callable) -> None:
    """A heatmap of the counts (a click on a cell selects it) and the images of the chosen cell."""
    q = len(classes)
    counts = ev.confusion.numpy()
    true_idx, pred_idx = np.divmod(np.arange(q * q), q)
    values = counts.flatten()
    shade = np.log1p(values * (true_idx != pred_idx))  # the mistakes' counts, on a log scale; the diagonal stays white
    shade = shade / max(shade.max(), 1e-9)
    names = [svg(c) for c in classes]  # a class name is drawn as text, never a tag or a link
    fig = go.Figure(go.Heatmap(x=names, y=names, z=shade.reshape(q, q), colorscale="Reds", zmin=0, zmax=1))
    fig.update_traces(showscale=False, hoverinfo="skip", xgap=1, ygap=1)
    # plotly heatmaps cannot be selected, so a transparent square over each cell takes the click and writes its
    # count: white on the dark cells, black on the light ones (a trace each, so that a selection fades neither)
    for dark, colour in ((True, "white"), (False, "black")):
        cells = (shade > 0.55) == dark
        fig.add_scatter(
            x=[names[i] for i in pred_idx[cells]],
            y=[names[i] for i in true_idx[cells]],
            mode="markers+text",
            text=[str(v) for v in values[cells]],
            textfont=dict(color=colour),
            marker=dict(symbol="square", size=34, color="rgba(0, 0, 0, 0)"),
            unselected=dict(marker=dict(opacity=1), textfont=dict(color=colour)),
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
            showlegend=False,
        )
    fig.update_layout(
        height=480,
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
        margin=dict(t=10, b=10),
        clickmode="event+select",
    )
    state = st.plotly_chart(fig, key=f"confusion-{job.id}", on_select="rerun", selection_mode="points")
    points = state.selection.points if state and state.selection else []
    if not points:
        st.caption("Click a cell to see its images.")
        return
    point = points[0]
    true, pred = names.index(point["y"]), names.index(point["x"])
    if true == pred:
        st.write(f"{counts[true, pred]} images of **{md(classes[true])}** classified correctly.")
        return
    cell = ev.mistakes_in_cell(true, pred)
    st.write(f"{len(cell)} images of **{md(classes[true])}** taken for **{md(classes[pred])}**:")
    gallery(cell[:16], classes, picture)


def save_button(job, run=None) -> None:
    """Download the trained model with its settings (loadable on the photo page, weights only); an interrupted
    run's are the weights of its last evaluation. `run`: the job's run on the page's own data (photos)."""
    interrupted = job.outcome is not None and job.outcome.status == "interrupted"
    st.download_button(
        "Download its last evaluation's weights (.pt)" if interrupted else "Download the trained model (.pt)",
        checkpoint.to_bytes(run or job.run),
        f"{job.config.model}-{job.config.dataset}-run{job.id}.pt",
        "application/octet-stream",
        key=f"save-{job.id}",
        on_click="ignore",
    )
