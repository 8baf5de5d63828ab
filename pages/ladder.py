"""Baseline ladder (seed 004, "MNIST from scratch"): from a mean image per class up to a ResNet, on one split."""

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.lessons import baselines
from ui.links import bound
from ui.live import POLL_SECONDS, room_to_queue, submit
from ui.results import to_image
from ui.server import dataset_choices, load_dataset, my_runs, store_notice
from ui.settings import dataset_box

st.title("Baseline ladder")
st.markdown(
    'The ladder of the blog post *MNIST from scratch* ("the post" below). Before training anything, ask how '
    "far no learning at all gets: average the training images of each class and label a new image by the "
    "nearest average. Then climb: the post's linear model at lr = 1 with three losses, its small net, d2l's "
    "MLP and a small ResNet trained with a modern recipe - every rung scored on the same validation split."
)

sb = st.sidebar
choices = dataset_choices()
options = [key for key in ("mnist", "fashion_mnist") if key in choices]  # MNIST, the post's, when it is here
if not options:
    st.error("Neither MNIST nor Fashion-MNIST is here. Run `bash .ci/setup` to import Fashion-MNIST.")
    st.stop()
dataset = dataset_box({key: choices[key] for key in options})
epochs = bound(sb.slider, "Epochs per rung", 1, 40, 5, key="epochs", help="The post trains 40.")
subset = bound(
    sb.select_slider,
    "Training images per rung",
    [2000, 10000, 60000],  # 60000: every training image
    value=60000,
    key="subset",
    help="The ResNet trains on as many, but on a CPU for one epoch only.",
)
seed = bound(sb.number_input, "Seed", 0, 2**31 - 1, 0, key="seed")


@st.cache_resource(show_spinner="Averaging the training images of each class...")
def pixel_baseline(key: str) -> baselines.PixelSimilarity:
    return baselines.pixel_similarity(load_dataset(key))


data, pixel = load_dataset(dataset), pixel_baseline(dataset)
st.subheader("Rung 0: pixel similarity, no learning")
left, right = st.columns(2)
left.metric("Nearest mean by MAE (mean |difference|)", f"{pixel.accuracy_mae:.1%}")
right.metric("Nearest mean by MSE (mean difference²)", f"{pixel.accuracy_mse:.1%}")
st.caption("The post, on MNIST: 66.1% and 81.7%. Squaring punishes a few large differences more than many small ones.")
means = st.container(horizontal=True, gap="small")  # wraps (columns would stack 10 full-width means on a phone)
for c, name in enumerate(data.classes):
    col = means.container(width=72, gap=None)
    col.image(to_image(pixel.means[c]), width="stretch", alt=f"the mean image of {name}")
    col.caption(f"**{name}**  \nMAE {pixel.per_class_mae[c]:.0%}  \nMSE {pixel.per_class_mse[c]:.0%}")

st.subheader("The ladder")
store_notice()
RUNGS = {rung.key: rung for rung in baselines.RUNGS}
mine = my_runs()
# a ladder's rungs share a group "ladder:<dataset>:<when>:<rung>"; the page shows this dataset's latest ladder
ladder_runs = [run for run in mine if run.group.startswith(f"ladder:{dataset}:")]
latest = ladder_runs[-1].group.split(":")[2] if ladder_runs else None
rung_jobs = [
    (RUNGS[key], run)
    for run in ladder_runs
    if (parts := run.group.split(":"))[2] == latest and (key := parts[3]) in RUNGS
]
active = [job for _, job in rung_jobs if job.state != "done"]
left, right, _ = st.columns([1, 1, 3])
if left.button("Train the ladder", type="primary", disabled=bool(active), key="train"):
    train_examples = 0 if subset >= len(data.X_train) else subset
    when = time.time_ns()
    rungs = baselines.ladder(dataset, epochs, train_examples, int(seed))
    if room_to_queue(len(rungs)):  # the whole ladder or none of it (else the refusal shows here)
        for rung, config in rungs:
            submit(config, None, f"Ladder: {rung.title}", wait=0, group=f"ladder:{dataset}:{when}:{rung.key}")
        st.rerun()
if right.button("Stop", disabled=not active, key="stop"):
    for job in active:
        job.stop()
st.caption(
    "The post's linear models and its small net start from its N(0, 1) weights: logits ten times too large "
    "saturate sigmoid and softmax, whose gradients vanish, so the two MSE losses barely learn while "
    "cross-entropy's gradient (p - y) does not. d2l's MLP and the ResNet start from PyTorch's small init."
)
ladder_ids = {run.id for run in mine if run.group.startswith("ladder:")}
others = {job.label: job for job in baselines.placeable(mine, dataset, ladder_ids)}
# not bound to the URL: these are this browser's runs, which a shared link cannot carry
placed = st.multiselect("Place runs from other pages on the ladder", list(others), key="placed")


