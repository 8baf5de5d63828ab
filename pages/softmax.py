"""Softmax regression (d2l 4.1-4.5): one linear layer from pixels to one score per class, trained live."""

import streamlit as st

from core.models.softmax import weight_images
from ui.exercises import exercises
from ui.live import explanation
from ui.results import to_image
from ui.training_page import training_page

st.title("Softmax regression")
with explanation(("softmax",)):
    st.markdown(
        "Each image's pixels (784 for Fashion-MNIST's 28x28) are weighted and summed into one score per class; "
        "softmax turns the scores into probabilities and cross-entropy punishes a low probability for the true "
        "class. d2l reaches about 83% on Fashion-MNIST in 10 epochs at lr 0.1, batch 256."
    )


def class_weights(job) -> None:
    """Each class's weight vector drawn as an image: bright pixels raise the class's score, dark ones lower it."""
    images = weight_images(job.run.model, job.run.data.input_shape)  # (q, H, W), grey 0.5 = weight 0
    st.caption(
        "Each class's weights as a picture: bright pixels vote for the class, dark ones against, mid-grey "
        "ones do not matter. All classes share one scale."
    )
    row = st.container(horizontal=True)  # wraps: 5 a row on a projector, 2 on a phone (columns would stack them)
    for j, name in enumerate(job.run.data.classes):
        row.image(to_image(images[j][None]), caption=name, width=150, alt=f"the weights of {name}")


training_page("Softmax regression", ("softmax",), {}, extra_tabs={"Class weights": class_weights}, subset=True)
exercises("softmax")
