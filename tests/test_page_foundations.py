"""The Foundations page, run on its own by Streamlit's AppTest: it loads, broadcasts, refuses bad input politely.

One AppTest session for the module (its first run imports torch and plotly, and times the loop once);
each test sets the widgets it needs and reads the messages the page shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "foundations.py")


@pytest.fixture(scope="module")
def at() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def shapes(at: AppTest, a: str, b: str) -> AppTest:
    at.text_input(key="shape_a").set_value(a)
    at.text_input(key="shape_b").set_value(b).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_page_loads_with_all_four_sections(at):
    assert at.title[0].value == "Foundations"
    headers = " ".join(texts(at.header))
    for words in ("broadcasting", "Autograd", "ReLU, sigmoid and tanh", "Python loop"):
        assert words in headers
    assert len(at.get("plotly_chart")) == 2  # the broadcast picture and the activations
    assert [m.label for m in at.metric] == ["Python loop", "Vectorized a + b", "Speedup"]


def test_3_1_and_1_4_broadcast_to_3_4(at):
    shapes(at, "3, 1", "1, 4")
    assert any("(3, 4)" in s for s in texts(at.success))
    assert not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table.loc["a + b"]) == ["3", "4"]


def test_incompatible_shapes_show_the_rule_not_a_traceback(at):
    shapes(at, "3", "4")
    errors = texts(at.error)
    assert errors and "do not broadcast" in errors[0] and "neither is 1" in errors[0]
    assert len(at.get("plotly_chart")) == 1  # no picture of a sum that does not exist


@pytest.mark.parametrize("a, words", [("three, one", "is not a size"), ("", "Enter a shape"), ("99, 1", "too large")])
def test_garbage_shapes_get_a_message(at, a, words):
    shapes(at, a, "1, 4")
    assert any(w.startswith("Shape of a:") and words in w for w in texts(at.warning))


def test_more_than_two_dimensions_show_only_shapes(at):
    shapes(at, "2, 3, 4", "4")
    assert any("(2, 3, 4)" in s for s in texts(at.success))
    assert any("only the shapes" in i for i in texts(at.info))


def test_autograd_checks_4x_and_another_function(at):
    shapes(at, "3, 1", "1, 4")
    assert any("torch.allclose(x.grad, 4 * x)" in s and "True" in s for s in texts(at.success))
    at.selectbox(key="grad_fn").set_value("(x ** 3).sum()")
    at.text_input(key="grad_x").set_value("-1, 0.5, 2").run()
    assert not at.exception
    assert any("3 * x ** 2" in s and "True" in s for s in texts(at.success))
    at.text_input(key="grad_x").set_value("1, x").run()
    assert any(w.startswith("x:") and "not a number" in w for w in texts(at.warning))


def test_timing_reruns_for_a_new_n(at):
    at.slider(key="loop_n").set_value(2_000).run()
    assert not at.exception
    timing = at.session_state["foundations-timing"]
    assert timing[0][0] == 2_000 and timing[1].n == 2_000 and timing[1].speedup > 1


def test_a_shared_link_sets_up_the_page():
    app = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in {"shape_a": "2, 1", "shape_b": "3", "grad_fn": "x.sum()", "loop_n": "3000"}.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    assert any("(2, 3)" in s for s in texts(app.success))
    assert app.selectbox(key="grad_fn").value == "x.sum()" and app.slider(key="loop_n").value == 3000
