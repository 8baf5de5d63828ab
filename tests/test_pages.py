"""The pages, run by Streamlit's AppTest: each loads, trains a tiny run to the end, and shows its results.

An `AppTest` is one browser session of the real app (`streamlit_app.py`, its navigation and pages);
the training itself runs in the background exactly as on the server, so the tests poll the page
(`at.run()`) until the run's outcome shows. Settings are tiny - one epoch, large batches, a
2,000-image ResNet of width 8 - so that a run takes seconds on a two-core CPU.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from owners import runs_of
from streamlit.testing.v1 import AppTest

from core import datasets
from core.runs.jobs import default_max_running, default_threads

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
SCRIPT_TIMEOUT = 120  # seconds for one script run: the first imports torch and plotly
TRAIN_TIMEOUT = 150  # seconds for a tiny training run, on a busy two-core CPU

needs_fashion_mnist = pytest.mark.usefixtures("fashion_available")  # skipped without it, failed in CI


def session() -> AppTest:
    """A new browser (no cookie: a new owner) on the home page (its first run registers the navigation's pages)."""
    at = AppTest.from_file(str(APP), default_timeout=SCRIPT_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, name: str, **url) -> AppTest:
    """Go to pages/<name>.py, as by a link with the query parameters `url`."""
    for key, value in url.items():
        at.query_params[key] = str(value)
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def runs(at: AppTest) -> list:
    """The runs of the session's browser, as the pages read them: from the server's run book (its store)."""
    return runs_of(at.session_state["owner"]) if "owner" in at.session_state else []


def train(at: AppTest, timeout: float = TRAIN_TIMEOUT):
    """Press Train, then redraw the page every half second until the run's outcome shows; the job."""
    before = len(runs(at))
    assert not at.button(key="train").disabled
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    assert len(runs(at)) == before + 1, "Train did not start a run"
    job = runs(at)[-1]
    deadline = time.monotonic() + timeout
    while not (job.state == "done" and (at.success or at.error or at.warning)):
        if time.monotonic() > deadline:
            job.stop()
            pytest.fail(f"no outcome after {timeout} s: state {job.state}, history {len(job.history)} points")
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return job


def curve_points(at: AppTest, job) -> int:
    """Points of the training-loss line in the page's live chart of `job`."""
    charts = [c for c in at.get("plotly_chart") if c.key == f"curves-{job.id}"]
    assert len(charts) == 1, [c.key for c in at.get("plotly_chart")]
    figure = json.loads(charts[0].proto.spec)
    train_loss = next(t for t in figure["data"] if t["name"] == "train loss")
    return len(values(train_loss["x"]))


def values(array) -> list:
    """A plotly figure's array as a list; plotly sends numbers as a typed array {"dtype": "f8", "bdata": base64}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def assert_results(at: AppTest, job, tabs: list[str]) -> None:
    """The finished run's live view and results: curve, the tabs, a gallery of the mistakes."""
    assert curve_points(at, job) == len(job.history)  # every progress event is a point of the curve
    assert [t.label for t in at.tabs] == tabs
    mistakes = at.tabs[0]
    pictures = [url for image in mistakes.image for url in image.value]
    assert 1 <= len(pictures) <= 24, len(pictures)
    assert all(url for url in pictures)
    assert any("true:" in c.value for c in mistakes.caption)
    assert any("What the model gets wrong" in s.value for s in at.subheader)


# --- Loading -------------------------------------------------------------------------------


def test_home_loads_and_lists_the_datasets():
    at = session()
    assert texts(at.title) == ["Deep learning, live"]
    page = "\n".join(texts(at.markdown))
    assert "Softmax regression" in page and "Training runs on:" in page
    # the trainers' threads (one each on two cores), not the server's
    threads = default_threads(default_max_running())
    assert f"CPU ({threads} thread{'s' * (threads > 1)})" in page
    assert "**Fashion-MNIST**: ready" in page
    assert not at.error


@pytest.mark.parametrize(
    ("name", "title", "defaults"),
    [
        # d2l's numbers are the tutorials': plain minibatch SGD at lr 0.1, batch 256, on the raw pixels
        ("softmax", "Softmax regression", (0.1, 256, "sgd", "constant", 0.0, 0.0, False)),
        ("mlp", "Multilayer perceptron", (0.1, 256, "sgd", "constant", 0.0, 0.0, False)),
        # the ResNet page starts from the recipe (issue 11)
        ("resnet", "ResNet", (0.2, 128, "nesterov", "one_cycle", 5e-4, 0.1, True)),
    ],
)
def test_training_page_loads_with_train_enabled_and_stop_disabled(name, title, defaults):
    at = open_page(session(), name)
    assert texts(at.title) == [title]
    assert not at.error and not at.warning
    assert not at.button(key="train").disabled
    assert at.button(key="stop").disabled
    assert any("press **Train**" in i.value for i in at.info)
    shown = (
        at.select_slider(key="lr").value,
        at.select_slider(key="batch").value,
        at.selectbox(key="optimizer").value,
        at.radio(key="schedule").value,
        at.select_slider(key="wd").value,
        at.select_slider(key="smoothing").value,
        at.toggle(key="normalize").value,
    )
    assert shown == defaults


def test_compare_page_without_runs_says_so():
    at = open_page(session(), "compare")
    assert texts(at.title) == ["Compare runs"]
    assert any("No runs yet" in i.value for i in at.info)
    assert not at.dataframe


# --- Training on each page -------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs() -> AppTest:
    """One session that trained softmax regression, then an MLP."""
    at = open_page(session(), "softmax")
    at.slider(key="epochs").set_value(1)
    at.select_slider(key="batch").set_value(1024)
    softmax = train(at)
    assert softmax.outcome.status == "completed", softmax.outcome
    assert texts(at.success) == [softmax.outcome.message]
    assert "Trained 1 epoch" in softmax.outcome.message

    open_page(at, "mlp")
    at.select_slider(key="hidden").set_value(16)
    at.slider(key="epochs").set_value(1)
    at.select_slider(key="batch").set_value(1024)
    mlp = train(at)
    assert mlp.outcome.status == "completed", mlp.outcome
    assert texts(at.success) == [mlp.outcome.message]
    return at


@needs_fashion_mnist
def test_softmax_trains_and_shows_curve_mistakes_and_class_weights(two_runs):
    at = open_page(two_runs, "softmax")
    softmax = next(job for job in runs(at) if job.config.model == "softmax")
    assert (softmax.config.epochs, softmax.config.batch_size) == (1, 1024)
    assert texts(at.success) == [softmax.outcome.message]
    assert_results(at, softmax, ["Mistakes", "Confusion matrix", "Per-class accuracy", "Class weights"])
    weights = at.tabs[3]
    assert sorted(c for image in weights.image for c in image.captions) == sorted(softmax.run.data.classes)
    assert any(c.key == f"confusion-{softmax.id}" for c in at.get("plotly_chart"))
    assert any(c.key == f"per-class-{softmax.id}" for c in at.get("plotly_chart"))
    assert not at.button(key="train").disabled and at.button(key="stop").disabled
    assert_where_looked(at, softmax, "saliency map")


def assert_where_looked(at: AppTest, job, kind: str) -> None:
    """The Mistakes tab's toggle draws a heatmap over every mistake shown, and says which kind."""
    shown = len(at.tabs[0].image)
    at.toggle(key=f"looked-{job.id}").set_value(True).run()
    assert not at.exception, at.exception
    assert any(kind in c.value for c in at.tabs[0].caption), texts(at.tabs[0].caption)
    pictures = at.tabs[0].image
    assert len(pictures) == shown > 0
    assert pictures[0].proto.imgs[0].url != ""


@needs_fashion_mnist
def test_mlp_trains_and_shows_curve_and_mistakes(two_runs):
    at = open_page(two_runs, "mlp")
    mlp = next(job for job in runs(at) if job.config.model == "mlp")
    assert (mlp.config.num_hiddens, mlp.config.activation) == (16, "relu")
    assert texts(at.success) == [mlp.outcome.message]
    assert_results(at, mlp, ["Mistakes", "Confusion matrix", "Per-class accuracy"])


@pytest.mark.slow
@needs_fashion_mnist
def test_resnet_trains_on_a_subset_and_shows_its_mistakes():
    at = open_page(session(), "resnet")
    at.slider(key="epochs").set_value(1)
    at.select_slider(key="subset").set_value(5000)
    at.select_slider(key="width").set_value(8)  # 39 steps of the recipe: 63.5% in about 2 s
    job = train(at)
    assert job.outcome.status == "completed", job.outcome
    assert (job.config.model, job.config.resnet_width, job.config.train_examples) == ("resnet", 8, 5000)
    assert len(job.run.data.X_train) == 5000
    assert texts(at.success) == [job.outcome.message]
    assert_results(at, job, ["Mistakes", "Confusion matrix", "Per-class accuracy"])
    # the recipe is the page's default: its lr schedule is drawn under the loss, and the chart names its subset
    config = job.config
    assert (config.optimizer, config.lr_schedule, config.label_smoothing, config.normalize) == (
        "nesterov",
        "one_cycle",
        0.1,
        True,
    )
    figure = json.loads(next(c for c in at.get("plotly_chart") if c.key == f"curves-{job.id}").proto.spec)
    lr_line = next(t for t in figure["data"] if t["name"] == "lr")
    assert values(lr_line["y"]) == pytest.approx([p.lr for p in job.history])
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert "Validation accuracy (first 2,000 images; at the end: all)" in titles, titles
    assert_where_looked(at, job, "Grad-CAM")


@needs_fashion_mnist
def test_the_resnet_page_switches_between_the_recipe_and_d2ls_plain_sgd():
    at = open_page(session(), "resnet")
    at.button(key="preset-Plain SGD, as d2l 8.6").click().run()
    assert not at.exception, at.exception
    plain = (at.select_slider(key="lr").value, at.select_slider(key="batch").value, at.selectbox(key="optimizer").value)
    assert plain == (0.05, 256, "sgd")
    assert (at.radio(key="schedule").value, at.select_slider(key="wd").value) == ("constant", 0.0)
    assert (at.select_slider(key="smoothing").value, at.toggle(key="normalize").value) == (0.0, False)
    assert at.query_params["optimizer"] == "sgd", "a link shares the plain setup"
    at.button(key="preset-The recipe").click().run()
    assert (at.select_slider(key="lr").value, at.selectbox(key="optimizer").value) == (0.2, "nesterov")
    assert at.toggle(key="normalize").value and "optimizer" not in at.query_params, "back to the page's defaults"
    assert not at.warning and not at.error


@needs_fashion_mnist
def test_too_large_a_learning_rate_says_so():
    at = open_page(session(), "mlp")
    at.select_slider(key="lr").set_value(10.0)
    at.slider(key="layers").set_value(4)
    at.radio(key="activation").set_value("relu")
    at.slider(key="epochs").set_value(1)
    job = train(at)  # the loss is NaN within a dozen steps
    assert job.outcome.status == "diverged", job.outcome
    assert not at.success
    message = " ".join(texts(at.error))
    assert "too large" in message and "try lr <=" in message, message
    assert "lr = 10" in message
    assert not at.exception


@needs_fashion_mnist
def test_initial_weights_drawn_too_large_are_named_when_the_loss_blows_up():
    """d2l 5.4 on the MLP page: from N(0, 1) four ReLU layers blow the signal up, and the page says why."""
    at = open_page(session(), "mlp", init="1", layers="4", hidden="64", epochs="1", batch="1024")
    assert at.select_slider(key="init").value == 1.0
    job = train(at)
    assert job.config.init_std == 1.0 and job.outcome.status == "diverged", job.outcome
    message = " ".join(texts(at.error))
    assert "the initial weights (std 1)" in message and "a smaller init" in message, message
    assert not at.exception


# --- Links that carry settings ----------------------------------------------------------------


@needs_fashion_mnist
@pytest.mark.parametrize(
    ("page", "raw", "warning"),
    [
        ("softmax", "Fashion-MNIST", None),  # as the app writes it
        ("softmax", "fashion_mnist", "Links name datasets as this box shows them: `dataset=Fashion-MNIST`"),
        ("mlp", "CIFAR-10", "The link's dataset `CIFAR-10` is not available here"),
        ("ladder", "imagenet", "The link's dataset `imagenet` is not available here"),
    ],
)
def test_a_link_naming_a_dataset_that_cannot_be_used_says_so(page, raw, warning):
    if datasets.status("mnist").available:
        pytest.skip("with MNIST here, the ladder's default is MNIST")
    at = open_page(session(), page, dataset=raw)
    assert at.sidebar.selectbox(key="dataset").value == "fashion_mnist"
    warnings = texts(at.warning)
    if warning is None:
        assert not warnings
    else:
        assert any(warning in w and "Fashion-MNIST is used" in w for w in warnings), warnings


def test_shared_link_sets_the_sidebar():
    at = open_page(session(), "mlp", lr="0.5", hidden="128", epochs="3", optimizer="adam", impl="scratch")
    assert at.select_slider(key="lr").value == 0.5
    assert at.select_slider(key="hidden").value == 128
    assert at.slider(key="epochs").value == 3
    assert at.selectbox(key="optimizer").value == "adam"
    assert at.radio(key="impl").value == "scratch"
    assert not at.warning
    assert at.query_params["lr"] == "0.5"


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("lr", "-5"),
        ("lr", "0.4"),
        ("batch", "100"),
        ("epochs", "zero"),
        ("epochs", "²"),
        ("seed", "99999999999"),
        # the training recipe (issue 11)
        ("wd", "-0.0005"),
        ("smoothing", "1"),
        ("schedule", "cyclic"),
        ("momentum", "1.5"),
        ("optimizer", "rmsprop"),
        ("normalize", "maybe"),
    ],
)
def test_a_link_with_a_setting_that_is_not_allowed_warns_and_uses_the_default(key, raw):
    at = open_page(session(), "softmax", **{key: raw})
    assert (at.select_slider(key="lr").value, at.select_slider(key="batch").value) == (0.1, 256)
    assert (at.slider(key="epochs").value, at.number_input(key="seed").value) == (10, 0)
    warnings = " ".join(texts(at.warning))
    assert "not allowed" in warnings and f"{key}={raw}" in warnings, warnings
    assert not at.exception and not at.error
    assert not at.button(key="train").disabled


