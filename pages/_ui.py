"""Widgets and drawings shared by the training pages: settings, Train/Stop, live curves, results.

A training page is a title, its model's knobs and a call to `training_page`; everything else - the
sidebar settings bound to the URL, the background job, the curves that grow while it trains, the
gallery of mistakes, the clickable confusion matrix - is laid out here once. All computing is
done by `core`: this module only reads what a job has produced and draws it.
"""

from __future__ import annotations

import copy
import math
import weakref
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import checkpoint, datasets, export
from core.device import available_devices, describe, resolve_device
from core.evaluate import Evaluation, evaluate
from core.jobs import Job, Scheduler
from core.train import MIN_LR, PLAIN, ConfigError, RunConfig
from pages._links import bound
from pages._recipe import recipe_settings
from pages._session_watch import SessionWatch, runtime_is_active

# MIN_LR (1e-4) .. 10 on a log scale; 3 is there for d2l's lr 0.03
LR_OPTIONS = [round(m * 10.0**e, 6) for e in range(-4, 1) for m in (1, 2, 3, 5)] + [10.0]
assert LR_OPTIONS[0] == MIN_LR, "the loop never advises an lr below the slider's"
BATCH_OPTIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
POLL_SECONDS = 0.5
QUEUED_POLL_SECONDS = 2.0
FIRST_POINT_WAIT = 0.5  # seconds a click on Train may wait for the first step


def _use_our_navigation() -> None:
    """A fresh server whose first visitor opens a page's link runs that page without streamlit_app.py
    (Streamlit's old pages/ folder mode, until st.navigation is first called): switch modes and rerun."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_our_navigation()


# --- Shared across sessions: one scheduler, datasets loaded once per process ----------------


@st.cache_resource(show_spinner="Starting the trainers (once per server, a few seconds)...")
def scheduler() -> Scheduler:
    """The server's trainers, started at once: the first Train need not wait for PyTorch to import."""
    return Scheduler().warm_up(("fashion_mnist",) if datasets.status("fashion_mnist").available else ())


@st.cache_resource(show_spinner="Loading the dataset (once per server)...")
def load_dataset(key: str) -> datasets.Data:
    return datasets.load(key)


@st.cache_data(ttl=60)
def dataset_choices() -> dict[str, str]:
    """Image datasets ready here: key -> title."""
    return {s.key: s.title for s in datasets.all_status() if s.available and s.key not in datasets.TABLE_SETS}


def session_runs() -> list[Job]:
    """This browser session's runs, oldest first; other sessions never see them."""
    return st.session_state.setdefault("runs", [])


def lr_sweeps() -> dict[RunConfig, Job]:
    """This session's learning-rate sweep, by the settings it swept (the latest one only)."""
    return st.session_state.setdefault("lr-sweeps", {})


def page_jobs(models: tuple[str, ...]) -> list[Job]:
    return [job for job in session_runs() if job.config.model in models]


# --- Settings, bound to the URL so that a teacher can share a link -----------------------


def common_settings(
    default_epochs: int = 10, default_lr: float = 0.1, image: bool = True, default_batch: int = 256, recipe=PLAIN
) -> dict:
    """Sidebar: dataset, implementation, lr, batch size, epochs, seed, device, and the training recipe (its
    optimizer, momentum, weight decay, lr schedule, label smoothing and normalisation start at `recipe`)."""
    sb = st.sidebar
    settings = {}
    if image:
        choices = dataset_choices()
        if not choices:
            st.error("No image dataset is available. Run `bash .ci/setup` to import Fashion-MNIST.")
            st.stop()
        settings["dataset"] = dataset_box(choices)
    # options are the values themselves (no format_func): a bound widget writes its label into the URL
    settings["implementation"] = bound(
        sb.radio,
        "Implementation",
        ["concise", "scratch"],
        captions=["torch.nn layers and losses", "our own tensors, softmax, loss and SGD"],
        key="impl",
        horizontal=True,
    )
    # a number's label is what the URL holds: "lr=1" and "lr=0.001", not "1.0" and "0.001"
    settings["lr"] = bound(
        sb.select_slider,
        "Learning rate (log scale)",
        LR_OPTIONS,
        value=default_lr,
        format_func="{:g}".format,
        key="lr",
    )
    settings["batch_size"] = bound(sb.select_slider, "Batch size", BATCH_OPTIONS, value=default_batch, key="batch")
    settings["epochs"] = bound(sb.slider, "Epochs", 1, 50, default_epochs, key="epochs")
    settings["seed"] = bound(sb.number_input, "Seed", 0, 2**31 - 1, 0, key="seed")
    settings["device"] = bound(sb.selectbox, "Device", available_devices(), key="device")
    settings |= recipe_settings(recipe, image)
    return settings


