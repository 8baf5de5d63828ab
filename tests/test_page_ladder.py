"""The Baseline ladder page, driven through Streamlit's AppTest: the pixel baseline, a tiny ladder, a placed run.

The page is run on its own (`AppTest.from_file` of pages/ladder.py). Training runs in the background
exactly as on the server, so the tests redraw the page until every rung has an outcome; one epoch
on 2,000 images keeps the whole ladder, ResNet included, to seconds of CPU.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from owners import runs_of, submit_for
from streamlit.testing.v1 import AppTest

from core.train import RunConfig

PAGE = Path(__file__).resolve().parent.parent / "pages" / "ladder.py"
SCRIPT_TIMEOUT = 120  # seconds for one script run: the first imports torch and loads the dataset
TRAIN_TIMEOUT = 300  # six tiny rungs one after another, on a busy two-core CPU

pytestmark = pytest.mark.usefixtures("fashion_available")  # skipped without it, failed in CI


def page(**url) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=SCRIPT_TIMEOUT)
    for key, value in url.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest):
    return at.dataframe[0].value


def chart(at: AppTest, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.key == key]
    assert len(charts) == 1, [c.key for c in at.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def test_page_shows_the_pixel_baseline():
    at = page(dataset="fashion_mnist")
    assert at.title[0].value == "Baseline ladder"
    assert [m.value for m in at.metric] == ["61.2%", "67.7%"]  # MAE, MSE: tests/test_baselines.py measures them
    assert sum(len(image.value) for image in at.image) == 10, "one mean image per class"
    assert any("Shirt" in c.value and "MSE" in c.value for c in at.caption)
    frame = table(at)
    assert list(frame["rung"]) == ["Pixel similarity, MAE", "Pixel similarity, MSE"]
    assert list(frame["val accuracy"].round(4)) == [0.6124, 0.6768]
    assert list(frame["epochs"]) == [0, 0], "no learning: the table says so instead of leaving the cells empty"
    assert frame["seconds"].notna().all() and (frame["seconds"] < 60).all(), "the pixel rungs' time is measured too"
    assert len(chart(at, "ladder-chart")["data"][0]["y"]) == 2
    assert "Train the ladder" in at.info[0].value
    assert not at.button(key="train").disabled and at.button(key="stop").disabled


@pytest.mark.slow
def test_train_the_ladder_places_every_rung():
    at = page(dataset="fashion_mnist", epochs=1, subset=2000)
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    jobs = runs_of(at.session_state["owner"])
    assert len(jobs) == 6 and all(job.label.startswith("Ladder: ") for job in jobs), "every rung is a browser's run"
    assert at.button(key="train").disabled, "one ladder at a time"
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while not all(job.state == "done" for job in jobs):
        if time.monotonic() > deadline:
            for job in jobs:
                job.stop()
            pytest.fail(f"the ladder did not finish: {[job.state for job in jobs]}")
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    at.run()
    assert not at.exception, at.exception

    frame = table(at)
    assert len(frame) == 2 + 6
    rungs = frame.iloc[2:]
    # from N(0, 1) the two MSE losses may still be at chance after 1 epoch on 2,000 images, and the table says so
    states = list(rungs["state"])
    assert set(states[:2]) <= {"completed", "guessing"} and states[2:] == ["completed"] * 4, states
    assert list(rungs["val accuracy"]) == pytest.approx([job.last_eval.val_acc for job in jobs])
    assert list(rungs["training images"]) == [2000] * 6
    assert list(rungs["epochs"]) == [1.0] * 6
    assert [t["name"] for t in chart(at, "loss-ladder")["data"][:3]] == [
        "Linear, sigmoid + MSE",
        "Linear, softmax + MSE",
        "Linear, cross-entropy",
    ]
    assert len(chart(at, "ladder-chart")["data"][0]["y"]) == 8
    resnet = jobs[-1].config
    assert (resnet.model, resnet.lr_schedule, resnet.normalize) == ("resnet", "one_cycle", True), "the page's recipe"
    assert not any("ResNet trains for 1 epoch" in c.value for c in at.caption), "1 epoch is what the slider says"
    assert not at.button(key="train").disabled


def test_a_run_from_another_page_can_be_placed_on_the_ladder(fashion):
    # a finished run of this browser, as the softmax page would have left it
    at = page(dataset="fashion_mnist")
    config = RunConfig(model="softmax", epochs=1, train_examples=2000)
    job = submit_for(at.session_state["owner"], config, label="Softmax regression #1")
    assert job.wait(120) and job.outcome.status == "completed"
    at.run()
    assert at.multiselect(key="placed").options == ["Softmax regression #1"]
    at.multiselect(key="placed").select("Softmax regression #1").run()
    assert not at.exception, at.exception
    frame = table(at)
    row = frame[frame["rung"] == "Softmax regression #1"].iloc[0]
    assert row["reported"] == "your run" and row["val accuracy"] == pytest.approx(job.last_eval.val_acc)