@pytest.mark.parametrize("raw", ["1", "10", "2"])
def test_a_link_with_a_whole_number_learning_rate_sets_it(raw):
    at = open_page(session(), "softmax", lr=raw)
    assert at.select_slider(key="lr").value == float(raw)


# --- Comparing, and keeping sessions apart ------------------------------------------------------


@needs_fashion_mnist
def test_compare_lists_this_browsers_runs_with_its_downloads(two_runs):
    at = open_page(two_runs, "compare")
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert isinstance(table, pd.DataFrame)
    assert len(table) == 2
    assert list(table["run"]) == ["Softmax regression #1", "MLP #1"]
    assert list(table["model"]) == ["softmax", "mlp"]
    assert list(table["dataset"]) == ["Fashion-MNIST"] * 2  # its name, not the key fashion_mnist
    assert set(table["status"]) == {"completed"}
    assert list(table["final val accuracy"]) == pytest.approx([job.last_eval.val_acc for job in runs(two_runs)])
    assert table["final val accuracy"].between(0.5, 1).all()  # both learned: chance is 0.1
    assert [b.label for b in at.get("download_button")] == ["Download as CSV", "Download curves for TensorBoard"]
    assert "model" in " ".join(texts(at.caption))  # the settings that differ
    curves = [c for c in at.get("plotly_chart") if c.key == "compare-curves"]
    assert len(json.loads(curves[0].proto.spec)["data"]) == 2


