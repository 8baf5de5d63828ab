"""Multilayer perceptron (d2l 5.1-5.2): hidden layers with a nonlinearity between pixels and classes."""

import streamlit as st

from ui.exercises import exercises
from ui.links import bound
from ui.live import explanation
from ui.training_page import training_page

st.title("Multilayer perceptron")
with explanation(("mlp",)):
    st.markdown(
        "Hidden layers of units, each a weighted sum followed by a nonlinearity, let the model combine pixels "
        "before it scores the classes. On Fashion-MNIST, d2l's 784-256-10 network with ReLU, lr 0.1, batch 256 "
        "and 10 epochs beats softmax regression by a few points."
    )
sb = st.sidebar
sb.subheader("Network")
knobs = {
    "num_hiddens": bound(
        sb.select_slider, "Hidden units", [1, 4, 16, 32, 64, 128, 256, 512, 1024], value=256, key="hidden"
    ),
    "num_layers": bound(sb.slider, "Hidden layers (depth)", 1, 4, 1, key="layers"),
    "activation": bound(sb.radio, "Activation", ["relu", "sigmoid", "tanh"], key="activation", horizontal=True),
    # d2l 5.4: the scale of the initial weights decides whether signals and gradients survive the layers
    "init_std": bound(
        sb.select_slider,
        "Initial weights (standard deviation)",
        [0.0, 0.001, 0.01, 0.1, 1.0],
        value=0.0,
        format_func=lambda std: "default" if std == 0 else f"{std:g}",
        key="init",
        help="default: PyTorch's, uniform within ±1/√(the layer's inputs). Otherwise every weight and bias "
        "is drawn from N(0, std²) (d2l 5.4). With 4 ReLU layers, 0.01 shrinks the signal layer after layer "
        "until nothing is learned (10%, chance) and 1 blows it up until the loss diverges; the default keeps "
        "it in between.",
    ),
}
knobs["zero_init"] = bound(sb.checkbox, "Every weight starts at 0", key="zero",
                           help="All weights and biases equal at the start: d2l 5.4's symmetry")  # fmt: skip
training_page("MLP", ("mlp",), knobs, subset=True)
exercises("mlp")
