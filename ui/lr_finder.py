"""The learning-rate finder: sweep the lr on a fresh model of the page's settings, plot loss against lr, suggest one.

The sweep is a job on the trainers like a training run, kept in the run store as this browser's
latest sweep, so a reload finds it (still sweeping, or drawn).
"""

from __future__ import annotations

from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st

from core import datasets
from core.train import RunConfig
from ui.links import set_widget
from ui.live import POLL_SECONDS, queue_place, room_to_queue, submit
from ui.server import book, my_runs, owner, scheduler
from ui.settings import nearest_lr


def _use_lr(lr: float) -> None:
    # a callback runs before the script, so the slider (key "lr", bound to the URL) is not drawn yet
    set_widget("lr", lr)


SWEEP_WAIT = 5.0  # seconds a click on the finder waits for the sweep, which most models finish in that time


def _swept(config: RunConfig) -> RunConfig:
    """What a sweep depends on: not the lr, epochs or evaluations of the settings it started from."""
    return replace(config, lr=0.1, epochs=1, evals_per_epoch=1)


def lr_finder_panel(config: RunConfig | None, data: datasets.Data | None = None) -> None:
    """Sweep the lr on a fresh model of `config` (a job on the trainers), plot loss against lr, offer the suggestion."""
    if config is None:
        return
    slow = config.model in ("resnet", "resnet18")
    with st.expander("Learning-rate finder: which lr suits this model?"):
        st.caption(
            "A fresh model takes one minibatch step per learning rate while the lr grows from 1e-5 to 10, until "
            "the loss explodes. The loss falls fastest a little below where it is lowest; the suggestion is a "
            "tenth of the lr at the lowest loss. Nothing is trained for good: your runs stay as they are."
            + (" A ResNet takes its 100 steps in half a minute or more on a CPU, in the background." if slow else "")
        )
        sweeps = my_runs("find_lr")
        if st.button("Find a learning rate", key="lr-finder") and room_to_queue():
            book().delete(owner(), [old.id for old in sweeps])  # one sweep per browser is enough to keep
            options = {"num_steps": 100 if slow else 200}
            with st.spinner("Sweeping the learning rate..."):
                sweeps = [submit(config, data, "Learning-rate sweep", SWEEP_WAIT, task="find_lr", options=options)]
        job = next((s for s in reversed(sweeps) if _swept(s.config) == _swept(config)), None)
        if job is not None and job.state != "done":
            st.fragment(run_every=POLL_SECONDS)(_sweep_status)(job)
        elif job is not None:
            _draw_sweep(job, config)


def _sweep_status(job) -> None:
    """While a sweep waits or runs: where it stands, and Stop; once it ends, the whole page draws it."""
    if job.state == "done":
        st.rerun()
    info = scheduler().queue_info(job)
    if info is not None:
        st.info(f"The sweep waits for a free trainer: {queue_place(info)}.")
    else:
        st.info("Sweeping the learning rate...")
    st.button("Stop the sweep", key="lr-finder-stop", on_click=job.stop)


def _draw_sweep(job, config: RunConfig) -> None:
    if job.error:
        st.error(job.error)
        return
    sweep = job.sweep
    if sweep is None:
        st.caption("The sweep was stopped.")
        return
    lr = nearest_lr(sweep.suggestion)
    fig = go.Figure(go.Scatter(x=sweep.lrs, y=sweep.losses, mode="lines", name="smoothed loss"))
    star = dict(size=14, symbol="star", color="gold", line=dict(width=1, color="black"))
    fig.add_scatter(x=[sweep.suggestion], y=[sweep.suggestion_loss], mode="markers", name="suggested lr", marker=star)
    wide = max(sweep.losses) > 100 * min(sweep.losses)  # regression losses span decades
    fig.update_xaxes(type="log", title_text="learning rate (log scale)")
    fig.update_yaxes(type="log" if wide else "linear", title_text="training loss (smoothed)")
    fig.update_layout(height=320, margin=dict(t=10, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.3))
    st.plotly_chart(fig, key="lr-sweep")
    end = "the loss exploded there" if sweep.stopped_early else "the loss never exploded on the way"
    st.write(
        f"Lowest loss at lr ≈ {sweep.best_lr:.2g} ({end}); a tenth of it, {sweep.suggestion:.2g}, "
        f"is **{lr:g}** on the slider."
    )
    # measured on Fashion-MNIST, 10 epochs: softmax 0.02 -> 81.2%, its bolder 0.1 -> 82.3% (d2l's lr); the MLP
    # 0.1 -> 83.7%, 0.3 -> 84.9%. Not offered for the ResNet, whose one-cycle schedule already peaks at its lr
    bolder = nearest_lr(sweep.best_lr / 2) if config.model in ("softmax", "mlp") else lr
    if bolder != lr:
        st.caption(
            "A tenth is the rule of thumb (Smith 2017; fastai): safe for any model, since past its lowest point the "
            "loss soon blows up, but slower than needed here in a few epochs. Softmax regression and the MLP train "
            f"faster nearer the lowest point - d2l trains softmax regression at lr 0.1. Try **{bolder:g}** too, and "
            "compare the two runs on *Compare runs*."
        )
    left, right, _ = st.columns([1, 1, 2])
    left.button(f"Use lr = {lr:g}", key="use-lr", on_click=_use_lr, args=(lr,), disabled=config.lr == lr)
    if bolder != lr:
        args = (bolder,)
        right.button(
            f"Use lr = {bolder:g} (bolder)",
            key="use-lr-bolder",
            on_click=_use_lr,
            args=args,
            disabled=config.lr == bolder,
        )