@needs_fashion_mnist
def test_a_browsers_runs_are_not_seen_by_another_browser(two_runs):
    assert len(runs(two_runs)) == 2
    other = session()
    assert runs(other) == []
    open_page(other, "compare")
    assert any("No runs yet" in i.value for i in other.info)
    assert not other.dataframe
    open_page(other, "softmax")
    assert any("press **Train**" in i.value for i in other.info)  # no run of the first session shows
    assert not other.get("plotly_chart")
    open_page(two_runs, "compare")  # and the first session still lists both of its runs
    assert len(two_runs.dataframe[0].value) == 2


def start_long_run() -> tuple[AppTest, object]:
    """A new session on the softmax page that has pressed Train for a run of minutes; (session, job)."""
    at = open_page(session(), "softmax", epochs=50, batch=16)
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    return at, runs(at)[-1]


@needs_fashion_mnist
def test_results_while_training_come_on_request_and_the_run_keeps_training():
    at, job = start_long_run()
    try:
        deadline = time.monotonic() + 60
        while not job.history and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.history, "the run never reported progress"
        at.run()
        assert not at.exception, at.exception
        assert job.state == "running"
        assert not at.tabs, "results drawn at every redraw of a live run"
        at.toggle(key="so-far").set_value(True).run()
        assert not at.exception, at.exception
        assert "Mistakes" in [t.label for t in at.tabs]
        step = job.history[-1].step
        deadline = time.monotonic() + 30
        while job.history[-1].step == step and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.state == "running" and job.history[-1].step > step, "the run stopped when its results were drawn"
    finally:
        job.stop()
        assert job.wait(10)