def dataset_box(choices: dict[str, str]) -> str:
    """The sidebar's dataset box, bound to the URL; its key. The URL holds the dataset's name as the box shows
    it ("Fashion-MNIST"). A link naming another dataset says why it is not used, instead of quietly training
    on the default."""
    raw = st.query_params.get("dataset")
    default = next(iter(choices.values()))
    if raw in choices:  # a key written by hand: the bound box reads names only
        st.warning(f"Links name datasets as this box shows them: `dataset={choices[raw]}`. {default} is used.")
    elif raw is not None and raw not in choices.values():
        st.warning(f"The link's dataset `{raw}` is not available here (Home says how to get it); {default} is used.")
    return bound(st.sidebar.selectbox, "Dataset", list(choices), format_func=choices.get, key="dataset")


def make_config(**settings) -> RunConfig | None:
    try:
        return RunConfig(**settings)
    except ConfigError as err:
        st.error(f"These settings cannot train: {err}")
        return None


# --- Train / Stop and the live view ----------------------------------------------------------


def train_controls(
    config: RunConfig | None, models: tuple[str, ...], label: str, data: datasets.Data | None = None
) -> Job | None:
    """Train and Stop buttons; returns this page's latest job (running or finished).

    `data`: the tensors to train on when they are not loadable by name (the user's own table). Runs on
    the user's table belong to the page that passes it, not to the other pages of the same model."""
    user_table = data is not None
    jobs = [job for job in page_jobs(models) if (job.config.dataset == datasets.USER_TABLE) == user_table]
    job = jobs[-1] if jobs else None
    active = job is not None and job.state != "done"
    if st.session_state.get("train") and config is not None and not active:
        # the click is read before the buttons are drawn, so this very run draws the new job (no second
        # run); the settings are this run's, so a value typed just before the click is not lost
        # the first step takes a few ms: wait for it, so this run already draws the first point
        job = submit(config, data, f"{label} #{len(jobs) + 1}", wait=FIRST_POINT_WAIT)
        session_runs().append(job)
        active = True
    left, right, _ = st.columns([1, 1, 4])
    left.button("Train", type="primary", disabled=config is None or active, key="train")
    right.button("Stop", disabled=not active, key="stop", on_click=_stop_now, args=(job,))
    return job


def submit(config: RunConfig, data: datasets.Data | None, label: str, wait: float, **task) -> Job:
    """Queue a job (`task`: core.jobs' task and options) on the server's trainers, stopped with this session.

    When a trainer is free, wait up to `wait` seconds for its first progress (a sweep's: its end), so that the
    run after the click already shows it; a queued job cannot show anything soon, so it does not wait."""
    starts_now = scheduler().has_free_slot()
    job = scheduler().submit(config, data=data, label=label, **task)
    _stop_with_session()
    if starts_now:
        job.progressed.wait(timeout=wait)
    return job


def _stop_now(job: Job) -> None:
    """Stop a run and give it a moment to finish its step, so the run after the click already shows it stopped."""
    job.stop()
    job.wait(timeout=1.0)


class _SessionRuns:
    """Held in session_state only: when Streamlit forgets a closed session, its unfinished runs and sweeps
    stop, so a tab closed mid-run does not keep a trainer from the queue."""


def _stop_with_session() -> None:
    if "_runs_owner" not in st.session_state:
        owner = st.session_state["_runs_owner"] = _SessionRuns()
        runs, sweeps = session_runs(), lr_sweeps()
        weakref.finalize(owner, _stop_all, runs, sweeps)
        ctx = get_script_run_ctx()
        if ctx is not None:  # and sooner: when the page is gone (closed, reloaded) for a few seconds
            session_watch().watch(ctx.session_id, lambda: [*runs, *sweeps.values()])


@st.cache_resource(show_spinner=False)
def session_watch() -> SessionWatch:
    return SessionWatch(runtime_is_active)


def _stop_all(runs: list[Job], sweeps: dict[RunConfig, Job]) -> None:
    for job in [*runs, *sweeps.values()]:
        job.stop()


