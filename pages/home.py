"""Home: what the dashboard teaches and in what order, the device in use, the datasets found."""

import streamlit as st

from core import datasets, settings
from core.lessons.exercises import DERIVATION, INVENTORY, RUNNABLE
from core.runs.store import OWNER_DAYS, max_runs
from ui.exercises import progress as exercise_progress
from ui.server import book, device_caption, owner, store_notice

st.title("Deep learning, live")
st.markdown(
    """
Train the models of *Dive into Deep Learning* chapters 2-5 (and its ResNet, 8.6) yourself, on this machine,
and watch them learn. Move the learning rate, the batch size and the number of epochs, press **Train**, and
see the loss curves grow; then look at the images the model gets wrong.

- **Learn** - *Foundations*: broadcasting, autograd, activations and why vectorized code is fast.
  *Data preparation*: a table with gaps and words, step by step to tensors.
- **Train**, in this order:
  1. **Linear regression** - fit a plane to points by minibatch SGD; watch the weights walk down the loss surface.
  2. **Softmax regression** - one linear layer from pixels to class probabilities, trained with cross-entropy.
  3. **MLP** - hidden layers and nonlinearities: more accuracy from the same pixels.
  4. **ResNet** - convolutions and residual connections, the architecture behind modern image models.
- **Use** - *Teach your own*: photos of your own classes, from files or the webcam, and a model of them in
  seconds, on ImageNet's features (and from scratch, to compare). *Cat, dog or neither?*: drop a photo and hear
  what a pretrained network, and yours, say - and see where each looked.
- **Results** - *Compare runs*: every run of this browser side by side, kept across reloads and restarts.
  *Baseline ladder*: from a mean image per class up to a ResNet, how much each step buys.

Every model comes twice: **from scratch** (tensors, our own softmax, cross-entropy and SGD) and **concise**
(`torch.nn`); both reach the same accuracy.
"""
)
st.subheader("This machine")
st.write(f"Training runs on: **{device_caption()}**")
for refusal in settings.refusals():  # a DASHBOARD_* variable that makes no sense, and the default used instead
    st.warning(refusal)
st.subheader("Your runs")
store_notice()
store, mine = book().store, book().runs(owner(), "train")  # the runs Compare lists; the lr sweeps apart
sweeps = len(book().runs(owner(), None)) - len(mine)
also = f" (and {sweeps} learning-rate sweep(s))" if sweeps else ""
if store.durable and store.problem:
    kept = "kept in the run store, which cannot be written just now (see above): new progress waits in memory"
elif store.durable:
    kept = f"kept in the run store ({store.where}): they are there after a reload, in a new tab and after a restart"
else:
    kept = "kept in this server's memory only: they are there after a reload and in a new tab, not after a restart"
st.write(
    f"This browser has **{len(mine)} run(s)**{also}, {kept}. "
    f"The store holds **{store.size_bytes() / 1e6:,.1f} MB** for "
    f"everyone; it keeps each browser's newest {max_runs()} runs and forgets a browser unseen for {OWNER_DAYS} "
    "days. *Compare runs* deletes and downloads yours."
)
st.subheader("Exercises")
chapters = exercise_progress().counts(owner())
st.write(
    "The chapters' exercises that an experiment answers sit on their pages, under **Exercises**. Answered in "
    "this browser: " + "; ".join(f"ch. {c}: **{a} of {n}**" for c, (a, n) in sorted(chapters.items())) + "."
)
with st.expander("The exercises to work out on paper, or beyond this app"):
    for e in INVENTORY:
        if e.kind != RUNNABLE:
            where = "on paper" if e.kind == DERIVATION else "outside this app"
            st.markdown(f"- **{e.id}** ({e.source}, {where}): {e.question}")
st.subheader("Datasets")
for s in datasets.all_status():
    if s.available:
        st.markdown(f"- **{s.title}**: ready")
    else:
        st.markdown(f"- **{s.title}**: not available. {s.how_to_get}")