COLUMNS = ["rung", "val accuracy", "reported", "epochs", "training images", "seconds", "state"]


def ladder_rows() -> pd.DataFrame:
    # no training, so 0 epochs: one pass over the training images averages them
    pixel_row = {"epochs": 0, "training images": len(data.X_train), "state": "computed"}
    rows = [
        {"rung": f"Pixel similarity, {kind}", "val accuracy": acc, "reported": post, "seconds": round(s, 2)} | pixel_row
        for kind, acc, post, s in (
            ("MAE", pixel.accuracy_mae, "66.1% (MNIST)", pixel.seconds_mae),
            ("MSE", pixel.accuracy_mse, "81.7% (MNIST)", pixel.seconds_mse),
        )
    ]
    n = len(data.X_train)
    rows += [{"rung": r.title, **baselines.summary(j, n), "reported": r.reported} for r, j in rung_jobs]
    rows += [{"rung": label, **baselines.summary(others[label], n), "reported": "your run"} for label in placed]
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def draw_ladder() -> None:
    frame = ladder_rows()
    if rung_jobs:
        done = sum(job.state == "done" for _, job in rung_jobs)
        share = sum(baselines.summary(job)["progress"] for _, job in rung_jobs) / len(rung_jobs)
        waiting = "; the others queue for a free trainer" if done < len(rung_jobs) else ""
        st.progress(share, text=f"{done} of {len(rung_jobs)} rungs trained{waiting}")
    else:
        st.info(
            "Press **Train the ladder**: each rung trains in the background, one after another. On a CPU the "
            "ResNet trains for one epoch, with the ResNet page's recipe: about a minute over 60,000 images."
        )
    acc = frame["val accuracy"].fillna(0)
    colours = ["#9e9e9e"] * 2 + ["#1f77b4"] * len(rung_jobs) + ["#ff7f0e"] * len(placed)  # baseline, rungs, yours
    bars = go.Bar(x=acc, y=frame["rung"], orientation="h", text=[f"{a:.1%}" for a in acc], marker_color=colours)
    fig = go.Figure(bars)
    fig.add_vline(x=pixel.accuracy_mse, line_dash="dot", annotation_text="baseline (MSE)")
    fig.update_layout(height=60 + 32 * len(frame), xaxis_tickformat=".0%", yaxis_autorange="reversed")
    fig.update_layout(xaxis_range=[0, 1], margin=dict(t=10, b=10, l=10, r=10))
    st.plotly_chart(fig, key="ladder-chart")
    st.dataframe(
        frame,
        hide_index=True,
        column_config={"val accuracy": st.column_config.NumberColumn(format="percent")},
    )
    curves = [(rung, job) for rung, job in rung_jobs if rung.key in baselines.LOSS_RUNGS]
    if curves:
        st.markdown("**The post's three losses**, linear model at lr = 1: validation accuracy per epoch")
        fig = go.Figure()
        for rung, job in curves:
            x, y = baselines.accuracy_curve(job.history)
            fig.add_scatter(x=x, y=y, name=rung.title, mode="lines+markers")
        fig.add_hline(y=pixel.accuracy_mse, line_dash="dot", annotation_text="pixel baseline (MSE)")
        fig.update_layout(height=360, xaxis_title="epoch", yaxis_tickformat=".0%", margin=dict(t=10, b=10))
        fig.update_layout(legend=dict(orientation="h", y=-0.3))  # below the plot, clear of its toolbar
        st.plotly_chart(fig, key="loss-ladder")
        st.caption(
            "At lr = 1 from N(0, 1) weights each step is large, so the cross-entropy curve swings by several points "
            "from one epoch to the next (after 5 epochs, 80.4% on one thread and 80.9% on two: the order of the "
            "sums changes the path). Read the order of the curves, not the last digit of one."
        )
    resnet = next((job for rung, job in rung_jobs if rung.key == "resnet"), None)
    if resnet is not None and resnet.config.epochs < epochs:
        st.caption(
            f"The ResNet trains for {resnet.config.epochs} epoch on a CPU, with the ResNet page's recipe "
            "(normalised inputs, Nesterov momentum, one-cycle lr, label smoothing)."
        )
    for rung, job in rung_jobs:
        if job.error or (job.outcome and job.outcome.status in ("diverged", "guessing")):
            st.warning(f"{rung.title}: {job.error or job.outcome.message}")
    finished = all(job.state == "done" for _, job in rung_jobs)
    if rung_jobs and finished and not st.session_state.get(f"ladder-drawn-{rung_jobs[0][1].id}"):
        st.session_state[f"ladder-drawn-{rung_jobs[0][1].id}"] = True
        st.rerun()  # once, with the whole page: the buttons above still show the ladder as training


if active:
    st.fragment(run_every=POLL_SECONDS)(draw_ladder)()
else:
    draw_ladder()