def live_view(job: Job, draw_extra: Callable[[Job], None] | None = None) -> None:
    """Progress, curves (and a page's extra drawing), redrawn every half second while the job trains.

    A queued job only polls every few seconds: a class of 30 waiting in the queue must not take the CPU
    from the run that trains."""
    queued = job.state == "queued"

    def body():
        status_line(job)
        draw_curves(job)
        if draw_extra:
            draw_extra(job)
        if queued and job.state != "queued":
            st.rerun()  # its turn came: redraw the whole page, whose fragment then polls at the training pace
        if job.state == "done" and st.session_state.get(f"drawn-final-{job.id}") is None:
            st.session_state[f"drawn-final-{job.id}"] = True
            st.rerun()  # once, with the whole page: the results below need the finished model

    if job.state == "done":
        body()
    else:
        st.fragment(run_every=QUEUED_POLL_SECONDS if queued else POLL_SECONDS)(body)()


def status_line(job: Job) -> None:
    state = job.state
    if state == "queued":
        info = scheduler().queue_info(job)
        if info is not None:
            wait = f"about {info.seconds_to_wait:.0f} s" if info.seconds_to_wait is not None else "a moment"
            st.info(
                f"Waiting for a free trainer: {info.running} training(s) running on this server, "
                f"you are number {info.position} in the queue ({wait})."
            )
        return
    if state == "starting":
        st.info("Loading the data and building the model...")
        return
    if job.error:
        st.error(job.error)
        return
    history = job.history
    started = job.started
    if history:
        p = history[-1]
        text = (
            f"Epoch {min(math.ceil(p.epoch), job.config.epochs)} of {job.config.epochs} - "
            f"{p.examples_per_s:,.0f} examples/s - {p.elapsed:.1f} s elapsed"
        )
        if state == "running":
            text += f" - about {p.seconds_left:.0f} s left"
        st.progress(min(p.step / p.total_steps, 1.0), text=text)
    if started:
        st.caption(f"Training on {started.device_name}, {started.num_params:,} parameters.")
    if job.outcome:
        show = {"completed": st.success, "cancelled": st.warning}.get(job.outcome.status, st.error)
        show(job.outcome.message)


def history_frame(job: Job) -> pd.DataFrame:
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
            for p in job.history
        ]
    )


def draw_curves(job: Job) -> None:
    frame = history_frame(job)
    if frame.empty:
        return
    classification = frame["val accuracy"].notna().any()
    scheduled = job.config.lr_schedule != "constant"  # its lr as a thin line under the loss
    val = frame.dropna(subset=["val loss"])
    accuracy_title = "Validation accuracy"
    subset = job.config.eval_examples
    if subset and job.run is not None and subset < len(job.run.data.X_val):
        # the chart says which images each point is on: the last one uses them all
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
    fig.update_xaxes(range=[0, job.config.epochs])
    fig.update_xaxes(title_text="epoch", row=2 if scheduled else 1)
    height = 400 if scheduled else 320
    fig.update_layout(height=height, margin=dict(t=30, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.2))
    st.plotly_chart(fig, key=f"curves-{job.id}")


# --- Results: mistakes, confusion matrix, per-class accuracy ------------------------------


def to_image(x: torch.Tensor) -> np.ndarray:
    """One example (C, H, W) in [0, 1] -> an (H, W) or (H, W, 3) uint8 picture."""
    pic = (x.detach().cpu().clamp(0, 1) * 255).to(torch.uint8)
    return pic[0].numpy() if pic.shape[0] == 1 else pic.permute(1, 2, 0).numpy()


def evaluation_of(job: Job) -> Evaluation | None:
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


def results(job: Job, extra_tabs: dict[str, Callable[[Job], None]] | None = None) -> None:
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


def gallery(job: Job, mistakes, classes) -> None:
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


def confusion_matrix(job: Job, ev: Evaluation, classes) -> None:
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


def device_caption() -> str:
    """Where training runs: the trainers' device and threads (not this server process's), and how many train at once."""
    trainers = scheduler()
    at_once = f"{trainers.max_running} training{'s' * (trainers.max_running > 1)} at once"
    return f"{describe(resolve_device('auto'), trainers.threads)}, {at_once}; more wait in a queue"


