"""The pages' Exercises, through AppTest: "Set it up" puts the settings in place, the student's own run answers the
exercise (and a run that does not, does not), the explanation waits until then, the softmax page's definitions
break where the book says, and Home counts what this browser answered.
"""

from __future__ import annotations

from dataclasses import replace

from owners import own
from streamlit.testing.v1 import AppTest
from test_pages import APP, SCRIPT_TIMEOUT, open_page, train

WHY_ZERO = "The squared loss is convex"


def browser() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=SCRIPT_TIMEOUT)
    own(at)
    at.run()
    return at


def said(at: AppTest) -> str:
    return " ".join(e.value for kind in (at.success, at.info, at.warning, at.error, at.markdown) for e in kind)


def exercise(at: AppTest, exercise_id: str):
    """The expander of one exercise (its label starts with its id)."""
    return next(e for e in at.expander if e.label.startswith(f"{exercise_id}:"))


def test_set_it_up_then_train_answers_3_2_1_with_the_students_own_numbers():
    at = open_page(browser(), "linear")
    assert WHY_ZERO not in said(exercise(at, "3.2.1")), "the explanation waits until the student has tried"
    assert not at.checkbox(key="zero").value
    train(at)  # a run from d2l's init does not answer "what if w starts at 0"
    assert "Answered by your runs" not in said(exercise(at, "3.2.1"))
    assert not exercise(at, "3.2.6").get("plotly_chart"), "one run at one lr: nothing to compare, no chart"
    assert "Still to run: a linear regression run on the synthetic data from w = 0" in said(exercise(at, "3.2.1"))
    at.button(key="setup-3.2.1").click().run()
    assert at.checkbox(key="zero").value and at.select_slider(key="batch").value == 16
    train(at)
    answered = said(exercise(at, "3.2.1"))
    assert "Answered by your runs" in answered and "started at w = 0, b = 0" in answered, answered
    assert WHY_ZERO in answered
    (chart,) = exercise(at, "3.2.6").get("plotly_chart")  # lr 0.02, then 3.2.1's 0.03: the comparison is drawn
    assert chart.key == "points-3.2.6" and "1 more run at other values of lr" in said(exercise(at, "3.2.6"))
    # while a run trains each click redraws the page: the comparison waits for the run's end, its expander stays
    at.slider(key="epochs").set_value(50)
    at.select_slider(key="batch").set_value(1)
    at.select_slider(key="n").set_value(10000)
    at.button(key="train").click().run()
    assert not exercise(at, "3.2.6").get("plotly_chart")
    assert "drawn again once this run ends" in " ".join(c.value for c in exercise(at, "3.2.6").caption)
    at.button(key="stop").click().run()
    assert not at.exception, at.exception
    home = open_page(at, "home")
    # 3.2.1, and 3.2.7 (1000 examples in batches of 32: a last one of 8) by the first run; 5.4.2 shares 3.2.1's run
    assert "ch. 3: **2 of" in said(home) and "ch. 5: **1 of" in said(home), said(home)


def test_the_softmax_from_its_definition_turns_to_nan_on_the_slider_and_the_stable_one_does_not():
    at = open_page(browser(), "softmax")
    assert "Both agree at this scale" in said(at)
    at.slider(key="scale").set_value(100).run()
    assert not at.exception, at.exception
    table = at.table[0].value
    assert "nan" in list(table["softmax, from the definition"]) and "nan" not in list(
        table["softmax, max subtracted first"]
    )
    assert any(m.value == "inf" for m in at.metric) and "log(0) = -inf" in said(at)
    assert "Subtract each row's largest logit" in said(at)
    home = open_page(at, "home")
    assert "ch. 3: **3 of" in said(home) and "ch. 4: **2 of" in said(home)


def test_a_link_that_sets_up_a_value_the_page_refuses_says_not_allowed():
    at = open_page(browser(), "mlp", n_train=123, hidden=3)
    warnings = " ".join(w.value for w in at.warning)
    assert "`n_train=123` is not allowed here" in warnings and "`hidden=3` is not allowed here" in warnings


def test_without_a_dataset_the_page_and_its_exercises_say_so_and_point_to_home(monkeypatch):
    """Issue 26, bad input: an exercise whose dataset is missing says so and points to Home, like the page does."""
    from core import datasets
    from ui.server import dataset_choices

    missing = [replace(s, available=False) for s in datasets.all_status()]
    monkeypatch.setattr(datasets, "all_status", lambda: missing)
    dataset_choices.clear()  # cached for a minute: this test's datasets are all missing
    try:
        for page in ("softmax", "mlp"):
            at = open_page(browser(), page)
            (error,) = at.error
            assert "No image dataset is available" in error.value and "its exercises" in error.value
            assert "Home says which datasets are missing" in error.value
            assert "train" not in [b.key for b in at.button], "no Train without data"
            assert not [e for e in at.expander if e.label[:1].isdigit()], "no exercise offers a setup it cannot run"
            (link,) = at.get("page_link")
            assert (link.proto.label, link.proto.page) == ("Go to Home", "home"), link.proto
    finally:
        dataset_choices.clear()
