"""What a finished (or training) model gets wrong: the gallery of mistakes, the confusion matrix, per-class accuracy.

The metrics come from `core.evaluate`, computed once per run and step and kept in the session; a
click on a cell of the confusion matrix shows the images behind it. `save_button` offers the model as
a weights-only checkpoint, which the photo page loads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core import checkpoint
from core.evaluate import Evaluation, evaluate


def to_image(x: torch.Tensor) -> np.ndarray:
    """One example (C, H, W) in [0, 1] -> an (H, W) or (H, W, 3) uint8 picture."""
    pic = (x.detach().cpu().clamp(0, 1) * 255).to(torch.uint8)
    return pic[0].numpy() if pic.shape[0] == 1 else pic.permute(1, 2, 0).numpy()


def evaluation_of(job) -> Evaluation | None:
    """The validation metrics of the job's model as it is now; cached per job and step."""
    if job.run is None or not job.history:
        return None
    key = (job.id, job.history[-1].step)
    cache = st.session_state.setdefault("evaluations", {})
    if key not in cache:
        data = job.run.data
        # while it trains, evaluate a copy: the training thread keeps the original in train mode
        model = job.run.model if job.state == "done" else copy.deepcopy(job.run.model)
        cache.clear()  # one at a time is enough, and keeps a session's memory small
        cache[key] = evaluate(model, data.X_val, data.y_val, len(data.classes))
    return cache[key]


def results(job, extra_tabs: dict[str, Callable] | None = None) -> None:
    """Tabs of what the model gets wrong; for classification runs that have a model."""
    ev = evaluation_of(job)
    if ev is None:
        return
    classes = job.run.data.classes
    st.subheader(f"What the model gets wrong ({len(ev.mistakes):,} of {len(ev.predictions):,} validation images)")
    names = ["Mistakes", "Confusion matrix", "Per-class accuracy", *(extra_tabs or {})]
    tabs = st.tabs(names)
    with tabs[0]:
        gallery(job, ev.mistakes[:24], classes)
    with tabs[1]:
        confusion_matrix(job, ev, classes)
    with tabs[2]:
        frame = pd.DataFrame({"class": classes, "accuracy": ev.per_class_accuracy})
        fig = go.Figure(go.Bar(x=frame["accuracy"], y=frame["class"], orientation="h"))
        fig.update_layout(height=320, xaxis_tickformat=".0%", margin=dict(t=10, b=10), yaxis_autorange="reversed")
        st.plotly_chart(fig, key=f"per-class-{job.id}")
    for tab, draw in zip(tabs[3:], (extra_tabs or {}).values()):
        with tab:
            draw(job)


def gallery(job, mistakes, classes) -> None:
    if not mistakes:
        st.write("No mistakes here.")
        return
    st.caption("Worst first: the images whose true label got the lowest probability.")
    X_val = job.run.data.X_val
    per_row = 8
    for start in range(0, len(mistakes), per_row):
        cols = st.columns(per_row)
        for col, m in zip(cols, mistakes[start : start + per_row]):
            col.image(to_image(X_val[m.index]), width="stretch")
            col.caption(f"true: **{classes[m.true]}**  \npred: {classes[m.predicted]} ({m.confidence:.0%})")


def confusion_matrix(job, ev: Evaluation, classes) -> None:
    """A heatmap of the counts (a click on a cell selects it) and the images of the chosen cell."""
    q = len(classes)
    counts = ev.confusion.numpy()
    true_idx, pred_idx = np.divmod(np.arange(q * q), q)
    values = counts.flatten()
    shade = np.log1p(values * (true_idx != pred_idx))  # the mistakes' counts, on a log scale; the diagonal stays white
    shade = shade / max(shade.max(), 1e-9)
    fig = go.Figure(go.Heatmap(x=classes, y=classes, z=shade.reshape(q, q), colorscale="Reds", zmin=0, zmax=1))
    fig.update_traces(showscale=False, hoverinfo="skip", xgap=1, ygap=1)
    # plotly heatmaps cannot be selected, so a transparent square over each cell takes the click and writes its
    # count: white on the dark cells, black on the light ones (a trace each, so that a selection fades neither)
    for dark, colour in ((True, "white"), (False, "black")):
        cells = (shade > 0.55) == dark
        fig.add_scatter(
            x=[classes[i] for i in pred_idx[cells]],
            y=[classes[i] for i in true_idx[cells]],
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
    true, pred = classes.index(point["y"]), classes.index(point["x"])
    if true == pred:
        st.write(f"{counts[true, pred]} images of **{classes[true]}** classified correctly.")
        return
    cell = ev.mistakes_in_cell(true, pred)
    st.write(f"{len(cell)} images of **{classes[true]}** taken for **{classes[pred]}**:")
    gallery(job, cell[:16], classes)


def save_button(job) -> None:
    """Download the trained model with its settings (loadable on the photo page, weights only); an interrupted
    run's are the weights of its last evaluation."""
    interrupted = job.outcome is not None and job.outcome.status == "interrupted"
    st.download_button(
        "Download its last evaluation's weights (.pt)" if interrupted else "Download the trained model (.pt)",
        checkpoint.to_bytes(job.run),
        f"{job.config.model}-{job.config.dataset}-run{job.id}.pt",
        "application/octet-stream",
        key=f"save-{job.id}",
        on_click="ignore",
    )
