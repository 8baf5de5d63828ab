"""The training pages' tools, through Streamlit's AppTest: the learning-rate finder and the code downloads."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")

needs_fashion_mnist = pytest.mark.usefixtures("fashion_available")  # skipped without it, failed in CI


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # the first run imports torch
    at.run()
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def find_and_use_lr(at: AppTest, timeout: float = 120) -> float:
    """Press the finder, wait for the sweep (on a trainer), check its plot and suggestion, press "Use lr = X"; X."""
    assert at.button(key="lr-finder").label == "Find a learning rate"
    at.button(key="lr-finder").click().run()
    deadline = time.monotonic() + timeout
    while not at.get("plotly_chart") and time.monotonic() < deadline:  # the first sweep may wait for a trainer
        assert not at.exception and not at.error, (at.exception, at.error)
        time.sleep(0.5)
        at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert len(at.get("plotly_chart")) == 1  # loss against lr, the suggestion starred
    use = at.button(key="use-lr")
    lr = float(use.label.removeprefix("Use lr = "))
    assert lr in [float(option) for option in at.sidebar.select_slider(key="lr").options]  # snapped to the slider
    use.click().run()
    assert not at.exception
    assert at.sidebar.select_slider(key="lr").value == lr
    assert float(at.query_params["lr"]) == lr  # the slider is bound to the link, and the link follows
    assert at.button(key="use-lr").disabled  # nothing left to use
    assert len(at.get("plotly_chart")) == 1  # the sweep stays on the page
    # a tenth of the lowest-loss lr is safe but slow (softmax: 0.02 where d2l trains at 0.1): a bolder one is offered
    lowest = float(re.search(r"Lowest loss at lr ≈ ([\d.e+-]+)", " ".join(m.value for m in at.markdown))[1])
    bolder = [b for b in at.button if b.key == "use-lr-bolder"]
    if bolder:
        assert any("Smith 2017" in c.value for c in at.caption), "the bolder lr says why it is offered"
        assert float(bolder[0].label.removeprefix("Use lr = ").removesuffix(" (bolder)")) > lr
        assert float(bolder[0].label.removeprefix("Use lr = ").removesuffix(" (bolder)")) <= lowest
    return lr


def download_labels(at: AppTest) -> list[str]:
    return [button.label for button in at.sidebar.get("download_button")]


@needs_fashion_mnist
def test_softmax_page_finds_a_learning_rate_and_sets_the_slider():
    at = open_page("softmax")
    assert at.sidebar.select_slider(key="lr").value == 0.1
    assert download_labels(at) == ["Download as Python script", "Download as notebook"]
    lr = find_and_use_lr(at)
    assert 0.01 <= lr <= 3
    # the tenth (0.02 here) trains to 81.2% in 10 epochs where d2l's 0.1 reaches 82.3%: the bolder lr is offered
    bolder = at.button(key="use-lr-bolder")
    assert float(bolder.label.removeprefix("Use lr = ").removesuffix(" (bolder)")) > lr
    bolder.click().run()
    assert at.sidebar.select_slider(key="lr").value > lr


def test_linear_page_finds_a_learning_rate_and_offers_the_code(monkeypatch):
    import streamlit.elements.lib.policies as policies

    logged = []  # "Use lr" sets the slider through Session State: Streamlit's trace for a default beside it
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda message, *args, **kw: logged.append(message % args))
    at = open_page("linear")
    assert download_labels(at) == ["Download as Python script", "Download as notebook"]
    lr = find_and_use_lr(at)
    assert not logged, logged
    assert 0.01 <= lr <= 1  # the squared loss on this data diverges above lr 1
    assert "Train" in at.info[0].value  # the page's own hint is still there


@needs_fashion_mnist
@pytest.mark.parametrize("name", ["mlp", "resnet"])
def test_every_training_page_has_the_tools(name):
    at = open_page(name)
    assert download_labels(at) == ["Download as Python script", "Download as notebook"]
    assert at.button(key="lr-finder").label == "Find a learning rate"


@pytest.mark.slow
@needs_fashion_mnist
def test_a_slow_sweep_shows_that_it_runs_and_can_be_stopped():
    """A ResNet's sweep outlasts the click: the page says it sweeps, stays usable, and Stop ends the sweep."""
    at = open_page("resnet")
    lr = at.sidebar.select_slider(key="lr").value
    at.button(key="lr-finder").click().run()
    assert not at.exception
    assert any("Sweeping the learning rate" in i.value or "in the queue" in i.value for i in at.info), at.info
    assert at.sidebar.select_slider(key="lr").value == lr  # nothing chosen for the user meanwhile
    at.button(key="lr-finder-stop").click().run()
    deadline = time.monotonic() + 60
    while not any("The sweep was stopped" in c.value for c in at.caption) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert any("The sweep was stopped" in c.value for c in at.caption)
    assert not at.get("plotly_chart") and not at.exception and not at.error
