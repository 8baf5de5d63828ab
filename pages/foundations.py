"""Foundations (d2l 2.1-2.5, 3.1.2, 5.1.2): broadcasting, autograd, activations and why we vectorize, all live.

Four small experiments a learner can change and share by link: two shapes and what broadcasting makes
of them, a function whose gradient autograd computes and the page checks against the hand-derived one,
ReLU, sigmoid and tanh with their derivatives, and a Python loop timed against one vectorized `a + b`
on this machine. Every number comes from `core.lessons.foundations`; this page only lays out and draws.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from core.device import available_devices, describe, resolve_device
from core.lessons import foundations as fd
from ui.links import bound

URL = "query-params"  # every setting lives in the link
FADE = "rgba(255, 255, 255, 0.6)"  # laid over the cells broadcasting filled by repeating


def picture_figure(picture: dict) -> go.Figure:
    """The panels of fd.broadcast_picture side by side, one colour scale, the repeated cells faded."""
    grids = [values.numpy() for values, _ in picture.values()]
    widths = [g.shape[1] + 1 for g in grids]  # panels as wide as their columns, so cells come out alike
    fig = make_subplots(1, len(grids), subplot_titles=list(picture), column_widths=widths, horizontal_spacing=0.03)
    cells = dict(xgap=2, ygap=2, showscale=False)
    top = max(1, max(int(g.max()) for g in grids))
    hover = "row %{y}, column %{x}: %{z}<extra></extra>"
    colours = dict(zmin=-0.15 * top, zmax=top, colorscale="Blues")  # zmin below 0: a 0 is tinted too
    for col, (z, (_, copied)) in enumerate(zip(grids, picture.values()), start=1):
        fig.add_heatmap(z=z, text=z, texttemplate="%{text}", hovertemplate=hover, **colours, **cells, row=1, col=col)
        fade = np.where(copied.numpy(), 1.0, np.nan)  # NaN cells are not drawn: only the copies get the veil
        fig.add_heatmap(z=fade, colorscale=[[0, FADE], [1, FADE]], hoverinfo="skip", **cells, row=1, col=col)
    rows = max(g.shape[0] for g in grids)
    hide = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    fig.update_xaxes(**hide)
    fig.update_yaxes(**hide, range=[rows - 0.5, -0.5])  # row 0 on top; a one-row panel keeps one row's height
    return fig.update_layout(height=70 + 34 * rows, margin=dict(t=30, b=5, l=5, r=5))


def broadcasting_section() -> None:
    st.header("Tensors and broadcasting")
    st.markdown(
        "Adding tensors of different shapes works when PyTorch can **broadcast** them: it lines the shapes up "
        "**from the right**, and each pair of sizes must be **equal or one of them 1** (a missing size counts as 1). "
        "A size 1 is then stretched - repeated, without copying memory - to the other's size. Below, `a` and `b` "
        "are `torch.arange` reshaped to your shapes, as in d2l 2.1.4."
    )
    left, right = st.columns(2)
    texts = {"a": bound(left.text_input, "Shape of a", "3, 1", key="shape_a", help="e.g. `3, 1` or `2, 3, 4`"),
             "b": bound(right.text_input, "Shape of b", "1, 4", key="shape_b", help="`()` is a scalar")}  # fmt: skip
    shapes = {}
    for name, text in texts.items():
        try:
            shapes[name] = fd.parse_shape(text)
        except fd.InputError as err:
            st.warning(f"Shape of {name}: {err}")
    if len(shapes) < 2:
        return
    result = fd.broadcast(shapes["a"], shapes["b"])
    if result.shape is None:
        st.error(result.error)
    else:
        st.success(f"`a + b` has shape **{result.shape}**.")
    table = pd.DataFrame(result.alignment())
    table.index = [f"dim {i - len(table)}" for i in range(len(table))]
    st.dataframe(table.T, width="content")
    if result.shape is None:
        st.caption(f"PyTorch's own words: `{result.torch_error}`")
        return
    picture = fd.broadcast_picture(shapes["a"], shapes["b"])
    if picture is None:
        st.info("With more than two dimensions this page shows only the shapes; try 1-D or 2-D shapes for the picture.")
        return
    st.plotly_chart(picture_figure(picture), key="broadcast-picture")
    st.caption("The faded cells are the repeated ones: `a` stretched along its size-1 (or missing) dimensions, "
               "and `b` likewise; `a + b` then adds element by element.")  # fmt: skip


def autograd_section() -> None:
    st.header("Autograd")
    left, right = st.columns([1, 2])
    name = bound(left.selectbox, "y =", list(fd.GRAD_FUNCTIONS), key="grad_fn")
    text = bound(left.text_input, "x =", "0, 1, 2, 3", key="grad_x", help=f"up to {fd.MAX_VALUES} numbers")
    fn = fd.GRAD_FUNCTIONS[name]
    try:
        x = fd.parse_values(text)
    except fd.InputError as err:
        right.warning(f"x: {err}")
        return
    check = fd.check_gradient(name, x)
    right.markdown(f"${fn.formula}$, so by hand $\\partial y / \\partial \\mathbf{{x}} = {fn.grad_formula}$. "
                   f"`y.backward()` gives y = {check.y:.6g} and fills `x.grad`:")  # fmt: skip
    rows = {"x": check.x, "x.grad (autograd)": check.grad, f"{fn.grad_code} (by hand)": check.expected}
    right.dataframe(pd.DataFrame({k: v.numpy() for k, v in rows.items()}).T, width="content")
    verdict = f"`torch.allclose(x.grad, {fn.grad_code})` is **{check.match}**"
    (right.success if check.match else right.error)(verdict)


def activations_section() -> None:
    st.header("ReLU, sigmoid and tanh, differentiated by autograd")
    curves = fd.activation_curves()
    fig = make_subplots(1, 3, subplot_titles=list(curves), horizontal_spacing=0.06)
    for col, c in enumerate(curves.values(), start=1):
        x = c.x.numpy()
        fig.add_scatter(x=x, y=c.y.numpy(), name="f(x)", line_color="#1f77b4", legendgroup="f",
                        showlegend=col == 1, row=1, col=col)  # fmt: skip
        fig.add_scatter(x=x, y=c.dy.numpy(), name="f'(x) by autograd", line=dict(color="#ff4b4b", dash="dash"),
                        legendgroup="df", showlegend=col == 1, row=1, col=col)  # fmt: skip
    fig.update_xaxes(title_text="x", range=[-8, 8])
    fig.update_layout(height=330, margin=dict(t=30, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(fig, key="activations")
    gaps = ", ".join(f"{name} {curve.max_error:.1e}" for name, curve in curves.items())
    st.markdown(
        "The functions are our own from-scratch ones (`core.ops`); `f(x).sum().backward()` gives every $f'(x_i)$ at "
        f"once. They match the formulas ${fd.DERIVATIVE_FORMULAS['relu']}$, ${fd.DERIVATIVE_FORMULAS['sigmoid']}$ "
        f"and ${fd.DERIVATIVE_FORMULAS['tanh']}$ (largest difference: {gaps}). At $x = 0$ ReLU has no derivative; "
        "autograd of our `torch.where(x > 0, x, 0)` gives 0 there, as `torch.relu` does."
    )


def duration(seconds: float) -> str:
    """1.23 s, 45.6 ms or 7.8 µs: the loop and the vector differ by orders of magnitude."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            return f"{seconds / scale:,.1f} {unit}"


