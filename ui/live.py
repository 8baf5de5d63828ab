"""Train / Stop and the live view: a run's progress line and its curves, redrawn while it trains.

A run belongs to the browser (`ui.server.owner`), not to the tab: the page draws the latest of the
owner's runs of its models, whether this tab started it or a tab before a reload did, so a reloaded
page reattaches to a run still training and its Stop still works. Nothing here computes: a run's
numbers come from `core`, live or from the run store.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st
from plotly.subplots import make_subplots

from core import datasets, settings
from core.runs.book import next_label
from core.train import RunConfig
from ui.classroom import challenge_note
from ui.server import book, my_runs, owner, scheduler

MAX_WAITING = 8
POLL_SECONDS = 0.5
QUEUED_POLL_SECONDS = 2.0
FIRST_POINT_WAIT = 0.5  # seconds a click on Train may wait for the first step
SHOW = {"completed": st.success, "cancelled": st.warning, "interrupted": st.warning}  # else st.error


def train_controls(config: RunConfig | None, models: tuple[str, ...], label: str, data: datasets.Data | None = None):
    """Train and Stop buttons; returns this page's latest run (training or finished), or None.

    `data`: the tensors to train on when they are not loadable by name (the user's own table). Runs on
    the user's table belong to the page that passes it, not to the other pages of the same model."""
    if config is not None and data is None:  # a class's challenge on this model: whether these settings keep to it
        challenge_note(config, models)
    runs = page_runs(models, user_table=data is not None)
    run = runs[-1] if runs else None
    active = run is not None and run.state != "done"
    if st.session_state.get("train") and config is not None and not active and room_to_queue():
        # the click is read before the buttons are drawn, so this very run draws the new job (no second
        # run); the settings are this run's, so a value typed just before the click is not lost
        # the first step takes a few ms: wait for it, so this run already draws the first point
        run = submit(config, data, next_label(label, runs), wait=FIRST_POINT_WAIT)
        active = True
    left, right, _ = st.columns([1, 1, 4])
    left.button("Train", type="primary", disabled=config is None or active, key="train")
    right.button("Stop", disabled=not active, key="stop", on_click=_stop_now, args=(run,))
    return run


def page_runs(models: tuple[str, ...], user_table: bool = False, runs: list | None = None) -> list:
    """A training page's runs: this browser's runs of its models that the page made, not Teach's heads (on photo
    features or its photos) nor the ladder's rungs (a group of their own), nor the other table page's. Of `runs`
    (`my_runs()`, when the caller has read them already), else read now."""
    photos = (datasets.PHOTO_FEATURES, datasets.PHOTOS)
    return [
        run
        for run in (my_runs() if runs is None else runs)
        if run.config.model in models
        and not run.group
        and run.config.dataset not in photos
        and (run.config.dataset == datasets.USER_TABLE) == user_table
    ]


def training_now(models: tuple[str, ...], runs: list | None = None) -> bool:
    """Whether this browser's latest run of these models trains or waits, or its Train was just pressed."""
    latest = page_runs(models, runs=runs)[-1:]
    return bool(st.session_state.get("train")) or bool(latest and latest[0].state != "done")


def explanation(models: tuple[str, ...]):
    """Where a page writes what it teaches: in full before a run, folded while a run of these models trains or
    waits, so that on a projector (1280x720) the run's curve is in view without scrolling."""
    if training_now(models):
        return st.expander("About this page (folded while the run trains, so its curve stays in view)")
    return st.container()


def max_waiting() -> int:
    """How many runs one browser may have waiting for a trainer (DASHBOARD_MAX_WAITING; a ladder queues 7)."""
    return settings.value("DASHBOARD_MAX_WAITING", MAX_WAITING)


def room_to_queue(n: int = 1) -> bool:
    """Whether this browser may queue `n` more runs. Turns between browsers keep a class from starving; this cap
    keeps one browser's clicks from filling the server's queue. When not, it says why where the click was."""
    waiting = sum(run.state == "queued" for run in book().runs(owner(), None))
    if waiting + n <= max_waiting():
        return True
    st.warning(
        f"You have {waiting} run(s) waiting for a trainer, and a browser may have {max_waiting()} waiting: stop "
        "one on its page, or wait for one to start, before queueing more."
    )
    return False


def submit(config: RunConfig, data: datasets.Data | None, label: str, wait: float, **task):
    """Queue a run of this browser (`task`: RunBook.submit's task, options and group) on the server's trainers.

    When a trainer is free, wait up to `wait` seconds for its first progress (a sweep's: its end), so that the
    run after the click already shows it; a queued job cannot show anything soon, so it does not wait."""
    starts_now = scheduler().has_free_slot(config)
    job = book().submit(owner(), config, data, label, **task)
    if starts_now:
        job.progressed.wait(timeout=wait)
    return job


def _stop_now(run) -> None:
    """Stop a run and give it a moment to finish its step, so the run after the click already shows it stopped."""
    run.stop()
    run.wait(timeout=1.0)


def live_view(run, draw_extra: Callable | None = None) -> None:
    """Progress, curves (and a page's extra drawing), redrawn every half second while the run trains.

    A queued run only polls every few seconds: a class of 30 waiting in the queue must not take the CPU
    from the run that trains."""
    queued = run.state == "queued"

    def body():
        nonlocal run
        run = book().refresh(run)  # a run training on another server is read anew at each redraw
        status_line(run)
        draw_curves(run)
        if draw_extra:
            draw_extra(run)
        if queued and run.state != "queued":
            st.rerun()  # its turn came: redraw the whole page, whose fragment then polls at the training pace
        if run.state == "done" and st.session_state.get(f"drawn-final-{run.id}") is None:
            st.session_state[f"drawn-final-{run.id}"] = True
            st.rerun()  # once, with the whole page: the results below need the finished model

    if run.state == "done":
        body()
    else:
        st.fragment(run_every=QUEUED_POLL_SECONDS if queued else POLL_SECONDS)(body)()


def queue_place(info) -> str:
    """ "you are next (about 12 s)": a place and a wait that read true ("number 1 ... about 0 s" did not)."""
    place = "you are next" if info.position == 1 else f"you are number {info.position} in the queue"
    seconds = info.seconds_to_wait
    wait = "any moment now" if seconds is None or seconds < 1.5 else f"about {seconds:.0f} s"
    return f"{place} ({wait})"


def status_line(run) -> None:
    state = run.state
    if state == "queued":
        info = scheduler().queue_info(run)
        if info is not None:
            running = f"{info.running} training(s) running on this server"
            turns = "Turns go between browsers, so no one browser's runs hold back the class's."
            st.info(f"Waiting for a free trainer: {running}; {queue_place(info)}. {turns}")
        return
    if state == "starting":
        st.info("Loading the data and building the model...")
        return
    if run.error:
        st.error(run.error)
        return
    history = run.history
    if history:
        p = history[-1]
        text = (
            f"Epoch {min(math.ceil(p.epoch), run.config.epochs)} of {run.config.epochs} - "
            f"{p.examples_per_s:,.0f} examples/s - {p.elapsed:.1f} s elapsed"
        )
        if state == "running":
            text += f" - about {p.seconds_left:.0f} s left"
        st.progress(min(p.step / p.total_steps, 1.0), text=text)
    if run.started:
        st.caption(f"Training on {where_trained(run)}, {run.started.num_params:,} parameters.")
    if run.outcome:
        SHOW.get(run.outcome.status, st.error)(run.outcome.message)


def where_trained(run) -> str:
    """The device line: a live CPU run's threads as they are now (a lone run takes every core, and gives them back
    when another run waits), else the device it started on."""
    threads = getattr(run, "threads", 0) if run.state == "running" and run.started.device == "cpu" else 0
    if not threads:
        return run.started.device_name
    why = ": training alone" if run.alone else ", sharing the cores with the other runs"
    in_bf16 = " in bfloat16" if run.started.device_name.endswith(" in bfloat16") else ""
    return f"CPU ({threads} thread{'s' * (threads != 1)}{why}){in_bf16}"


def history_frame(run) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "epoch": p.epoch,
                "train loss": p.train_loss,
                "val loss": p.val_loss,
                "val accuracy": p.val_acc,
                "lr": p.lr,
                "val images": p.val_examples,
            }
            for p in run.history
        ]
    )


