"""The training recipe in the sidebar: optimizer, momentum, weight decay, lr schedule, label smoothing, normalisation.

d2l's chapters train with plain minibatch SGD at a constant learning rate, and the softmax and MLP pages
keep that as their default, so their numbers stay the tutorials'. The ResNet page starts from a modern
recipe instead (`core.train.RECIPE`), and one click sets d2l's plain SGD back (`PLAIN`), so that a class sees what
the recipe buys at the same budget. Every widget is bound to the URL like the other settings;
a link's value that a widget cannot take gets its warning from `ui.links`.
"""

from __future__ import annotations

import streamlit as st

from core.optim import OPTIMIZERS, SCHEDULES
from core.train import PLAIN, RECIPE  # noqa: F401 (the pages take them from here)
from ui.links import bound, set_widget

MOMENTUM_OPTIONS = [0.5, 0.8, 0.9, 0.95, 0.99]
WEIGHT_DECAY_OPTIONS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2]
SMOOTHING_OPTIONS = [0.0, 0.05, 0.1, 0.2, 0.3]
# RunConfig field -> the widget's key, which is also its name in the URL
KEYS = {
    "optimizer": "optimizer",
    "momentum": "momentum",
    "weight_decay": "wd",
    "lr_schedule": "schedule",
    "label_smoothing": "smoothing",
    "normalize": "normalize",
    "lr": "lr",
    "batch_size": "batch",
}
OPTIMIZER_HELP = (
    "sgd: minibatch SGD. momentum: each step also keeps going the way the last ones went (a velocity), which "
    "evens out noisy gradients. nesterov: momentum that looks one step ahead. adam: a step size of its own for "
    "every weight."
)


def recipe_settings(defaults: dict, image: bool = True) -> dict:
    """The recipe's widgets in the sidebar, starting at `defaults` (RunConfig fields); their values."""
    sb = st.sidebar
    values = {
        "optimizer": bound(
            sb.selectbox,
            "Optimizer",
            OPTIMIZERS,
            OPTIMIZERS.index(defaults["optimizer"]),
            key="optimizer",
            help=OPTIMIZER_HELP,
        ),
    }
    # the widgets on the expander itself, not `with` it: a refused link's warning then goes to the main area
    recipe = sb.expander("Training recipe", expanded=defaults != PLAIN)
    values["momentum"] = bound(
        recipe.select_slider,
        "Momentum",
        MOMENTUM_OPTIONS,
        defaults["momentum"],
        key="momentum",
        disabled=values["optimizer"] not in ("momentum", "nesterov"),
        help="How much of the last steps' direction each step keeps (momentum and nesterov only).",
    )
    values["weight_decay"] = bound(
        recipe.select_slider,
        "Weight decay",
        WEIGHT_DECAY_OPTIONS,
        defaults["weight_decay"],
        format_func="{:g}".format,
        key="wd",
        help="Pulls every weight a little towards 0 at each step (an L2 penalty, d2l 3.7).",
    )
    values["lr_schedule"] = bound(
        recipe.radio,
        "Learning-rate schedule",
        SCHEDULES,
        SCHEDULES.index(defaults["lr_schedule"]),
        key="schedule",
        horizontal=True,
        captions=["the same lr at every step (d2l)", "up to lr in the first 30% of the steps, then down to 0"],
    )
    if image:  # classification: a table's regression has no classes to smooth, no channels to normalise
        values["label_smoothing"] = bound(
            recipe.select_slider,
            "Label smoothing",
            SMOOTHING_OPTIONS,
            defaults["label_smoothing"],
            format_func="{:g}".format,
            key="smoothing",
            help="The target puts this much of its probability evenly on every class instead of all on the true one.",
        )
        values["normalize"] = bound(
            recipe.toggle,
            "Normalise the inputs",
            defaults["normalize"],
            key="normalize",
            help="Subtract the training images' mean and divide by their standard deviation, per channel. The "
            "model keeps both, so it sees photos and checkpoints scaled as in its training.",
        )
    return values


def _set(values: dict) -> None:
    # a button's callback runs before the script, so the bound widgets take these values when they are drawn
    for field, value in values.items():
        set_widget(KEYS.get(field, field), value)


def preset_buttons(presets: dict[str, dict]) -> None:
    """One button per preset (label -> widget key -> value) that sets those widgets at once."""
    for label, values in presets.items():  # one under the other: the sidebar is too narrow for their labels
        st.sidebar.button(label, key=f"preset-{label}", on_click=_set, args=(values,), width="stretch")