@st.fragment  # moving the slider re-times only this section
def timing_section() -> None:
    st.header("A Python loop against one vectorized `a + b`")
    st.markdown(
        "d2l 3.1.2 adds two vectors of ones: element by element in a `for` loop (`c[i] = a[i] + b[i]`, "
        "a PyTorch call per element), then with one call, `d = a + b`, that runs the whole loop in C++."
    )
    left, right = st.columns([3, 1])
    n = bound(left.slider, "n, the length of the vectors", 1_000, fd.MAX_N, 10_000, 1_000, key="loop_n")
    device_name = bound(right.selectbox, "Device", available_devices(), key="loop_device")
    device = resolve_device(device_name)
    last = st.session_state.get("foundations-timing")
    if st.button("Time it again", key="time_again") or last is None or last[0] != (n, device_name):
        with st.spinner(f"Timing {n:,} additions on {describe(device)}..."):
            st.session_state["foundations-timing"] = ((n, device_name), fd.time_addition(n, device))
    t = st.session_state["foundations-timing"][1]
    loop, vec, speed = st.columns(3)
    quiet = dict(delta_color="off", delta_arrow="off")  # the deltas are notes, not changes
    loop.metric("Python loop", duration(t.loop_s), f"{t.loop_s / n * 1e6:.2f} µs per element", **quiet)
    vec.metric("Vectorized a + b", duration(t.vector_s), f"best of {fd.REPEATS} runs", **quiet)
    speed.metric("Speedup", f"{t.speedup:,.0f}x")
    note = f"On {describe(device)}; both give the same vector: {t.same}."
    if t.estimated:
        note += (f" The loop was stopped after {fd.LOOP_BUDGET_S:g} s, at {t.loop_steps:,} of {n:,} elements; "
                 "its time for all of them is extrapolated.")  # fmt: skip
    if device.type == "cpu" and n > fd.PARALLEL_GRAIN and torch.get_num_threads() > 1:
        note += (f" Above {fd.PARALLEL_GRAIN:,} elements PyTorch splits `a + b` over its {torch.get_num_threads()} "
                 "threads; on a busy machine, waiting for a free core can cost milliseconds.")  # fmt: skip
    st.caption(note)


st.title("Foundations")
st.markdown("The tools every later page is built from (d2l chapter 2): tensors and their shapes, automatic "
            "differentiation, the activations, and why we never loop over elements in Python.")  # fmt: skip
broadcasting_section()
autograd_section()
activations_section()
timing_section()
