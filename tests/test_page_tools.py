"""The training pages' tools, through Streamlit's AppTest: the learning-rate finder and the code downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import datasets

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")

needs_fashion_mnist = pytest.mark.skipif(
    not datasets.status("fashion_mnist").available, reason="Fashion-MNIST is not here: run `bash .ci/setup`"
)


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # the first run imports torch
    at.run()
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def find_and_use_lr(at: AppTest) -> float:
    """Press the finder, check its plot and suggestion, press "Use lr = X"; X."""
    assert at.button(key="lr-finder").label == "Find a learning rate"
    at.button(key="lr-finder").click().run()
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


def test_linear_page_finds_a_learning_rate_and_offers_the_code():
    at = open_page("linear")
    assert download_labels(at) == ["Download as Python script", "Download as notebook"]
    lr = find_and_use_lr(at)
    assert 0.01 <= lr <= 1  # the squared loss on this data diverges above lr 1
    assert "Train" in at.info[0].value  # the page's own hint is still there


@needs_fashion_mnist
@pytest.mark.parametrize("name", ["mlp", "resnet"])
def test_every_training_page_has_the_tools(name):
    at = open_page(name)
    assert download_labels(at) == ["Download as Python script", "Download as notebook"]
    assert at.button(key="lr-finder").label == "Find a learning rate"
