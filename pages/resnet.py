"""ResNet (d2l 8.6): residual blocks - convolutions plus a shortcut - stacked into a deep image classifier."""

import streamlit as st

from pages._ui import training_page

st.title("ResNet")
st.markdown(
    "A residual block adds its input to the output of two convolutions, so a deep stack can always fall "
    "back to passing the image through unchanged - which is what lets very deep networks train. "
    "The small ResNet trains on a laptop CPU in minutes; ResNet-18 wants a GPU."
)
st.caption(
    "Expect the validation accuracy to jump about in the first epochs while the training loss falls steadily "
    "(d2l 8.5): in evaluation, batch normalization scales each layer by running averages of recent training "
    "batches, and these trail weights that still move fast. With 2,000 images and one epoch it can still be "
    "near chance."
)
sb = st.sidebar
sb.subheader("Network")
kind = sb.radio(
    "Architecture",
    ["resnet", "resnet18"],
    captions=["small: trains on a CPU in minutes", "ResNet-18: for GPUs"],
    key="arch",
    horizontal=True,
    bind="query-params",
)
knobs = {"model": kind}
if kind == "resnet":
    knobs["resnet_width"] = sb.select_slider(
        "Width (channels of the first stage)", [8, 16, 32, 64], 16, key="width", bind="query-params"
    )
    knobs["resnet_blocks"] = sb.slider("Blocks per stage", 1, 3, 1, key="blocks", bind="query-params")
    knobs["resnet_stages"] = sb.slider(
        "Stages (each halves the image size)", 1, 4, 3, key="stages", bind="query-params"
    )
subset = sb.select_slider(
    "Training images",
    [2000, 5000, 10000, 20000, 60000],  # 60000: all of Fashion-MNIST (and of CIFAR-10's 50000)
    value=10000,
    key="subset",
    bind="query-params",
    help="A ResNet is slow on a CPU: train on a part of the training set for a quick demonstration.",
)
knobs["train_examples"] = subset
training_page("ResNet", ("resnet", "resnet18"), knobs, default_epochs=3, default_lr=0.05)
