"""The common body of the image-classification pages: settings, Train/Stop, the live view, results.

A training page is a title, its model's knobs and a call to `training_page`; the pieces are laid out
by concern in `settings` (the sidebar, bound to the URL), `live` (Train/Stop, progress, curves),
`results` (mistakes, confusion matrix, per-class accuracy, the checkpoint), `lr_finder` and
`server` (what the server shares, and whose runs these are). Pages write what they teach inside
`live.explanation`, which folds it while a run trains.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.train import PLAIN
from ui.live import live_view, train_controls
from ui.lr_finder import lr_finder_panel
from ui.results import results, save_button
from ui.server import store_notice
from ui.settings import common_settings, export_buttons, make_config


def training_page(
    label: str,
    models: tuple[str, ...],
    knobs: dict,
    extra_tabs: dict[str, Callable] | None = None,
    default_epochs: int = 10,
    default_lr: float = 0.1,
    default_batch: int = 256,
    recipe: dict = PLAIN,
    subset: bool = False,
) -> None:
    """Settings in the sidebar, Train/Stop, the latest run of these models, live, then what it gets wrong."""
    settings = common_settings(default_epochs, default_lr, default_batch=default_batch, recipe=recipe, subset=subset)
    model = knobs.pop("model", models[0])
    config = make_config(model=model, **settings, **knobs)
    export_buttons(config)
    store_notice()
    job = train_controls(config, models, label)
    training = job is not None and job.state != "done"
    if not training:  # while a run trains its curve comes first, the finder after it
        lr_finder_panel(config)
    if job is None:
        st.info("Choose the settings in the sidebar and press **Train**. The curves grow while it trains.")
        return
    live_view(job)
    if training:
        lr_finder_panel(config)
    if job.history and job.config.model in models:
        if job.state != "done":
            # on request only: the mistakes and the matrices, redrawn with every click, slow the live page
            so_far = "Show the results so far (of the model as it was when the page last redrew)"
            if not st.toggle(so_far, key="so-far"):
                return
        elif job.run is not None:
            save_button(job)
        if job.run is not None:
            results(job, extra_tabs)
