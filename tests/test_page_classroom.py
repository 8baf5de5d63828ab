"""The Class page through AppTest: a teacher starts a class, students join by its link and leave, the board shows
their finished runs, and only the teacher's browser can hide, challenge, freeze, clear and end.

Each browser is an AppTest session with an owner id of its own (tests/owners.py), as its cookie would give it.
"""

from __future__ import annotations

from owners import own, submit_for
from streamlit.testing.v1 import AppTest
from test_pages import APP, SCRIPT_TIMEOUT, open_page

from core.train import RunConfig
from ui.classroom import classroom
from ui.server import book

QUICK = RunConfig(model="linear", dataset="synthetic", epochs=1)


def browser(owner: str | None = None, **url) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=SCRIPT_TIMEOUT)
    own(at, owner)
    at.run()
    return open_page(at, "class", **url)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def said(at: AppTest) -> str:
    return " ".join(e.value for kind in (at.success, at.error, at.warning, at.info) for e in kind)


def started() -> tuple[AppTest, str]:
    """A teacher's browser with a class started; (its page, the code)."""

    teacher = browser()
    teacher.button(key="class-start").click()
    rerun(teacher)
    lesson = classroom().taught_by(teacher.session_state["owner"])
    assert lesson is not None, said(teacher)
    assert "Your teacher key" in said(teacher)
    return teacher, lesson.code


def joined(code: str, name: str) -> AppTest:
    student = browser(join=code)  # by the join link: the code is filled in
    assert student.text_input(key="join-code").value == code
    student.text_input(key="join-name").input(name)
    student.button(key="join").click()
    rerun(student)
    assert f"You are in class {code}" in said(student), said(student)
    return student


def test_a_teacher_starts_a_class_a_student_joins_by_its_link_and_the_board_shows_their_run():
    teacher, code = started()
    assert any(f"{code[:3]} {code[3:]}" in h.proto.body for h in teacher.get("html")), "the code, large"
    student = joined(code, "Ada L")
    owner = student.session_state["owner"]
    assert submit_for(owner, QUICK, label="Linear regression #1").wait(60)
    assert book().store.flush()  # its end is in the store, where every server's board reads it
    rerun(teacher)
    (table,) = [t.value for t in teacher.table]
    assert list(table["name"]) == ["Ada L"] and teacher.metric[2].value == "1"  # one finished
    assert "class-end" not in [b.key for b in student.button]
    student.button(key="class-leave").click()
    rerun(student)
    assert "You left the class" in said(student)
    assert not rerun(teacher).table, "a student who left is off the board"


def test_a_wrong_code_a_taken_name_and_a_hostile_name_are_said_and_change_nothing():
    _, code = started()
    joined(code, "Bo")
    student = browser(join="QQQQQQ" if code != "QQQQQQ" else "YYYYYY")
    student.text_input(key="join-name").input("Cy")
    student.button(key="join").click()
    assert "There is no class" in said(rerun(student))
    for name, why in [("bo", "already"), ("<img src=x>", "display name"), ("=1+2", "display name")]:
        student.text_input(key="join-code").input(code)
        student.text_input(key="join-name").input(name)
        student.button(key="join").click()
        assert why in said(rerun(student)), said(student)
        assert "You are in class" not in said(student)


def test_only_the_teacher_runs_the_class_and_a_wrong_key_is_refused():
    teacher, code = started()
    student = joined(code, "Dee")
    keys = {b.key for b in student.button}
    assert not keys & {"class-freeze", "class-clear", "class-end", "challenge-set", "class-hide"}
    student.button(key="class-leave").click()
    rerun(student)
    student.text_input(key="take-code").input(code)
    student.text_input(key="take-key").input("AAAA-BBBB-CCCC")
    student.button(key="take-over").click()
    assert "do not match" in said(rerun(student))
    assert "class-end" not in {b.key for b in student.button}


def test_the_teacher_sets_a_challenge_hides_a_name_freezes_clears_and_ends():
    teacher, code = started()
    student = joined(code, "Eve")
    rerun(teacher).selectbox(key="class-name").select("Eve")  # the names as the teacher's page lists them now
    rerun(teacher)
    teacher.button(key="class-hide").click()
    rerun(teacher)
    assert "hid your name" in said(rerun(student))

    teacher.button(key="challenge-set").click()  # Linear regression, at most 3 epochs: the form's defaults
    rerun(teacher)
    assert "The challenge is set" in said(teacher)
    assert "The challenge: Linear regression, at most 3 epochs" in said(rerun(student))
    linear = open_page(student, "linear")  # the challenge's page says whether the settings keep to it
    assert f"Class {code}'s challenge" in said(linear) and "keep to it" in said(linear)
    linear.slider(key="epochs").set_value(9).run()
    assert "outside it (9 epochs is over the limit of 3)" in said(linear)
    student = open_page(linear, "class")

    teacher.button(key="class-freeze").click()
    rerun(teacher)
    assert "The board is frozen" in said(teacher)
    assert teacher.button(key="class-clear").disabled, "clearing asks first"
    teacher.checkbox(key="class-sure").check()
    rerun(teacher)
    teacher.button(key="class-end").click()
    rerun(teacher)
    assert f"The class {code} has ended" in said(teacher)
    assert "You are in class" not in said(rerun(student))