@needs_fashion_mnist
def test_a_sweep_behind_a_run_shows_its_place_in_the_queue_at_once():
    held = [start_long_run() for _ in range(default_max_running())]  # a run on every trainer
    at = held[-1][0]
    try:
        at.switch_page("pages/mlp.py").run()  # another page, the same session: its run keeps the trainer
        began = time.monotonic()
        at.button(key="lr-finder").click().run()
        assert time.monotonic() - began < 3, "the click waited for a sweep that cannot start"
        assert any("waits for a free trainer: you are next" in i.value for i in at.info), texts(at.info)
        (sweep,) = runs_of(at.session_state["owner"], "find_lr")
        assert sweep.state == "queued"
        at.button(key="lr-finder-stop").click().run()
        assert sweep.wait(10) and sweep.outcome.status == "cancelled"
    finally:
        for _, run in held:
            run.stop()
        assert all(run.wait(30) for _, run in held)


# --- Cat, dog or neither? (the uploads themselves are checked in a real browser: tests/test_browser.py) ---


def test_the_photo_page_offers_the_offline_model_and_asks_for_photos():
    at = open_page(session(), "photos")
    assert [t.value for t in at.title] == ["Cat, dog or neither?"]
    assert at.selectbox(key="clf").value == "efficientnet_lite0"
    assert at.selectbox(key="own").options == ["none", "upload a checkpoint"]  # no cat/dog run in this session
    assert any("Drag photos here" in i.value for i in at.info)
    assert len(at.get("file_uploader")) == 1


