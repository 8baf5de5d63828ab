"""The sidebar's settings of a training page, bound to the URL so that a teacher can share a link.

Dataset, implementation, learning rate, batch size, epochs, seed, device and the training recipe, each
read from and written to the link (`ui.links.bound`); `make_config` turns them into a `RunConfig`,
or says in the page why these settings cannot train; `export_buttons` offers the run as a script or a
notebook to take home.
"""

from __future__ import annotations

import math

import streamlit as st

from core.device import available_devices
from core.export import script as export
from core.train import MIN_LR, PLAIN, ConfigError, RunConfig
from ui.links import bound
from ui.recipe import recipe_settings
from ui.server import dataset_choices

# MIN_LR (1e-4) .. 10 on a log scale; 3 is there for d2l's lr 0.03
LR_OPTIONS = [round(m * 10.0**e, 6) for e in range(-4, 1) for m in (1, 2, 3, 5)] + [10.0]
assert LR_OPTIONS[0] == MIN_LR, "the loop never advises an lr below the slider's"
BATCH_OPTIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
SUBSETS = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 0]  # 0: all of them


def common_settings(
    default_epochs: int = 10,
    default_lr: float = 0.1,
    image: bool = True,
    default_batch: int = 256,
    recipe=PLAIN,
    subset: bool = False,
) -> dict:
    """Sidebar: dataset, implementation, lr, batch size, epochs, seed, device, and the training recipe (its
    optimizer, momentum, weight decay, lr schedule, label smoothing and normalisation start at `recipe`); with
    `subset`, how many training images to use."""
    sb = st.sidebar
    settings = {}
    if image:
        choices = dataset_choices()
        if not choices:
            st.error(
                "No image dataset is available here, so this page cannot train, and its exercises, which each need "
                "a run of yours, wait for it too. Home says which datasets are missing and how to get them (on "
                "this machine: `bash .ci/setup` imports Fashion-MNIST)."
            )
            st.page_link("pages/home.py", label="Go to Home")
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
    if subset:  # a subset of the training images: few enough, and a model learns them by heart (d2l 3.7's exercise 2)
        settings["train_examples"] = bound(
            sb.select_slider,
            "Training images",
            SUBSETS,
            value=0,
            format_func=lambda n: "all" if n == 0 else f"{n:,}",
            key="n_train",
            help="Train on the first N training images only; the validation images stay all of them.",
        )
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


def nearest_lr(lr: float) -> float:
    """The learning-rate slider's option closest to lr on its log scale."""
    return min(LR_OPTIONS, key=lambda option: abs(math.log(option / lr)))


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
