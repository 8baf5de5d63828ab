"""Teach your own (d2l 14.2, fine-tuning): photos of your classes, a head on ImageNet's frozen features, trained
in seconds - and the same photos from scratch, to see why starting from a pretrained network wins."""

import streamlit as st

from core.datasets import PHOTO_FEATURES, PHOTOS
from core.export import predict
from core.runs.book import next_label
from core.train import RECIPE, RunConfig
from core.vision import transfer
from core.vision.album import MIN_PER_CLASS
from ui.album import class_tabs
from ui.live import FIRST_POINT_WAIT, live_view, room_to_queue, submit
from ui.photo import backbone, my_album
from ui.results import results, save_button
from ui.server import my_runs, store_notice
from ui.text import md

st.title("Teach your own")
st.markdown(
    f"Give each class at least {MIN_PER_CLASS} photos - drop files or use the webcam - and press **Teach it**. "
    "EfficientNet-Lite0, pretrained on ImageNet and frozen, turns each photo into 1280 numbers once; only a small "
    "*head* on top of them learns your classes, so it trains in seconds. Then try it on *Cat, dog or neither?*."
)
album = my_album()
if album.unsaved and not album.save_unsaved():  # photos a full disk refused: each visit tries them again
    st.warning(
        f"{album.unsaved} photo(s) are in this server's memory only. {album.unsaved_why} They are written as soon "
        "as the store works again; until then, a restart of the server would lose them.",
        icon="⚠️",
    )
store_notice()
class_tabs(album)

left, right = st.columns(2)
head = left.radio("Head on the frozen features", ["linear", "one hidden layer"], horizontal=True, key="head")
augment = right.toggle("Augment: flips, crops and colour jitter", key="augment", help="Applied before the features.")
views = right.slider("Augmented views per photo", 1, 8, 4, key="views", disabled=not augment) if augment else 0
if views:  # each view is one more pass through the network, here on the server, once (then kept)
    right.caption(f"The first time: about {len(album.split()[0]) * views * 0.025:.0f} s for the views' features.")
with st.expander("Advanced"):
    a, b, c, d, e = st.columns(5)
    epochs = a.number_input("Epochs", 1, 500, 30, key="epochs")
    lr = b.number_input("Learning rate (head)", 1e-4, 10.0, 0.1, format="%.4f", key="lr")
    batch = c.number_input("Batch size", 1, 1024, 16, key="batch")
    hiddens = d.number_input("Hidden units", 1, 2048, 128, key="hiddens", disabled=head == "linear")
    # the from-scratch model's own lr: its advice ("try lr <= ...") must name a control of this page
    scratch_lr = e.number_input("Learning rate (from scratch)", 1e-4, 10.0, 0.05, format="%.4f", key="scratch-lr")
    st.caption("From scratch: a small ResNet on the photos at 64x64, same epochs, with the ResNet page's recipe.")
model = "softmax" if head == "linear" else "mlp"
config = RunConfig(model=model, dataset=PHOTO_FEATURES, lr=lr, batch_size=batch, epochs=epochs, num_hiddens=hiddens)
scratch_config = RunConfig(model="resnet", dataset=PHOTOS, lr=scratch_lr, batch_size=batch, epochs=epochs, **RECIPE)

runs = my_runs()
taught = [r for r in runs if r.config.dataset == PHOTO_FEATURES]
scratch = [r for r in runs if r.config.dataset == PHOTOS]
latest = [r for r in (taught[-1:] + scratch[-1:]) if r.state != "done"]
problems = album.problems()
for problem in problems:
    st.info(md(problem))  # it names the classes
names = "/".join(album.classes)
one, two, three, _ = st.columns([1, 1.5, 1, 3])
if one.button("Teach it", type="primary", disabled=bool(problems) or bool(latest), key="teach") and room_to_queue():
    bar = st.progress(0.0, text="Augmented views...")
    data = album.features_data(0, views, backbone(), lambda n, total: bar.progress(n / total, f"Augmented views: {n}"))
    submit(config, data, next_label(f"Taught {names}", taught), wait=FIRST_POINT_WAIT)
    st.rerun()
if two.button("Train from scratch too", disabled=bool(problems) or bool(latest), key="scratch") and room_to_queue():
    submit(scratch_config, album.images_data(0), next_label(f"From scratch {names}", scratch), wait=FIRST_POINT_WAIT)
    st.rerun()
if three.button("Stop", disabled=not latest, key="stop-teach"):
    for run in latest:
        run.stop()
    st.rerun()

if not (taught or scratch):
    st.stop()
cols = st.columns(2)
for col, pick, title in ((cols[0], taught, "Transfer: a head on ImageNet's features"),
                         (cols[1], scratch, "From scratch: a small ResNet, 64x64")):  # fmt: skip
    with col:
        st.subheader(title)
        if pick:
            st.caption(md(pick[-1].label))  # the label holds the class names
            live_view(pick[-1])
        else:
            st.caption("Press **Train from scratch too**: the same photos, a network that starts from nothing.")
finals = [p[-1].last_eval for p in (taught, scratch) if p and p[-1].state == "done" and p[-1].last_eval]
if len(finals) == 2:
    n = {e.val_examples or len(album.held_out_ids(0)) for e in finals}
    if len(n) > 1:  # the album changed between the two: their numbers rest on different photos
        st.info("The two models were held out different photos (the album changed): teach both again to compare.")
    else:
        shows, sentence = transfer.compare_with_scratch(finals[0].val_acc, finals[1].val_acc, n.pop())
        (st.warning if shows == "too few" else st.markdown)(f"**Held-out accuracy:** {sentence}")

job = taught[-1] if taught else None
if job is not None and job.state == "done":
    data = album.features_data(0)
    run = job.run_on(data)
    if run is None:
        st.info("The classes changed since this model was taught: teach it again to see its mistakes.")
        st.stop()
    save_button(job, run)
    st.download_button("Download a script that uses it (predict.py)", predict.taught_script(job.classes),
                       predict.TAUGHT_SCRIPT, "text/x-python", key="script", on_click="ignore")  # fmt: skip
    held = album.held_out_ids(0)
    results(job, run=run, picture=lambda i: album.thumbnail(held[i]), version=album.version)