def draw_curves(run) -> None:
    frame = history_frame(run)
    if frame.empty:
        return
    classification = frame["val accuracy"].notna().any()
    scheduled = run.config.lr_schedule != "constant"  # its lr as a thin line under the loss
    val = frame.dropna(subset=["val loss"])
    accuracy_title = "Validation accuracy"
    subset, used = run.config.eval_examples, frame["val images"].dropna()
    # the chart says which images each point is on (a validation set of at most `subset` is used whole)
    if subset and not used.empty and used.min() == subset and (run.state != "done" or used.max() > subset):
        accuracy_title += f" (first {subset:,} images; at the end: all)"
    fig = make_subplots(
        2 if scheduled else 1,
        2 if classification else 1,
        subplot_titles=("Loss", accuracy_title)[: 1 + classification],
        row_heights=[0.78, 0.22] if scheduled else None,
        shared_xaxes=True,
        vertical_spacing=0.08,
    )
    fig.add_scatter(x=frame["epoch"], y=frame["train loss"], name="train loss", mode="lines", row=1, col=1)
    fig.add_scatter(x=val["epoch"], y=val["val loss"], name="val loss", mode="lines+markers", row=1, col=1)
    if classification:
        fig.add_scatter(
            x=val["epoch"],
            y=val["val accuracy"],
            name="val accuracy",
            mode="lines+markers",
            customdata=val["val images"],
            hovertemplate="epoch %{x:.2f}: %{y:.1%} of %{customdata:,} images<extra></extra>",
            row=1,
            col=2,
        )
        fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=2)
        fig.update_xaxes(title_text="epoch", showticklabels=True, row=1, col=2)
    if scheduled:
        line = dict(width=1, color="grey")
        fig.add_scatter(x=frame["epoch"], y=frame["lr"], name="lr", mode="lines", line=line, row=2, col=1)
        fig.update_yaxes(title_text="lr", row=2, col=1, rangemode="tozero")
    fig.update_xaxes(range=[0, run.config.epochs])
    fig.update_xaxes(title_text="epoch", row=2 if scheduled else 1)
    height = 400 if scheduled else 320
    fig.update_layout(height=height, margin=dict(t=30, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.2))
    st.plotly_chart(fig, key=f"curves-{run.id}")
