"""Softmax regression (d2l 4.1-4.5): one linear layer from pixels to ten class scores, trained live."""

import streamlit as st

from pages._ui import to_image, training_page

st.title("Softmax regression")
st.markdown(
    "Each image's 784 pixels are weighted and summed into one score per class; softmax turns the scores "
    "into probabilities and cross-entropy punishes a low probability for the true class. "
    "d2l reaches about 83% on Fashion-MNIST in 10 epochs at lr 0.1, batch 256."
)


def class_weights(job) -> None:
    """Each class's weight vector drawn as an image: red pixels raise the class's score, blue lower it."""
    W = job.run.model.W.detach().cpu()  # (d, q)
    C, H, Wd = job.run.data.input_shape
    classes = job.run.data.classes
    st.caption("Each class's weights as a picture: bright pixels vote for the class, dark ones against.")
    cols = st.columns(5)
    for j, name in enumerate(classes):
        w = W[:, j].reshape(C, H, Wd).mean(0)  # average the colour channels of CIFAR-10
        w = (w - w.min()) / (w.max() - w.min() + 1e-12)
        cols[j % 5].image(to_image(w[None]), caption=name, width="stretch")


training_page("Softmax regression", ("softmax",), {}, extra_tabs={"Class weights": class_weights})