def test_the_photo_page_without_a_pretrained_model_says_how_to_get_one(monkeypatch):
    from core.models import pretrained

    monkeypatch.setattr(pretrained, "available_classifiers", lambda: [])
    at = open_page(session(), "photos")
    assert any("No pretrained model is installed" in e.value for e in at.error), texts(at.error)
    assert not at.get("file_uploader")  # nothing to drop photos on that would fail


# --- Hostile input (issue 12) ---------------------------------------------------------------------


def test_upload_limits_are_one_number_the_uploader_enforces_and_the_page_states():
    """Streamlit's uploader refuses a larger file before it is sent, invisibly but for a red name: the page must say
    the limit up front, and it must be the number core checks (MB of 10^6 bytes, as Streamlit counts)."""
    from core.lessons import tables
    from core.vision.photos import MAX_UPLOAD_MB, decode_photo

    at = open_page(session(), "photos")
    assert [u.proto.max_upload_size_mb for u in at.get("file_uploader")] == [MAX_UPLOAD_MB]
    assert any(f"over {MAX_UPLOAD_MB} MB is refused" in i.value for i in at.info)
    assert "limit" in decode_photo(b"\xff" * (MAX_UPLOAD_MB * 10**6 + 1), "big.jpg").error
    at = open_page(session(), "data_prep", table="upload")
    assert [u.proto.max_upload_size_mb for u in at.get("file_uploader")] == [tables.MAX_MB]
    assert any(f"over {tables.MAX_MB} MB is refused" in i.value for i in at.info)
    assert "up to 10 MB" in tables.read_csv(b"a,b\n" + b"1,2\n" * (tables.MAX_BYTES // 4), "big.csv").error


@needs_fashion_mnist
def test_a_run_that_ends_at_chance_is_shown_as_no_success():
    at = open_page(session(), "mlp", lr="10", epochs="1")
    job = train(at)
    assert job.outcome.status == "guessing", job.outcome
    assert not at.success, "no green 'Trained ...' for a model at chance"
    assert any("close to guessing" in e and "lr = 10" in e for e in texts(at.error)), texts(at.error)


@pytest.mark.parametrize(
    ("page", "url", "refused"),
    [
        ("mlp", {"layers": "100", "init": "inf", "hidden": "128"}, ["layers=100", "init=inf"]),
        ("mlp", {"activation": "gelu"}, ["activation=gelu"]),
        ("resnet", {"arch": "vgg", "width": "7", "blocks": "9", "stages": "0", "subset": "3"}, None),
        ("softmax", {"impl": "fast", "optimizer": "lion", "wd": "-1"}, ["impl=fast", "optimizer=lion", "wd=-1"]),
        ("foundations", {"loop_n": "-5", "loop_device": "tpu"}, ["loop_n=-5", "loop_device=tpu"]),
        ("photos", {"threshold": "2"}, ["threshold=2"]),
        ("ladder", {"epochs": "0", "subset": "7"}, ["epochs=0", "subset=7"]),
    ],
)
def test_every_setting_a_link_carries_is_checked_by_one_rule(page, url, refused):
    """Issue 12: bound widgets other than lr, batch, epochs, seed, device and dataset reset without a word."""
    at = open_page(session(), page, **url)
    warnings = " ".join(texts(at.warning))
    expected = refused if refused is not None else [f"{key}={raw}" for key, raw in url.items()]
    for setting in expected:
        assert f"`{setting}` is not allowed here" in warnings, (setting, warnings)
    assert "hidden=128" not in warnings and not at.exception
    assert not at.sidebar.warning, "in the main area: a collapsed sidebar expander would hide it"


def test_a_refused_link_value_says_what_is_allowed_and_stays_said_until_the_setting_changes():
    at = open_page(session(), "mlp", layers="100", activation="gelu")
    warnings = " ".join(texts(at.warning))
    assert "`layers=100` is not allowed here (allowed: 1 to 4)" in warnings, warnings
    assert "`activation=gelu` is not allowed here (allowed: relu, sigmoid, tanh)" in warnings, warnings
    at.run()  # a click elsewhere: the refusal is still said
    assert "`layers=100`" in " ".join(texts(at.warning)), texts(at.warning)
    at.slider(key="layers").set_value(2).run()  # the student chose: that sentence goes, the other stays
    warnings = " ".join(texts(at.warning))
    assert "`layers=100`" not in warnings and "`activation=gelu`" in warnings, warnings


def test_a_link_that_spells_out_a_default_is_no_refusal():
    at = open_page(session(), "resnet", subset="60000", lr="0.2", normalize="true", optimizer="nesterov")
    assert not at.warning, texts(at.warning)
    assert at.select_slider(key="subset").value == 60000


def test_a_classroom_server_watches_no_files():
    """Watchdog's recursive watch of the whole folder (.venv's 6 GB included) flooded the log with 'Inotify queue
    overflowed' and took CPU from the trainers: a default ResNet run went from 44 to 86 s beside it."""
    import tomllib

    config = tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_a_place_in_the_queue_reads_true():
    """'you are number 1 in the queue (about 0 s)' said a wait of nothing for a run that waited."""
    from types import SimpleNamespace as Info

    from ui.live import queue_place

    assert queue_place(Info(position=1, seconds_to_wait=0.2)) == "you are next (any moment now)"
    assert queue_place(Info(position=3, seconds_to_wait=41.6)) == "you are number 3 in the queue (about 42 s)"
    assert queue_place(Info(position=2, seconds_to_wait=None)) == "you are number 2 in the queue (any moment now)"


def test_every_page_imports_the_shared_ui_first():
    """pages/ holds the app's pages and nothing else (a fresh server in Streamlit's old folder mode lists each of
    its files), and every page imports from `ui` before it draws: that import leaves the old mode, so any page's
    link opened first on a fresh server shows that page with the app's navigation (tests/test_browser.py)."""
    import ast

    listed = set(re.findall(r'st\.Page\("pages/(\w+)\.py"', APP.read_text()))
    files = {p.stem for p in (APP.parent / "pages").iterdir() if p.name != "__pycache__"}
    assert files == listed, f"pages/ holds what the navigation does not list: {files - listed}"
    for name in sorted(files):
        tree = ast.parse((APP.parent / "pages" / f"{name}.py").read_text())
        docstring = tree.body[:1] if ast.get_docstring(tree) else []
        body = [node for node in tree.body[len(docstring) :] if not isinstance(node, ast.Import | ast.ImportFrom)]
        imports = [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.module.startswith("ui")]
        assert imports, f"pages/{name}.py imports nothing from ui"
        assert imports[0].lineno < body[0].lineno, f"pages/{name}.py draws before it imports from ui"
