"""Linear regression (d2l 3.1-3.5, seed 000): fit a plane by minibatch SGD and watch w walk down the loss."""

import math
from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st
import torch

from core import datasets
from core.models.linear import grid_around, least_squares, loss_surface, plane, predict
from ui.exercises import exercises
from ui.links import bound, set_widget
from ui.live import explanation, live_view, train_controls, training_now
from ui.lr_finder import lr_finder_panel
from ui.server import store_notice
from ui.settings import common_settings, export_buttons, make_config

# d2l 3.4 uses lr 0.03 on a halved squared loss; ours is not halved, so lr 0.02 takes about the same steps.
DEFAULTS = {"synthetic": {"lr": 0.02, "batch": 32, "epochs": 3}, "exam": {"lr": 0.01, "batch": 32, "epochs": 50}}
URL = "query-params"  # every setting lives in the link


def use_defaults(key: str, keep_link: bool = False) -> None:
    """common_settings' defaults suit Fashion-MNIST; put this dataset's in their place (except a link's own)."""
    for name, value in DEFAULTS[key].items():
        if not (keep_link and name in st.query_params):
            set_widget(name, value)


def reference_of(job) -> tuple[tuple[float, ...], str]:
    """What a run should reach: the true (w1, w2, b), or for the exam data the least-squares fit."""
    if job.config.dataset == "synthetic":
        return (*job.config.true_w, job.config.true_b), "true"
    return least_squares(job.run.data.X_train, job.run.data.y_train), "best fit"


def plane_figure(data: datasets.Data, params: tuple[float, ...]) -> go.Figure:
    X, y = data.X_train[:1000].cpu(), data.y_train[:1000, 0].cpu()  # 1000 points are enough to see, and light
    x1, x2 = (torch.linspace(float(X[:, j].min()), float(X[:, j].max()), 10) for j in (0, 1))
    X1, X2 = torch.meshgrid(x1, x2, indexing="xy")  # rows follow x2, as go.Surface wants
    y_hat = plane(params, torch.stack([X1.reshape(-1), X2.reshape(-1)], dim=1)).reshape(X1.shape)
    X, y, x1, x2, y_hat = (t.numpy() for t in (X, y, x1, x2, y_hat))  # plotly reads numpy, not tensors
    fig = go.Figure(go.Scatter3d(x=X[:, 0], y=X[:, 1], z=y, mode="markers", marker_size=2, name="data"))
    fig.add_surface(x=x1, y=x2, z=y_hat, opacity=0.6, showscale=False, colorscale="Oranges", name="learned plane")
    low, high = float(y.min()), float(y.max())  # a fixed box: the plane moves, the view does not
    z = dict(title=data.target_name, range=[low - max((high - low) / 2, 1), high + max((high - low) / 2, 1)])
    axes = dict(xaxis_title=data.feature_names[0], yaxis_title=data.feature_names[1], zaxis=z)
    fig.update_layout(title="The learned plane over the training points", scene=axes, uirevision="keep the camera")
    return fig.update_layout(height=440, margin=dict(t=40, b=0, l=0, r=0), showlegend=False)


def path_figure(data: datasets.Data, path: list, reference: tuple[float, ...], ref_name: str) -> go.Figure:
    w1, w2 = [p[0] for p in path], [p[1] for p in path]
    clip = 10 * (1 + max(map(abs, reference)))  # a diverging w leaves the chart instead of shrinking the valley
    b = next(p[2] for p in reversed(path) if max(map(abs, p)) <= clip)
    g1, g2 = grid_around([(0.0, 0.0), *zip(w1, w2), reference[:2]], clip=clip)
    Z = loss_surface(data.X_train, data.y_train, b, g1, g2).log10()  # on a log scale the valley floor shows
    g1, g2, Z = g1.numpy(), g2.numpy(), Z.numpy()
    fig = go.Figure(go.Contour(x=g1, y=g2, z=Z, colorscale="Viridis", ncontours=25, colorbar_title="log10<br>loss"))
    line = dict(color="#ff4b4b", width=1)
    fig.add_scatter(x=w1, y=w2, mode="lines+markers", name="w while training", marker_size=3, line=line)
    fig.add_scatter(x=w1[-1:], y=w2[-1:], mode="markers", name="now", marker=dict(size=11, color="#ff4b4b"))
    star = dict(size=15, symbol="star", color="gold", line=dict(width=1, color="black"))
    fig.add_scatter(x=reference[:1], y=reference[1:2], mode="markers", name=ref_name, marker=star)
    fig.update_layout(title=f"Path of (w1, w2) over the loss at b = {b:.3g}", xaxis_title="w1", yaxis_title="w2")
    fig.update_xaxes(range=[float(g1[0]), float(g1[-1])]).update_yaxes(range=[float(g2[0]), float(g2[-1])])
    return fig.update_layout(height=440, margin=dict(t=40, b=0, l=0, r=0), legend=dict(orientation="h", y=-0.2))