def training_page(
    label: str,
    models: tuple[str, ...],
    knobs: dict,
    extra_tabs: dict[str, Callable[[Job], None]] | None = None,
    default_epochs: int = 10,
    default_lr: float = 0.1,
    default_batch: int = 256,
    recipe: dict = PLAIN,
) -> None:
    """The common body of the image-classification pages: settings, Train/Stop, live view, results."""
    settings = common_settings(default_epochs, default_lr, default_batch=default_batch, recipe=recipe)
    model = knobs.pop("model", models[0])
    config = make_config(model=model, **settings, **knobs)
    export_buttons(config)
    job = train_controls(config, models, label)
    lr_finder_panel(config)
    if job is None:
        st.info("Choose the settings in the sidebar and press **Train**. The curves grow while it trains.")
        return
    live_view(job)
    if job.run is not None and job.history and job.config.model in models:
        if job.state != "done":
            # on request only: the mistakes and the matrices, redrawn with every click, slow the live page
            so_far = "Show the results so far (of the model as it was when the page last redrew)"
            if not st.toggle(so_far, key="so-far"):
                return
        else:
            save_button(job)
        results(job, extra_tabs)


def save_button(job: Job) -> None:
    """Download the trained model with its settings (loadable on the photo page, weights only)."""
    st.download_button(
        "Download the trained model (.pt)",
        checkpoint.to_bytes(job.run),
        f"{job.config.model}-{job.config.dataset}-run{job.id}.pt",
        "application/octet-stream",
        key=f"save-{job.id}",
        on_click="ignore",
    )


# --- Tools: a learning rate to start from, and the run as code to take home ----------------------


def nearest_lr(lr: float) -> float:
    """The learning-rate slider's option closest to lr on its log scale."""
    return min(LR_OPTIONS, key=lambda option: abs(math.log(option / lr)))


def _use_lr(lr: float) -> None:
    # a callback runs before the script, so the slider (key "lr", bound to the URL) is not drawn yet
    st.session_state["lr"] = lr


SWEEP_WAIT = 5.0  # seconds a click on the finder waits for the sweep, which most models finish in that time


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
        sweeps = lr_sweeps()
        key = replace(config, lr=0.1, epochs=1, evals_per_epoch=1)  # what the sweep does not depend on
        if st.button("Find a learning rate", key="lr-finder"):
            for job in sweeps.values():
                job.stop()
            sweeps.clear()  # one sweep per session is enough to keep
            options = {"num_steps": 100 if slow else 200}
            with st.spinner("Sweeping the learning rate..."):
                sweeps[key] = submit(config, data, "Learning-rate sweep", SWEEP_WAIT, task="find_lr", options=options)
        job = sweeps.get(key)
        if job is not None and job.state != "done":
            st.fragment(run_every=POLL_SECONDS)(_sweep_status)(job)
        elif job is not None:
            _draw_sweep(job, config)


def _sweep_status(job: Job) -> None:
    """While a sweep waits or runs: where it stands, and Stop; once it ends, the whole page draws it."""
    if job.state == "done":
        st.rerun()
    info = scheduler().queue_info(job)
    if info is not None:
        st.info(f"The sweep waits for a free trainer: number {info.position} in the queue.")
    else:
        st.info("Sweeping the learning rate...")
    st.button("Stop the sweep", key="lr-finder-stop", on_click=job.stop)


def _draw_sweep(job: Job, config: RunConfig) -> None:
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
    st.button(f"Use lr = {lr:g}", key="use-lr", on_click=_use_lr, args=(lr,), disabled=config.lr == lr)


def export_buttons(config: RunConfig | None) -> None:
    """Download the run's settings as a plain PyTorch script or notebook (in the sidebar)."""
    if config is None:
        return
    sb = st.sidebar
    sb.subheader("Take the code home")
    try:
        script, notebook = export.to_script(config), export.to_notebook(config)
    except ValueError as err:
        sb.caption(f"This run cannot be exported: {err}")
        return
    sb.caption("This run's settings as a short PyTorch program: the same model, seed and order of examples.")
    name = export.file_name(config)
    sb.download_button(
        "Download as Python script", script, f"{name}.py", "text/x-python", key="export-py", on_click="ignore"
    )
    sb.download_button(
        "Download as notebook",
        notebook,
        f"{name}.ipynb",
        "application/x-ipynb+json",
        key="export-ipynb",
        on_click="ignore",
    )
