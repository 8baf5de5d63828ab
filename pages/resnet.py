"""ResNet (d2l 8.6): residual blocks - convolutions plus a shortcut - stacked into a deep image classifier."""

import streamlit as st

from core.train import PLAIN, RECIPE, RECIPE_BATCH, RECIPE_LR
from ui.links import bound
from ui.live import explanation
from ui.recipe import preset_buttons
from ui.training_page import training_page

EVAL_IMAGES = 2000  # the validation curve's images while it trains: evaluation stays a small share of the run

st.title("ResNet")
with explanation(("resnet", "resnet18")):
    st.markdown(
        "A residual block adds its input to the output of two convolutions, so a deep stack can always fall "
        "back to passing the image through unchanged - which is what lets very deep networks train. "
        "The small ResNet trains on a laptop CPU in about a minute; ResNet-18 wants a GPU."
    )
    st.markdown(
        "The page starts from a modern training recipe, each piece a line of the one training loop:\n"
        "- **Normalised inputs**: each pixel minus the training images' mean, over their standard deviation, so the "
        "first layer starts on numbers centred at 0 and no weight has to learn the offset.\n"
        "- **Nesterov momentum** (0.9): each step keeps most of the last steps' direction, which evens out noisy "
        "minibatch gradients and speeds up travel along long, shallow valleys.\n"
        "- **One-cycle schedule**: the lr warms up from a 25th of its peak while batch norm's statistics settle, takes "
        "big steps in the middle, and falls to almost 0 at the end, so the last steps polish instead of bouncing.\n"
        "- **Label smoothing** (0.1) and **weight decay** (5e-4): the target is 90% on the true class, so the model "
        "is never pushed to certainty, and every weight is pulled a little towards 0; both make it generalise better."
    )
    st.caption(
        "Press *Plain SGD, as d2l 8.6* to train the same network on the same images with d2l's recipe (constant "
        "lr 0.05, no momentum, raw pixels) and compare the runs. There the validation accuracy jumps about from one "
        "evaluation to the next: batch normalization scales each layer by running averages of recent training "
        "batches, and these trail weights that still move fast."
    )
sb = st.sidebar
sb.subheader("Recipe")
preset_buttons(
    {
        "The recipe": {**RECIPE, "lr": RECIPE_LR, "batch_size": RECIPE_BATCH},
        "Plain SGD, as d2l 8.6": {**PLAIN, "lr": 0.05, "batch_size": 256},
    }
)
sb.subheader("Network")
kind = bound(
    sb.radio,
    "Architecture",
    ["resnet", "resnet18"],
    captions=["small: trains on a CPU in a minute", "ResNet-18: for GPUs"],
    key="arch",
    horizontal=True,
)
knobs = {"model": kind, "eval_examples": EVAL_IMAGES}
if kind == "resnet":
    knobs["resnet_width"] = bound(
        sb.select_slider, "Width (channels of the first stage)", [8, 16, 32, 64], 16, key="width"
    )
    knobs["resnet_blocks"] = bound(sb.slider, "Blocks per stage", 1, 3, 1, key="blocks")
    knobs["resnet_stages"] = bound(sb.slider, "Stages (each halves the image size)", 1, 4, 3, key="stages")
subset = bound(
    sb.select_slider,
    "Training images",
    [2000, 5000, 10000, 20000, 60000],  # 60000: all of Fashion-MNIST (and of CIFAR-10's 50000)
    value=60000,
    key="subset",
    help="A ResNet is slow on a CPU: train on a part of the training set for a quicker demonstration.",
)
knobs["train_examples"] = subset
training_page(
    "ResNet",
    ("resnet", "resnet18"),
    knobs,
    default_epochs=1,
    default_lr=RECIPE_LR,
    default_batch=RECIPE_BATCH,
    recipe=RECIPE,
)