def draw_live(job) -> None:
    """Learned against true parameters, the plane and the path; redrawn with the loss curve while it trains."""
    path = [p.params for p in job.history if p.params]
    if not path:
        return
    path = [(0.0, 0.0, 0.0), *path]  # where every run starts: b = 0 and w ~ N(0, 0.01^2), i.e. 0 on this scale
    reference, ref_name = reference_of(job)
    for col, name, learned, ref in zip(st.columns(3), ("w1", "w2", "b"), path[-1], reference):
        col.metric(f"{name} ({ref_name}: {ref:.3g})", f"{learned:.4g}", f"{learned - ref:+.3g}", delta_color="off")
    if job.config.dataset == "exam":
        st.caption("Exam scores are not made by a plane, so there are no true parameters. The best fit (the star) is "
                   "the least-squares plane, the lowest loss any run can reach; the contours are drawn at the current "
                   "b, so the valley floor reaches the star only once b has got there too.")  # fmt: skip
    left, right = st.columns(2)
    left.plotly_chart(plane_figure(job.run.data, path[-1]), key=f"plane-{job.id}")
    right.plotly_chart(path_figure(job.run.data, path, reference, ref_name), key=f"path-{job.id}")
    if job.outcome is not None and job.outcome.status == "diverged":
        st.error("The learning rate is too large: each step jumps across the valley to a point higher up the other "
                 "wall, so the next gradient is larger and the next jump longer, until the numbers overflow. Follow "
                 "the path on the right zig-zag away from the star (at a very large lr it leaves the chart at once); "
                 "a smaller learning rate lands inside the valley instead.")  # fmt: skip


def prediction_box(job) -> None:
    data, exam = job.run.data, job.config.dataset == "exam"
    st.subheader("Ask the model")
    a, b, out = st.columns(3)
    keys, values = (("sleep", "study"), (4.0, 8.0)) if exam else (("x1", "x2"), (1.0, 1.0))  # seed 000's question
    X = torch.tensor([[bound(col.number_input, name, value=v, step=0.5, key=k)
                       for col, name, v, k in zip((a, b), data.feature_names, values, keys)]])  # fmt: skip
    y_hat = float(predict(job.run.model, X)[0])
    reference, ref_name = reference_of(job)
    y_ref = float(plane(reference, X)[0])
    if not math.isfinite(y_hat):
        out.error("The model diverged: its weights are no longer numbers, and neither are its predictions.")
    else:
        delta = f"{y_hat - y_ref:+.3g} from the {ref_name} plane's {y_ref:.4g}"
        out.metric(f"predicted {data.target_name}", f"{y_hat:.4g}", delta, delta_color="off")


st.title("Linear regression")
with explanation(("linear",)):
    st.markdown(
        "The model predicts $\\hat y = x_1 w_1 + x_2 w_2 + b$; minibatch SGD moves $w$ and $b$ against the gradient of "
        "the squared loss. Watch the plane settle onto the points and $(w_1, w_2)$ walk down the loss surface, then "
        "change the learning rate or the batch size and see the walk change."
    )
sb = st.sidebar
# plain keys as options (titles as captions): a bound radio writes its option's label into the link
key = bound(sb.radio, "Data", ["synthetic", "exam"], key="data",
            captions=["y = Xw + b + noise (d2l 3.3)", "exam scores: sleep, study"],
            on_change=lambda: use_defaults(st.session_state["data"]))  # fmt: skip
if "linear-defaults" not in st.session_state:  # the session's first visit: this page's defaults, not the images'
    st.session_state["linear-defaults"] = True
    use_defaults(key, keep_link=True)
knobs = {}
if key == "synthetic":
    sb.subheader("True parameters")
    w1 = bound(sb.slider, "true w1", -5.0, 5.0, 2.0, 0.1, key="w1")
    w2 = bound(sb.slider, "true w2", -5.0, 5.0, -3.4, 0.1, key="w2")
    knobs = {
        "true_w": (w1, w2),
        "true_b": bound(sb.slider, "true b", -10.0, 10.0, 4.2, 0.1, key="b"),
        "noise": bound(sb.slider, "Noise (std of y's error)", 0.0, 2.0, 0.01, 0.01, key="noise"),
        "num_examples": bound(sb.select_slider, "Examples (as many again for validation)",
                                         [100, 200, 500, 1000, 2000, 5000, 10000], 1000, key="n"),
    }  # fmt: skip
knobs["zero_init"] = bound(sb.checkbox, "Start from w = 0, b = 0", key="zero",
                           help="Instead of d2l's w ~ N(0, 0.01²), b = 0 (d2l 3.2, exercise 1)")  # fmt: skip
config = make_config(model="linear", dataset=key, **common_settings(3, 0.02, image=False), **knobs)
if config is None:
    st.stop()
data = datasets.load(key, **config.dataset_options())
# one point of the path per step (at most 50 an epoch), so the walk across the contours shows every turn
steps_per_epoch = math.ceil(len(data.X_train) / min(config.batch_size, len(data.X_train)))
config = replace(config, evals_per_epoch=min(steps_per_epoch, 50))
export_buttons(config)
folded = training_now(("linear",))  # the table and the exam's story fold while a run trains: its curve in view
rows = f"The data: {len(data.X_train)} training, {len(data.X_val)} validation rows"
with st.expander(rows, expanded=key == "exam" and not folded):
    st.dataframe(datasets.table(data), height=230)
if key == "exam":
    with st.expander("Why the exam scores crawl") if folded else st.container():
        st.markdown(
            "**Exam scores** of 200 students from their hours of sleep and study. The raw hours are around 6 (squares"
            " near 50) while $b$ multiplies a constant 1, so the loss is about 1000 times steeper across its valley "
            "than along it. An lr small enough not to overshoot the steep walls (0.02 already diverges) crawls along "
            "the valley floor: even 50 epochs leave $b$ far from its best value. Standardising the features would "
            "make the valley round - which is why features are scaled before training."
        )

store_notice()
job = train_controls(config, ("linear",), "Linear regression")
training = job is not None and job.state != "done"
if not training:  # while a run trains its curve comes first, the finder after it
    lr_finder_panel(config, data)
if job is None:
    st.info("Choose the data and the settings in the sidebar and press **Train**.")
else:
    live_view(job, draw_extra=draw_live)
    if training:
        lr_finder_panel(config, data)
    if job.run is not None and job.history:
        prediction_box(job)
exercises("linear")
