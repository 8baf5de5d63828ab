"""The linear-regression page, driven through Streamlit's AppTest: load, train, read the results, diverge."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def at():
    app = AppTest.from_file(APP, default_timeout=60)  # the first run imports torch
    app.run()
    app.switch_page("pages/linear.py").run()
    assert not app.exception
    return app


def train(at: AppTest, timeout: float = 20) -> None:
    """Press Train, then rerun as the browser's half-second fragment would until the run has an outcome."""
    at.button(key="train").click().run()
    deadline = time.monotonic() + timeout
    while not (outcome(at) or at.error) and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert not at.exception


def outcome(at: AppTest) -> list:
    """The run's own success box (an answered exercise below it says "Answered by your runs")."""
    return [s for s in at.success if not s.value.startswith("Answered")]


def metric(at: AppTest, label_start: str) -> float:
    return float(next(m for m in at.metric if m.label.startswith(label_start)).value)


def test_page_loads_with_d2l_defaults(at):
    assert at.title[0].value == "Linear regression"
    assert at.sidebar.radio(key="data").value == "synthetic"
    assert at.sidebar.select_slider(key="lr").value == 0.02  # d2l 3.4's lr 0.03 for a halved loss
    assert at.sidebar.select_slider(key="batch").value == 32
    assert at.sidebar.slider(key="epochs").value == 3
    assert "Train" in at.info[0].value


def test_synthetic_run_learns_the_true_parameters(at):
    train(at)
    assert outcome(at) and outcome(at)[0].value.startswith("Trained 3 epochs"), [s.value for s in at.success]
    charts = [c.key for c in at.get("plotly_chart") if not c.key.startswith("points-")]  # (the exercises' own)
    assert len(charts) == 3, charts  # loss curve, fitted plane, path over the contours
    assert metric(at, "w1") == pytest.approx(2.0, abs=0.1)
    assert metric(at, "w2") == pytest.approx(-3.4, abs=0.1)
    assert metric(at, "b") == pytest.approx(4.2, abs=0.15)
    assert metric(at, "predicted y") == pytest.approx(2.0 - 3.4 + 4.2, abs=0.2)  # x1 = x2 = 1


def test_exam_data_shows_its_table_and_its_own_defaults(at):
    at.sidebar.radio(key="data").set_value("exam").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 200 and list(table.columns[:3]) == ["sleep hours", "study hours", "exam score"]
    assert at.sidebar.select_slider(key="lr").value == 0.01
    assert at.sidebar.slider(key="epochs").value == 50
    assert any("Standardising the features" in m.value for m in at.markdown)  # the honest note on slow progress


def test_too_large_a_learning_rate_is_explained(at):
    at.sidebar.select_slider(key="lr").set_value(10.0).run()
    train(at)
    messages = [e.value for e in at.error]
    assert any("is too large for this model" in m and "lr = 10" in m and "try lr <=" in m for m in messages)
    assert any("learning rate is too large" in m for m in messages)


def test_exam_model_answers_seed_000s_question_and_more_sleep_helps(at):
    """Seed 000 asks for 4 h of sleep and 8 h of study (its model said 61), then 5.5 h of sleep (68)."""
    at.sidebar.radio(key="data").set_value("exam").run()
    train(at, timeout=60)
    assert outcome(at) and outcome(at)[0].value.startswith("Trained 50 epochs"), [s.value for s in at.success]
    assert at.number_input(key="sleep").value == 4.0 and at.number_input(key="study").value == 8.0
    four_hours = metric(at, "predicted exam score")
    # between the scenarios it learned from: sleeping and studying little (about 45) and a lot (85)
    assert 45 < four_hours < 85
    at.number_input(key="sleep").set_value(5.5).run()
    assert metric(at, "predicted exam score") > four_hours + 1
